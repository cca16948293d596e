#include "store/index_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace lb::store::detail {

IndexLock::~IndexLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

IndexLock& IndexLock::operator=(IndexLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    unlockable_ = o.unlockable_;
    o.fd_ = -1;
  }
  return *this;
}

namespace {

constexpr std::chrono::milliseconds kLongestPause{20};
constexpr std::chrono::milliseconds kWarnAfter{1000};  // a wait shorter than this is not said

}  // namespace

Result<IndexLock> IndexLock::acquire(const std::string& path, std::chrono::milliseconds timeout,
                                     bool shared, const std::function<void()>& on_wait) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM)) {
    int create_err = errno;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // flock needs no write access
    if (fd < 0 && errno == ENOENT && shared) {
      IndexLock none;  // a read-only cache that never had an index lock: nobody writes here
      none.unlockable_ = true;
      return none;
    }
    if (fd < 0) errno = create_err;
  }
  if (fd < 0)
    return make_error("cannot open lock file " + path + ": " + std::strerror(errno),
                      "check that the cache directory is writable");
  const int op = shared ? LOCK_SH : LOCK_EX;
  if (::flock(fd, op | LOCK_NB) == 0) return IndexLock(fd);
  if (errno != EWOULDBLOCK) {
    int e = errno;
    ::close(fd);
    return make_error("cannot lock " + path + ": " + std::strerror(e));
  }
  // flock has no timeout: try again, backing off from 1 to 20 ms, until the deadline (no
  // waiting thread of our own: the graph executor is the only place threads are made). The
  // index is held for milliseconds at a time: only a wait that lasts is worth a warning.
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  bool said = false;
  for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, kLongestPause)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ::close(fd);
      return IndexLock();
    }
    if (!said && now - start >= kWarnAfter) {
      said = true;
      if (on_wait) on_wait();
    }
    std::this_thread::sleep_for(pause);
    if (::flock(fd, op | LOCK_NB) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int e = errno;
      ::close(fd);
      return make_error("cannot lock " + path + ": " + std::strerror(e));
    }
  }
  return IndexLock(fd);
}

}  // namespace lb::store::detail
