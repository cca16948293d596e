// libarchive behind ZipReader; mmap behind MappedFile.
#include "wheel/zip_reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lb::wheel::detail {

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
  ~Impl() {
    if (a) archive_read_free(a);
  }
  Error fail(const std::string& what) const {
    const char* msg = archive_error_string(a);
    return make_error(what + ": " + (msg ? msg : "unknown libarchive error"),
                      "the wheel is malformed or hostile; do not install it");
  }
};

ZipReader::ZipReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ZipReader::ZipReader(ZipReader&&) noexcept = default;
ZipReader::~ZipReader() = default;

Result<ZipReader> ZipReader::open(std::string_view bytes, const std::string& label) {
  auto impl = std::make_unique<Impl>();
  impl->a = archive_read_new();
  if (!impl->a) return make_error(label + ": out of memory");
  archive_read_support_format_zip_seekable(impl->a);
  if (archive_read_open_memory(impl->a, bytes.data(), bytes.size()) != ARCHIVE_OK)
    return impl->fail("not a readable zip archive").context(label);
  return ZipReader(std::move(impl));
}

Result<std::optional<ZipEntry>> ZipReader::next() {
  int rc = archive_read_next_header(impl_->a, &impl_->entry);
  if (rc == ARCHIVE_EOF) return std::optional<ZipEntry>();
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return impl_->fail("cannot read member header");
  archive_entry* e = impl_->entry;
  ZipEntry z;
  const char* name = archive_entry_pathname_utf8(e);
  if (!name) name = archive_entry_pathname(e);
  if (!name) return impl_->fail("member name is not valid UTF-8");
  z.path = name;
  auto type = archive_entry_filetype(e);
  z.type = type == AE_IFREG   ? ZipEntry::Type::file
           : type == AE_IFDIR ? ZipEntry::Type::dir
                              : ZipEntry::Type::other;
  if (archive_entry_hardlink(e)) z.type = ZipEntry::Type::other;
  z.mode = uint32_t(archive_entry_perm(e));
  z.size_known = archive_entry_size_is_set(e) != 0;
  z.size = z.size_known ? uint64_t(archive_entry_size(e)) : 0;
  z.encrypted = archive_entry_is_encrypted(e) != 0;
  return std::optional<ZipEntry>(std::move(z));
}

Status ZipReader::read_impl(uint64_t limit, void* ctx, void (*fn)(void*, std::string_view)) {
  uint64_t total = 0;
  for (;;) {
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int rc = archive_read_data_block(impl_->a, &buf, &size, &offset);
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
