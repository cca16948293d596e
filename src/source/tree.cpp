// Walking a source tree through directory descriptors (openat/fstatat, never following a
// symlink), to digest it or copy it.
#include "source/tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "source/fd.hpp"
#include "source/links.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::source {
namespace {

constexpr const char* kLimitHint =
    "is this the source tree you meant? Trees beyond this limit are refused (docs/LIMITS.md)";

using detail::Fd;

Error sys_error(const std::string& what, const std::string& path, int err) {
  return make_error(what + " " + path + ": " + std::strerror(err));
}

FileStamp stamp_of(const struct stat& st) {
  FileStamp s;
  s.size = uint64_t(st.st_size);
  s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  s.inode = st.st_ino;
  s.device = st.st_dev;
  return s;
}

bool same_stamp(const struct stat& a, const struct stat& b) {
  FileStamp x = stamp_of(a), y = stamp_of(b);
  return x.size == y.size && x.mtime_ns == y.mtime_ns && x.ctime_ns == y.ctime_ns &&
         x.inode == y.inode && x.device == y.device && a.st_mode == b.st_mode;
}

std::string join_rel(const std::string& rel, const char* name) {
  return rel.empty() ? std::string(name) : rel + "/" + name;
}

const char* kind_of(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFIFO:
      return "a FIFO";
    case S_IFSOCK:
      return "a socket";
    case S_IFCHR:
    case S_IFBLK:
      return "a device";
    default:
      return "a special file";
  }
}

/// The walk shared by digest_tree and copy_tree: every entry but the excluded names, in
/// sorted order per directory, within the limits.
class Walk {
 public:
  struct Visitor {
    virtual ~Visitor() = default;
    /// A directory (the top one has rel "" and name ""), before its entries.
    virtual Status enter(const std::string& rel, const char* name, const struct stat& st) = 0;
    /// The same directory, after its entries.
    virtual Status leave(const struct stat& st) = 0;
    /// A regular file or a symlink `name` in the directory open as `dirfd`.
    virtual Status file(int dirfd, const char* name, const std::string& rel,
                        const struct stat& st) = 0;
    virtual Status symlink(int dirfd, const char* name, const std::string& rel,
                           const struct stat& st) = 0;
  };

  Walk(std::string root, const TreeLimits& limits) : root_(std::move(root)), limits_(limits) {}

  Status run(Visitor& v) {
    Fd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.ok()) return sys_error("cannot open source tree", root_, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return sys_error("cannot stat", root_, errno);
    LB_TRY(v.enter("", "", st));
    LB_TRY(directory(fd.get(), "", 0, v));
    return v.leave(st);
  }

  std::string abs(const std::string& rel) const { return root_ + "/" + rel; }

 private:
  Status directory(int fd, const std::string& rel, unsigned depth, Visitor& v) {
    std::vector<std::string> names;
    {
      int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
      if (!d) {
        int err = errno;
        if (dup >= 0) ::close(dup);
        return sys_error("cannot list directory", rel.empty() ? root_ : abs(rel), err);
      }
      errno = 0;
      while (struct dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != ".." && !is_excluded_name(n)) names.emplace_back(n);
      }
      int err = errno;
      ::closedir(d);
      if (err != 0) return sys_error("cannot list directory", rel.empty() ? root_ : abs(rel), err);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string child = join_rel(rel, name.c_str());
      if (++entries_ > limits_.max_files)
        return make_error("source tree " + root_ + " has more than " +
                              std::to_string(limits_.max_files) + " entries",
                          kLimitHint);
      struct stat st;
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return sys_error("cannot stat", abs(child), errno);
      if (S_ISDIR(st.st_mode)) {
        if (depth + 1 > limits_.max_depth)
          return make_error("source tree " + root_ + " is deeper than " +
                                std::to_string(limits_.max_depth) + " directories (at " +
                                abs(child) + ")",
                            kLimitHint);
        Fd sub(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.ok()) return sys_error("cannot open directory", abs(child), errno);
        LB_TRY(v.enter(child, name.c_str(), st));
        LB_TRY(directory(sub.get(), child, depth + 1, v));
        LB_TRY(v.leave(st));
      } else if (S_ISREG(st.st_mode)) {
        bytes_ += uint64_t(st.st_size);
        if (bytes_ > limits_.max_bytes)
          return make_error("source tree " + root_ + " holds more than " +
                                std::to_string(limits_.max_bytes) + " bytes of files",
                            kLimitHint);
        LB_TRY(v.file(fd, name.c_str(), child, st));
      } else if (S_ISLNK(st.st_mode)) {
        LB_TRY(v.symlink(fd, name.c_str(), child, st));
      } else {
        return make_error(abs(child) + " is " + kind_of(st.st_mode) +
                              ": a source tree may hold only files, directories and symlinks",
                          "remove it from the tree, or move it elsewhere");
      }
    }
    return {};
  }

  std::string root_;
  TreeLimits limits_;
  uint64_t entries_ = 0, bytes_ = 0;
};

