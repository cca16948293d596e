// libFuzzer target: arbitrary bytes as a backup's SHA256SUMS; every line accepted names a
// plain file (no '/', not "." or "..") once, with 64 lowercase hex digits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "instance/sums.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lines = lb::instance::parse_sha256sums(text, "/fuzz/SHA256SUMS");
  if (!lines.ok()) {
    if (lines.error().message.rfind("/fuzz/SHA256SUMS", 0) != 0) std::abort();
    return 0;
  }
  std::set<std::string> seen;
  for (const auto& l : *lines) {
    if (l.sha256.size() != 64 || l.file.empty() || l.file.find('/') != std::string::npos ||
        l.file == "." || l.file == ".." || !seen.insert(l.file).second)
      std::abort();
  }
  return 0;
}
