// Unpacking sdists and source archives (libarchive, private to this file) through directory
// descriptors: every directory is opened with O_NOFOLLOW and symlinks are made last, so no
// member can be written through a link.
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_set>

#include "source/fd.hpp"
#include "source/links.hpp"
#include "source/sdist.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"
#include "wheel/libarchive.hpp"
#include "wheel/wheel.hpp"

namespace lb::source {
namespace {

using detail::Fd;

constexpr const char* kHostile = "the archive is malformed or hostile; do not build it";

struct ArchiveFree {
  void operator()(archive* a) const { LA(archive_read_free)(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

std::string size_text(uint64_t n) {
  if (n >= (uint64_t(1) << 30) && n % (uint64_t(1) << 30) == 0)
    return std::to_string(n >> 30) + " GiB";
  if (n >= (uint64_t(1) << 20) && n % (uint64_t(1) << 20) == 0)
    return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

/// A member name made relative and clean ("./a//b/" -> "a/b"), or why it is refused.
Result<std::string> clean_member_path(std::string_view raw) {
  for (char c : raw)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return make_error("control character in the name");
  if (!raw.empty() && raw.front() == '/') return make_error("absolute path");
  std::string out;
  for (const std::string& part : split(raw, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return make_error("\"..\" in the path");
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

size_t depth_of(std::string_view path) {
  return size_t(std::count(path.begin(), path.end(), '/')) + 1;
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// A member's name (or link target) as UTF-8 when libarchive can give it so (zip names
/// flagged UTF-8 cannot be converted to the C locale's ASCII, which is all a library may
/// assume), else the bytes as stored (an old tar's Latin-1 name); null when neither.
const char* name_of_entry(const char* utf8, const char* stored) {
  return utf8 ? utf8 : stored;
}

class Unpacker {
 public:
  Unpacker(std::string label, uint64_t archive_size, const ArchiveLimits& limits, std::string dest)
      : label_(std::move(label)),
        archive_size_(archive_size),
        limits_(limits),
        dest_(std::move(dest)) {}

  /// Create `dest` and unpack into it; on error remove it (only if this call created it).
  Result<std::string> run(archive* a) {
    LB_TRY(fs::create_dirs(fs::dirname(dest_)));
    if (::mkdir(dest_.c_str(), 0755) != 0)
      return errno == EEXIST
                 ? make_error("cannot unpack " + label_ + " into " + dest_ + ": it already exists",
                              "unpack into a new directory")
                 : make_error("cannot create directory " + dest_ + ": " + std::strerror(errno));
    auto out = unpack(a);
    dirs_.clear();
    root_ = Fd();
    if (!out.ok()) (void)fs::remove_all(dest_);
    return out;
  }

 private:
  Error fail(const std::string& what) const { return make_error(label_ + ": " + what, kHostile); }
  Error fail(const std::string& member, const std::string& what) const {
    return make_error(label_ + ": member '" + member + "': " + what, kHostile);
  }
  Error libarchive_error(archive* a, const std::string& what) const {
    const char* msg = LA(archive_error_string)(a);
    return make_error(label_ + ": " + what + ": " + (msg ? msg : "unknown libarchive error"),
                      kHostile);
  }

  Result<std::string> unpack(archive* a) {
    root_ = Fd(::open(dest_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_.ok())
      return make_error("cannot open directory " + dest_ + ": " + std::strerror(errno));
    for (;;) {
      archive_entry* e = nullptr;
      int rc = LA(archive_read_next_header)(a, &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
        return libarchive_error(
            a, members_ == 0 ? "not a readable tar or zip archive" : "cannot read the next member");
      if (++members_ > limits_.max_members)
        return make_error(
            label_ + ": more than " + std::to_string(limits_.max_members) + " members",
            "the archive is hostile or not a source archive (see docs/LIMITS.md)");
      LB_TRY(member(a, e));
    }
    LB_TRY(make_symlinks());
    if (top_.empty() || !single_top_) return dest_;
    return dest_ + "/" + top_;
  }

  /// Open directories are kept while few (tar members come grouped by directory); dropped only
  /// between members, so the fds a member uses stay valid while it is written.
  void bound_open_dirs() {
    if (dirs_.size() > 256) dirs_.clear();
  }

  Status member(archive* a, archive_entry* e) {
    bound_open_dirs();
    const char* raw =
        name_of_entry(LA(archive_entry_pathname_utf8)(e), LA(archive_entry_pathname)(e));
    if (!raw) return fail("a member's name cannot be read");
    auto clean = clean_member_path(raw);
    if (!clean.ok()) return fail(raw, clean.error().message);
    const std::string& path = *clean;
    if (path.empty()) return {};  // "./": the top itself
    if (depth_of(path) > limits_.max_depth)
      return fail(path, "deeper than " + std::to_string(limits_.max_depth) + " directories");
    LB_TRY(not_through_link(path));
    const char* hardlink =
        name_of_entry(LA(archive_entry_hardlink_utf8)(e), LA(archive_entry_hardlink)(e));
    auto type = LA(archive_entry_filetype)(e);
    note_top(path, hardlink == nullptr && type == AE_IFDIR);
    if (hardlink) return hard_link(e, path, hardlink);
    switch (type) {
      case AE_IFDIR: {
        auto made = directory(path);
        if (!made.ok()) return made.error();
        return {};
      }
      case AE_IFREG:
        return file(a, e, path);
      case AE_IFLNK:
        return symlink(e, path);
      case AE_IFIFO:
        return fail(path,
                    "is a FIFO; a source archive may hold only files, directories and "
                    "symlinks");
      case AE_IFCHR:
      case AE_IFBLK:
        return fail(path,
                    "is a device; a source archive may hold only files, directories and "
                    "symlinks");
      case AE_IFSOCK:
        return fail(path,
                    "is a socket; a source archive may hold only files, directories and "
                    "symlinks");
      default:
        return fail(path, "is of an unknown kind");
    }
  }

  /// pip's rule: the archive has a top directory when every member's first component is the
  /// same and that component is a directory.
  void note_top(const std::string& path, bool is_dir) {
    std::string first = path.substr(0, path.find('/'));
    if (top_.empty() && single_top_) top_ = first;
    if (first != top_ || (path == first && !is_dir)) single_top_ = false;
  }

  /// No member may be written at or below a symlink member.
  Status not_through_link(const std::string& path) const {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1))
      if (links_.count(path.substr(0, slash)))
        return fail(path,
                    "its path goes through the symlink member '" + path.substr(0, slash) + "'");
    if (links_.count(path)) return fail(path, "appears twice (first as a symlink)");
    return {};
  }

  /// The directory `rel` ("" for the top), created with its parents as needed; the fd stays
  /// owned by this object.
  Result<int> directory(const std::string& rel) {
    if (rel.empty()) return root_.get();
    auto it = dirs_.find(rel);
    if (it != dirs_.end()) return it->second.get();
    if (files_.count(rel)) return fail(rel, "is both a file and a directory");
    LB_ASSIGN(int parent, directory(parent_of(rel)));
    std::string name = name_of(rel);
    if (::mkdirat(parent, name.c_str(), 0755) != 0 && errno != EEXIST)
      return fail(rel, std::string("cannot create the directory: ") + std::strerror(errno));
    Fd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.ok())
      return fail(rel, std::string("cannot open the directory: ") + std::strerror(errno));
    int raw = fd.get();
    dirs_.emplace(rel, std::move(fd));
    dir_paths_.insert(rel);
    return raw;
  }

  Status file(archive* a, archive_entry* e, const std::string& path) {
    if (dir_paths_.count(path)) return fail(path, "is both a directory and a file");
    if (LA(archive_entry_size_is_set)(e) && limits_.max_member_size &&
        uint64_t(LA(archive_entry_size)(e)) > limits_.max_member_size)
      return over_limit(path,
                        "its size " + std::to_string(LA(archive_entry_size)(e)) +
                            " bytes exceeds the " + size_text(limits_.max_member_size) +
                            " limit per member",
                        "LAVABUILD_MAX_MEMBER_SIZE");
    LB_ASSIGN(int parent, directory(parent_of(path)));
    std::string name = name_of(path);
    if (files_.count(path) && ::unlinkat(parent, name.c_str(), 0) != 0)
      return fail(path, std::string("cannot replace the earlier copy: ") + std::strerror(errno));
    Fd fd(
        ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.ok()) return fail(path, std::string("cannot create: ") + std::strerror(errno));
    files_.insert(path);
    uint64_t written = 0;
    for (;;) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int rc = LA(archive_read_data_block)(a, &buf, &size, &offset);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
        return libarchive_error(a, "member '" + path + "': cannot read its data");
      if (offset < 0 || uint64_t(offset) != written)
        return fail(path, "is a sparse file (its data has holes), which is not supported");
      written += size;
      total_ += size;
      if (limits_.max_member_size && written > limits_.max_member_size)
        return over_limit(
            path, "it expands past the " + size_text(limits_.max_member_size) + " limit per member",
            "LAVABUILD_MAX_MEMBER_SIZE");
      if (limits_.max_total_size && total_ > limits_.max_total_size)
        return over_limit(path,
                          "the archive expands past the " + size_text(limits_.max_total_size) +
                              " limit per archive",
                          "LAVABUILD_MAX_WHEEL_SIZE");
      if (limits_.max_ratio && total_ > limits_.ratio_floor &&
          total_ / limits_.max_ratio >= std::max<uint64_t>(archive_size_, 1))
        return over_limit(path,
                          "its " + std::to_string(archive_size_) + " bytes expand to more than " +
                              std::to_string(total_) + ", more than the " +
                              std::to_string(limits_.max_ratio) + ":1 compression-ratio limit",
                          "LAVABUILD_MAX_COMPRESSION_RATIO");
      const char* p = static_cast<const char*>(buf);
      for (size_t done = 0; done < size;) {
        ssize_t n = ::write(fd.get(), p + done, size - done);
        if (n < 0) {
          if (errno == EINTR) continue;
          return fail(path, std::string("cannot write: ") + std::strerror(errno));
        }
        done += size_t(n);
      }
    }
    if (::fchmod(fd.get(), (LA(archive_entry_perm)(e) & 0111) ? 0755 : 0644) != 0)
      return fail(path, std::string("cannot chmod: ") + std::strerror(errno));
    if (LA(archive_entry_mtime_is_set)(e)) {
      struct timespec times[2] = {{0, UTIME_OMIT},
                                  {LA(archive_entry_mtime)(e), LA(archive_entry_mtime_nsec)(e)}};
      if (times[1].tv_nsec < 0 || times[1].tv_nsec > 999'999'999) times[1].tv_nsec = 0;
      (void)::futimens(fd.get(), times);  // a date the filesystem cannot hold is not an error
    }
    return {};
  }

  Status hard_link(archive_entry* e, const std::string& path, const char* raw_target) {
    auto target = clean_member_path(raw_target);
    if (!target.ok())
      return fail(path,
                  "hard link to '" + std::string(raw_target) + "': " + target.error().message);
    if (LA(archive_entry_size_is_set)(e) && LA(archive_entry_size)(e) > 0)
      return fail(path, "is a hard link with data of its own, which is not supported");
    if (!files_.count(*target) || *target == path)
      return fail(path, "is a hard link to '" + *target +
                            "', which is not a regular file met earlier in the archive");
    if (dir_paths_.count(path)) return fail(path, "is both a directory and a hard link");
    LB_ASSIGN(int parent, directory(parent_of(path)));
    LB_ASSIGN(int target_parent, directory(parent_of(*target)));
    std::string name = name_of(path), target_name = name_of(*target);
    if (files_.count(path) && ::unlinkat(parent, name.c_str(), 0) != 0)
      return fail(path, std::string("cannot replace the earlier copy: ") + std::strerror(errno));
    if (::linkat(target_parent, target_name.c_str(), parent, name.c_str(), 0) != 0)
      return fail(path, std::string("cannot create the hard link: ") + std::strerror(errno));
    files_.insert(path);
    return {};
  }

  Status symlink(archive_entry* e, const std::string& path) {
    const char* target =
        name_of_entry(LA(archive_entry_symlink_utf8)(e), LA(archive_entry_symlink)(e));
    if (!target) return fail(path, "is a symlink whose target cannot be read");
    for (const char* c = target; *c; ++c)
      if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f)
        return fail(path, "is a symlink whose target has a control character");
    if (dir_paths_.count(path))
      return fail(path,
                  "is a symlink, and other members lie below it (they would be written "
                  "through it)");
    if (files_.count(path)) return fail(path, "appears twice (first as a file)");
    // Its parent directories now, so that a later symlink member cannot be one of them.
    auto parent = directory(parent_of(path));
    if (!parent.ok()) return parent.error();
    links_.emplace(path, target);
    link_mtimes_[path] = {LA(archive_entry_mtime_is_set)(e) ? LA(archive_entry_mtime)(e) : 0, 0};
    return {};
  }

  /// Symlinks last, each checked against the archive's own links first.
  Status make_symlinks() {
    std::map<std::string, std::string> sorted(links_.begin(), links_.end());
    for (const auto& [path, target] : sorted)
      if (auto why = detail::symlink_escape(path, target, links_))
        return fail(path, "is a symlink to '" + target + "': " + *why);
    for (const auto& [path, target] : sorted) {
      bound_open_dirs();
      LB_ASSIGN(int parent, directory(parent_of(path)));
      std::string name = name_of(path);
      if (::symlinkat(target.c_str(), parent, name.c_str()) != 0)
        return fail(path, std::string("cannot create the symlink: ") + std::strerror(errno));
      struct timespec mtime = link_mtimes_[path];
      if (mtime.tv_sec != 0) {
        struct timespec times[2] = {{0, UTIME_OMIT}, mtime};
        (void)::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
      }
    }
    return {};
  }

  Error over_limit(const std::string& path, const std::string& what, const char* var) const {
    return make_error(label_ + ": member '" + path + "': " + what + " (an archive bomb?)",
                      std::string("do not build this archive; if you trust it, raise the limit "
                                  "with ") +
                          var + " (see docs/LIMITS.md)");
  }

  std::string label_;
  uint64_t archive_size_;
  ArchiveLimits limits_;
  std::string dest_;
  Fd root_;
  std::map<std::string, Fd> dirs_;             // open directories (a bounded cache)
  std::unordered_set<std::string> dir_paths_;  // every directory made
  std::unordered_set<std::string> files_;      // regular files and hard links written
  detail::LinkMap links_;                      // symlink members, made at the end
  std::map<std::string, struct timespec> link_mtimes_;
  uint64_t members_ = 0, total_ = 0;
  std::string top_;
  bool single_top_ = true;
};

/// Makes this thread's LC_CTYPE "C.UTF-8" while it lives (uselocale: other threads are not
/// touched). libarchive converts names to the locale's charset, and in the C locale a zip's
/// UTF-8 names cannot be converted (the member is then unreadable). Created before the
/// reader: libarchive takes the charset when first needed.
class Utf8Names {
 public:
  Utf8Names() : loc_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t(nullptr))) {
    if (loc_) prev_ = ::uselocale(loc_);
  }
  ~Utf8Names() {
    if (loc_) {
      ::uselocale(prev_);
      ::freelocale(loc_);
    }
  }
  Utf8Names(const Utf8Names&) = delete;
  Utf8Names& operator=(const Utf8Names&) = delete;

 private:
  locale_t loc_;
  locale_t prev_ = nullptr;
};

ArchivePtr new_reader() {
  ArchivePtr a(LA(archive_read_new)());
  if (!a) return a;
  LA(archive_read_support_filter_gzip)(a.get());
  LA(archive_read_support_filter_bzip2)(a.get());
  LA(archive_read_support_filter_xz)(a.get());
  LA(archive_read_support_format_tar)(a.get());
  LA(archive_read_support_format_zip_seekable)(a.get());
  return a;
}

}  // namespace

Result<ArchiveLimits> ArchiveLimits::from_env() {
  LB_ASSIGN(wheel::WheelLimits w, wheel::WheelLimits::from_env());
  ArchiveLimits l;
  l.max_member_size = w.max_member_size;
  l.max_total_size = w.max_wheel_size;
  l.max_ratio = w.max_ratio;
  l.ratio_floor = w.ratio_floor;
  return l;
}

Result<std::string> unpack_archive_bytes(std::string_view bytes, const std::string& label,
                                         const std::string& dest, const ArchiveLimits& limits) {
  LB_TRY(libarchive::load());
  Utf8Names utf8;
  ArchivePtr a = new_reader();
  if (!a) return make_error(label + ": out of memory");
  if (LA(archive_read_open_memory)(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    const char* msg = LA(archive_error_string)(a.get());
    return make_error(
        label + ": not a readable tar or zip archive: " + (msg ? msg : "unknown libarchive error"),
        kHostile);
  }
  return Unpacker(label, bytes.size(), limits, fs::absolute(dest)).run(a.get());
}

Result<std::string> unpack_archive_bytes(std::string_view bytes, const std::string& label,
                                         const std::string& dest) {
  LB_ASSIGN(ArchiveLimits limits, ArchiveLimits::from_env());
  return unpack_archive_bytes(bytes, label, dest, limits);
}

Result<std::string> unpack_archive(const std::string& path, const std::string& dest,
                                   const ArchiveLimits& limits) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return make_error("cannot read " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  LB_TRY(libarchive::load());
  Utf8Names utf8;
  ArchivePtr a = new_reader();
  if (!a) return make_error(path + ": out of memory");
  if (LA(archive_read_open_filename)(a.get(), path.c_str(), size_t(1) << 16) != ARCHIVE_OK) {
    const char* msg = LA(archive_error_string)(a.get());
    return make_error(
        path + ": not a readable tar or zip archive: " + (msg ? msg : "unknown libarchive error"),
        kHostile);
  }
  return Unpacker(path, uint64_t(st.st_size), limits, fs::absolute(dest)).run(a.get());
}

Result<std::string> unpack_archive(const std::string& path, const std::string& dest) {
  LB_ASSIGN(ArchiveLimits limits, ArchiveLimits::from_env());
  return unpack_archive(path, dest, limits);
}

}  // namespace lb::source
