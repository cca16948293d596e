// libFuzzer target: parse arbitrary bytes as a lavabuild config file; any input must give a
// ConfigFile or an Error naming the file, never a crash, and merging it must be safe.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cli/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = lb::cli::parse_config(text, "/fuzz/lavabuild.toml");
  if (!c.ok()) {
    if (c.error().message.rfind("/fuzz/lavabuild.toml", 0) != 0) std::abort();
    return 0;
  }
  lb::cli::ConfigFile base;
  lb::cli::merge_config(base, *c);
  if (base.files.size() != 1) std::abort();
  return 0;
}
