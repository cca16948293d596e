// The versioned text form of a cached index page (documented in index.hpp).
#include <charconv>

#include "net/index.hpp"

namespace lb::net {

static constexpr std::string_view kMagic = "lavabuild-page 1\n";

std::string serialize_cached_page(const CachedPage& p) {
  std::string out;
  // Exactly the size needed: growing by doubling made a 64 MiB page cost 128 MiB here.
  out.reserve(kMagic.size() + p.url.size() + p.content_type.size() + p.etag.size() +
              p.last_modified.size() + p.body.size() + 6 * 40);
  out += kMagic;
  auto field = [&out](std::string_view name, std::string_view value) {
    out += name;
    out += ' ';
    out += std::to_string(value.size());
    out += '\n';
    out += value;
    out += '\n';
  };
  field("url", p.url);
  field("content_type", p.content_type);
  field("etag", p.etag);
  field("last_modified", p.last_modified);
  field("fetched_unix", std::to_string(p.fetched_unix));
  field("body", p.body);
  return out;
}

std::optional<CachedPage> parse_cached_page(std::string_view text) {
  if (text.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  text.remove_prefix(kMagic.size());
  auto field = [&text](std::string_view name) -> std::optional<std::string> {
    if (text.substr(0, name.size() + 1) != std::string(name) + " ") return std::nullopt;
    text.remove_prefix(name.size() + 1);
    size_t len = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), len);
    size_t digits = size_t(ptr - text.data());
    if (ec != std::errc() || digits >= text.size() || text[digits] != '\n') return std::nullopt;
    text.remove_prefix(digits + 1);
    if (text.size() < len + 1 || text[len] != '\n') return std::nullopt;
    std::string value(text.substr(0, len));
    text.remove_prefix(len + 1);
    return value;
  };
  CachedPage p;
  auto url = field("url"), ct = field("content_type"), etag = field("etag"),
       lm = field("last_modified"), when = field("fetched_unix"), body = field("body");
  if (!url || !ct || !etag || !lm || !when || !body || !text.empty()) return std::nullopt;
  p.url = *url;
  p.content_type = *ct;
  p.etag = *etag;
  p.last_modified = *lm;
  p.body = *body;
  auto [ptr, ec] = std::from_chars(when->data(), when->data() + when->size(), p.fetched_unix);
  if (ec != std::errc() || ptr != when->data() + when->size()) return std::nullopt;
  return p;
}

}  // namespace lb::net
