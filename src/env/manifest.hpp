// The env manifest: what an env contains, so it can be verified, digested and relinked.
//
// Persistent format "lavabuild.env-manifest.v1", stored at <env>/.lavabuild/manifest.json:
//   {"format": "lavabuild.env-manifest.v1",
//    "stamp": "<opaque, set by the caller>",
//    "env_path": "/srv/app/env",            // the env's final path (per-env content refers to it)
//    "interpreter": {"executable": "/usr/bin/python3.11", "version": "3.11.2", "key": "<hex>"},
//    "venv_files": [FILE, ...],
//    "dists": [{"name": "Foo", "version": "1.0",
//               "dist_info": "lib/python3.11/site-packages/foo-1.0.dist-info",
//               "link_key": "<opaque>", "files": [FILE, ...],
//               "bytecode": "cpython-311"}, ...]}     // optional: the cache tag of the pycs
//                                                     // lavabuild compiled (env/bytecode.hpp)
//   FILE = [path, mode, sha256, size, per_env] or, for symlinks, [..., per_env, target]
//     path    relative to the env root, '/'-separated
//     mode    octal string: "100644", "100755" (regular files), "120777" (symlinks)
//     sha256  hex of the content; per_env files (per_env = 1): of the canonical content (the
//             env path replaced by "${LAVABUILD_ENV}", see record.hpp); symlinks: of the target
//     size    bytes of the (canonical) content; symlinks: length of the target
// Every path of the env is listed except .lavabuild/, directories, and the bytecode Python
// writes at run time; the pycs lavabuild compiled are listed as files of their dist, and its
// "bytecode" key tells them from the bytecode a wheel shipped (env/bytecode.hpp compiled_pycs).
// A reader rejects any other "format"; a change of meaning bumps the version.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "env/types.hpp"
#include "util/result.hpp"

namespace lb::env {

/// Format tag of the manifest JSON.
inline constexpr const char* kManifestFormat = "lavabuild.env-manifest.v1";
/// Where the manifest lives inside an env.
inline constexpr const char* kManifestRel = ".lavabuild/manifest.json";

/// Everything an env holds.
struct Manifest {
  std::string stamp;
  std::string env_path;  ///< final path of the env (not part of the digest)
  std::string interpreter_executable, interpreter_version, interpreter_key;
  std::vector<InstalledDist> dists;
  std::vector<FileEntry> venv_files;
};

std::string serialize_manifest(const Manifest& m);
/// Errors name what is malformed.
Result<Manifest> parse_manifest(std::string_view text);

namespace detail {
/// The two readers parse_manifest uses (exposed for the unit test and the fuzzer, which check
/// that they agree): the fast one reads exactly serialize_manifest's layout (nullopt for
/// anything else); the json one reads any JSON of the format.
std::optional<Manifest> parse_manifest_fast(std::string_view text);
Result<Manifest> parse_manifest_json(std::string_view text);
}  // namespace detail
/// Write <dir>/.lavabuild/manifest.json atomically.
Status write_manifest(const std::string& dir, const Manifest& m);
Result<Manifest> read_manifest(const std::string& env_dir);

/// SHA-256 (hex) over the sorted (path, mode, content digest) of every file of the manifest;
/// compiled pycs count by path and mode only (their bytes may differ between machines).
/// Per-env content is canonical, so the digest does not depend on where the env lives:
/// same lock + same interpreter -> same digest on any machine.
std::string manifest_digest(const Manifest& m);

/// One way an env differs from its manifest.
struct Difference {
  enum Kind { added, removed, changed, mode_changed } kind;
  std::string path;    ///< relative to the env root
  std::string detail;  ///< human-readable: expected vs found
};
const char* difference_kind_name(Difference::Kind kind);

/// Compare the env at `env_dir` with its manifest: re-hash every file (per-env files in their
/// canonical form), report added / removed / changed content (or symlink target, or file type) /
/// changed executable bit, sorted by path. Ignores .lavabuild/, and __pycache__/ and *.pyc
/// except the compiled pycs the manifest lists.
/// Only the executable bit of a mode is compared (stored files may be read-only links).
Result<std::vector<Difference>> verify_env(const std::string& env_dir);

}  // namespace lb::env
