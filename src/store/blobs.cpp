// The blob half of Store: content-addressed files under blobs/, written via tmp/ + link().
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "store/local_store.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::store {

namespace {

constexpr uint32_t kModePlain = 0444;
constexpr uint32_t kModeExec = 0555;

uint32_t blob_mode(bool executable) {
  return executable ? kModeExec : kModePlain;
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Every stored blob's mtime (see store.hpp).
const struct timespec kBlobTimes[2] = {{kBlobMtime, 0}, {kBlobMtime, 0}};

/// Whether the process umask leaves the blob modes as they are (0444 and 0555 lose nothing to
/// the usual 022 or 002): then a file made with the blob mode needs no fchmod. Read once, from
/// /proc/self/status (umask() itself would change it for a moment under other threads).
bool umask_keeps_blob_modes() {
  static const bool keeps = [] {
    auto status = fs::read_file("/proc/self/status");
    if (!status.ok()) return false;
    auto at = status->find("\nUmask:");
    if (at == std::string::npos) return false;
    unsigned long mask = std::strtoul(status->c_str() + at + 7, nullptr, 8);
    return (mask & kModeExec) == 0;
  }();
  return keeps;
}

Error bad_sha(std::string_view sha) {
  return make_error("not a sha256 hex digest: " + quoted(sha),
                    "blob names are 64 lowercase hex digits");
}

}  // namespace

std::string LocalStore::blob_path(std::string_view sha, bool executable) const {
  std::string path = dir_ + "/blobs/";
  path.append(sha.substr(0, 2)).append("/").append(sha);
  if (executable) path += ".x";
  return path;
}

bool LocalStore::has_blob(std::string_view sha, bool executable) const {
  return blob_state(sha, executable) == BlobState::intact;
}

int LocalStore::blobs_fd() const {
  int fd = blobs_fd_.load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  int opened = ::open((dir_ + "/blobs").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (opened < 0) return -1;
  if (blobs_fd_.compare_exchange_strong(fd, opened, std::memory_order_acq_rel)) return opened;
  ::close(opened);  // another thread opened it first
  return fd;
}

BlobState LocalStore::blob_state(std::string_view sha, bool executable, int64_t size) const {
  std::string path = blob_path(sha, executable);
  struct stat st;
  int root = is_sha256_hex(sha) ? blobs_fd() : -1;
  // "<aa>/<sha>[.x]" below blobs/ (the last two components of path), else the whole path.
  const char* rel =
      root >= 0 ? path.c_str() + path.size() - (64 + 3 + (executable ? 2 : 0)) : path.c_str();
  if (::fstatat(root >= 0 ? root : AT_FDCWD, rel, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return BlobState::missing;
  if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != blob_mode(executable) ||
      (size >= 0 && st.st_size != size))
    return BlobState::damaged;
  if (st.st_mtim.tv_sec == kBlobMtime && st.st_mtim.tv_nsec == 0) return BlobState::intact;
  // Written in place since it was stored, or stored by a lavabuild that kept real mtimes:
  // only the content can tell.
  auto actual = sha256_file_hex(path);
  if (!actual || *actual != sha) return BlobState::damaged;
  (void)::utimensat(AT_FDCWD, path.c_str(), kBlobTimes, AT_SYMLINK_NOFOLLOW);
  return BlobState::intact;
}

void LocalStore::remove_damaged_blob(std::string_view sha, bool executable) const {
  if (!is_sha256_hex(sha)) return;
  std::string path = blob_path(sha, executable);
  // Another process may have replaced the damaged blob by a good one since our stat: move
  // whatever is there aside first, and put it back if it is in fact intact (any intact
  // blob of this name has the same content), so a good blob is never lost.
  std::string aside = fs::temp_sibling(fs::join_path(tmp_dir(), "damaged"));
  if (::rename(path.c_str(), aside.c_str()) != 0) return;
  struct stat st;
  bool intact = ::lstat(aside.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                (st.st_mode & 07777) == blob_mode(executable);
  if (intact && !(st.st_mtim.tv_sec == kBlobMtime && st.st_mtim.tv_nsec == 0)) {
    auto actual = sha256_file_hex(aside);
    intact = actual && *actual == sha;
  }
  if (intact) {
    (void)::link(aside.c_str(), path.c_str());  // EEXIST: yet another good copy arrived
  } else {
    options_.warn("removed damaged file " + path +
                  " from the store (it was changed after it was stored); it is fetched or "
                  "unpacked again");
  }
  ::unlink(aside.c_str());
}

Result<std::string> LocalStore::put_blob(std::string_view content, bool executable) {
  return put_blob_hashed(content, executable, sha256_hex(content));
}

Result<std::string> LocalStore::put_blob_hashed(std::string_view content, bool executable,
                                                std::string_view sha) {
  if (!is_sha256_hex(sha)) return bad_sha(sha);
  switch (blob_state(sha, executable, int64_t(content.size()))) {
    case BlobState::intact:
      return std::string(sha);
    case BlobState::damaged:
      remove_damaged_blob(sha, executable);
      break;
    case BlobState::missing:
      break;
  }
  return put_missing_blob(content, executable, sha);
}

Result<std::string> LocalStore::put_missing_blob(std::string_view content, bool executable,
                                                 std::string_view sha) {
  if (!is_sha256_hex(sha)) return bad_sha(sha);
  // Fast path: an anonymous file in the blob's shard, linked in under its name once written
  // (open, write, link: no temp name to create, chmod and unlink). Unpacking writes
  // thousands of small blobs, so metadata operations are what it costs.
  std::string target = blob_path(sha, executable);
  std::string shard = fs::dirname(target);
  // Below blobs/ by its descriptor: "<aa>" and "<aa>/<sha>[.x]", not the whole paths.
  const int root = blobs_fd();
  const char* rel = target.c_str() + target.size() - (64 + 3 + (executable ? 2 : 0));
  const std::string shard_rel(rel, 2);
  auto open_tmp = [&] {
    return root >= 0
               ? ::openat(root, shard_rel.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC,
                          blob_mode(executable))
               : ::open(shard.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, blob_mode(executable));
  };
  int fd = open_tmp();
  if (fd < 0 && errno == ENOENT && fs::create_dirs(shard).ok()) fd = open_tmp();
  if (fd >= 0) {
    bool ok = true;
    for (size_t off = 0; ok && off < content.size();) {
      ssize_t n = ::write(fd, content.data() + off, content.size() - off);
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) off += size_t(n);
    }
    // O_TMPFILE modes pass through the umask: fixed here unless it takes nothing from them.
    ok = ok && (umask_keeps_blob_modes() || ::fchmod(fd, blob_mode(executable)) == 0);
    ok = ok && ::futimens(fd, kBlobTimes) == 0;
    if (ok) {
      // linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH (root has it); without it,
      // the /proc/self/fd link, which costs a walk of /proc.
      static std::atomic<bool> empty_path_refused{false};
      int err = -1;  // -1: not tried yet; else 0 or the errno of the last try
      if (root >= 0 && !empty_path_refused.load(std::memory_order_relaxed)) {
        err = ::linkat(fd, "", root, rel, AT_EMPTY_PATH) == 0 ? 0 : errno;
        if (err != 0 && err != EEXIST) {
          empty_path_refused = true;
          err = -1;
        }
      }
      if (err == -1) {
        std::string proc = "/proc/self/fd/" + std::to_string(fd);
        err = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW) == 0
                  ? 0
                  : errno;
      }
      ok = err == 0 || err == EEXIST;  // EEXIST: the same content arrived meanwhile: fine
    }
    ::close(fd);
    if (ok) return std::string(sha);
  }
  // Filesystems without O_TMPFILE (or /proc), or a write that failed (a full disk: the
  // anonymous file vanished with its descriptor): temp file in tmp/, then link().
  std::string tmp = fs::temp_sibling(fs::join_path(tmp_dir(), std::string(sha)));
  LB_TRY(fs::write_file(tmp, content, blob_mode(executable)));  // removes it on failure
  return link_into_place(tmp, sha, executable);
}

Result<std::string> LocalStore::put_blob_file(const std::string& path, bool executable) {
  LB_ASSIGN(std::string sha, sha256_file_hex(path));
  auto size = int64_t(fs::stat_path(path).size);
  switch (blob_state(sha, executable, size)) {
    case BlobState::intact:
      LB_TRY(fs::remove_all(path));
      return sha;
    case BlobState::damaged:
      remove_damaged_blob(sha, executable);
      break;
    case BlobState::missing:
      break;
  }
  return link_into_place(path, sha, executable);
}

// Give `tmp` its final mode and hard-link it to its blob name (put-if-absent: a blob that
// appeared meanwhile has the same content), then drop `tmp`. Copies when `tmp` lives on
// another filesystem.
Result<std::string> LocalStore::link_into_place(const std::string& tmp, std::string_view sha,
                                                bool executable) {
  std::string target = blob_path(sha, executable);
  Status st = fs::set_mode(tmp, blob_mode(executable));
  if (st && ::utimensat(AT_FDCWD, tmp.c_str(), kBlobTimes, AT_SYMLINK_NOFOLLOW) != 0)
    st = make_error("cannot set the mtime of " + tmp + ": " + std::strerror(errno));
  if (st) {
    st = fs::hard_link(tmp, target);
    if (!st && !fs::exists(target)) {  // first blob of its shard, or another filesystem
      LB_TRY(fs::create_dirs(fs::dirname(target)));
      st = fs::hard_link(tmp, target);
    }
    if (!st && !fs::exists(target)) {
      std::string copy = fs::temp_sibling(fs::join_path(tmp_dir(), std::string(sha)));
      st = fs::copy_file(tmp, copy);
      if (st) st = fs::set_mode(copy, blob_mode(executable));
      if (st) (void)::utimensat(AT_FDCWD, copy.c_str(), kBlobTimes, AT_SYMLINK_NOFOLLOW);
      if (st) st = fs::hard_link(copy, target);
      (void)fs::remove_all(copy);
    }
  }
  (void)fs::remove_all(tmp);
  if (!st && !fs::exists(target)) return st.error().context("storing blob " + target);
  return std::string(sha);
}

Result<bool> LocalStore::verify_blob(std::string_view sha, bool executable) const {
  if (!is_sha256_hex(sha)) return bad_sha(sha);
  std::string path = blob_path(sha, executable);
  auto info = fs::stat_path(path);
  if (!info.is_regular)
    return make_error("blob missing from the store: " + path,
                      "`lavabuild cache verify --repair` removes the index entries that name it");
  if ((info.mode & 07777) != blob_mode(executable)) return false;
  LB_ASSIGN(std::string actual, sha256_file_hex(path));
  return actual == sha;
}

Status LocalStore::verify_all(const std::function<void(std::string)>& report_bad) const {
  std::string root = fs::join_path(dir_, "blobs");
  LB_ASSIGN(auto shards, fs::list_dir(root));
  for (const auto& shard : shards) {
    std::string shard_dir = fs::join_path(root, shard);
    if (shard.size() != 2 || !fs::stat_path(shard_dir).is_dir) {
      report_bad(shard_dir);
      continue;
    }
    LB_ASSIGN(auto names, fs::list_dir(shard_dir));
    for (const auto& name : names) {
      bool exec = ends_with(name, ".x");
      std::string sha = exec ? name.substr(0, name.size() - 2) : name;
      bool good = is_sha256_hex(sha) && starts_with(sha, shard);
      if (good) {
        auto ok = verify_blob(sha, exec);
        good = ok && *ok;
      }
      if (!good) report_bad(fs::join_path(shard_dir, name));
    }
  }
  return {};
}

}  // namespace lb::store
