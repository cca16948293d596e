// What a build can see of a source tree: its content digest (the source part of a build key)
// and a private copy for the build to write in.
//
// Tree digest "lavabuild.tree.v1" (TreeDigest::digest): the SHA-256 of
//   "lavabuild.tree.v1\n"
//   then one record per entry, sorted by relative path (bytewise, '/'-separated):
//     <kind> ' ' <length of path> ':' <path> ' ' <length of value> ':' <value> '\n'
//   kind "f": regular file; "x": regular file with any execute bit; "l": symbolic link.
//   value: the file content's SHA-256 (lowercase hex), or the link's target text as stored.
// Directories are not entries (an empty directory changes nothing, as in git); mtimes, owners
// and the other mode bits are not hashed. Lengths are decimal byte counts. A change of
// meaning bumps the version.
//
// Stat cache keys "1 <size> <mtime_ns> <ctime_ns> <inode> <device> <absolute path>"
// (stat_cache_key): the path comes last, so it needs no escaping. Their value is the content's
// SHA-256. The engine stores them under a prefix of its own.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace lb::source {

/// Names never copied into a build nor hashed, at any depth and whatever their kind (a `.git`
/// file of a git worktree or submodule too):
///   ".bzr", ".git", ".hg", ".svn": VCS metadata (a build gets the revision through its key,
///     never by reading the repository);
///   "__pycache__": Python writes there while the tree is imported; a build must not depend
///     on it.
inline constexpr std::array<std::string_view, 5> kExcludedNames = {".bzr", ".git", ".hg", ".svn",
                                                                   "__pycache__"};
/// True for the names of kExcludedNames.
bool is_excluded_name(std::string_view name);

/// Bounds on a tree walked by digest_tree and copy_tree (documented in docs/LIMITS.md). A tree
/// beyond one is an error naming the tree and the limit: most likely the wrong directory.
struct TreeLimits {
  /// Entries (files, symlinks and directories), excluded names not counted.
  uint64_t max_files = 1'000'000;
  /// Bytes of regular files.
  uint64_t max_bytes = uint64_t(16) << 30;
  /// Directory depth below the tree (its top-level entries are at depth 1).
  unsigned max_depth = 128;
};

/// What identifies a file's content without reading it (git's racy-clean rule): any write,
/// chmod, rename or replacement changes one of these fields; ctime cannot be set back.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
};

/// The stat cache key of `abs_path` (format at the top of this file).
std::string stat_cache_key(const std::string& abs_path, const FileStamp& stamp);

/// A stat cache: stat_cache_key -> SHA-256 (hex) of the content. The engine backs it with its
/// store index; tests use a map. Called from the thread running digest_tree.
class StatCache {
 public:
  virtual ~StatCache() = default;
  virtual std::optional<std::string> lookup(const std::string& key) = 0;
  virtual void record(const std::string& key, const std::string& sha256_hex) = 0;
};

/// A StatCache for one tree, held in memory and saved as one value: a walk then costs one read
/// and at most one write of the engine's store instead of a lookup per file (5,000 index reads
/// cost more than the walk itself). It keeps what the last walk used: entries of files that
/// changed or went away are dropped when it is serialised.
///
/// Format "lavabuild.statcache.v1": the line "lavabuild.statcache.v1\n", then per entry, sorted
/// by key: <sha256 hex> ' ' <length of key> ':' <key> '\n'. A reader refuses anything else
/// (the caller then starts from an empty cache).
class MemoryStatCache : public StatCache {
 public:
  MemoryStatCache() = default;
  /// Entries from serialize(); an empty text is an empty cache.
  static Result<MemoryStatCache> parse(std::string_view text);
  std::optional<std::string> lookup(const std::string& key) override;
  void record(const std::string& key, const std::string& sha256_hex) override;
  /// The entries looked up with success or recorded since it was made or parsed.
  std::string serialize() const;
  /// True when serialize() would differ from what was parsed: worth writing back.
  bool changed() const { return recorded_ || used_ != parsed_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string sha256;
    bool used = false;
  };
  std::unordered_map<std::string, Entry> entries_;
  size_t parsed_ = 0, used_ = 0;
  bool recorded_ = false;
};

struct TreeDigest {
  std::string digest;  ///< "lavabuild.tree.v1" (top of this file), hex
  /// Newest mtime of a file or symlink, in seconds since the epoch (0 for a tree without any):
  /// SOURCE_DATE_EPOCH for a local tree. Not part of the digest.
  int64_t newest_mtime = 0;
  uint64_t files = 0;  ///< regular files and symlinks
  uint64_t bytes = 0;  ///< bytes of regular files
  /// Every entry: relative path -> content sha256 (files) or "link:<target>" (symlinks), in
  /// path order; what a caller compares to say which files changed between two walks.
  std::vector<std::pair<std::string, std::string>> entries;
  /// Bytes read to hash them: the files the stat cache did not answer.
  uint64_t hashed_bytes = 0;
};

struct DigestOptions {
  TreeLimits limits;
  /// "Now" for the racy rule, in ns since the epoch; 0: the real clock when the walk starts.
  int64_t now_ns = 0;
  /// A file whose mtime or ctime is less than this before "now" (or after it) is hashed but
  /// not recorded in the stat cache: it may still change within the timestamp granularity
  /// without its stamp changing.
  int64_t racy_ns = 2'000'000'000;
};

/// Walk `dir` (symlinks are not followed: a symlink is recorded by its target text; FIFOs,
/// sockets and devices are an error naming them) within `options.limits` and return its digest.
/// `cache` (may be null) answers files whose stamp it knows, and learns the others, except
/// racy ones (DigestOptions::racy_ns). A file that changes while it is read is read again.
Result<TreeDigest> digest_tree(const std::string& dir, StatCache* cache,
                               const DigestOptions& options = {});

/// A cheap identity of the tree's state, no content read: SHA-256 over every entry's
/// relative path and stamp (size, mtime, ctime, inode, kind), with the same exclusions and
/// limits as digest_tree. Equal fingerprints mean no file was written, added, removed or
/// renamed since (a no-op run trusts it); different ones mean digest_tree must tell.
/// `newest_mtime` (when given) gets what TreeDigest::newest_mtime would say, without reading
/// any file.
Result<std::string> stat_fingerprint(const std::string& dir, const TreeLimits& limits = {},
                                     int64_t* newest_mtime = nullptr);

/// Copy `from` into `to` (which must not exist; it is created, with missing parents) for a
/// build to write in: the same exclusions and limits as digest_tree; regular files are cloned
/// (reflink) where the filesystem can, else copied, never hard-linked; modes are kept, plus
/// owner write on files and owner rwx on directories; file and symlink mtimes are kept.
/// Symlinks are copied as symlinks when they resolve inside the tree (following the tree's own
/// symlinks, as the kernel would); one that is absolute or leads out of it is an error naming
/// it. On error, `to` is removed. digest_tree of the copy equals digest_tree of `from`.
Status copy_tree(const std::string& from, const std::string& to, const TreeLimits& limits = {});

}  // namespace lb::source
