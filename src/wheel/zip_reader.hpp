// Internal: a thin RAII wrapper over libarchive's seekable zip reader, reading from memory
// (a caller's buffer or a read-only mmap of a file). Not part of the module's public API.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace lb::wheel::detail {

/// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or values > U+10FFFF).
bool valid_utf8(std::string_view s);

/// A read-only memory map of a whole file (or a borrowed buffer).
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  static MappedFile borrow(std::string_view bytes);
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile();
  std::string_view bytes() const { return bytes_; }

 private:
  MappedFile(std::string_view bytes, bool owned) : bytes_(bytes), owned_(owned) {}
  std::string_view bytes_;
  bool owned_ = false;
};

/// One zip member as the central directory describes it (our own reading of the central
/// directory, cross-checked against libarchive's, which decompresses).
struct ZipEntry {
  std::string path;  // raw name, not yet validated; when !utf8, the bytes escaped as \xNN
  bool utf8 = true;  // the raw name is valid UTF-8
  enum class Type { file, dir, other } type = Type::file;
  const char* kind = "";  // for Type::other: "a symlink", "a FIFO", "a device", ...
  uint32_t mode = 0;      // permission bits from the external attributes
  bool size_known = false;
  uint64_t size = 0;             // declared uncompressed size
  uint64_t compressed_size = 0;  // declared compressed size (central directory)
  bool encrypted = false;
};

/// Iterates the members of a zip held in memory. `label` names the archive in open() errors;
/// errors of next()/read() carry no location: the caller prefixes wheel and member.
class ZipReader {
 public:
  static Result<ZipReader> open(std::string_view bytes, const std::string& label);
  ZipReader(ZipReader&&) noexcept;
  ZipReader& operator=(ZipReader&&) = delete;
  ~ZipReader();

  /// The next member, or nullopt at the end of the archive.
  Result<std::optional<ZipEntry>> next();
  /// Read the current member's data, at most `limit` bytes; more is an error that says so.
  /// Calls `chunk(data)` per decompressed block (zero-copy for stored members).
  template <class F>
  Status read(uint64_t limit, F&& chunk) {
    return read_impl(limit, &chunk, [](void* f, std::string_view d) { (*static_cast<F*>(f))(d); });
  }

 private:
  struct Impl;
  explicit ZipReader(std::unique_ptr<Impl> impl);
  Status read_impl(uint64_t limit, void* ctx, void (*fn)(void*, std::string_view));
  std::unique_ptr<Impl> impl_;
};

}  // namespace lb::wheel::detail
