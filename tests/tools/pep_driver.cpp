// lavabuild-pep-driver: the pep library on stdin/stdout, for differential tests against other
// implementations (tests/blackbox/test_pep_diff.py). Not installed; not part of the CLI.
//
// One request per line, fields separated by TAB; one answer line per request:
//   version  V          -> normalised V, or "invalid"
//   compare  A  B       -> -1, 0 or 1 (A <=> B), or "invalid"
//   contains SPEC  V    -> two digits: SpecifierSet(SPEC).contains(V) with the default
//                          pre-release rule, then with pre-releases allowed; or
//                          "invalid-spec" / "invalid-version"
// Fields may carry escapes \t \n \\ and \xHH (so that any byte can be sent).
#include <iostream>
#include <string>
#include <vector>

#include "pep/specifier.hpp"
#include "pep/version.hpp"

namespace {

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    if (c == 't') {
      out += '\t';
    } else if (c == 'n') {
      out += '\n';
    } else if (c == 'x' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == '\t')
      out.emplace_back();
    else
      out.back() += c;
  }
  for (auto& f : out) f = unescape(f);
  return out;
}

std::string answer(const std::vector<std::string>& f) {
  using lb::pep::SpecifierSet;
  using lb::pep::Version;
  if (f[0] == "version" && f.size() == 2) {
    auto v = Version::parse(f[1]);
    return v.ok() ? v->to_string() : "invalid";
  }
  if (f[0] == "compare" && f.size() == 3) {
    auto a = Version::parse(f[1]), b = Version::parse(f[2]);
    if (!a.ok() || !b.ok()) return "invalid";
    auto c = *a <=> *b;
    return c < 0 ? "-1" : c > 0 ? "1" : "0";
  }
  if (f[0] == "contains" && f.size() == 3) {
    auto s = SpecifierSet::parse(f[1]);
    if (!s.ok()) return "invalid-spec";
    auto v = Version::parse(f[2]);
    if (!v.ok()) return "invalid-version";
    return std::string(s->contains(*v) ? "1" : "0") + (s->contains(*v, true) ? "1" : "0");
  }
  return "error: unknown request";
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) std::cout << answer(fields(line)) << '\n';
  return 0;
}
