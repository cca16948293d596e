// libFuzzer target: arbitrary bytes as a remote cache's /ac/ answer (remote/action_result.hpp),
// which any server can send. What decodes must be within the documented limits and must come
// back unchanged through encode and decode, and encoding must be deterministic.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "remote/action_result.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto entry = lb::remote::decode_action_result(bytes);
  if (!entry) return 0;
  for (const auto& f : entry->files) {
    if (f.path.empty() || f.path.size() > 4096) __builtin_trap();
    if (f.digest.hash.size() != 64 || f.digest.size < 0) __builtin_trap();
  }
  std::string encoded = lb::remote::encode_action_result(*entry);
  auto again = lb::remote::decode_action_result(encoded);
  if (!again || *again != *entry) __builtin_trap();
  if (lb::remote::encode_action_result(*again) != encoded) __builtin_trap();
  return 0;
}
