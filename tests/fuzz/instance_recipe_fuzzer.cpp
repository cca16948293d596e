// libFuzzer target: arbitrary bytes as an instance recipe; any input gives a Recipe whose
// names obey the rules, or an Error naming the file, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "instance/recipe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = lb::instance::parse_recipe(text, "/fuzz/recipe.toml");
  if (!r.ok()) {
    if (r.error().message.rfind("/fuzz/recipe.toml", 0) != 0) std::abort();
    return 0;
  }
  for (const auto& [name, cmd] : r->processes)
    if (!lb::instance::is_process_name(name) || cmd.empty()) std::abort();
  for (const auto& [name, value] : r->environment)
    if (!lb::instance::is_variable_name(name) || value.find('\n') != std::string::npos)
      std::abort();
  for (const auto& [name, cmd] : r->hooks)
    if (name != "setup" && name != "pre-upgrade" && name != "post-upgrade") std::abort();
  return 0;
}
