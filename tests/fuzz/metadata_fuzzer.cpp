// libFuzzer target: core metadata, entry points and RECORD parsing.
// Build: clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address -Isrc tests/fuzz/metadata_fuzzer.cpp
//        src/wheel/{metadata,entry_points,record}.cpp src/util/strings.cpp
#include <cstddef>
#include <cstdint>
#include <string>

#include "wheel/metadata.hpp"
#include "wheel/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)lb::wheel::parse_core_metadata(text);
  auto eps = lb::wheel::parse_entry_points(text);
  if (eps.ok())
    for (const auto& ep : eps->console_scripts)
      (void)lb::wheel::render_script(ep, "/usr/bin/python3");
  auto rows = lb::wheel::parse_record(text);
  if (rows.ok()) {
    std::string again;
    for (const auto& r : *rows) again += lb::wheel::render_record_row(r);
    auto back = lb::wheel::parse_record(again);
    if (!back.ok() || back->size() != rows->size()) __builtin_trap();  // round trip
    for (size_t i = 0; i < rows->size(); ++i)
      if ((*back)[i].path != (*rows)[i].path || (*back)[i].hash != (*rows)[i].hash)
        __builtin_trap();
  }
  return 0;
}
