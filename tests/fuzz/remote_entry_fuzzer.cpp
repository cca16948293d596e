// libFuzzer target: what a remote cache's CAS hands back for an action entry, which any server
// (or whoever can write to it) controls: the entry manifest (remote/layer.hpp parse_entry) and
// the signature line checked against a trusted key (remote/sign.hpp), plus key file text.
// A manifest that parses must render back to the same bytes (the format has one spelling).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "remote/layer.hpp"
#include "remote/sign.hpp"

namespace {

/// A key made at start: its secret half never leaves this process, so no input can hold a
/// valid signature by it.
const lb::remote::PublicKey& trusted() {
  static const lb::remote::PublicKey k = lb::remote::generate_key("ci-1").value().second;
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto m = lb::remote::parse_entry(bytes);
      if (m && lb::remote::render_entry(*m) != bytes) __builtin_trap();
      break;
    }
    case 1: {
      std::string why = lb::remote::check_signature(
          {trusted()}, lb::remote::entry_fingerprint("build/x", std::string(64, 'a'), 1), bytes);
      if (why.empty()) __builtin_trap();
      break;
    }
    default:
      (void)lb::remote::parse_public_key(bytes, "fuzz");
      (void)lb::remote::parse_secret_key(bytes, "fuzz");
  }
  return 0;
}
