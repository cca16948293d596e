// The env manifest: what an env contains, so it can be verified, digested and relinked.
//
// Persistent format "lavabuild.env-manifest.v2", stored at <env>/.lavabuild/manifest.json:
//   {"dists": [{"bytecode": "cpython-311",   // optional: the cache tag of the pycs lavabuild
//                                            // compiled (env/bytecode.hpp)
//               "digest": "<hex>",           // dist_digest of its files (v2)
//               "dist_info": "lib/python3.11/site-packages/foo-1.0.dist-info",
//               "files": [FILE, ...], "link_key": "<opaque>",
//               "name": "Foo", "version": "1.0"}, ...],
//    "env_path": "/srv/app/env",            // the env's final path (per-env content refers to it)
//    "format": "lavabuild.env-manifest.v2",
//    "interpreter": {"executable": "/usr/bin/python3.11", "key": "<hex>", "version": "3.11.2"},
//    "stamp": "<opaque, set by the caller>",
//    "venv_files": [FILE, ...]}
//   written with its keys in this (sorted) order, no spaces, one "\n" at the end.
//   FILE = [path, mode, sha256, size, per_env] or, for symlinks, [..., per_env, target]
//     path    relative to the env root, '/'-separated
//     mode    octal string: "100644", "100755" (regular files), "120777" (symlinks)
//     sha256  hex of the content; per_env files (per_env = 1): of the canonical content (the
//             env path replaced by "${LAVABUILD_ENV}", see record.hpp); symlinks: of the target
//     size    bytes of the (canonical) content; symlinks: length of the target
// Every path of the env is listed except .lavabuild/, directories, and the bytecode Python
// writes at run time; the pycs lavabuild compiled are listed as files of their dist, and its
// "bytecode" key tells them from the bytecode a wheel shipped (env/bytecode.hpp compiled_pycs).
// A dist's "digest" is stored so that a run changing a few distributions digests only theirs.
// "lavabuild.env-manifest.v1" is the same without "digest" (read: the digest is computed from
// the files). A reader rejects any other "format"; a change of meaning bumps the version.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "env/types.hpp"
#include "util/result.hpp"

namespace lb::env {

/// Format tag of the manifest JSON.
inline constexpr const char* kManifestFormat = "lavabuild.env-manifest.v2";
/// The previous format, still read.
inline constexpr const char* kManifestFormatV1 = "lavabuild.env-manifest.v1";
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
/// Errors name what is malformed. `lazy_files`: each dist's files stay JSON text
/// (InstalledDist::files_json, checked to be well formed) until load_files.
Result<Manifest> parse_manifest(std::string_view text, bool lazy_files = false);

namespace detail {
/// The two readers parse_manifest uses (exposed for the unit test and the fuzzer, which check
/// that they agree): the fast one reads exactly serialize_manifest's layout (nullopt for
/// anything else); the json one reads any JSON of the format.
std::optional<Manifest> parse_manifest_fast(std::string_view text, bool lazy_files = false);
Result<Manifest> parse_manifest_json(std::string_view text);
}  // namespace detail
/// Write <dir>/.lavabuild/manifest.json atomically.
Status write_manifest(const std::string& dir, const Manifest& m);
Result<Manifest> read_manifest(const std::string& env_dir, bool lazy_files = false);

/// Parse `d.files_json` into `d.files` (nothing to do when it is empty or done before).
Status load_files(InstalledDist& d);
/// Call fn(path) for each file of `d` in order, from `files` or, not yet loaded, from
/// `files_json` (no FileEntry is built).
void for_each_path(const InstalledDist& d, const std::function<void(std::string_view)>& fn);
/// Call fn(entry) for each file of `d` in order, as for_each_path; read from `files_json`, one
/// FileEntry is reused and its sha256 and link_target are left empty (what a stat check needs,
/// without building the list).
void for_each_file(const InstalledDist& d, const std::function<void(const FileEntry&)>& fn);

/// The digest of one distribution ("lavabuild.dist-digest.v1"): SHA-256 (hex) over the
/// (path, mode, content digest) of its files sorted by path, one line each:
/// "<len(path)>:<path> <mode octal> <sha256, or "compiled">\n"; compiled pycs count by path
/// and mode only (their bytes may differ between machines).
std::string dist_digest(const InstalledDist& d);
/// The env digest ("lavabuild.env-digest.v2"): SHA-256 (hex) over the venv's own files, as
/// lines of dist_digest sorted by path, then one line per dist sorted by its dist-info dir,
/// "dist <len>:<dist_info> <digest>\n" (the stored digest when set, else dist_digest).
/// Per-env content is canonical, so the digest does not depend on where the env lives:
/// same lock + same interpreter -> same digest on any machine. Only lavabuild compares it.
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
