// Internal: bytes -> logical lines (decoding, `\` continuations, comments, ${VAR} expansion).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reqfile/reqfile.hpp"
#include "util/result.hpp"

namespace lb::reqfile::detail {

/// One logical line: its first physical line number and its text, comment-free and trimmed.
struct LogicalLine {
  int line = 0;
  std::string text;
};

/// Decode a requirements file to UTF-8: strip a UTF-8 BOM; honour a PEP 263 coding comment on
/// line 1 or 2 (UTF-8, ASCII and Latin-1 supported); otherwise UTF-8. Errors name `file`.
Result<std::string> decode(std::string_view bytes, const std::string& file);

/// pip's preprocessing: split lines, join `\` continuations, remove comments (`#` at line
/// start or after whitespace), expand ${VAR} (A-Z, 0-9, _; unset or empty stays as written),
/// drop empty lines.
std::vector<LogicalLine> logical_lines(std::string_view text, const Getenv& getenv);

}  // namespace lb::reqfile::detail