Result<std::string> read_link(int dirfd, const char* name, const std::string& abs_path) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dirfd, name, target.data(), target.size());
    if (n < 0) return sys_error("cannot read symlink", abs_path, errno);
    if (size_t(n) < target.size()) {
      target.resize(size_t(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

/// The content hash of a regular file, with the stamp of what was read (fstat before and
/// after reading agree; a file that keeps changing is an error).
struct Hashed {
  std::string sha256;
  struct stat st;
  uint64_t bytes_read = 0;
};

Result<Hashed> hash_file(int dirfd, const char* name, const std::string& abs_path) {
  Hashed out;
  std::vector<char> buf(size_t(1) << 18);
  for (int attempt = 0; attempt < 3; ++attempt) {
    Fd fd(::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.ok()) return sys_error("cannot open", abs_path, errno);
    struct stat before, after;
    if (::fstat(fd.get(), &before) != 0) return sys_error("cannot stat", abs_path, errno);
    if (!S_ISREG(before.st_mode))
      return make_error(abs_path + " changed while the tree was read (it is no longer a file)",
                        "run again once nothing writes to the tree");
    Sha256 sha;
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return sys_error("cannot read", abs_path, errno);
      }
      if (n == 0) break;
      sha.update(buf.data(), size_t(n));
      out.bytes_read += uint64_t(n);
    }
    if (::fstat(fd.get(), &after) != 0) return sys_error("cannot stat", abs_path, errno);
    if (same_stamp(before, after)) {
      out.sha256 = sha.hex_digest();
      out.st = before;
      return out;
    }
  }
  return make_error(abs_path + " kept changing while it was read",
                    "run again once nothing writes to the tree");
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

class Digester : public Walk::Visitor {
 public:
  Digester(const Walk& walk, StatCache* cache, int64_t racy_from)
      : walk_(walk), cache_(cache), racy_from_(racy_from) {}

  Status enter(const std::string&, const char*, const struct stat&) override { return {}; }
  Status leave(const struct stat&) override { return {}; }

  Status file(int dirfd, const char* name, const std::string& rel, const struct stat& st) override {
    std::string abs_path = walk_.abs(rel);
    std::string key;
    if (cache_) {
      key = stat_cache_key(abs_path, stamp_of(st));
      if (auto hit = cache_->lookup(key); hit && is_hex64(*hit)) {
        add(rel, (st.st_mode & 0111) ? 'x' : 'f', *hit, st);
        return {};
      }
    }
    LB_ASSIGN(Hashed h, hash_file(dirfd, name, abs_path));
    out_.hashed_bytes += h.bytes_read;
    FileStamp stamp = stamp_of(h.st);
    if (cache_ && stamp.mtime_ns < racy_from_ && stamp.ctime_ns < racy_from_)
      cache_->record(stat_cache_key(abs_path, stamp), h.sha256);
    add(rel, (h.st.st_mode & 0111) ? 'x' : 'f', h.sha256, h.st);
    return {};
  }

  Status symlink(int dirfd, const char* name, const std::string& rel,
                 const struct stat& st) override {
    LB_ASSIGN(std::string target, read_link(dirfd, name, walk_.abs(rel)));
    add(rel, 'l', target, st);
    return {};
  }

  TreeDigest finish() {
    std::sort(records_.begin(), records_.end(),
              [](const Record& a, const Record& b) { return a.path < b.path; });
    Sha256 sha;
    sha.update("lavabuild.tree.v1\n");
    std::string line;
    for (const Record& r : records_) {
      line.clear();
      line += r.kind;
      line += ' ';
      line += std::to_string(r.path.size());
      line += ':';
      line += r.path;
      line += ' ';
      line += std::to_string(r.value.size());
      line += ':';
      line += r.value;
      line += '\n';
      sha.update(line);
      out_.entries.emplace_back(r.path, r.kind == 'l' ? "link:" + r.value : r.value);
    }
    out_.digest = sha.hex_digest();
    return out_;
  }

 private:
  struct Record {
    std::string path;
    char kind;
    std::string value;
  };
  void add(const std::string& rel, char kind, const std::string& value, const struct stat& st) {
    records_.push_back(Record{rel, kind, value});
    ++out_.files;
    if (kind != 'l') out_.bytes += uint64_t(st.st_size);
    out_.newest_mtime = std::max<int64_t>(out_.newest_mtime, int64_t(st.st_mtim.tv_sec));
  }

  const Walk& walk_;
  StatCache* cache_;
  int64_t racy_from_;
  TreeDigest out_;
  std::vector<Record> records_;
};

/// Copy the open regular file `in` into the new file `out`: a clone where the filesystem can,
/// else copy_file_range, else read/write.
Status copy_data(int in, int out, const std::string& from, const std::string& to) {
  if (::ioctl(out, FICLONE, in) == 0) return {};
  bool plain = false;
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size_t(1) << 30, 0);
    if (n == 0) return {};
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
          errno == EPERM) {
        plain = true;
        break;
      }
      return sys_error("cannot copy " + from + " to", to, errno);
    }
  }
  if (!plain) return {};
  std::vector<char> buf(size_t(1) << 18);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("cannot read", from, errno);
    }
    if (n == 0) return {};
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buf.data() + done, size_t(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return sys_error("cannot write", to, errno);
      }
      done += w;
    }
  }
}

