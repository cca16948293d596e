// Internal: the flock on <cache>/index.lock that serialises RocksDB openers across processes.
#pragma once

#include <chrono>
#include <string>

#include "util/result.hpp"

namespace lb::store::detail {

/// An exclusive flock held for the lifetime of the object.
class IndexLock {
 public:
  IndexLock() = default;
  ~IndexLock();
  IndexLock(IndexLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  IndexLock& operator=(IndexLock&& o) noexcept;
  IndexLock(const IndexLock&) = delete;
  IndexLock& operator=(const IndexLock&) = delete;

  /// Wait (blocking, so the kernel wakes us when the holder lets go) at most `timeout`.
  /// On timeout returns an IndexLock with held()==false; errors only when the file cannot
  /// be opened.
  static Result<IndexLock> acquire(const std::string& path, std::chrono::milliseconds timeout);
  bool held() const { return fd_ >= 0; }

 private:
  explicit IndexLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace lb::store::detail
