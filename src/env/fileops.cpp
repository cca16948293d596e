#include "env/fileops.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lb::env::detail {
namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

bool link_unsupported(int e) {
  return e == EXDEV || e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EMLINK;
}
bool clone_unsupported(int e) {
  return e == EXDEV || e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EINVAL ||
         e == ENOTTY || e == ENOSYS || e == EBADF;
}

void note_fallback(LinkReport& report, std::string reason) {
  if (report.fell_back_to_copy) return;
  report.fell_back_to_copy = true;
  report.fallback_reason = std::move(reason);
}

Status write_all(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot write " + path + ": " + errno_text(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

/// Give a copy the mtime of the stored blobs (store::kBlobMtime, 1 s after the epoch), as a
/// hard link has: the timestamp pycs beside it record that mtime and the source size, so they
/// stay valid for copies too, and a later edit of the copy makes Python recompile.
Status set_stored_mtime(int fd, const std::string& dst) {
  const struct timespec times[2] = {{0, UTIME_OMIT}, {1, 0}};
  if (::futimens(fd, times) != 0)
    return make_error("cannot set the mtime of " + dst + ": " + errno_text(errno));
  return {};
}

Status copy_fd(int in, int out, const std::string& src, const std::string& dst) {
  // sendfile between regular files; fall back to read/write if the kernel refuses.
  for (;;) {
    ssize_t n = ::sendfile(out, in, nullptr, 1 << 30);
    if (n > 0) continue;
    if (n == 0) return {};
    if (errno == EINTR) continue;
    if (errno == EINVAL || errno == ENOSYS) break;
    return make_error("cannot copy " + src + " to " + dst + ": " + errno_text(errno));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n == 0) return {};
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot read " + src + ": " + errno_text(errno));
    }
    LB_TRY(write_all(out, buf, static_cast<size_t>(n), dst));
  }
}

}  // namespace

std::string errno_text(int e) {
  return std::strerror(e);
}

Status DirMaker::ensure(const std::string& rel) {
  if (rel.empty() || made_.count(rel)) return {};
  std::string full = root_ + "/" + rel;
  if (::mkdir(full.c_str(), 0755) != 0) {
    int e = errno;
    if (e == ENOENT) {
      LB_TRY(ensure_parent(rel));
      if (::mkdir(full.c_str(), 0755) != 0 && errno != EEXIST)
        return make_error("cannot create directory " + full + ": " + errno_text(errno));
    } else if (e != EEXIST) {
      return make_error("cannot create directory " + full + ": " + errno_text(e));
    }
  }
  made_.insert(rel);
  return {};
}

DirMaker::~DirMaker() {
  for (auto& [rel, fd] : fds_)
    if (fd >= 0) ::close(fd);
}

int DirMaker::parent_fd(const std::string& rel_path) {
  auto slash = rel_path.rfind('/');
  std::string dir = slash == std::string::npos ? std::string() : rel_path.substr(0, slash);
  if (auto it = fds_.find(dir); it != fds_.end()) return it->second;
  if (!ensure(dir).ok()) return -1;
  std::string full = dir.empty() ? root_ : root_ + "/" + dir;
  int fd = ::open(full.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  fds_.emplace(dir, fd);
  return fd;
}

bool link_at(int src_dirfd, const char* src_rel, int dst_dirfd, const char* dst_name) {
  if (src_dirfd < 0 || dst_dirfd < 0) {
    errno = EBADF;
    return false;
  }
  return ::linkat(src_dirfd, src_rel, dst_dirfd, dst_name, 0) == 0;
}

Status DirMaker::ensure_parent(const std::string& rel_path) {
  auto slash = rel_path.rfind('/');
  return slash == std::string::npos ? Status{} : ensure(rel_path.substr(0, slash));
}

Status place_file(const std::string& src, const std::string& dst, LinkMode mode, bool executable,
                  LinkReport& report, Placed& placed) {
  placed.existed = false;
  if (mode == LinkMode::hardlink && !report.fell_back_to_copy) {
    if (::link(src.c_str(), dst.c_str()) == 0) {
      ++report.linked;
      return {};
    }
    int e = errno;
    if (e == EEXIST) {
      placed.existed = true;
      return {};
    }
    if (e == ENOENT && ::access(src.c_str(), F_OK) != 0)
      return make_error("stored file " + src + " is missing",
                        "run `lavabuild cache verify --repair` to repair the store");
    if (!link_unsupported(e))
      return make_error("cannot hard-link " + src + " to " + dst + ": " + errno_text(e));
    note_fallback(report, "hard link from " + src + " to " + dst + " failed (" + errno_text(e) +
                              "); copying files instead");
  }
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0)
    return make_error("cannot open stored file " + src + ": " + errno_text(errno),
                      "run `lavabuild cache verify --repair` to repair the store");
  unsigned perm = executable ? 0755 : 0644;
  Fd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, perm));
  if (out.fd < 0) {
    if (errno == EEXIST) {
      placed.existed = true;
      return {};
    }
    return make_error("cannot create " + dst + ": " + errno_text(errno));
  }
  if (::fchmod(out.fd, perm) != 0)
    return make_error("cannot set the mode of " + dst + ": " + errno_text(errno));
  if (mode == LinkMode::clone && !report.fell_back_to_copy) {
    if (::ioctl(out.fd, FICLONE, in.fd) == 0) {
      ++report.linked;
      return set_stored_mtime(out.fd, dst);
    }
    int e = errno;
    if (!clone_unsupported(e))
      return make_error("cannot clone " + src + " to " + dst + ": " + errno_text(e));
    note_fallback(report, "copy-on-write clone of " + src + " to " + dst + " failed (" +
                              errno_text(e) + "); copying files instead");
  }
  LB_TRY(copy_fd(in.fd, out.fd, src, dst));
  ++report.copied;
  return set_stored_mtime(out.fd, dst);
}

Status write_new_file(const std::string& path, std::string_view data, unsigned perm,
                      Placed& placed) {
  placed.existed = false;
  Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, perm));
  if (out.fd < 0) {
    if (errno == EEXIST) {
      placed.existed = true;
      return {};
    }
    return make_error("cannot create " + path + ": " + errno_text(errno));
  }
  if (::fchmod(out.fd, perm) != 0)
    return make_error("cannot set the mode of " + path + ": " + errno_text(errno));
  return write_all(out.fd, data.data(), data.size(), path);
}

Result<std::string> read_prefix(const std::string& path, size_t max) {
  Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) return make_error("cannot open " + path + ": " + errno_text(errno));
  std::string out(max, '\0');
  size_t got = 0;
  while (got < max) {
    ssize_t n = ::read(in.fd, out.data() + got, max - got);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot read " + path + ": " + errno_text(errno));
    }
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace lb::env::detail
