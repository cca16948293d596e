// libFuzzer target: arbitrary bytes as a PEP 503 HTML page, a PEP 691 JSON page and a cached
// page record; checks the invariants of what the parsers return.
// Build: clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address -Isrc tests/fuzz/index_page_fuzzer.cpp
//        src/net/url.cpp src/net/html.cpp src/net/index_html.cpp src/net/index_json.cpp
//        src/net/page_cache.cpp src/util/*.cpp -lcrypto
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "net/index.hpp"
#include "net/url.hpp"

static void check(const std::vector<lb::net::IndexFile>& files) {
  for (const auto& f : files) {
    if (f.filename.empty() || f.url.find('#') != std::string::npos) __builtin_trap();
    if (!f.sha256.empty() && f.sha256.size() != 64) __builtin_trap();
    for (char c : f.sha256 + f.metadata_sha256)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) __builtin_trap();
    (void)lb::net::resolve_url(f.url, "../x");
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string base = "https://user:pw@idx.example/simple/pkg/";
  auto html = lb::net::parse_simple_html(text, base);
  if (!html.ok()) __builtin_trap();  // HTML parsing never fails
  check(*html);
  auto json = lb::net::parse_simple_json(text, base);
  if (json.ok()) {
    check(*json);
  } else if (json.error().message.find("idx.example") == std::string::npos) {
    __builtin_trap();
  }
  if (auto page = lb::net::parse_cached_page(text)) {
    if (lb::net::serialize_cached_page(*page) != text) __builtin_trap();
  }
  (void)lb::net::resolve_url(base, text);
  (void)lb::net::redact_url(text);
  return 0;
}
