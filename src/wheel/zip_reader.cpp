// libarchive behind ZipReader; mmap behind MappedFile.
#include "wheel/zip_reader.hpp"

#include "wheel/libarchive.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace lb::wheel::detail {
namespace {

constexpr const char* kHostileHint = "the wheel is malformed or hostile; do not install it";

uint16_t le16(const unsigned char* p) {
  return uint16_t(p[0] | (p[1] << 8));
}
uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t le64(const unsigned char* p) {
  return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32);
}

/// One central-directory record, as we read it ourselves: libarchive does not expose the
/// compressed size, and maps FIFOs to regular files and decodes names by locale.
struct CdEntry {
  std::string name;  // raw bytes
  uint64_t csize = 0, usize = 0, offset = 0;
  uint32_t ext_attr = 0;
  uint16_t made_by = 0, flags = 0;
};

}  // namespace

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (n >= s.size() - i) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

namespace {

std::string escape_bytes(std::string_view s) {
  std::string out;
  static const char* hex = "0123456789abcdef";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += ch;
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Error cd_error(const std::string& what) {
  return make_error("central directory: " + what, kHostileHint);
}

/// Parse the end-of-central-directory record (zip64 aware) and every central-directory entry.
Result<std::vector<CdEntry>> read_central_directory(std::string_view bytes) {
  const auto* base = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n < 22) return cd_error("the file is too short to be a zip archive");
  size_t eocd = std::string::npos;
  size_t lowest = n - 22 > 65535 ? n - 22 - 65535 : 0;
  for (size_t p = n - 22 + 1; p-- > lowest;)
    if (le32(base + p) == 0x06054b50) {
      eocd = p;
      break;
    }
  if (eocd == std::string::npos) return cd_error("no end-of-central-directory record");
  uint64_t count = le16(base + eocd + 10);
  uint64_t cd_size = le32(base + eocd + 12);
  uint64_t cd_offset = le32(base + eocd + 16);
  if (eocd >= 20 && le32(base + eocd - 20) == 0x07064b50) {
    uint64_t z64 = le64(base + eocd - 20 + 8);
    if (z64 > n || n - z64 < 56 || le32(base + z64) != 0x06064b50)
      return cd_error("the zip64 end-of-central-directory record is missing");
    count = le64(base + z64 + 32);
    cd_size = le64(base + z64 + 40);
    cd_offset = le64(base + z64 + 48);
  }
  if (cd_offset > n || cd_size > n - cd_offset)
    return cd_error("it lies outside the file (is the file truncated?)");
  if (count > cd_size / 46 + 1) return cd_error("it declares more entries than it can hold");
  std::vector<CdEntry> out;
  out.reserve(size_t(count));
  size_t p = size_t(cd_offset);
  const size_t end = size_t(cd_offset + cd_size);
  for (uint64_t i = 0; i < count; ++i) {
    if (end - p < 46 || le32(base + p) != 0x02014b50)
      return cd_error("entry " + std::to_string(i + 1) + " is malformed");
    CdEntry e;
    e.made_by = le16(base + p + 4);
    e.flags = le16(base + p + 8);
    e.csize = le32(base + p + 20);
    e.usize = le32(base + p + 24);
    size_t name_len = le16(base + p + 28), extra_len = le16(base + p + 30),
           comment_len = le16(base + p + 32);
    e.ext_attr = le32(base + p + 38);
    e.offset = le32(base + p + 42);
    if (end - p - 46 < name_len + extra_len + comment_len)
      return cd_error("entry " + std::to_string(i + 1) + " is truncated");
    e.name.assign(bytes.data() + p + 46, name_len);
    // The zip64 extra field holds, in this order, each field that is 0xFFFFFFFF above.
    const unsigned char* x = base + p + 46 + name_len;
    for (size_t off = 0; off + 4 <= extra_len;) {
      uint16_t id = le16(x + off), len = le16(x + off + 2);
      if (off + 4 + len > extra_len) break;
      if (id == 0x0001) {
        const unsigned char* f = x + off + 4;
        size_t left = len;
        auto take = [&](uint64_t& field) {
          if (field != 0xFFFFFFFFu) return;
          if (left >= 8) {
            field = le64(f);
            f += 8;
            left -= 8;
          }
        };
        take(e.usize);
        take(e.csize);
        take(e.offset);
      }
      off += 4 + size_t(len);
    }
    out.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
  // libarchive reads members in local-header order: so do we.
  std::stable_sort(out.begin(), out.end(),
                   [](const CdEntry& a, const CdEntry& b) { return a.offset < b.offset; });
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0 && out[i].offset == out[i - 1].offset)
      return cd_error("members '" + escape_bytes(out[i - 1].name) + "' and '" +
                      escape_bytes(out[i].name) +
                      "' share the same data (an overlapping zip bomb?)");
    if (out[i].name.rfind("__MACOSX/", 0) == 0)
      return cd_error("member '" + escape_bytes(out[i].name) +
                      "' is macOS resource-fork metadata, which wheels must not contain");
    if (out[i].csize > n - std::min<uint64_t>(out[i].offset, n))
      return cd_error("member '" + escape_bytes(out[i].name) +
                      "': its compressed data would extend past the end of the file");
    if (out[i].offset >= n)
      return cd_error("member '" + escape_bytes(out[i].name) + "' starts outside the file");
  }
  return out;
}

}  // namespace

