#include "net/url_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

#include "net/url.hpp"
#include "util/hash.hpp"

namespace lb::net {

namespace {
std::string lock_file(const std::string& dir, const std::string& url) {
  return fs::join_path(dir, "url-" + sha256_hex(url));
}
}  // namespace

UrlLock UrlLock::try_lock(const std::string& dir, const std::string& url) {
  UrlLock l;
  l.held_ = true;
  if (dir.empty() || !fs::create_dirs(dir).ok()) return l;
  l.path_ = lock_file(dir, url);
  auto got = fs::FileLock::try_acquire(l.path_);
  if (!got.ok()) {  // cannot lock (read-only cache): work without
    l.path_.clear();
    return l;
  }
  l.held_ = got->held();
  l.lock_ = std::move(*got);
  return l;
}

UrlLock UrlLock::lock(const std::string& dir, const std::string& url) {
  UrlLock l = try_lock(dir, url);
  if (l.held_) return l;
  std::fprintf(stderr, "lavabuild: waiting for another lavabuild process to download %s\n",
               redact_url(url).c_str());
  auto got = fs::FileLock::acquire(l.path_);
  l.held_ = true;
  if (got.ok()) {
    l.lock_ = std::move(*got);
  } else {
    l.path_.clear();
  }
  return l;
}

std::optional<std::string> UrlLock::note(int64_t newer_than_ns) const {
  if (path_.empty() || !held_) return std::nullopt;
  fs::FileInfo info = fs::stat_path(path_ + ".done");
  if (!info.is_regular || info.mtime_ns < newer_than_ns) return std::nullopt;
  auto text = fs::read_file(path_ + ".done");
  if (!text.ok()) return std::nullopt;
  return std::move(*text);
}

void UrlLock::set_note(const std::string& text) const {
  if (path_.empty() || !held_) return;
  std::string done = path_ + ".done";
  // Unchanged (a page revalidated with 304, say): only say "written now", without creating
  // and renaming a file on every warm run.
  if (auto old = fs::read_file(done);
      old.ok() && *old == text && ::utimensat(AT_FDCWD, done.c_str(), nullptr, 0) == 0)
    return;
  (void)fs::write_file_atomic(done, text);
}

}  // namespace lb::net
