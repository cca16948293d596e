// Sources from git and Bazaar branches: pip's VCS URLs, a local mirror of each repository,
// revisions resolved to immutable ids, and the tree of a revision exported for a build.
//
// The work is done by the `git` and `brz` programs (util/process.hpp), each command bounded
// by Options::timeout. User text never reaches them where it could be read as an option: a
// repository or revision starting with '-' is refused, and `--` / `--end-of-options` separate
// options from operands.
//
// Persistent format (owned here), `lavabuild-vcs 1`, in the cache directory:
//   vcs/git/<h>     a bare mirror: `git clone --mirror --template=` of Url::repo (every ref of
//                   the remote, refs/* -> refs/*; HEAD names the remote's default branch),
//                   updated by `git fetch --prune` of the same refspec; no hooks run in it
//   vcs/bzr/<h>     a standalone Bazaar branch without a working tree (`brz branch --no-tree`;
//                   the source's format, native bzr 2a for bzr servers), updated by
//                   `brz pull --overwrite` (history and tags follow the remote)
//   vcs/<kind>/<h>.tmp-<16 hex>
//                   a clone in progress (fs::OwnedDir: flock'ed by its creator, removed by the
//                   next clone of the same repository once abandoned); a finished clone is
//                   renamed from <h>.tmp-*/m to <h>, so <h> is always a whole mirror
//   locks/vcs-<h>   an empty file; resolve() holds flock(LOCK_EX) on it while it clones,
//                   fetches and reads refs, export_tree() holds LOCK_SH while it reads; its
//                   mtime is the mirror's last resolve (for a cache gc: mirrors are not
//                   store entries, nothing removes them yet)
// where <h> = the first 32 hex digits of sha256_hex(Url::repo). The remote URL itself is kept
// by the VCS (git: remote.origin.url in the mirror's config; bzr: parent_location). A change
// of this layout changes the directory name (vcs/ -> vcs2/), so old mirrors are never misread.
//
// git runs with GIT_TERMINAL_PROMPT=0, GIT_CONFIG_NOSYSTEM=1, core.hooksPath=/dev/null and
// the repository variables of `git rev-parse --local-env-vars` unset. Commands that reach the
// remote (clone, fetch, ls-remote) keep the user's ~/.gitconfig (credential helpers,
// url.<x>.insteadOf, proxies); commands that only read the mirror and write the export run
// with GIT_CONFIG_GLOBAL=/dev/null, so the user's core.autocrlf & co. cannot change a tree.
// brz runs with BRZ_LOG=/dev/null; commands on the mirror alone run with --no-plugins (faster
// start); pull and branch load plugins (lp: URLs, credentials).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace lb::vcs {

/// The name and version of the layout above (for messages and `cache` tools).
inline constexpr std::string_view kLayoutVersion = "lavabuild-vcs 1";

enum class Kind { git, bzr };
/// "git" or "bzr": the URL prefix without '+', and PEP 610's vcs_info.vcs.
std::string_view to_string(Kind kind);

struct Url {
  Kind kind = Kind::git;
  /// What git/brz is given: "file:///srv/x", "https://h/x.git", "ssh://git@h/x",
  /// "git@h:x.git" (scp-like), "bzr+ssh://h/x" (brz's own scheme keeps its prefix), "lp:x".
  std::string repo;
  std::string rev;           ///< after the last '@' of the path, percent-decoded; empty: default
  std::string subdirectory;  ///< `#subdirectory=`, normalised ("a/./b/" -> "a/b"); may be empty
  std::string egg;           ///< `#egg=` (a PEP 508 project name), may be empty
  std::string text;          ///< as written

  /// "git+file:///srv/x": the URL as written without "@rev" and the fragment (the scheme
  /// lower-cased): what identifies the repository in a requirement or lock file.
  std::string url_without_rev() const;
  /// PEP 610 direct_url.json `url` (with vcs_info.vcs = to_string(kind)): url_without_rev()
  /// without the "git+"/"bzr+" prefix (kept for bzr+ssh) and without user:password, except the
  /// ones PEP 610 allows ("git@", "${USER}:${TOKEN}@"). As pip writes it.
  std::string direct_url() const;
  /// The revision names one commit for good (git: 40 or 64 hex digits; bzr: "revid:..."), so
  /// a mirror that has it need not be fetched and what is built from it never changes.
  bool rev_is_immutable() const;
};

