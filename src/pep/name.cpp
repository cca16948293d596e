#include "pep/name.hpp"

namespace lb::pep {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_sep(char c) {
  return c == '-' || c == '_' || c == '.';
}

}  // namespace

std::string normalize_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool in_sep = false;
  for (char c : name) {
    if (is_sep(c)) {
      if (!in_sep) out += '-';
      in_sep = true;
      continue;
    }
    in_sep = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || !is_alnum(name.front()) || !is_alnum(name.back())) return false;
  for (char c : name)
    if (!is_alnum(c) && !is_sep(c)) return false;
  return true;
}

}  // namespace lb::pep
