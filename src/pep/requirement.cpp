#include "pep/requirement.hpp"

#include "pep/name.hpp"
#include "pep/parse_cursor.hpp"

namespace lb::pep {
namespace {

using detail::Cursor;

bool is_op_char(char c) {
  return c == '=' || c == '!' || c == '<' || c == '>' || c == '~';
}
/// Characters a specifier's version can contain (the rest is validated by Specifier::parse).
bool is_version_char(char c) {
  return detail::is_alnum(c) || c == '.' || c == '*' || c == '+' || c == '!' || c == '-' ||
         c == '_';
}

Status parse_extras(Cursor& c, std::set<std::string>& extras) {
  size_t open = c.pos;
  if (!c.eat('[')) return {};
  c.skip_ws();
  bool first = true;
  while (c.peek() != ']') {
    if (!first) {
      if (!c.eat(',')) {
        if (detail::is_alnum(c.peek())) return c.expected("comma between extra names");
        return c.expected("',' or ']' to close the '[' at column " + std::to_string(open + 1));
      }
      c.skip_ws();
    }
    std::string_view extra = detail::read_identifier(c);
    if (extra.empty()) return c.expected(first ? "extra name or ']'" : "extra name after comma");
    extras.insert(normalize_name(extra));
    c.skip_ws();
    first = false;
  }
  c.eat(']');
  return {};
}

/// One "op version" clause; returns false (position unchanged) if no operator is here.
Result<bool> parse_clause(Cursor& c, SpecifierSet& set) {
  if (!is_op_char(c.peek())) return false;
  size_t start = c.pos;
  std::string_view op;
  for (std::string_view candidate : {"===", "==", "~=", "!=", "<=", ">=", "<", ">"})
    if (c.eat(candidate)) {
      op = candidate;
      break;
    }
  if (op.empty()) return c.expected("version specifier (==, !=, <=, >=, <, >, ~=, ===)");
  c.skip_ws();
  size_t version_start = c.pos;
  bool arbitrary = op == "===";
  auto in_version = [&](char ch) {
    return arbitrary ? std::string_view(" \t;),").find(ch) == std::string_view::npos
                     : is_version_char(ch);
  };
  while (!c.at_end() && in_version(c.peek())) ++c.pos;
  if (c.pos == version_start && !arbitrary) return c.expected("version specifier");
  auto spec = Specifier::parse(c.text.substr(start, c.pos - start));
  if (!spec) {
    Error e = c.expected("version specifier", version_start);
    e.message += ": " + spec.error().message;
    return e;
  }
  set.add(std::move(*spec));
  return true;
}

Status parse_specifiers(Cursor& c, SpecifierSet& set) {
  size_t open = c.pos;
  bool paren = c.eat('(');
  if (paren) c.skip_ws();
  while (true) {
    LB_ASSIGN(bool found, parse_clause(c, set));
    if (!found) break;
    c.skip_ws();
    if (!c.eat(',')) break;
    c.skip_ws();
  }
  if (paren && !c.eat(')'))
    return c.expected("',' or ')' to close the '(' at column " + std::to_string(open + 1));
  return {};
}

Status parse_marker_part(Cursor& c, std::optional<Marker>& marker, std::string_view after) {
  c.skip_ws();
  if (c.at_end()) return {};
  if (!c.eat(';')) return c.expected("end or ';' (after " + std::string(after) + ")");
  LB_ASSIGN(Marker m, Marker::parse_prefix(c));
  c.skip_ws();
  if (!c.at_end()) return c.expected("'and', 'or' or end of marker");
  marker = std::move(m);
  return {};
}

}  // namespace

Result<Requirement> Requirement::parse(std::string_view text) {
  Cursor c{text, 0};
  Requirement r;
  c.skip_ws();
  r.name = std::string(detail::read_identifier(c));
  if (r.name.empty()) return c.expected("package name at the start of the requirement");
  c.skip_ws();
  LB_TRY(parse_extras(c, r.extras));
  c.skip_ws();
  if (c.eat('@')) {
    c.skip_ws();
    size_t start = c.pos;
    while (!c.at_end() && c.peek() != ' ' && c.peek() != '\t') ++c.pos;
    if (c.pos == start) return c.expected("URL after '@'");
    r.url = std::string(text.substr(start, c.pos - start));
    LB_TRY(parse_marker_part(c, r.marker, "URL and whitespace"));
    return r;
  }
  size_t spec_start = c.pos;
  LB_TRY(parse_specifiers(c, r.specifier));
  LB_TRY(parse_marker_part(c, r.marker,
                           c.pos > spec_start ? "version specifier" : "name, no valid version"));
  return r;
}

std::string Requirement::normalized_name() const {
  return normalize_name(name);
}

std::string Requirement::to_string() const {
  std::string out = name;
  if (!extras.empty()) {
    out += '[';
    for (const std::string& e : extras) out += (out.back() == '[' ? "" : ",") + e;
    out += ']';
  }
  if (!url.empty())
    out += " @ " + url + (marker ? " " : "");
  else
    out += specifier.to_string();
  if (marker) out += "; " + marker->to_string();
  return out;
}

}  // namespace lb::pep
