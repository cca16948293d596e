// Zip parsing for remote wheels: the end records, the central directory and one member,
// fetched with HTTP range requests (APPNOTE.TXT 4.3, ZIP64 4.3.14-4.3.15, 4.5.3).
#include "net/remote_zip.hpp"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "net/url.hpp"
#include "pep/name.hpp"
#include "pep/tags.hpp"
#include "util/strings.hpp"

namespace lb::net {
namespace {

constexpr uint64_t kTailBytes = 64 * 1024;
constexpr uint64_t kMaxMetadata = 16 << 20;
constexpr uint64_t kMaxDirectory = 64 << 20;
constexpr uint64_t kLocalSlack = 1024;  // guess for the local header's extra field
constexpr size_t kEocdSize = 22, kLocatorSize = 20, kZip64EocdSize = 56;
constexpr size_t kCentralSize = 46, kLocalSize = 30;
constexpr uint32_t kEocdSig = 0x06054b50, kLocatorSig = 0x07064b50, kZip64EocdSig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50, kLocalSig = 0x04034b50;
constexpr uint32_t kMarker32 = 0xFFFFFFFF;

uint64_t le(std::string_view s, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + size_t(i)]);
  return v;
}
uint16_t u16(std::string_view s, size_t at) {
  return uint16_t(le(s, at, 2));
}
uint32_t u32(std::string_view s, size_t at) {
  return uint32_t(le(s, at, 4));
}
uint64_t u64(std::string_view s, size_t at) {
  return le(s, at, 8);
}

// The EOCD record whose comment runs exactly to the end of `tail`, scanning backwards.
std::optional<size_t> find_eocd(std::string_view tail) {
  if (tail.size() < kEocdSize) return std::nullopt;
  size_t last = tail.size() - kEocdSize;
  size_t first = last > 0xFFFF ? last - 0xFFFF : 0;
  for (size_t i = last + 1; i-- > first;)
    if (u32(tail, i) == kEocdSig && i + kEocdSize + u16(tail, i + 20) == tail.size()) return i;
  return std::nullopt;
}

// Apply the ZIP64 extended information extra field (id 1) to an entry's 0xFFFFFFFF fields.
Status apply_zip64_extra(std::string_view extra, ZipEntry& e, bool big_usize, bool big_csize,
                         bool big_offset) {
  for (size_t k = 0; k + 4 <= extra.size();) {
    uint16_t id = u16(extra, k), len = u16(extra, k + 2);
    if (k + 4 + len > extra.size()) return make_error("extra field of " + e.name + " overruns");
    std::string_view body = extra.substr(k + 4, len);
    k += 4 + size_t(len);
    if (id != 1) continue;
    size_t at = 0;
    for (auto [big, field] :
         {std::pair{big_usize, &e.uncompressed_size}, std::pair{big_csize, &e.compressed_size},
          std::pair{big_offset, &e.local_header_offset}}) {
      if (!big) continue;
      if (at + 8 > body.size()) return make_error("short ZIP64 extra field for " + e.name);
      *field = u64(body, at);
      at += 8;
    }
  }
  return {};
}

Result<std::vector<ZipEntry>> parse_entries(std::string_view cd, uint64_t count) {
  std::vector<ZipEntry> out;
  out.reserve(size_t(count));
  size_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (cd.size() - pos < kCentralSize || u32(cd, pos) != kCentralSig)
      return make_error("central directory entry " + std::to_string(i) + " is malformed");
    size_t name_len = u16(cd, pos + 28), extra_len = u16(cd, pos + 30);
    size_t comment_len = u16(cd, pos + 32);
    if (cd.size() - pos - kCentralSize < name_len + extra_len + comment_len)
      return make_error("central directory entry " + std::to_string(i) + " overruns");
    ZipEntry e;
    e.flags = u16(cd, pos + 8);
    e.method = u16(cd, pos + 10);
    e.crc32 = u32(cd, pos + 16);
    e.compressed_size = u32(cd, pos + 20);
    e.uncompressed_size = u32(cd, pos + 24);
    e.local_header_offset = u32(cd, pos + 42);
    e.name = std::string(cd.substr(pos + kCentralSize, name_len));
    LB_TRY(apply_zip64_extra(cd.substr(pos + kCentralSize + name_len, extra_len), e,
                             e.uncompressed_size == kMarker32, e.compressed_size == kMarker32,
                             e.local_header_offset == kMarker32));
    out.push_back(std::move(e));
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
  return out;
}

// Offset of a member's data from its local header (which `local` starts with).
Result<uint64_t> local_data_start(std::string_view local, const ZipEntry& entry) {
  if (local.size() < kLocalSize || u32(local, 0) != kLocalSig)
    return make_error("no local file header for " + entry.name);
  size_t name_len = u16(local, 26);
  if (local.substr(kLocalSize, name_len) != entry.name)
    return make_error("local file header name differs from the central directory for " +
                      entry.name);
  return uint64_t(kLocalSize + name_len + u16(local, 28));
}