Result<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(path + ": cannot open wheel: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(path + ": not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return make_error(path + ": empty file, not a zip archive",
                      "the download is truncated; delete it and fetch it again");
  }
  void* p = ::mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return make_error(path + ": cannot map wheel: " + std::strerror(err));
  return MappedFile(std::string_view(static_cast<const char*>(p), size_t(st.st_size)), true);
}

MappedFile MappedFile::borrow(std::string_view bytes) {
  return MappedFile(bytes, false);
}

MappedFile::MappedFile(MappedFile&& o) noexcept : bytes_(o.bytes_), owned_(o.owned_) {
  o.owned_ = false;
}

MappedFile::~MappedFile() {
  if (owned_) ::munmap(const_cast<char*>(bytes_.data()), bytes_.size());
}

struct ZipReader::Impl {
  archive* a = nullptr;
  archive_entry* entry = nullptr;
  std::vector<CdEntry> cd;  // in local-header order, like libarchive's iteration
  size_t next = 0;
  ~Impl() {
    if (a) LA(archive_read_free)(a);
  }
  Error fail(const std::string& what) const {
    const char* msg = LA(archive_error_string)(a);
    return make_error(what + ": " + (msg ? msg : "unknown libarchive error"),
                      "the wheel is malformed or hostile; do not install it");
  }
};

ZipReader::ZipReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ZipReader::ZipReader(ZipReader&&) noexcept = default;
ZipReader::~ZipReader() = default;

Result<ZipReader> ZipReader::open(std::string_view bytes, const std::string& label) {
  LB_TRY(libarchive::load());
  auto impl = std::make_unique<Impl>();
  auto cd = read_central_directory(bytes);
  if (!cd.ok()) return cd.error().context(label + ": not a readable zip archive");
  impl->cd = std::move(*cd);
  impl->a = LA(archive_read_new)();
  if (!impl->a) return make_error(label + ": out of memory");
  LA(archive_read_support_format_zip_seekable)(impl->a);
  if (LA(archive_read_open_memory)(impl->a, bytes.data(), bytes.size()) != ARCHIVE_OK)
    return impl->fail("not a readable zip archive").context(label);
  return ZipReader(std::move(impl));
}

