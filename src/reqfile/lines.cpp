#include "reqfile/lines.hpp"

#include <algorithm>
#include <cctype>

#include "util/strings.hpp"

namespace lb::reqfile::detail {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

/// Offset of the first byte that is not well-formed UTF-8, or npos.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (i + n >= s.size()) return i;
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

Result<std::string> checked_utf8(std::string_view s, const std::string& file) {
  size_t bad = invalid_utf8_at(s);
  if (bad == std::string_view::npos) return std::string(s);
  int line = 1 + int(std::count(s.begin(), s.begin() + long(bad), '\n'));
  return make_error(file + ":" + std::to_string(line) + ": not valid UTF-8",
                    "save the file as UTF-8, or declare its encoding on line 1 "
                    "(\"# -*- coding: latin-1 -*-\")");
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += ch;
    } else {
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
    }
  }
  return out;
}

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

/// PEP 263: `coding[:=]\s*([-\w.]+)` in a line starting with '#'.
std::string declared_coding(std::string_view line) {
  if (line.empty() || line[0] != '#') return {};
  for (size_t pos = line.find("coding"); pos != std::string_view::npos;
       pos = line.find("coding", pos + 1)) {
    size_t i = pos + 6;
    if (i >= line.size() || (line[i] != ':' && line[i] != '=')) continue;
    ++i;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && is_word(line[j])) ++j;
    if (j > i) return std::string(line.substr(i, j - i));
  }
  return {};
}

enum class Codec { utf8, latin1, unsupported };

Codec codec_for(const std::string& name) {
  std::string n = replace_all(to_lower(name), "_", "-");
  if (n == "utf-8" || n == "utf8" || n == "utf-8-sig" || n == "ascii" || n == "us-ascii")
    return Codec::utf8;
  static const char* latin1[] = {"latin-1", "latin1", "iso-8859-1", "iso8859-1", "8859",
                                 "cp819",   "l1",     "iso-ir-100", "latin",     "csisolatin1"};
  for (const char* l : latin1)
    if (n == l) return Codec::latin1;
  return Codec::unsupported;
}

}  // namespace

Result<std::string> decode(std::string_view bytes, const std::string& file) {
  if (starts_with(bytes, "\xEF\xBB\xBF")) return checked_utf8(bytes.substr(3), file);
  if (starts_with(bytes, "\xFF\xFE") || starts_with(bytes, "\xFE\xFF") ||
      starts_with(bytes, std::string_view("\0\0\xFE\xFF", 4)))
    return make_error(file + ": UTF-16/UTF-32 requirements files are not supported",
                      "save the file as UTF-8");
  size_t first_nl = bytes.find('\n');
  std::string_view line1 = bytes.substr(0, first_nl);
  std::string_view line2 =
      first_nl == std::string_view::npos
          ? std::string_view()
          : bytes.substr(first_nl + 1).substr(0, bytes.substr(first_nl + 1).find('\n'));
  int line_no = 1;
  for (std::string_view line : {line1, line2}) {
    std::string coding = declared_coding(line);
    if (!coding.empty()) {
      switch (codec_for(coding)) {
        case Codec::utf8:
          return checked_utf8(bytes, file);
        case Codec::latin1:
          return latin1_to_utf8(bytes);
        case Codec::unsupported:
          return make_error(
              file + ":" + std::to_string(line_no) + ": encoding '" + coding + "' is not supported",
              "save the file as UTF-8 and remove the coding comment "
              "(UTF-8 and Latin-1 are supported)");
      }
    }
    ++line_no;
  }
  return checked_utf8(bytes, file);
}

namespace {

std::vector<std::string> physical_lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    out.emplace_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) out.emplace_back(text.substr(start));
  return out;
}

/// pip's COMMENT_RE.match: the line is only a comment (optionally indented).
bool is_comment_line(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && is_space(line[i])) ++i;
  return i < line.size() && line[i] == '#';
}

std::string strip_backslashes(std::string_view s) {
  while (!s.empty() && s.front() == '\\') s.remove_prefix(1);
  while (!s.empty() && s.back() == '\\') s.remove_suffix(1);
  return std::string(s);
}

std::string strip_comment(std::string_view line) {
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || is_space(line[i - 1]))) return std::string(line.substr(0, i));
  }
  return std::string(line);
}

bool is_var_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string expand_vars(std::string_view line, const Getenv& getenv) {
  std::string out;
  size_t i = 0;
  while (i < line.size()) {
    if (line.substr(i, 2) == "${") {
      size_t j = i + 2;
      while (j < line.size() && is_var_char(line[j])) ++j;
      if (j > i + 2 && j < line.size() && line[j] == '}') {
        std::string name(line.substr(i + 2, j - i - 2));
        std::optional<std::string> value = getenv ? getenv(name) : std::nullopt;
        if (value && !value->empty()) {
          out += *value;
          i = j + 1;
          continue;
        }
      }
    }
    out += line[i++];
  }
  return out;
}

}  // namespace

std::vector<LogicalLine> logical_lines(std::string_view text, const Getenv& getenv) {
  std::vector<LogicalLine> joined;
  std::string pending;
  int pending_line = 0;
  bool continuing = false;
  std::vector<std::string> lines = physical_lines(text);
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string& line = lines[n];
    int number = int(n) + 1;
    bool comment = is_comment_line(line);
    if (!ends_with(line, "\\") || comment) {
      if (comment) line = " " + line;
      if (continuing) {
        joined.push_back({pending_line, pending + line});
        pending.clear();
        continuing = false;
      } else {
        joined.push_back({number, line});
      }
    } else {
      if (!continuing) pending_line = number;
      continuing = true;
      pending += strip_backslashes(line);
    }
  }
  if (continuing) joined.push_back({pending_line, pending});

  std::vector<LogicalLine> out;
  for (auto& [number, line] : joined) {
    std::string uncommented = strip_comment(line);
    std::string_view text_part = trim(uncommented);
    if (text_part.empty()) continue;
    out.push_back({number, expand_vars(text_part, getenv)});
  }
  return out;
}

}  // namespace lb::reqfile::detail