Result<std::string> inflate_raw(std::string_view data, uint64_t size, const std::string& name) {
  std::string out(size_t(size), '\0');
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return make_error("zlib initialisation failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = uInt(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  int rc = inflate(&zs, Z_FINISH);
  uint64_t produced = size - zs.avail_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != size)
    return make_error("corrupt deflate data (or wrong size) in " + name);
  return out;
}

// Parse "bytes <first>-<last>/<total>".
bool parse_content_range(std::string_view v, uint64_t& first, uint64_t& last, uint64_t& total) {
  if (!starts_with(v, "bytes ")) return false;
  const char* p = v.data() + 6;
  const char* end = v.data() + v.size();
  auto num = [&](uint64_t& x, char sep) {
    auto r = std::from_chars(p, end, x);
    if (r.ec != std::errc() || (sep && (r.ptr == end || *r.ptr != sep))) return false;
    p = r.ptr + (sep ? 1 : 0);
    return true;
  };
  return num(first, '-') && num(last, '/') && num(total, 0) && p == end && first <= last &&
         last < total;
}

// Range requests against one URL, counting the body bytes received.
struct RangeReader {
  HttpClient& http;
  const std::string& url;
  uint64_t& transferred;
  uint64_t file_size = 0;

  Error fail(const std::string& what) const {
    return make_error(redact_url(url) + ": " + what, "download the whole file instead");
  }

  // The bytes [first, last], or with `suffix` the last `suffix` bytes (sets file_size).
  Result<std::pair<uint64_t, std::string>> get(uint64_t first, uint64_t last, uint64_t suffix = 0) {
    Request req(url);
    if (suffix) {
      req.suffix_range = suffix;
      req.max_body = suffix;
    } else {
      req.range = {first, last};
      req.max_body = last - first + 1;
    }
    LB_ASSIGN(Response resp, http.fetch(req));
    transferred += resp.bytes;
    if (resp.status == 200) return fail("the server ignored the range request (HTTP 200)");
    if (resp.status != 206)
      return fail("range request failed: HTTP " + std::to_string(resp.status));
    uint64_t a = 0, b = 0, total = 0;
    auto it = resp.headers.find("content-range");
    if (it == resp.headers.end() || !parse_content_range(it->second, a, b, total))
      return fail("missing or unusable Content-Range in a 206 answer");
    if (suffix) {
      file_size = total;
      first = total > suffix ? total - suffix : 0;
      last = total - 1;
    }
    if (a != first || b != last || total != file_size || resp.body.size() != b - a + 1)
      return fail("unexpected range answer: " + it->second);
    return std::pair{a, std::move(resp.body)};
  }
};

bool is_metadata_path(const std::string& name) {
  size_t slash = name.find('/');
  return slash != std::string::npos && name.substr(slash + 1) == "METADATA" &&
         ends_with(name.substr(0, slash), ".dist-info");
}

Result<const ZipEntry*> pick_metadata(const std::vector<ZipEntry>& entries,
                                      const std::string& wheel_filename) {
  std::vector<const ZipEntry*> found;
  for (const ZipEntry& e : entries)
    if (is_metadata_path(e.name)) found.push_back(&e);
  if (found.empty()) return make_error("no *.dist-info/METADATA member (not a wheel?)");
  if (found.size() == 1) return found[0];
  auto wf = pep::WheelFilename::parse(wheel_filename);
  if (wf.ok()) {
    std::string project = wf->normalized_name();
    for (const ZipEntry* e : found)
      if (pep::normalize_name(e->name.substr(0, e->name.find('-'))) == project) return e;
  }
  return make_error("several *.dist-info/METADATA members and none matches " +
                    quoted(wheel_filename));
}

}  // namespace

