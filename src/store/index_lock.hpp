// Internal: the flock on <cache>/index.lock that serialises RocksDB openers across processes.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "util/result.hpp"

namespace lb::store::detail {

/// An exclusive flock held for the lifetime of the object.
class IndexLock {
 public:
  IndexLock() = default;
  ~IndexLock();
  IndexLock(IndexLock&& o) noexcept : fd_(o.fd_), unlockable_(o.unlockable_) { o.fd_ = -1; }
  IndexLock& operator=(IndexLock&& o) noexcept;
  IndexLock(const IndexLock&) = delete;
  IndexLock& operator=(const IndexLock&) = delete;

  /// Wait (blocking, so the kernel wakes us when the holder lets go) at most `timeout`.
  /// `shared`: a reader's lock (several readers at once; RocksDB read-only opens coexist),
  /// else a writer's exclusive lock. `on_wait` is called once when the lock is busy.
  /// On timeout returns an IndexLock with held()==false. A lock file that cannot be
  /// created (a read-only cache) is opened read-only; a missing one in a read-only
  /// directory gives an unlocked IndexLock with `unlockable()` (nobody can write there).
  static Result<IndexLock> acquire(const std::string& path, std::chrono::milliseconds timeout,
                                   bool shared = false, const std::function<void()>& on_wait = {});
  bool unlockable() const { return unlockable_; }
  bool held() const { return fd_ >= 0; }

 private:
  explicit IndexLock(int fd) : fd_(fd) {}
  int fd_ = -1;
  bool unlockable_ = false;
};

}  // namespace lb::store::detail
