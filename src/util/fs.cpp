#include "util/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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

namespace {

FileInfo info_of(const struct stat& st) {
  FileInfo info;
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

}  // namespace

FileInfo stat_path(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return {};
  return info_of(st);
}

FileInfo stat_at(int dirfd, const char* name) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  return info_of(st);
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

namespace {
// Write `data` into the new file `fd` (at `path`), set `mode`; unlinks `path` on failure so
// nothing half-written (a zero-byte file on a full disk) stays behind.
Status fill_new_file(int fd, const std::string& path, std::string_view data, uint32_t mode) {
  Status st = write_all(fd, data, path);
  if (st.ok() && ::fchmod(fd, mode) != 0) st = errno_error("cannot chmod", path);
  if (::close(fd) != 0 && st.ok()) st = errno_error("cannot write", path);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}
}  // namespace

Status write_file(const std::string& path, std::string_view data, uint32_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("cannot create", path);
  return fill_new_file(fd, path, data, mode);
}

namespace {
/// A new temp sibling of `path` (temp_sibling), open for writing with `mode` and flock'ed, so
/// that a cleaner tells it from a killed run's (remove_if_abandoned); `tmp` gets its name.
Result<int> create_locked_temp(const std::string& path, uint32_t mode, std::string& tmp) {
  for (int attempt = 0;; ++attempt) {
    if (attempt > 16) return make_error("cannot create a temp file beside " + path);
    tmp = temp_sibling(path);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return errno_error("cannot create", tmp);
    }
    // A cleaner that got in first removed it: try another name.
    struct stat held, now;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &held) != 0 ||
        ::lstat(tmp.c_str(), &now) != 0 || held.st_ino != now.st_ino || held.st_dev != now.st_dev) {
      ::close(fd);
      continue;
    }
    return fd;
  }
}
}  // namespace

Status write_file_atomic(const std::string& path, std::string_view data, uint32_t mode) {
  std::string tmp;
  LB_ASSIGN(int fd, create_locked_temp(path, mode, tmp));
  Status st = write_all(fd, data, tmp);
  if (st.ok() && ::fchmod(fd, mode) != 0) st = errno_error("cannot chmod", tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = errno_error("cannot rename into", path);
  if (!st.ok()) ::unlink(tmp.c_str());
  ::close(fd);
  return st;
}

Status write_file_new(const std::string& path, std::string_view data, uint32_t mode) {
  std::string tmp;
  LB_ASSIGN(int fd, create_locked_temp(path, mode, tmp));
  Status st = write_all(fd, data, tmp);
  if (st.ok() && ::fchmod(fd, mode) != 0) st = errno_error("cannot chmod", tmp);
  if (st.ok() && ::link(tmp.c_str(), path.c_str()) != 0)
    st = errno == EEXIST ? make_error(path + " already exists", "remove it or choose another name")
                         : errno_error("cannot create", path);
  ::unlink(tmp.c_str());  // linked or not, the temp name goes
  ::close(fd);
  return st;
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

bool is_safe_rel(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.find('\n') != std::string_view::npos ||
      p.find('\0') != std::string_view::npos)
    return false;
  size_t start = 0;
  while (true) {
    size_t slash = p.find('/', start);
    std::string_view part =
        p.substr(start, slash == std::string_view::npos ? p.npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::string non_dir_component(const std::string& dir, const std::string& rel,
                              std::set<std::string>& checked) {
  for (size_t end = 0; end != std::string::npos;) {
    end = rel.find('/', end + 1);
    std::string part = rel.substr(0, end);
    if (checked.count(part)) continue;
    struct stat st;
    if (::lstat((dir + "/" + part).c_str(), &st) != 0) return "";  // missing: made by us
    if (!S_ISDIR(st.st_mode)) return part;
    checked.insert(std::move(part));
  }
  return "";
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
  // `aside` holds what was at b; a cleaner may already have taken it (it is unlocked).
  if (::rename(aside.c_str(), a.c_str()) != 0 && errno != ENOENT)
    return errno_error("cannot rename " + aside + " to", a);
  return {};
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
  // O_NONBLOCK: a FIFO in its place must not block the open (then it is refused below).
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) return errno_error("cannot open", from);
  struct stat st;
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(in);
    return make_error(from + " is not a regular file",
                      "name a file (a FIFO, device or directory cannot be installed)");
  }
  ::fcntl(in, F_SETFL, ::fcntl(in, F_GETFL) & ~O_NONBLOCK);
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

std::string random_hex(size_t n) {
  std::string bytes(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(bytes.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      // No entropy source at all: fall back to time and address bits (still exclusive
      // creation protects correctness; only unpredictability is lost).
      uint64_t x = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                   uint64_t(reinterpret_cast<uintptr_t>(&bytes)) ^ (uint64_t(::getpid()) << 32);
      for (size_t i = got; i < n; ++i, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
        bytes[i] = char(x >> 56);
      break;
    }
    got += size_t(r);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned char c : bytes) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string temp_sibling(const std::string& path) {
  return path + std::string(kTempInfix) + random_hex(8);
}

OwnedDir::~OwnedDir() {
  if (fd_ >= 0) ::close(fd_);
}

OwnedDir& OwnedDir::operator=(OwnedDir&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void OwnedDir::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<OwnedDir> OwnedDir::create(const std::string& base, uint32_t mode) {
  for (int attempt = 0; attempt < 32; ++attempt) {
    std::string path = temp_sibling(base);
    if (::mkdir(path.c_str(), mode) != 0) {
      if (errno == EEXIST) continue;
      return errno_error("cannot create directory", path);
    }
    // Between mkdir and flock a cleaner may take the lock and remove the directory: then our
    // lock is on a removed directory (or fails), and we try another name.
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat held, now;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &held) != 0 ||
        ::lstat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
        held.st_dev != now.st_dev) {
      ::close(fd);
      continue;
    }
    OwnedDir d;
    d.path_ = std::move(path);
    d.fd_ = fd;
    return d;
  }
  return make_error("cannot create a temp directory beside " + base);
}

namespace {
// Whether `path`, a temp entry, is abandoned: nobody holds the flock its creator took (on the
// directory, OwnedDir; on the file, write_file_atomic); removes it then when `remove`.
bool abandoned_impl(const std::string& path, bool remove) {
  struct stat first;
  if (::lstat(path.c_str(), &first) != 0) return false;
  if (S_ISLNK(first.st_mode)) return !remove || ::unlink(path.c_str()) == 0;  // never ours
  if (!S_ISDIR(first.st_mode) && !S_ISREG(first.st_mode)) return false;
  int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(first.st_mode) ? O_DIRECTORY : 0);
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return false;
  bool dead = false;
  struct stat held, now;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &held) == 0 &&
      ::lstat(path.c_str(), &now) == 0 && held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
    if (!remove) {
      dead = true;
    } else {
      // Renamed first (within its family of temp names, so that a cleaner killed now leaves
      // a leftover the next one finds): a process the dead one started may still be writing
      // into it by path (a compiler, a build backend); it then fails instead of putting a file
      // back while the tree is being removed.
      std::string target = path;
      const std::string name = basename(path);
      if (auto base = temp_base(name)) {
        std::string moved = temp_sibling(join_path(dirname(path), *base));
        if (::rename(path.c_str(), moved.c_str()) == 0) target = moved;
      }
      dead = remove_all(target).ok();
    }
  }
  ::close(fd);
  return dead;
}
}  // namespace

bool remove_if_abandoned(const std::string& path) {
  return abandoned_impl(path, true);
}
bool is_abandoned(const std::string& path) {
  return abandoned_impl(path, false);
}

uint64_t tree_size(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat e;
    if (::lstat(it->path().c_str(), &e) == 0 && S_ISREG(e.st_mode)) total += uint64_t(e.st_size);
  }
  return total;
}

