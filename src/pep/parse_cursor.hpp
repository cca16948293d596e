// Internal to pep: a position in a PEP 508 string plus column-precise error messages.
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"
#include "util/strings.hpp"

namespace lb::pep::detail {

/// Reads a requirement or marker left to right; `pos` is a byte offset into `text`.
struct Cursor {
  std::string_view text;
  size_t pos = 0;

  bool at_end() const { return pos >= text.size(); }
  /// The character `k` ahead, or '\0' past the end.
  char peek(size_t k = 0) const { return pos + k < text.size() ? text[pos + k] : '\0'; }
  /// PEP 508 whitespace is spaces and tabs only.
  bool skip_ws() {
    size_t start = pos;
    while (peek() == ' ' || peek() == '\t') ++pos;
    return pos > start;
  }
  bool eat(char c) {
    if (peek() != c || at_end()) return false;
    ++pos;
    return true;
  }
  bool eat(std::string_view s) {
    if (text.substr(pos, s.size()) != s) return false;
    pos += s.size();
    return true;
  }
  /// "expected <what> at column <1-based> in '<text>'".
  Error expected(std::string_view what, size_t at) const {
    return make_error("expected " + std::string(what) + " at column " + std::to_string(at + 1) +
                          " in '" + std::string(text) + "'",
                      "PEP 508 form: name[extra1,extra2] (>=1.0,<2) ; python_version >= \"3.8\" "
                      "or name @ https://host/file.whl ; marker");
  }
  Error expected(std::string_view what) const { return expected(what, pos); }
};

inline bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// PEP 508 identifier: [A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?; empty if none here.
inline std::string_view read_identifier(Cursor& c) {
  if (!is_alnum(c.peek())) return {};
  size_t start = c.pos, end = c.pos;
  for (size_t i = c.pos; i < c.text.size(); ++i) {
    char ch = c.text[i];
    if (is_alnum(ch))
      end = i + 1;
    else if (ch != '-' && ch != '_' && ch != '.')
      break;
  }
  c.pos = end;
  return c.text.substr(start, end - start);
}

}  // namespace lb::pep::detail
