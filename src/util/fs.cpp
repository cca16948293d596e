#include "util/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lb::fs {

namespace {
Error errno_error(const std::string& what, const std::string& path, int err = errno) {
  return make_error(what + " " + path + ": " + std::strerror(err));
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot write", path);
    }
    p += n;
    left -= size_t(n);
  }
  return {};
}
}  // namespace

FileInfo stat_path(const std::string& path) {
  FileInfo info;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return info;
  info.exists = true;
  info.is_dir = S_ISDIR(st.st_mode);
  info.is_symlink = S_ISLNK(st.st_mode);
  info.is_regular = S_ISREG(st.st_mode);
  info.mode = st.st_mode & 07777;
  info.size = uint64_t(st.st_size);
  info.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  info.inode = st.st_ino;
  info.device = st.st_dev;
  return info;
}

bool exists(const std::string& path) {
  return stat_path(path).exists;
}
bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open", path);
  std::string out;
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(size_t(st.st_size));
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errno_error("cannot read", path, err);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

Status write_file(const std::string& path, std::string_view data, uint32_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("cannot create", path);
  Status st = write_all(fd, data, path);
  ::close(fd);
  if (!st.ok()) return st;
  if (::chmod(path.c_str(), mode) != 0) return errno_error("cannot chmod", path);
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view data, uint32_t mode) {
  std::string tmp = temp_sibling(path);
  Status st = write_file(tmp, data, mode);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return errno_error("cannot rename into", path, err);
  }
  return {};
}

Status create_dirs(const std::string& path, uint32_t mode) {
  if (path.empty()) return {};
  if (::mkdir(path.c_str(), mode) == 0) return {};
  if (errno == EEXIST) {
    if (is_dir(path)) return {};
    return make_error("cannot create directory " + path + ": a file is in the way");
  }
  if (errno != ENOENT) return errno_error("cannot create directory", path);
  std::string parent = dirname(path);
  if (parent == path || parent.empty()) return errno_error("cannot create directory", path);
  LB_TRY(create_dirs(parent, mode));
  if (::mkdir(path.c_str(), mode) != 0 && !(errno == EEXIST && is_dir(path)))
    return errno_error("cannot create directory", path);
  return {};
}

Status remove_all(const std::string& path) {
  std::error_code ec;
  // Read-only directories (the store's trees) must be made writable before removal.
  FileInfo info = stat_path(path);
  if (!info.exists) return {};
  if (!info.is_dir) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("cannot remove", path);
    return {};
  }
  {
    for (auto it = std::filesystem::recursive_directory_iterator(
             path, std::filesystem::directory_options::none, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0755);
    }
    ::chmod(path.c_str(), 0755);
  }
  std::filesystem::remove_all(path, ec);
  if (ec) return make_error("cannot remove " + path + ": " + ec.message());
  return {};
}

Status rename_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return errno_error("cannot rename " + from + " to", to);
  return {};
}

Status exchange_paths(const std::string& a, const std::string& b) {
#ifdef SYS_renameat2
  if (::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), 2 /*RENAME_EXCHANGE*/) ==
      0)
    return {};
  if (errno != EINVAL && errno != ENOSYS) return errno_error("cannot exchange " + a + " and", b);
#endif
  std::string aside = temp_sibling(b);
  LB_TRY(rename_path(b, aside));
  if (::rename(a.c_str(), b.c_str()) != 0) {
    int err = errno;
    ::rename(aside.c_str(), b.c_str());
    return errno_error("cannot rename " + a + " to", b, err);
  }
  return rename_path(aside, a);
}

Status hard_link(const std::string& existing, const std::string& link) {
  if (::link(existing.c_str(), link.c_str()) != 0)
    return errno_error("cannot link " + existing + " to", link);
  return {};
}

Status symlink(const std::string& target, const std::string& link) {
  if (::symlink(target.c_str(), link.c_str()) != 0)
    return errno_error("cannot create symlink", link);
  return {};
}

Status clone_file(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_error("cannot open", from);
  struct stat st;
  ::fstat(in, &st);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return errno_error("cannot create", to, err);
  }
  int rc = ::ioctl(out, FICLONE, in);
  int err = errno;
  ::close(in);
  ::close(out);
  if (rc != 0) {
    ::unlink(to.c_str());
    return errno_error("cannot clone " + from + " to", to, err);
  }
  return {};
}

Status copy_file(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_error("cannot open", from);
  struct stat st;
  ::fstat(in, &st);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return errno_error("cannot create", to, err);
  }
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size_t(left), 0);
    if (n <= 0) {
      // Fallback: plain read/write.
      char buf[1 << 16];
      ssize_t r;
      while ((r = ::read(in, buf, sizeof buf)) > 0) {
        Status s = write_all(out, std::string_view(buf, size_t(r)), to);
        if (!s.ok()) {
          ::close(in);
          ::close(out);
          return s;
        }
      }
      break;
    }
    left -= n;
  }
  ::fchmod(out, st.st_mode & 07777);
  ::close(in);
  ::close(out);
  return {};
}

Status set_mode(const std::string& path, uint32_t mode) {
  if (::chmod(path.c_str(), mode) != 0) return errno_error("cannot chmod", path);
  return {};
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return errno_error("cannot list directory", path);
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string join_path(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  if (b.front() == '/') return std::string(b);
  std::string out(a);
  if (out.back() != '/') out += '/';
  out += b;
  return out;
}

std::string dirname(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t pos = path.rfind('/');
  if (pos == std::string_view::npos) return ".";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

std::string basename(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t pos = path.rfind('/');
  return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  if (ec) return path;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string temp_sibling(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Result<FileLock> FileLock::acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot open lock file", path);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    return errno_error("cannot lock", path, err);
  }
  return FileLock(fd);
}

Result<FileLock> FileLock::try_acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot open lock file", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    if (errno == EWOULDBLOCK) return FileLock();
    return errno_error("cannot lock", path);
  }
  return FileLock(fd);
}

}  // namespace lb::fs
