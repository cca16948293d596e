// The env manifest (<env>/.lavabuild/manifest.json, a file in a directory its user may edit):
// both readers must survive any bytes, and whatever the fast reader accepts, the json reader
// must read the same way (env/manifest.hpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "env/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto fast = lb::env::detail::parse_manifest_fast(text);
  auto json = lb::env::detail::parse_manifest_json(text);
  if (fast) {
    if (!json.ok()) __builtin_trap();
    if (lb::env::serialize_manifest(*fast) != lb::env::serialize_manifest(*json)) __builtin_trap();
  }
  (void)lb::env::parse_manifest(text);
  return 0;
}
