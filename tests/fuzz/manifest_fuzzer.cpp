// The env manifest (<env>/.lavabuild/manifest.json, a file in a directory its user may edit):
// both readers must survive any bytes, and whatever the fast reader accepts, the json reader
// must read the same way (env/manifest.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "env/manifest.hpp"
#include "util/fs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto fast = lb::env::detail::parse_manifest_fast(text);
  auto json = lb::env::detail::parse_manifest_json(text);
  if (fast) {
    if (!json.ok()) __builtin_trap();
    if (lb::env::serialize_manifest(*fast) != lb::env::serialize_manifest(*json)) __builtin_trap();
  }
  (void)lb::env::parse_manifest(text);
  // Read lazily (an in-place change), the file lists stay text until walked or loaded: they
  // must walk and load like the eager reader's, every path below the env.
  auto lazy = lb::env::parse_manifest(text, /*lazy_files=*/true);
  if (lazy.ok()) {
    for (auto& d : lazy->dists) {
      if (!lb::fs::is_safe_rel(d.dist_info_rel)) __builtin_trap();
      std::vector<std::string> paths;
      lb::env::for_each_file(d, [&](const lb::env::FileEntry& f) { paths.push_back(f.path); });
      for (const auto& p : paths)
        if (!lb::fs::is_safe_rel(p)) __builtin_trap();
      if (!lb::env::load_files(d).ok() || d.files.size() != paths.size()) __builtin_trap();
    }
  }
  return 0;
}
