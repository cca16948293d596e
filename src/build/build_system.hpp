// The [build-system] table of a source tree's pyproject.toml: PEP 518 (`requires`) and
// PEP 517 (`build-backend`, `backend-path`), with pip's defaults when it is absent.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::build {

/// pip's build backend for a tree without pyproject.toml, without [build-system], or
/// whose [build-system] has no `build-backend`.
inline constexpr std::string_view kLegacyBackend = "setuptools.build_meta:__legacy__";
/// pip's build requirement for a tree without pyproject.toml or without [build-system].
inline constexpr std::string_view kLegacyRequires = "setuptools>=40.8.0";

/// Limits on pyproject.toml, an untrusted file (docs/LIMITS.md, "Source builds").
inline constexpr size_t kMaxPyprojectBytes = size_t(4) << 20;
inline constexpr size_t kMaxBuildRequires = 1000;
inline constexpr size_t kMaxBackendPath = 64;
/// Parts of one dotted key or table name ("tool.setuptools.packages.find" has 4).
inline constexpr size_t kMaxKeyParts = 64;

/// [build-system] of a source tree (PEP 517/518).
struct BuildSystem {
  /// PEP 508 strings as written, each checked to parse. (The brief calls this `requires`,
  /// a C++20 keyword.)
  std::vector<std::string> requirements;
  /// "module" or "module:object" (object may be dotted), checked to be Python identifiers.
  std::string backend;
  /// Relative to the source tree, checked lexically to stay inside it (resolve_backend_path
  /// also follows symlinks).
  std::vector<std::string> backend_path;
  /// false: no pyproject.toml or no [build-system], so pip's defaults above.
  bool declared = false;
};

/// Parse pyproject.toml text. No [build-system] (or empty text): pip's defaults
/// (requires [kLegacyRequires], backend kLegacyBackend); [build-system] without
/// `build-backend`: kLegacyBackend with the given requires (pip's rule). A [build-system]
/// without `requires` is an error (PEP 518). Errors name `filename`, the line when one is
/// known, and what to fix.
Result<BuildSystem> parse_build_system(std::string_view pyproject_text,
                                       const std::string& filename);

/// Read <source_dir>/pyproject.toml when present (a regular file, at most kMaxPyprojectBytes),
/// else pip's defaults; a directory with neither pyproject.toml nor setup.py is an error
/// (nothing could build it). Backend-path entries are checked with resolve_backend_path.
Result<BuildSystem> read_build_system(const std::string& source_dir);

/// The backend-path entries as absolute, lexically normalised paths under `source_dir`,
/// each checked, symlinks followed where they exist, to stay inside it (PEP 517).
Result<std::vector<std::string>> resolve_backend_path(const BuildSystem& system,
                                                      const std::string& source_dir);

}  // namespace lb::build
