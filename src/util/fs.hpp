// The one filesystem layer: non-throwing, errors as values, atomic writes.
// Every persistent write goes through write_file_atomic (temp file + rename) or
// builds a directory beside its target and renames it into place.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::fs {

struct FileInfo {
  bool exists = false;
  bool is_dir = false;
  bool is_symlink = false;
  bool is_regular = false;
  uint32_t mode = 0;  // permission bits
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
};

/// lstat(); exists=false when the path does not exist.
FileInfo stat_path(const std::string& path);
/// The same, of `name` relative to the directory descriptor `dirfd` (fstatat, no follow).
FileInfo stat_at(int dirfd, const char* name);
bool exists(const std::string& path);
bool is_dir(const std::string& path);

Result<std::string> read_file(const std::string& path);
/// Write `data` to `path` via a temp file in the same directory (random name, created with
/// O_EXCL and flock'ed until renamed, so only a killed writer's temp file is ever cleaned),
/// fsync-free, then rename over `path`. Never writes through an existing file, so a
/// hard link at `path` (a store blob) is replaced, not changed.
Status write_file_atomic(const std::string& path, std::string_view data, uint32_t mode = 0644);
/// Write `data` to a new file at `path` and never replace anything there: a temp file made as
/// write_file_atomic's, then hard-linked to `path` (link fails with EEXIST where anything
/// exists, symlinks included), then unlinked. `path` appears whole, with `mode`, or not at all
/// (for files a user names: a key that must never be overwritten).
Status write_file_new(const std::string& path, std::string_view data, uint32_t mode = 0644);
/// Create a new file (O_CREAT|O_EXCL: fails when anything exists at `path`, symlinks
/// included) and write `data`. For files in a directory this process just created.
Status write_file(const std::string& path, std::string_view data, uint32_t mode = 0644);

/// mkdir -p.
Status create_dirs(const std::string& path, uint32_t mode = 0755);
/// rm -rf; succeeds if the path does not exist.
Status remove_all(const std::string& path);
Status rename_path(const std::string& from, const std::string& to);
/// Atomically exchange two existing paths (renameat2 RENAME_EXCHANGE); falls back to
/// two renames where the kernel or filesystem lacks it.
Status exchange_paths(const std::string& a, const std::string& b);
Status hard_link(const std::string& existing, const std::string& link);
Status symlink(const std::string& target, const std::string& link);
/// Copy-on-write clone (FICLONE); error when the filesystem cannot.
Status clone_file(const std::string& from, const std::string& to);
/// Plain copy preserving permission bits; anything but a regular file is refused (a FIFO is
/// not waited on).
Status copy_file(const std::string& from, const std::string& to);
Status set_mode(const std::string& path, uint32_t mode);

/// Entries (names only) of a directory, sorted.
Result<std::vector<std::string>> list_dir(const std::string& path);

std::string join_path(std::string_view a, std::string_view b);
std::string dirname(std::string_view path);
std::string basename(std::string_view path);
/// Absolute, lexically normalised path (no symlink resolution).
std::string absolute(const std::string& path);
/// A sibling temp name "<path>.tmp-<16 random hex digits>" (getrandom: unpredictable, and
/// unique across processes, PID namespaces and pid reuse). Create it exclusively (O_EXCL,
/// mkdir) and retry with a new name on EEXIST.
std::string temp_sibling(const std::string& path);
/// `n` random bytes as lowercase hex (getrandom).
std::string random_hex(size_t n = 8);
/// The suffix temp_sibling() puts after a path: names "<base>.tmp-<hex>" are temp names.
inline constexpr std::string_view kTempInfix = ".tmp-";

