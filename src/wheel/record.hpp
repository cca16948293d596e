// RECORD (PEP 376 / PEP 427): a CSV file of "path,hash,size" rows, read and written the way
// Python's csv module (excel dialect) does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::wheel {

/// One RECORD row. `hash` is "sha256=<urlsafe-b64-nopad>" or empty (RECORD itself, signatures).
struct RecordRow {
  std::string path;
  std::string hash;
  std::optional<uint64_t> size;  // empty field -> nullopt
};

/// Parse RECORD text: quoted fields (which may hold commas, doubled quotes and newlines),
/// "\n" or "\r\n" line ends, blank lines skipped. Each row must have exactly 3 fields and a
/// decimal or empty size. Errors name the row ("RECORD:12").
Result<std::vector<RecordRow>> parse_record(std::string_view text);

/// One row as Python's csv.writer writes it (minimal quoting, "\r\n" ending), the format pip
/// uses for an installed distribution's RECORD.
std::string render_record_row(const RecordRow& row);

}  // namespace lb::wheel
