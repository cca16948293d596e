// A remote wheel's METADATA through HTTP range requests: the zip's tail, its central
// directory, then one member, instead of the whole file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"
#include "util/result.hpp"

namespace lb::net {

/// Read `<name>-<ver>.dist-info/METADATA` (top-level dist-info only; if several, the one whose
/// name matches `wheel_filename`'s project) from a remote wheel with range requests: the last
/// 64 KiB, the central directory if it starts earlier, then the member. Fails (the caller then
/// downloads the whole wheel) when the server ignores ranges, the zip is malformed, or the
/// member is missing, corrupt or over 16 MiB. `bytes_transferred` gets the body bytes received.
Result<std::string> fetch_remote_wheel_metadata(HttpClient& http, const std::string& url,
                                                const std::string& wheel_filename,
                                                uint64_t* bytes_transferred = nullptr);

/// One central-directory entry (ZIP64 extra fields applied).
struct ZipEntry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;  // 0 stored, 8 deflate
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

/// What the end of a zip says. When `complete` is false, `tail` did not reach far enough:
/// call again with a tail starting at or before `need_offset`.
struct CentralDirectory {
  bool complete = false;
  uint64_t need_offset = 0;
  uint64_t offset = 0;  // of the central directory in the file
  uint64_t size = 0;
  std::vector<ZipEntry> entries;
};

/// Parse the End Of Central Directory (and ZIP64 locator/record) and the central directory
/// from `tail`, the last tail.size() bytes of a file of `file_size` bytes. Pure; never reads
/// outside `tail`. Errors describe the malformation (without a URL: callers add context).
Result<CentralDirectory> parse_central_directory(std::string_view tail, uint64_t file_size);

/// Decode a member from `local` (its bytes starting at the local file header): check the
/// header, inflate or copy, verify size and CRC-32. Pure.
Result<std::string> extract_zip_member(std::string_view local, const ZipEntry& entry);

}  // namespace lb::net
