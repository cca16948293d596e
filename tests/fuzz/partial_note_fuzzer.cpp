// libFuzzer target: arbitrary bytes as a partial-download note (net/partial.hpp), read from
// <cache>/partial/ where anything may have been written; what parses must write back the same.
#include <cstddef>
#include <cstdint>
#include <string>

#include "net/partial.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto note = lb::net::parse_partial_note(text);
  if (!note) return 0;
  if (note->sha256.size() != 64 || note->validator().empty()) __builtin_trap();
  auto again = lb::net::format_partial_note(*note);
  if (!again || *again != text) __builtin_trap();
  return 0;
}