/// A directory this process created under a random name and holds an flock on (on the
/// directory itself) while it lives: a live run's temp directory, which a later run may
/// remove only when it can take that lock (see remove_if_abandoned). The lock follows the
/// directory when it is renamed. Removing the directory is up to the owner.
class OwnedDir {
 public:
  OwnedDir() = default;
  ~OwnedDir();
  OwnedDir(OwnedDir&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_) { o.fd_ = -1; }
  OwnedDir& operator=(OwnedDir&& o) noexcept;
  OwnedDir(const OwnedDir&) = delete;
  OwnedDir& operator=(const OwnedDir&) = delete;
  /// mkdir "<base>.tmp-<random>" exclusively, then flock it; race-free against a concurrent
  /// remove_if_abandoned (the lock is checked to be on the directory still at that path).
  static Result<OwnedDir> create(const std::string& base, uint32_t mode = 0755);
  const std::string& path() const { return path_; }
  /// Stop owning (closes the lock); the directory stays.
  void release();

 private:
  std::string path_;
  int fd_ = -1;
};

/// For leftovers of killed runs: if `path`, a directory made by OwnedDir::create or a temp
/// file of write_file_atomic, is not locked by a live process (each holds an flock on it while
/// it lives), remove it and return true. Safe against several cleaners at once.
bool remove_if_abandoned(const std::string& path);
/// remove_if_abandoned without removing: would it be removed?
bool is_abandoned(const std::string& path);
/// Bytes of the regular files under `path` (or of the file itself).
uint64_t tree_size(const std::string& path);
/// True when `p` is a path relative to a directory that stays below it: not empty, no leading
/// '/', no empty, "." or ".." component, no newline or NUL.
bool is_safe_rel(std::string_view p);
/// The first directory of `dir`/`rel` below `dir` (rel's components, then rel itself) that
/// exists and is not a real directory (a symlink, a file), relative to `dir`; "" when every
/// existing one is a directory. One lstat per component not checked before: `checked` holds
/// the components found to be directories (shared across calls).
std::string non_dir_component(const std::string& dir, const std::string& rel,
                              std::set<std::string>& checked);
/// True when `name` is exactly "<base_name>.tmp-<16 hex digits>" (a temp_sibling name).
bool is_temp_name_of(std::string_view name, std::string_view base_name);
/// The "<base>" of a temp_sibling name "<base>.tmp-<16 hex digits>"; nullopt for other names.
std::optional<std::string_view> temp_base(std::string_view name);
/// Temp entries temp_sibling(base) may have made, beside `base` (exact names only, so a
/// user's own "<base>.tmp-old" is never taken for one).
std::vector<std::string> temp_siblings_of(const std::string& base);

/// An advisory exclusive lock (flock) on a file, released on destruction.
class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&& o) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  /// Blocks until the lock is held.
  static Result<FileLock> acquire(const std::string& path);
  /// Returns an unlocked FileLock (held()==false) when someone else holds it.
  static Result<FileLock> try_acquire(const std::string& path);
  /// As acquire; when another process holds it, calls `on_wait` once, then blocks.
  static Result<FileLock> acquire_or_wait(const std::string& path,
                                          const std::function<void()>& on_wait);
  /// As acquire_or_wait on an existing file or directory opened read-only (flock needs no
  /// write access): for read-only places.
  static Result<FileLock> acquire_existing_or_wait(const std::string& path,
                                                   const std::function<void()>& on_wait);
  /// A shared lock (flock LOCK_SH) on `path` (created if needed): many holders at once, none
  /// while someone holds it exclusively; calls `on_wait` once when it has to wait.
  static Result<FileLock> acquire_shared_or_wait(const std::string& path,
                                                 const std::function<void()>& on_wait);
  bool held() const { return fd_ >= 0; }
  /// Set the lock file's mtime to now (futimens on the held descriptor): a cheap "last used".
  void touch() const;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  /// flock `fd` (an open descriptor of `path`, closed on error), waiting after `on_wait`.
  static Result<FileLock> lock_fd(int fd, const std::string& path,
                                  const std::function<void()>& on_wait, int how = 2 /*LOCK_EX*/);
  int fd_ = -1;
};

}  // namespace lb::fs
