// libFuzzer target: arbitrary bytes as an instance's environment file; parsing never crashes,
// and what parses renders and parses back to the same variables.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "instance/envfile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto vars = lb::instance::parse_env_file(text, "/fuzz/environment");
  if (!vars.ok()) return 0;
  for (const auto& [k, v] : *vars)
    if (v.find('\n') != std::string::npos) return 0;  // not writable as one line: skip
  auto again = lb::instance::parse_env_file(lb::instance::render_env_file(*vars), "again");
  if (!again.ok() || *again != *vars) std::abort();
  return 0;
}