class Copier : public Walk::Visitor {
 public:
  Copier(const Walk& walk, std::string to, Fd root, const struct stat& root_st)
      : walk_(walk), to_(std::move(to)), root_dev_(root_st.st_dev), root_ino_(root_st.st_ino) {
    dirs_.push_back(std::move(root));
  }

  Status enter(const std::string& rel, const char* name, const struct stat& st) override {
    if (st.st_dev == root_dev_ && st.st_ino == root_ino_)
      return make_error(
          "cannot copy " + walk_.abs(rel) + " into " + to_ + ": the copy would be inside the tree",
          "copy it to a directory outside the tree");
    if (rel.empty()) return {};  // the top: made by copy_tree
    if (::mkdirat(dirs_.back().get(), name, 0700) != 0)
      return sys_error("cannot create directory", dest(rel), errno);
    Fd fd(::openat(dirs_.back().get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.ok()) return sys_error("cannot open directory", dest(rel), errno);
    dirs_.push_back(std::move(fd));
    return {};
  }

  Status leave(const struct stat& st) override {
    if (::fchmod(dirs_.back().get(), (st.st_mode & 0777) | 0700) != 0)
      return sys_error("cannot chmod", to_, errno);
    if (dirs_.size() > 1) dirs_.pop_back();
    return {};
  }

  Status file(int dirfd, const char* name, const std::string& rel, const struct stat&) override {
    std::string from = walk_.abs(rel), to = dest(rel);
    Fd in(::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!in.ok()) return sys_error("cannot open", from, errno);
    struct stat st;
    if (::fstat(in.get(), &st) != 0) return sys_error("cannot stat", from, errno);
    if (!S_ISREG(st.st_mode))
      return make_error(from + " changed while the tree was copied (it is no longer a file)",
                        "run again once nothing writes to the tree");
    Fd out(::openat(dirs_.back().get(), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0600));
    if (!out.ok()) return sys_error("cannot create", to, errno);
    LB_TRY(copy_data(in.get(), out.get(), from, to));
    if (::fchmod(out.get(), (st.st_mode & 0777) | 0200) != 0)
      return sys_error("cannot chmod", to, errno);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::futimens(out.get(), times) != 0) return sys_error("cannot set the mtime of", to, errno);
    return {};
  }

