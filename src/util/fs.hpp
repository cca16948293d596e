// The one filesystem layer: non-throwing, errors as values, atomic writes.
// Every persistent write goes through write_file_atomic (temp file + rename) or
// builds a directory beside its target and renames it into place.
#pragma once

#include <cstdint>
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
bool exists(const std::string& path);
bool is_dir(const std::string& path);

Result<std::string> read_file(const std::string& path);
/// Write `data` to `path` via a temp file in the same directory, fsync-free, then rename.
Status write_file_atomic(const std::string& path, std::string_view data, uint32_t mode = 0644);
/// Write in place (for files inside a directory that is itself renamed into place later).
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
/// Plain copy preserving permission bits.
Status copy_file(const std::string& from, const std::string& to);
Status set_mode(const std::string& path, uint32_t mode);

/// Entries (names only) of a directory, sorted.
Result<std::vector<std::string>> list_dir(const std::string& path);

std::string join_path(std::string_view a, std::string_view b);
std::string dirname(std::string_view path);
std::string basename(std::string_view path);
/// Absolute, lexically normalised path (no symlink resolution).
std::string absolute(const std::string& path);
/// A unique sibling temp name: "<path>.tmp-<pid>-<counter>".
std::string temp_sibling(const std::string& path);

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
  bool held() const { return fd_ >= 0; }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace lb::fs
