#include "store/index_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
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

// Shared between the caller and the helper thread that sits in a blocking flock().
struct Waiter {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  bool abandoned = false;
  int err = 0;
};

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
  // flock has no timeout: block in a helper thread; if we give up first, the helper
  // releases the lock as soon as it gets it.
  if (on_wait) on_wait();
  auto w = std::make_shared<Waiter>();
  std::thread([w, fd, op] {
    int r;
    do r = ::flock(fd, op);
    while (r != 0 && errno == EINTR);
    std::lock_guard<std::mutex> g(w->m);
    if (w->abandoned) {
      ::close(fd);
      return;
    }
    w->done = true;
    w->err = r == 0 ? 0 : errno;
    w->cv.notify_all();
  }).detach();
  std::unique_lock<std::mutex> g(w->m);
  if (!w->cv.wait_for(g, timeout, [&] { return w->done; })) {
    w->abandoned = true;
    return IndexLock();
  }
  if (w->err != 0) {
    ::close(fd);
    return make_error("cannot lock " + path + ": " + std::strerror(w->err));
  }
  return IndexLock(fd);
}

}  // namespace lb::store::detail