Result<std::optional<ZipEntry>> ZipReader::next() {
  int rc = LA(archive_read_next_header)(impl_->a, &impl_->entry);
  if (rc == ARCHIVE_EOF) {
    if (impl_->next != impl_->cd.size())
      return make_error("the archive has " + std::to_string(impl_->cd.size()) +
                            " central-directory entries, but only " + std::to_string(impl_->next) +
                            " could be read",
                        kHostileHint);
    return std::optional<ZipEntry>();
  }
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return impl_->fail("cannot read member header");
  if (impl_->next >= impl_->cd.size())
    return make_error("the archive has more members than its central directory lists",
                      kHostileHint);
  const CdEntry& cd = impl_->cd[impl_->next++];
  archive_entry* e = impl_->entry;
  ZipEntry z;
  z.utf8 = valid_utf8(cd.name);
  z.path = z.utf8 ? cd.name : escape_bytes(cd.name);
  const bool slash = !cd.name.empty() && cd.name.back() == '/';
  z.type = slash ? ZipEntry::Type::dir : ZipEntry::Type::file;
  uint32_t unix_mode = (cd.made_by >> 8) == 3 ? cd.ext_attr >> 16 : 0;
  switch (unix_mode & S_IFMT) {
    case 0:
      if (!slash && (cd.made_by >> 8) != 3 && (cd.ext_attr & 0x10)) z.type = ZipEntry::Type::dir;
      break;
    case S_IFREG:
      break;
    case S_IFDIR:
      z.type = ZipEntry::Type::dir;
      break;
    case S_IFLNK:
      z.type = ZipEntry::Type::other, z.kind = "a symlink";
      break;
    case S_IFIFO:
      z.type = ZipEntry::Type::other, z.kind = "a FIFO";
      break;
    case S_IFCHR:
    case S_IFBLK:
      z.type = ZipEntry::Type::other, z.kind = "a device";
      break;
    case S_IFSOCK:
      z.type = ZipEntry::Type::other, z.kind = "a socket";
      break;
    default:
      z.type = ZipEntry::Type::other, z.kind = "a special file";
  }
  auto type = LA(archive_entry_filetype)(e);
  if (z.type != ZipEntry::Type::other &&
      ((type != AE_IFREG && type != AE_IFDIR) || LA(archive_entry_hardlink)(e))) {
    z.type = ZipEntry::Type::other;
    z.kind = type == AE_IFLNK ? "a symlink" : "a link or special file";
  }
  z.mode = unix_mode ? (unix_mode & 07777) : uint32_t(LA(archive_entry_perm)(e));
  z.size_known = true;
  z.size = cd.usize;
  z.compressed_size = cd.csize;
  // libarchive reads from the local headers in this same order: the sizes must agree.
  if (z.type == ZipEntry::Type::file && LA(archive_entry_size_is_set)(e) &&
      uint64_t(LA(archive_entry_size)(e)) != cd.usize)
    return make_error("member '" + z.path + "': the central directory says " +
                          std::to_string(cd.usize) + " bytes, the local header " +
                          std::to_string(LA(archive_entry_size)(e)),
                      kHostileHint);
  z.encrypted = (cd.flags & 1) != 0 || LA(archive_entry_is_encrypted)(e) != 0;
  return std::optional<ZipEntry>(std::move(z));
}

Status ZipReader::read_impl(uint64_t limit, void* ctx, void (*fn)(void*, std::string_view)) {
  uint64_t total = 0;
  for (;;) {
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int rc = LA(archive_read_data_block)(impl_->a, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) return {};
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return impl_->fail("cannot read member data");
    if (offset < 0 || uint64_t(offset) != total)
      return impl_->fail("member data is not contiguous");
    if (size > limit - total)
      return make_error("data is larger than " + std::to_string(limit) +
                            " bytes (its declared size or the size limit)",
                        "the wheel is malformed or hostile; do not install it");
    total += size;
    if (size) fn(ctx, std::string_view(static_cast<const char*>(buf), size));
  }
}

}  // namespace lb::wheel::detail
