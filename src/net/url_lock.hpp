// One download of a URL at a time across processes that share a cache.
//
// Persistent format (owned here), in the lock directory (<cache>/locks):
//   url-<sha256 of the URL>        an empty file; flock(LOCK_EX) while a process fetches it
//   url-<sha256 of the URL>.done   what the last fetch produced, written (temp + rename) while
//                                  the lock is held: a blob's sha256 for a download; for an
//                                  index page "lavabuild-page-note 1\n<sha256 of the body>\n"
//                                  (the page itself goes to the index under page/<url> when the
//                                  fetching run ends; a waiter that does not find that body
//                                  there fetches the page itself). A few bytes either way.
// flock works across PID namespaces (it locks the open file, not a pid), so processes in
// different containers on one cache wait for each other too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "util/fs.hpp"

namespace lb::net {

class UrlLock {
 public:
  UrlLock() = default;
  /// Take the lock for `url` without waiting; held() is false when another process has it.
  /// An empty `dir`, or a lock that cannot be opened (a read-only cache), gives a lock that
  /// is "held" without locking anything: the caller just fetches.
  static UrlLock try_lock(const std::string& dir, const std::string& url);
  /// Take the lock, waiting for another process; prints once to stderr
  /// "lavabuild: waiting for another lavabuild process to download URL" when it has to wait.
  static UrlLock lock(const std::string& dir, const std::string& url);
  bool held() const { return held_; }
  /// What the last holder recorded (nullopt when nothing, or when recorded before
  /// `newer_than_ns`, nanoseconds since the epoch); only meaningful while held.
  std::optional<std::string> note(int64_t newer_than_ns = 0) const;
  /// Record what this fetch produced for the next holder.
  void set_note(const std::string& text) const;
  void release() {
    lock_ = fs::FileLock();
    held_ = false;
  }

 private:
  fs::FileLock lock_;
  std::string path_;
  bool held_ = false;
};

}  // namespace lb::net
