// libFuzzer target: parse arbitrary bytes as pylock.toml; whatever parses must write out in
// canonical form, and that form must parse back to the same bytes (the writer is a fixpoint).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lock/pylock.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lock = lb::lock::parse_pylock(text, "fuzz.toml");
  if (!lock.ok()) return 0;
  std::string once = lb::lock::write_pylock(*lock);
  auto again = lb::lock::parse_pylock(once, "fuzz.toml");
  if (!again.ok() || lb::lock::write_pylock(*again) != once) std::abort();
  return 0;
}