  Status symlink(int dirfd, const char* name, const std::string& rel,
                 const struct stat& st) override {
    LB_ASSIGN(std::string target, read_link(dirfd, name, walk_.abs(rel)));
    links_.emplace(rel, target);
    link_times_.push_back({rel, st.st_mtim});
    return {};
  }

  /// Symlinks last: each is checked against all of the tree's links first.
  Status finish() {
    std::map<std::string, std::string> sorted(links_.begin(), links_.end());
    for (const auto& [rel, target] : sorted)
      if (auto why = detail::symlink_escape(rel, target, links_))
        return make_error(
            "symlink " + walk_.abs(rel) + " -> " + target +
                " cannot be copied into a build: " + *why,
            "make it a relative link to a path inside the tree, or replace it by the file");
    int top = dirs_.front().get();
    for (const auto& [rel, mtime] : link_times_) {
      const std::string& target = links_.at(rel);
      if (::symlinkat(target.c_str(), top, rel.c_str()) != 0)
        return sys_error("cannot create symlink", dest(rel), errno);
      struct timespec times[2] = {mtime, mtime};
      if (::utimensat(top, rel.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        return sys_error("cannot set the mtime of", dest(rel), errno);
    }
    return {};
  }

 private:
  std::string dest(const std::string& rel) const { return to_ + "/" + rel; }

  const Walk& walk_;
  std::string to_;
  dev_t root_dev_;
  ino_t root_ino_;
  std::vector<Fd> dirs_;  // the copy's directories being filled, the top first
  detail::LinkMap links_;
  std::vector<std::pair<std::string, struct timespec>> link_times_;
};

std::string real_path(const std::string& path) {
  char* p = ::realpath(path.c_str(), nullptr);
  if (!p) return {};
  std::string out = p;
  ::free(p);
  return out;
}

}  // namespace

bool is_excluded_name(std::string_view name) {
  return std::find(kExcludedNames.begin(), kExcludedNames.end(), name) != kExcludedNames.end();
}

std::string stat_cache_key(const std::string& abs_path, const FileStamp& s) {
  return "1 " + std::to_string(s.size) + " " + std::to_string(s.mtime_ns) + " " +
         std::to_string(s.ctime_ns) + " " + std::to_string(s.inode) + " " +
         std::to_string(s.device) + " " + abs_path;
}

Result<MemoryStatCache> MemoryStatCache::parse(std::string_view text) {
  MemoryStatCache out;
  if (text.empty()) return out;
  constexpr std::string_view kHeader = "lavabuild.statcache.v1\n";
  auto bad = [] { return make_error("not a lavabuild.statcache.v1 stat cache"); };
  if (!starts_with(text, kHeader)) return bad();
  text.remove_prefix(kHeader.size());
  while (!text.empty()) {
    // <64 hex> ' ' <length> ':' <key> '\n'
    if (text.size() < 66 || text[64] != ' ') return bad();
    std::string sha(text.substr(0, 64));
    if (!is_hex64(sha)) return bad();
    text.remove_prefix(65);
    size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 19) return bad();
    uint64_t len = 0;
    for (char c : text.substr(0, colon)) {
      if (c < '0' || c > '9') return bad();
      len = len * 10 + uint64_t(c - '0');
    }
    text.remove_prefix(colon + 1);
    if (len >= text.size() || text[len] != '\n') return bad();
    out.entries_[std::string(text.substr(0, len))] = Entry{std::move(sha), false};
    text.remove_prefix(len + 1);
  }
  out.parsed_ = out.entries_.size();
  return out;
}

std::optional<std::string> MemoryStatCache::lookup(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (!it->second.used) ++used_;
  it->second.used = true;
  return it->second.sha256;
}

void MemoryStatCache::record(const std::string& key, const std::string& sha256_hex) {
  Entry& e = entries_[key];
  if (!e.used) ++used_;
  e = Entry{sha256_hex, true};
  recorded_ = true;
}

