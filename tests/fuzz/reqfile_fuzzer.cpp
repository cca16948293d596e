// libFuzzer target: arbitrary bytes as a requirements file, then hash-mode validation.
// Build: clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address -Isrc tests/fuzz/reqfile_fuzzer.cpp
//        src/reqfile/*.cpp src/pep/*.cpp src/util/*.cpp -lcrypto
// Relative includes resolve under a directory that does not exist, so they fail cleanly.
#include <cstddef>
#include <cstdint>
#include <string>

#include "reqfile/reqfile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "A") return std::string("--pre");
    if (name == "B") return std::string("foo==1");
    return std::nullopt;
  };
  auto parsed = lb::reqfile::parse_text(text, "/nonexistent-lavabuild-fuzz/req.txt", getenv);
  if (!parsed.ok()) {
    if (parsed.error().message.empty()) __builtin_trap();
    return 0;
  }
  for (const auto* list : {&parsed->requirements, &parsed->constraints}) {
    for (const auto& e : *list) {
      if (e.loc.line < 1 || e.text.empty()) __builtin_trap();
      for (const auto& h : e.hashes)
        if (h.rfind("sha", 0) != 0) __builtin_trap();
      (void)e.req.to_string();
    }
  }
  (void)lb::reqfile::check_hash_mode(*parsed);
  return 0;
}
