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
// "dirs" (format "lavabuild.dirs.v1"; the no-op's drift check reads it):
//   line 1 "lavabuild.dirs.v1", then "<mtime_ns> <path>" for the env root (".") and every
//   directory that holds a file of the manifest but __pycache__ (Python writes there at run
//   time), as they were once the env was complete.
//   A directory's mtime changes whenever an entry in it is created, deleted or renamed:
//   what `pip install`/`uninstall`, `rm` and editors (which save by rename) do. A write into
//   an existing file changes no directory: the next run that changes the env finds it (one
//   lstat per file of the distributions it keeps) and so does `lavabuild verify`.
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
inline constexpr const char* kDirsFormat = "lavabuild.dirs.v1";
inline constexpr const char* kDirsRel = ".lavabuild/dirs";

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

/// The "dirs" list of the env at `dir` (its directories as they are now) for manifest `m`.
std::string render_dir_list(const std::string& dir, const env::Manifest& m);

/// Whether an env changed behind lavabuild's back, by directory stat alone.
struct Drift {
  std::string what;  ///< the first directory found changed (or why none could be checked)
  bool empty() const { return what.empty(); }
};

/// One lstat per directory of the env's "dirs" list.
Drift check_drift(const std::string& env_dir);

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