Result<CentralDirectory> parse_central_directory(std::string_view tail, uint64_t file_size) {
  if (tail.size() > file_size) return make_error("zip tail is longer than the file");
  const uint64_t base = file_size - tail.size();  // file offset of tail[0]
  auto eocd = find_eocd(tail);
  if (!eocd) return make_error("no end of central directory record (not a zip file?)");
  size_t e = *eocd;
  CentralDirectory cd;
  uint64_t count = u16(tail, e + 10);
  cd.size = u32(tail, e + 12);
  cd.offset = u32(tail, e + 16);
  uint64_t limit = base + e;        // the directory ends before this
  for (size_t at : {e + 4, e + 6})  // this disk, the directory's disk (0xFFFF: see ZIP64)
    if (u16(tail, at) != 0 && u16(tail, at) != 0xFFFF)
      return make_error("multi-disk zip files are not supported");
  if (e >= kLocatorSize && u32(tail, e - kLocatorSize) == kLocatorSig) {
    size_t loc = e - kLocatorSize;
    uint64_t rec = u64(tail, loc + 8);
    if (rec > base + loc || base + loc - rec < kZip64EocdSize)
      return make_error("ZIP64 end of central directory locator points outside the file");
    if (rec < base) {
      cd.need_offset = rec;
      return cd;
    }
    size_t r = size_t(rec - base);
    if (u32(tail, r) != kZip64EocdSig) return make_error("no ZIP64 end of central directory");
    count = u64(tail, r + 32);
    cd.size = u64(tail, r + 40);
    cd.offset = u64(tail, r + 48);
    limit = rec;
  } else if (count == 0xFFFF || cd.size == kMarker32 || cd.offset == kMarker32) {
    return make_error("ZIP64 end of central directory locator is missing");
  }
  if (cd.size > limit || cd.offset > limit - cd.size)
    return make_error("central directory lies outside the file");
  if (cd.size > kMaxDirectory) return make_error("central directory is too large");
  if (count > cd.size / kCentralSize) return make_error("central directory entry count is wrong");
  if (cd.offset < base) {
    cd.need_offset = cd.offset;
    return cd;
  }
  LB_ASSIGN(cd.entries,
            parse_entries(tail.substr(size_t(cd.offset - base), size_t(cd.size)), count));
  cd.complete = true;
  return cd;
}

Result<std::string> extract_zip_member(std::string_view local, const ZipEntry& entry) {
  LB_ASSIGN(uint64_t start, local_data_start(local, entry));
  if (entry.flags & 1) return make_error(entry.name + " is encrypted");
  if (entry.uncompressed_size > kMaxMetadata || entry.compressed_size > 2 * kMaxMetadata)
    return make_error(entry.name + " is too large");
  if (start > local.size() || local.size() - start < entry.compressed_size)
    return make_error(entry.name + " is truncated");
  std::string_view data = local.substr(size_t(start), size_t(entry.compressed_size));
  std::string out;
  if (entry.method == 0) {
    if (entry.compressed_size != entry.uncompressed_size)
      return make_error("stored member " + entry.name + " has two different sizes");
    out = std::string(data);
  } else if (entry.method == 8) {
    LB_ASSIGN(out, inflate_raw(data, entry.uncompressed_size, entry.name));
  } else {
    return make_error(entry.name + " uses unsupported compression method " +
                      std::to_string(entry.method));
  }
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(out.data()), uInt(out.size()));
  if (crc != entry.crc32) return make_error("CRC-32 mismatch in " + entry.name);
  return out;
}

Result<std::string> fetch_remote_wheel_metadata(HttpClient& http, const std::string& url,
                                                const std::string& wheel_filename,
                                                uint64_t* bytes_transferred) {
  uint64_t ignored = 0;
  uint64_t& transferred = bytes_transferred ? *bytes_transferred : ignored;
  transferred = 0;
  RangeReader rr{http, url, transferred};
  LB_ASSIGN(auto tail, rr.get(0, 0, kTailBytes));
  auto [base, data] = std::move(tail);
  CentralDirectory cd;
  for (int round = 0;; ++round) {
    auto parsed = parse_central_directory(data, rr.file_size);
    if (!parsed.ok()) return rr.fail(parsed.error().message);
    cd = std::move(*parsed);
    if (cd.complete) break;
    if (round == 2 || cd.need_offset >= base) return rr.fail("cannot locate the central directory");
    LB_ASSIGN(auto more, rr.get(cd.need_offset, base - 1));
    data = more.second + data;
    base = more.first;
  }
  auto picked = pick_metadata(cd.entries, wheel_filename);
  if (!picked.ok()) return rr.fail(picked.error().message);
  const ZipEntry& entry = **picked;
  if (entry.uncompressed_size > kMaxMetadata || entry.compressed_size > 2 * kMaxMetadata)
    return rr.fail(entry.name + " is larger than 16 MiB");
  uint64_t off = entry.local_header_offset;
  if (off >= cd.offset) return rr.fail("local header of " + entry.name + " is misplaced");
  std::string fetched;
  std::string_view local = fetched;
  if (off >= base) {
    local = std::string_view(data).substr(size_t(off - base));
  } else {
    uint64_t want = kLocalSize + entry.name.size() + kLocalSlack + entry.compressed_size;
    uint64_t last = std::min(rr.file_size, off + want) - 1;
    LB_ASSIGN(auto got, rr.get(off, last));
    fetched = std::move(got.second);
    auto start = local_data_start(fetched, entry);
    if (!start.ok()) return rr.fail(start.error().message);
    uint64_t need = *start + entry.compressed_size;
    if (need > fetched.size() && off + need <= rr.file_size) {
      LB_ASSIGN(auto rest, rr.get(off + fetched.size(), off + need - 1));
      fetched += rest.second;
    }
    local = fetched;
  }
  auto member = extract_zip_member(local, entry);
  if (!member.ok()) return rr.fail(member.error().message);
  return member;
}

}  // namespace lb::net
