// Internal: the syscall-level file placement used on the hot path of env assembly
// (plain link/open/mkdir, no std::filesystem, each directory created once).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "env/types.hpp"
#include "util/result.hpp"

namespace lb::env::detail {

/// strerror(e) as a string.
std::string errno_text(int e);

/// Creates directories under a root, remembering which exist so each is made once.
class DirMaker {
 public:
  explicit DirMaker(std::string root) : root_(std::move(root)) {}
  ~DirMaker();
  DirMaker(const DirMaker&) = delete;
  DirMaker& operator=(const DirMaker&) = delete;
  /// mkdir -p root/rel ("" is the root itself, assumed to exist).
  Status ensure(const std::string& rel);
  /// Ensure the directory holding root/rel_path.
  Status ensure_parent(const std::string& rel_path);
  /// An O_PATH descriptor of the (ensured) directory holding root/rel_path, kept open while
  /// this DirMaker lives: files are then linked relative to it, one path component to walk
  /// instead of the whole path. -1 when it cannot be opened (callers use full paths).
  int parent_fd(const std::string& rel_path);

 private:
  std::string root_;
  std::unordered_set<std::string> made_;
  std::unordered_map<std::string, int> fds_;
};

/// link(2) of `src` to `dst_dirfd`/`dst_name`, relative to `src_dirfd` (see place_file):
/// true when linked; false with errno set otherwise (EEXIST: the destination exists).
bool link_at(int src_dirfd, const char* src_rel, int dst_dirfd, const char* dst_name);

/// Outcome flag for the create-exclusive operations below.
struct Placed {
  bool existed = false;  ///< the destination already existed (nothing was written)
};

/// Put `src` at `dst` (which must not exist) by hard link, clone or copy. Link/clone failures
/// that mean "not possible here" (EXDEV, EPERM, ENOTSUP, EMLINK...) switch to copying, noted
/// once in `report`; once fallen back, later calls copy straight away. Copies and clones get
/// 0644 / 0755 and the stored blobs' mtime (1 s), so that timestamp pycs stay valid for them.
Status place_file(const std::string& src, const std::string& dst, LinkMode mode, bool executable,
                  LinkReport& report, Placed& placed);

/// Create `path` exclusively with `data` and permission bits `perm` (umask ignored).
Status write_new_file(const std::string& path, std::string_view data, unsigned perm,
                      Placed& placed);

/// Read at most `max` bytes from the start of a file.
Result<std::string> read_prefix(const std::string& path, size_t max);

}  // namespace lb::env::detail