/// Parse pip's VCS URL ("git+https://h/r.git@v1.0#egg=app&subdirectory=pkg", "bzr+file:///b@42",
/// "git+git@h:r.git@v1"), with pip's spelling rules (pip/_internal/vcs/{git,bazaar,
/// versioncontrol}.py): the schemes pip knows (git+http, git+https, git+ssh, git+git, git+file;
/// bzr+http, bzr+https, bzr+ssh, bzr+sftp, bzr+ftp, bzr+lp, bzr+file); the revision after the
/// last '@' of the path (so "https://user@h/r.git" has none), percent-decoded; a git+file path
/// percent-decoded as pip does. Stricter than pip where pip would silently build something
/// else: an unknown fragment key ("#subdir=") or a repeated one is an error.
/// Errors name the URL (password redacted) and what is wrong.
Result<Url> parse_url(std::string_view pip_url);
/// Starts with "git+" or "bzr+" (any case): pip's VCS schemes.
bool is_vcs_url(std::string_view s);

struct Options {
  std::string cache_dir;              ///< mirrors live in <cache_dir>/vcs/<git|bzr>/<h> (see above)
  bool offline = false;               ///< never contact the remote; use the mirror as it is
  std::chrono::seconds timeout{600};  ///< per git/brz command; killed and reported after it
  /// Called once when another process holds the repository's lock and this one waits.
  std::function<void()> on_wait;
};

struct Revision {
  std::string commit_id;    ///< git: the 40-hex sha; bzr: the revision id (immutable)
  std::string revno;        ///< bzr: the (dotted) revno on the mirror's branch at resolve time,
                            ///< empty when the revision is no longer on it; git: empty
  int64_t commit_time = 0;  ///< unix seconds of the commit (committer date; SOURCE_DATE_EPOCH)
  bool fetched = false;     ///< this call contacted the remote (clone, fetch or pull)
};

/// Mirror the repository (clone it the first time, into a temp dir renamed into place) and
/// resolve url.rev to an immutable revision. An immutable rev (rev_is_immutable) the mirror
/// has needs no fetch; any other rev (branch, tag, short sha, bzr revno) fetches first unless
/// offline, so a moved branch is seen: a fetch, never a new clone, when the mirror exists.
/// Empty rev: git, the remote's default branch (asked with `git ls-remote --symref` when
/// fetching, so a renamed default branch is followed); bzr, the branch tip.
/// bzr revs: a revno ("42", "1.2.3"), "revid:", "tag:", "revno:", "date:", "last:"; any other
/// bare name is a tag ("v1.0" -> "tag:v1.0"), one with '@' a revision id.
/// Offline with no mirror, or a rev the mirror lacks offline: an error naming the URL and
/// saying to run once online. Serialised with other processes on locks/vcs-<h>.
Result<Revision> resolve(const Url& url, const Options& opt);

/// Write the tree of `rev.commit_id` (of url.subdirectory when set, which must be a directory
/// there) into `dest`, which must not exist (its parent is created). No VCS metadata in it.
/// git: read-tree into a temp index + checkout-index (a checkout, .gitattributes' eol rules
/// included; `export-ignore`/`export-subst` are not applied, submodules are not fetched);
/// bzr: `brz export`. Every file, directory and link gets the commit time as mtime
/// (rev.commit_time, looked up when 0) and files 0644/0755 (directories 0755) whatever the
/// umask, so the tree is reproducible. Built beside `dest` and renamed into place.
Status export_tree(const Url& url, const Revision& rev, const std::string& dest,
                   const Options& opt);

/// <cache_dir>/vcs/<kind>/<h>: where the mirror of `url` lives (whether or not it exists).
std::string mirror_dir(const Url& url, const std::string& cache_dir);
/// <cache_dir>/locks/vcs-<h>: the mirror's lock file.
std::string lock_path(const Url& url, const std::string& cache_dir);

}  // namespace lb::vcs