std::optional<std::string_view> temp_base(std::string_view name) {
  const size_t at = name.rfind(kTempInfix);
  if (at == std::string_view::npos || !is_temp_name_of(name, name.substr(0, at)))
    return std::nullopt;
  return name.substr(0, at);
}

bool is_temp_name_of(std::string_view name, std::string_view base_name) {
  constexpr size_t kHexDigits = 16;  // temp_sibling's random_hex(8)
  if (name.size() != base_name.size() + kTempInfix.size() + kHexDigits) return false;
  if (name.substr(0, base_name.size()) != base_name) return false;
  if (name.substr(base_name.size(), kTempInfix.size()) != kTempInfix) return false;
  for (char c : name.substr(base_name.size() + kTempInfix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::vector<std::string> temp_siblings_of(const std::string& base) {
  std::vector<std::string> out;
  std::string dir = dirname(base), base_name = basename(base);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d))
    if (is_temp_name_of(e->d_name, base_name)) out.push_back(join_path(dir, e->d_name));
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
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

Result<FileLock> FileLock::lock_fd(int fd, const std::string& path,
                                   const std::function<void()>& on_wait, int how) {
  static_assert(LOCK_EX == 2, "the default of lock_fd's `how` in fs.hpp");
  if (::flock(fd, how | LOCK_NB) == 0) return FileLock(fd);
  if (on_wait && errno == EWOULDBLOCK) on_wait();
  while (::flock(fd, how) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    return errno_error("cannot lock", path, err);
  }
  return FileLock(fd);
}

Result<FileLock> FileLock::acquire(const std::string& path) {
  return acquire_or_wait(path, {});
}

Result<FileLock> FileLock::acquire_or_wait(const std::string& path,
                                           const std::function<void()>& on_wait) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot open lock file", path);
  return lock_fd(fd, path, on_wait);
}

Result<FileLock> FileLock::acquire_existing_or_wait(const std::string& path,
                                                    const std::function<void()>& on_wait) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open", path);
  return lock_fd(fd, path, on_wait);
}

Result<FileLock> FileLock::acquire_shared_or_wait(const std::string& path,
                                                  const std::function<void()>& on_wait) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot open lock file", path);
  return lock_fd(fd, path, on_wait, LOCK_SH);
}

void FileLock::touch() const {
  if (fd_ >= 0) (void)::futimens(fd_, nullptr);
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
