#include "net/html.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <functional>

#include "util/strings.hpp"

namespace lb::net {

const std::string* HtmlTag::attr(std::string_view n) const {
  for (const auto& [k, v] : attrs)
    if (k == n) return &v;
  return nullptr;
}

static void append_utf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Decode the reference starting at s[0] == '&'; returns the bytes consumed (0: not one).
static size_t decode_ref(std::string_view s, std::string& out) {
  size_t semi = s.substr(0, 16).find(';');  // a short window: linear time on "&&&&..."
  if (semi == std::string_view::npos || semi > 12) return 0;
  std::string_view body = s.substr(1, semi - 1);
  if (starts_with(body, "#")) {
    bool is_hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
    std::string_view digits = body.substr(is_hex ? 2 : 1);
    if (digits.empty() || digits.size() > 8) return 0;
    uint32_t cp = 0;
    for (char c : digits) {
      int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : is_hex && std::isxdigit(static_cast<unsigned char>(c))
                  ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                  : -1;
      if (d < 0) return 0;
      cp = cp * (is_hex ? 16 : 10) + uint32_t(d);
    }
    append_utf8(out, cp);
    return semi + 1;
  }
  static const std::pair<std::string_view, std::string_view> named[] = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", "\xC2\xA0"}};
  for (const auto& [name, text] : named) {
    if (body == name) {
      out += text;
      return semi + 1;
    }
  }
  return 0;
}

std::string html_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t used = s[i] == '&' ? decode_ref(s.substr(i), out) : 0;
    if (used) {
      i += used;
    } else {
      out += s[i++];
    }
  }
  return out;
}

static constexpr size_t kMaxAttributes = 32;

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

namespace {
// A cursor over the document.
struct Scanner {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  void skip_space() {
    while (!done() && is_space(s[i])) ++i;
  }
  std::string name() {  // tag or attribute name, lowercased
    size_t start = i;
    while (!done() && !is_space(s[i]) && s[i] != '>' && s[i] != '=' && s[i] != '/' &&
           !(s[i] == '"' || s[i] == '\''))
      ++i;
    return to_lower(s.substr(start, i - start));
  }
  void skip_past(std::string_view what) {
    size_t pos = s.find(what, i);
    i = pos == std::string_view::npos ? s.size() : pos + what.size();
  }
  // Attributes up to '>' (i is left after it).
  std::vector<std::pair<std::string, std::string>> attributes() {
    std::vector<std::pair<std::string, std::string>> attrs;
    while (true) {
      skip_space();
      if (done()) return attrs;
      if (s[i] == '>') {
        ++i;
        return attrs;
      }
      if (s[i] == '/' || s[i] == '"' || s[i] == '\'' || s[i] == '=') {
        ++i;
        continue;
      }
      std::string key = name();
      std::string value;
      skip_space();
      if (!done() && s[i] == '=') {
        ++i;
        skip_space();
        if (!done() && (s[i] == '"' || s[i] == '\'')) {
          char q = s[i++];
          size_t end = s.find(q, i);
          if (end == std::string_view::npos) end = s.size();
          value = html_unescape(s.substr(i, end - i));
          i = std::min(end + 1, s.size());
        } else {
          size_t start = i;
          while (!done() && !is_space(s[i]) && s[i] != '>') ++i;
          value = html_unescape(s.substr(start, i - start));
        }
      }
      // HTML: the first one wins. Only a few attributes are read; keeping no more than
      // kMaxAttributes makes a tag with a million attributes cost linear time.
      if (attrs.size() < kMaxAttributes &&
          std::none_of(attrs.begin(), attrs.end(), [&](const auto& a) { return a.first == key; }))
        attrs.emplace_back(std::move(key), std::move(value));
    }
  }
};
}  // namespace

void scan_tags(std::string_view html, const std::vector<std::string>& wanted,
               const std::function<bool(HtmlTag&)>& on_tag) {
  Scanner sc{html};
  while (true) {
    sc.i = html.find('<', sc.i);
    if (sc.i == std::string_view::npos) break;
    if (html.substr(sc.i, 4) == "<!--") {
      sc.i += 4;
      sc.skip_past("-->");
      continue;
    }
    ++sc.i;
    if (sc.done() || !std::isalpha(static_cast<unsigned char>(html[sc.i]))) {
      sc.skip_past(">");  // end tag, doctype, processing instruction or stray '<'
      continue;
    }
    HtmlTag tag{sc.name(), sc.attributes()};
    if (tag.name == "script" || tag.name == "style") {
      size_t end = sc.i;
      while ((end = html.find("</", end)) != std::string_view::npos &&
             to_lower(html.substr(end + 2, tag.name.size())) != tag.name)
        end += 2;
      sc.i = end == std::string_view::npos ? html.size() : end;
    }
    if (std::find(wanted.begin(), wanted.end(), tag.name) != wanted.end() && !on_tag(tag)) return;
  }
}

std::vector<HtmlTag> scan_tags(std::string_view html, const std::vector<std::string>& wanted) {
  std::vector<HtmlTag> tags;
  scan_tags(html, wanted, [&tags](HtmlTag& tag) {
    tags.push_back(std::move(tag));
    return true;
  });
  return tags;
}

}  // namespace lb::net