std::string MemoryStatCache::serialize() const {
  std::vector<std::pair<const std::string*, const Entry*>> kept;
  for (const auto& [key, entry] : entries_)
    if (entry.used) kept.emplace_back(&key, &entry);
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::string out = "lavabuild.statcache.v1\n";
  for (const auto& [key, entry] : kept) {
    out += entry->sha256;
    out += ' ';
    out += std::to_string(key->size());
    out += ':';
    out += *key;
    out += '\n';
  }
  return out;
}

namespace {
/// Hashes every entry's path and stamp (stat_fingerprint).
class Fingerprinter : public Walk::Visitor {
 public:
  Status enter(const std::string&, const char*, const struct stat&) override { return {}; }
  Status leave(const struct stat&) override { return {}; }
  Status file(int, const char*, const std::string& rel, const struct stat& st) override {
    add('f', rel, st);
    return {};
  }
  Status symlink(int, const char*, const std::string& rel, const struct stat& st) override {
    add('l', rel, st);
    return {};
  }
  std::string finish() { return sha_.hex_digest(); }
  int64_t newest_mtime = 0;

 private:
  void add(char kind, const std::string& rel, const struct stat& st) {
    newest_mtime = std::max<int64_t>(newest_mtime, int64_t(st.st_mtim.tv_sec));
    std::string line(1, kind);
    line += ' ' + std::to_string(rel.size()) + ':' + rel + ' ' + std::to_string(st.st_size) + ' ' +
            std::to_string(int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec) + ' ' +
            std::to_string(int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec) + ' ' +
            std::to_string(uint64_t(st.st_ino)) + ' ' + std::to_string(st.st_mode) + '\n';
    sha_.update(line);
  }
  Sha256 sha_;
};
}  // namespace

Result<std::string> stat_fingerprint(const std::string& dir, const TreeLimits& limits,
                                     int64_t* newest_mtime) {
  Walk walk(fs::absolute(dir), limits);
  Fingerprinter f;
  LB_TRY(walk.run(f));
  if (newest_mtime) *newest_mtime = f.newest_mtime;
  return f.finish();
}

Result<TreeDigest> digest_tree(const std::string& dir, StatCache* cache,
                               const DigestOptions& options) {
  int64_t now = options.now_ns;
  if (now == 0)
    now = std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  Walk walk(fs::absolute(dir), options.limits);
  Digester digester(walk, cache, now - options.racy_ns);
  LB_TRY(walk.run(digester));
  return digester.finish();
}

Status copy_tree(const std::string& from, const std::string& to, const TreeLimits& limits) {
  std::string dest = fs::absolute(to), source = fs::absolute(from);
  auto inside = [&](const std::string& a, const std::string& b) {
    return starts_with(a, b + "/") || a == b;
  };
  Error nested =
      make_error("cannot copy " + source + " into " + dest + ": the copy would be inside the tree",
                 "copy it to a directory outside the tree");
  if (inside(dest, source)) return nested;
  LB_TRY(fs::create_dirs(fs::dirname(dest)));
  // The same check once symlinks are resolved, before anything is made in the tree.
  std::string real_source = real_path(source), real_parent = real_path(fs::dirname(dest));
  if (!real_source.empty() && !real_parent.empty() &&
      inside(real_parent + "/" + fs::basename(dest), real_source))
    return nested;
  if (::mkdir(dest.c_str(), 0700) != 0)
    return errno == EEXIST
               ? make_error("cannot copy " + from + " to " + dest + ": it already exists",
                            "copy into a new directory")
               : sys_error("cannot create directory", dest, errno);
  Status st = [&]() -> Status {
    Fd top(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!top.ok()) return sys_error("cannot open directory", dest, errno);
    struct stat top_st;
    if (::fstat(top.get(), &top_st) != 0) return sys_error("cannot stat", dest, errno);
    Walk walk(source, limits);
    Copier copier(walk, dest, std::move(top), top_st);
    LB_TRY(walk.run(copier));
    return copier.finish();
  }();
  if (!st.ok()) (void)fs::remove_all(dest);
  return st;
}

}  // namespace lb::source
