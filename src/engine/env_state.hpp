// What an env directory holds before a run changes it: lavabuild's stamp and file list, the
// drift since it was built, and (for a venv lavabuild did not make, or distributions pip
// added) the distributions found by their RECORD files.
//
// Persistent formats, both under <env>/.lavabuild/ and written by the run that built the env:
//
// "stamp" (format "lavabuild.stamp.v2"; the no-op check reads only this small file):
//   line 1 "lavabuild.stamp.v2", line 2 the stamp (a digest of every input, see
//   Pipeline::compute_stamp), line 3 the manifest digest, line 4 the packages as JSON
//   [{"name", "version"}], line 5 the path the env was built for (its scripts name it).
//   The stamp's mtime is when the env was last built or changed: every file of the env is
//   older (stored blobs have mtime 1 s).
//
// "files" (format "lavabuild.files.v1"; the drift check reads it instead of the manifest):
//   line 1 "lavabuild.files.v1", line 2 the site-packages dir relative to the env, then
//   "D <name> <dist-info dir>" per distribution followed by its files as
//   "F <kind> <size> <path>" (kind: r regular, x executable, p per-env (size not checked),
//   l symlink), and the venv's own files under "D - -".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "env/manifest.hpp"
#include "interp/interpreter.hpp"
#include "util/result.hpp"

namespace lb::engine {

inline constexpr const char* kStampFormat = "lavabuild.stamp.v2";
inline constexpr const char* kStampRel = ".lavabuild/stamp";
inline constexpr const char* kFilesFormat = "lavabuild.files.v1";
inline constexpr const char* kFilesRel = ".lavabuild/files";

struct PackagePin {
  std::string name, version;
};

struct Stamp {
  std::string stamp, digest;
  std::vector<PackagePin> packages;
  std::string env_path;
};

std::optional<Stamp> read_stamp(const std::string& env_dir);
std::string render_stamp(const Stamp& s);

/// The "files" list of a manifest.
std::string render_file_list(const env::Manifest& m, const std::string& site_packages_rel);

/// How an env differs from what lavabuild built, by stat alone.
struct Drift {
  std::vector<std::string> damaged;  ///< "name (path was deleted)" per distribution
  std::vector<std::string> foreign;  ///< dist-info dirs in site-packages lavabuild did not install
  bool venv_damaged = false;         ///< pyvenv.cfg, bin/python or an activate script
  bool unknown = false;              ///< no readable file list: treat the env as changed
  bool empty() const { return damaged.empty() && foreign.empty() && !venv_damaged && !unknown; }
  std::string describe() const;
};

/// One lstat per file of the list and one read of site-packages; `built_ns` is the stamp's
/// mtime. Python's __pycache__ dirs are not looked at.
Drift check_drift(const std::string& env_dir, int64_t built_ns);

/// Why the files of `dist` in the env at `env_dir` differ from what was installed (deleted,
/// replaced, written since `built_ns`), or "" when they do not. One lstat per file.
std::string changed_since_built(const env::InstalledDist& dist, const std::string& env_dir,
                                int64_t built_ns);

/// The distributions in the site-packages of `env_dir` whose dist-info dir is not in
/// `known` (dist-info dirs relative to the env), read from their RECORD files: paths outside
/// the env are dropped. Used to take over a venv and to remove what pip added to an env.
std::vector<env::InstalledDist> foreign_dists(const std::string& env_dir,
                                              const std::string& site_packages_rel,
                                              const std::vector<std::string>& known);

/// A venv lavabuild did not make (it has pyvenv.cfg but no .lavabuild/).
struct ForeignVenv {
  std::string creator;  ///< "uv", "virtualenv" or "python -m venv"
  std::string version;  ///< the Python version its pyvenv.cfg names
};
/// Read `dir`/pyvenv.cfg; an error when its Python is not `python`'s major.minor.
Result<ForeignVenv> inspect_foreign_venv(const std::string& dir, const interp::Interpreter& python);

}  // namespace lb::engine
