// libFuzzer target: arbitrary bytes as a wheel named demo-1.0-py3-none-any.whl.
// Build: clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address -Isrc tests/fuzz/wheel_fuzzer.cpp
//        src/wheel/*.cpp src/pep/*.cpp src/util/*.cpp -larchive -lcrypto
#include <cstddef>
#include <cstdint>
#include <string>

#include "util/hash.hpp"
#include "wheel/wheel.hpp"

namespace {
struct NullSink : lb::wheel::BlobSink {
  lb::Result<std::string> put_blob(std::string_view content, bool) override {
    return lb::sha256_hex(content);
  }
  lb::Result<std::string> put_blob_hashed(std::string_view, bool, const std::string& sha) override {
    return sha;
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  NullSink sink;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto r = lb::wheel::unpack_wheel_from_memory(bytes, "demo-1.0-py3-none-any.whl", sink);
  if (r.ok()) {
    auto back = lb::wheel::deserialize_unpacked(lb::wheel::serialize_unpacked(*r));
    if (!back.ok()) __builtin_trap();  // a manifest we wrote must read back
  }
  return 0;
}
