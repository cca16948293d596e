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
//   [[packages]]                              # sorted by normalised name, version, marker,
//   name = "<name>"                           #   then source (describe_source)
//   version = "<version>"                     # absent for a vcs or directory source tree
//   marker = "<marker>"
//   requires-python = "<specifier>"
//   dependencies = [
//       {name = "<name>"},                    # sorted, unique
//   ]
//   index = "<simple index URL>"
//   vcs = {type = "git", url = "...", path = "...", requested-revision = "...",
//          commit-id = "<hex>", subdirectory = "..."}  # one line; url or path
//   directory = {path = "...", editable = true, subdirectory = "..."}  # one line
//   archive = {url = "...", path = "...", size = N, upload-time = <datetime>,
//              hashes = {sha256 = "<hex>"}, subdirectory = "..."}  # one line; size if not 0
//   sdist = {name = "...", upload-time = <datetime>, url = "...", path = "...", size = N,
//            hashes = {sha256 = "<hex>"}}           # one line; url/path/upload-time if set
//   wheels = [
//       {name = "...", ...same keys as sdist...},  # one line each
//   ]                                         # sorted by name
//
// A package has exactly one source: `vcs`, `directory`, `archive`, or `sdist` and/or `wheels`.
// Paths are relative to the lock file's directory (or absolute); `subdirectory` is relative to
// the source tree's root. Identical Lock values give byte-identical files. The reader accepts
// any TOML spelling of lock-version 1.x and ignores keys it does not know ([tool],
// attestation-identities, ...).
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
  bool operator==(const FileRef&) const = default;
};

/// A source tree in a version control system (PEP 751 `[packages.vcs]`).
struct VcsRef {
  std::string type;                ///< "git", "hg", "bzr" or "svn" (PEP 610's registered names)
  std::string url;                 ///< the repository (or empty when `path` is set)
  std::string path;                ///< local repository, relative to the lock file (or empty)
  std::string requested_revision;  ///< the branch/tag the user asked for: informational only
  std::string commit_id;           ///< the revision to check out (git: 40 or 64 hex digits)
  std::string subdirectory;        ///< the project's root inside the tree, relative (optional)
  bool operator==(const VcsRef&) const = default;
};

/// A source tree in a local directory (PEP 751 `[packages.directory]`).
struct DirectoryRef {
  std::string path;          ///< relative to the lock file, or absolute
  bool editable = false;     ///< installed editable when the lock was made
  std::string subdirectory;  ///< the project's root inside `path`, relative (optional)
  bool operator==(const DirectoryRef&) const = default;
};

/// An archive of a source tree (or a wheel or sdist) named directly (PEP 751
/// `[packages.archive]`).
struct ArchiveRef {
  std::string url;           ///< where to download it (or empty when `path` is set)
  std::string path;          ///< local path, relative to the lock file (or empty)
  uint64_t size = 0;         ///< bytes; optional in the spec, 0 when absent
  std::string sha256;        ///< 64 lower-case hex digits (hashes.sha256)
  std::string subdirectory;  ///< the project's root inside the archive, relative (optional)
  std::string upload_time;   ///< RFC 3339 datetime, optional
  bool operator==(const ArchiveRef&) const = default;
};

/// One locked package version, from exactly one source: `vcs`, `directory`, `archive`, or
/// an index's `sdist` and/or `wheels`.
struct Package {
  std::string name;
  std::string version;  ///< may be empty for vcs, directory and archive sources
  std::string marker, requires_python, index;
  std::vector<std::string> dependencies;  ///< names of the packages it requires
  std::vector<FileRef> wheels;
  std::optional<FileRef> sdist;
  std::optional<VcsRef> vcs;
  std::optional<DirectoryRef> directory;
  std::optional<ArchiveRef> archive;
  bool operator==(const Package&) const = default;
};

/// A whole pylock.toml.
struct Lock {
  std::string lock_version = "1.0";
  std::string created_by = "lavabuild";
  std::string requires_python;
  std::vector<std::string> environments;    ///< marker strings
  std::vector<std::string> default_groups;  ///< PEP 751 `default-groups` (read, not written)
  std::vector<Package> packages;
  bool operator==(const Lock&) const = default;
};

/// PEP 751: is `p` part of an install on `env`? Its marker may test the lock-only set
/// variables: `extras` is `extras` (the extras requested), `dependency_groups` the lock's
/// default-groups. parse_pylock has checked the marker, so this cannot fail.
bool selected(const Lock& lock, const Package& p, const pep::MarkerEnv& env,
              const std::set<std::string>& extras = {});

/// Where `p` comes from, in one line for messages and ordering: "git URL@COMMIT",
/// "directory PATH", "archive URL", or "index" for sdist and wheels (with "#subdirectory=..."
/// when the source names one).
std::string describe_source(const Package& p);

/// Serialises `lock` in the canonical form above (sorted; trailing newline).
std::string write_pylock(const Lock& lock);

/// Parses and validates: lock-version major must be 1 (else "unsupported lock-version X in
/// FILE; this lavabuild reads 1.x"); every package has a name and exactly one source (vcs,
/// directory, archive, or sdist and/or wheels); sdist and wheel packages have a version (the
/// spec's SHOULD; each wheel's name is checked against it); every sdist and wheel has url or
/// path, size and a 64-hex hashes.sha256; an archive has url or path and hashes.sha256; a vcs
/// has a registered type, exactly one of url or path and a commit-id (40 or 64 hex for git);
/// a directory has a path; a subdirectory is relative and has no ".."; and no package appears
/// twice (name==version, or name and source when there is no version). Errors name `filename`
/// and the package.
Result<Lock> parse_pylock(std::string_view text, const std::string& filename);

}  // namespace lb::lock
