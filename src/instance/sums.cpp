#include "instance/sums.hpp"

#include <set>

#include "util/strings.hpp"

namespace lb::instance {

Result<std::vector<SumLine>> parse_sha256sums(std::string_view text, const std::string& path) {
  std::vector<SumLine> out;
  std::set<std::string> seen;
  size_t line_no = 0;
  for (const auto& line : split(text, '\n')) {
    ++line_no;
    if (trim(line).empty()) continue;
    if (out.size() >= kMaxSumLines)
      return make_error(path + ": more than " + std::to_string(kMaxSumLines) + " lines",
                        "the backup is damaged");
    auto sp = line.find("  ");
    SumLine s;
    if (sp != std::string::npos) {
      s.sha256 = line.substr(0, sp);
      s.file = line.substr(sp + 2);
    }
    bool hex = s.sha256.size() == 64;
    for (char c : s.sha256) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    bool plain = !s.file.empty() && s.file.size() <= 255 && s.file != "." && s.file != ".." &&
                 s.file.find('/') == std::string::npos && s.file.find('\0') == std::string::npos;
    if (!hex || !plain)
      return make_error(path + ":" + std::to_string(line_no) + ": not a sha256sum line",
                        "the backup is damaged");
    if (!seen.insert(s.file).second)
      return make_error(path + ":" + std::to_string(line_no) + ": " + s.file + " is listed twice",
                        "the backup is damaged");
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace lb::instance
