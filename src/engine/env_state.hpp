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
//   what `pip install`/`uninstall`, `rm` and editors (which save by rename) do.
//   The no-op check reads this list and stops at the first changed directory. A write into
//   an existing file changes no directory, and neither does a change inside __pycache__ (not
//   listed: Python writes there at run time): the no-op does not see them; a run that
//   changes the env checks every kept distribution file by file (changed_since_built: one
//   lstat per file, no hashing) and repairs what was edited or deleted; `lavabuild verify`
//   finds them too and `--reinstall` / `--reinstall-package` repair them.
//   A run that changes an env in place removes the list before it touches the env and writes
//   it again last: a list that exists was written after the last change lavabuild made, so
//   every directory holding a file of the manifest is in it. That run writes the new list
//   from the old one (update_dir_list): only the directories it touched, and those found
//   changed, are stat'ed again.
#pragma once

#include <optional>
#include <string>
#include <utility>
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

/// A "dirs" list as read: (recorded mtime in ns, as written; directory relative to the env,
/// "." for the root), in the list's order (sorted by path).
using DirList = std::vector<std::pair<std::string, std::string>>;
/// The "dirs" list of the env at `env_dir`; nullopt when it is missing or malformed.
std::optional<DirList> read_dir_list(const std::string& env_dir);
/// The directories of `list` whose mtime is no longer the recorded one, or that are no longer
/// directories. One lstat per directory.
std::vector<std::string> changed_dirs(const std::string& env_dir, const DirList& list);
/// The "dirs" list of the env at `dir` after an in-place change, from its list before it
/// (`old`): stat'ed again are `changed` (the directories found changed before the change),
/// the parents of each of `paths` (the files the change created or deleted; directories
/// but __pycache__) and the listed directories at or below each of them (a directory where a
/// file goes is removed whole); each is added, updated, or dropped when no longer a directory.
/// The others keep their recorded mtime.
std::string update_dir_list(const std::string& dir, const DirList& old,
                            const std::vector<std::string>& changed,
                            const std::vector<const std::string*>& paths);

/// What changed behind lavabuild's back in each of `dists` (the distributions of the env at
/// `env_dir`, built at `built_ns`): changed_since_built for the distributions owning a file
/// directly in one of `changed` (the changed directories of the env's "dirs" list), or for
/// every one when `changed` is nullopt (no list); "" for the others. Spread over `jobs`
/// threads of the executor. File lists read lazily stay text (env::for_each_file).
std::vector<std::string> drift_of_dists(const std::vector<env::InstalledDist>& dists,
                                        const std::string& env_dir, int64_t built_ns,
                                        const std::optional<std::vector<std::string>>& changed,
                                        int jobs);

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
