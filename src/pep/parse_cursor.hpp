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

/// Length of the whitespace character (Python's str.isspace(): ASCII \t\n\v\f\r, space,
/// \x1c-\x1f and the Unicode spaces, in UTF-8) that starts `s`, or 0.
inline size_t py_space_at(std::string_view s) {
  if (s.empty()) return 0;
  auto b = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0U; };
  unsigned c0 = b(0);
  if ((c0 >= 0x09 && c0 <= 0x0d) || (c0 >= 0x1c && c0 <= 0x20)) return 1;
  if (c0 == 0xc2 && (b(1) == 0x85 || b(1) == 0xa0)) return 2;  // U+0085, U+00A0
  if (c0 == 0xe1 && b(1) == 0x9a && b(2) == 0x80) return 3;    // U+1680
  unsigned c2 = b(2);
  if (c0 == 0xe2 && b(1) == 0x80 &&  // U+2000-200A, U+2028, U+2029, U+202F
      ((c2 >= 0x80 && c2 <= 0x8a) || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf))
    return 3;
  if (c0 == 0xe2 && b(1) == 0x81 && b(2) == 0x9f) return 3;  // U+205F
  if (c0 == 0xe3 && b(1) == 0x80 && b(2) == 0x80) return 3;  // U+3000
  return 0;
}

/// Length of the whitespace character that ends `s`, or 0.
inline size_t py_space_before_end(std::string_view s) {
  for (size_t n = 1; n <= 3 && n <= s.size(); ++n)
    if (py_space_at(s.substr(s.size() - n)) == n) return n;
  return 0;
}

/// `s` without leading and trailing whitespace, as Python's str.strip() removes it.
inline std::string_view py_strip(std::string_view s) {
  while (size_t n = py_space_at(s)) s.remove_prefix(n);
  while (size_t n = py_space_before_end(s)) s.remove_suffix(n);
  return s;
}

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
