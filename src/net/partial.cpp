// The partial-download note (format in net/partial.hpp).
#include "net/partial.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace lb::net {
namespace {

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool one_line(std::string_view s) {
  return !s.empty() && s.find_first_of("\r\n") == std::string_view::npos;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// "<key> <value>" with exactly this key and a non-empty value.
std::optional<std::string_view> value_of(std::string_view line, std::string_view key) {
  if (line.size() <= key.size() + 1 || line.substr(0, key.size()) != key || line[key.size()] != ' ')
    return std::nullopt;
  return line.substr(key.size() + 1);
}

}  // namespace

std::string strong_etag(std::string_view etag) {
  if (etag.size() < 2 || etag.front() != '"' || etag.back() != '"' ||
      etag.substr(1, etag.size() - 2).find('"') != std::string_view::npos)
    return "";
  return std::string(etag);
}

std::optional<std::string> format_partial_note(const PartialNote& n) {
  bool etag_ok = n.etag.empty() || (strong_etag(n.etag) == n.etag && one_line(n.etag));
  if (!one_line(n.url) || !etag_ok || !one_line(n.validator()) || !is_sha256_hex(n.sha256) ||
      (n.etag.empty() && !one_line(n.last_modified)))
    return std::nullopt;
  std::string out(kPartialNoteVersion);
  out += "\nurl " + n.url + "\n";
  out += n.etag.empty() ? "last-modified " + n.last_modified : "etag " + n.etag;
  out += "\nsha256 " + n.sha256 + "\nsize " + (n.size ? std::to_string(*n.size) : "-") +
         "\nbytes " + std::to_string(n.bytes) + "\n";
  return out;
}

std::optional<PartialNote> parse_partial_note(std::string_view text) {
  if (text.size() > kMaxPartialNoteBytes || text.empty() || text.back() != '\n')
    return std::nullopt;
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.size() != 6 || lines[0] != kPartialNoteVersion) return std::nullopt;
  for (auto line : lines)
    if (line.find('\r') != std::string_view::npos) return std::nullopt;
  PartialNote n;
  auto url = value_of(lines[1], "url");
  auto sha = value_of(lines[3], "sha256");
  auto size = value_of(lines[4], "size");
  auto bytes = value_of(lines[5], "bytes");
  if (!url || !sha || !size || !bytes || !is_sha256_hex(*sha)) return std::nullopt;
  n.url = std::string(*url);
  n.sha256 = std::string(*sha);
  if (auto etag = value_of(lines[2], "etag")) {
    if (strong_etag(*etag).empty()) return std::nullopt;
    n.etag = std::string(*etag);
  } else if (auto lm = value_of(lines[2], "last-modified")) {
    n.last_modified = std::string(*lm);
  } else {
    return std::nullopt;
  }
  if (*size != "-") {
    n.size = parse_uint(*size);
    if (!n.size) return std::nullopt;
  }
  auto b = parse_uint(*bytes);
  if (!b) return std::nullopt;
  n.bytes = *b;
  return n;
}

}  // namespace lb::net
