// PEP 751 lock files (pylock.toml): reading with validation, and a deterministic writer.
//
// Format (lock-version 1.0, https://packaging.python.org/en/latest/specifications/pylock-toml/)
// as lavabuild writes it; keys always in this order, optional keys omitted when empty:
//
//   lock-version = "1.0"
//   environments = ["<marker>", ...]          # sorted
//   requires-python = "<specifier>"
//   created-by = "lavabuild"
//
//   [[packages]]                              # sorted by normalised name, then version
//   name = "<name>"
//   version = "<version>"
//   marker = "<marker>"
//   requires-python = "<specifier>"
//   dependencies = [
//       {name = "<name>"},                    # sorted, unique
//   ]
//   index = "<simple index URL>"
//   sdist = {name = "...", upload-time = <datetime>, url = "...", path = "...", size = N,
//            hashes = {sha256 = "<hex>"}}           # one line; url/path/upload-time if set
//   wheels = [
//       {name = "...", ...same keys as sdist...},  # one line each
//   ]                                         # sorted by name
//
// Identical Lock values give byte-identical files. The reader accepts any TOML spelling of
// lock-version 1.x and ignores keys it does not know ([tool], attestation-identities, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pep/marker.hpp"
#include "util/result.hpp"

namespace lb::lock {

/// One distribution file (a wheel or an sdist).
struct FileRef {
  std::string name;         ///< file name ("attrs-25.1.0-py3-none-any.whl")
  std::string url;          ///< where to download it (or empty when `path` is set)
  std::string path;         ///< local path, relative to the lock file (or empty)
  uint64_t size = 0;        ///< bytes
  std::string sha256;       ///< 64 lower-case hex digits
  std::string upload_time;  ///< RFC 3339 datetime ("2025-01-25T11:30:10Z"), optional
};

/// One locked package version.
struct Package {
  std::string name, version, marker, requires_python, index;
  std::vector<std::string> dependencies;  ///< names of the packages it requires
  std::vector<FileRef> wheels;
  std::optional<FileRef> sdist;
};

/// A whole pylock.toml.
struct Lock {
  std::string lock_version = "1.0";
  std::string created_by = "lavabuild";
  std::string requires_python;
  std::vector<std::string> environments;    ///< marker strings
  std::vector<std::string> default_groups;  ///< PEP 751 `default-groups` (read, not written)
  std::vector<Package> packages;
};

/// PEP 751: is `p` part of an install on `env`? Its marker may test the lock-only set
/// variables: `extras` is `extras` (the extras requested), `dependency_groups` the lock's
/// default-groups. parse_pylock has checked the marker, so this cannot fail.
bool selected(const Lock& lock, const Package& p, const pep::MarkerEnv& env,
              const std::set<std::string>& extras = {});

/// Serialises `lock` in the canonical form above (sorted; trailing newline).
std::string write_pylock(const Lock& lock);

/// Parses and validates: lock-version major must be 1 (else "unsupported lock-version X in
/// FILE; this lavabuild reads 1.x"), every package has name and version and at least one
/// wheel or sdist, every file has url or path, size and a 64-hex hashes.sha256, and no
/// name==version appears twice. Errors name `filename` and the package.
Result<Lock> parse_pylock(std::string_view text, const std::string& filename);

}  // namespace lb::lock
