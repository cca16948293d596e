#include "instance/envfile.hpp"

#include "instance/recipe.hpp"
#include "util/strings.hpp"

namespace lb::instance {

std::string render_env_file(const Variables& vars) {
  std::string out = "# Written by lavabuild; `lavabuild instance upgrade` writes it again.\n";
  for (const auto& [k, v] : vars) {
    out += k + "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\' || c == '$') out += '\\';
      out += c;
    }
    out += "\"\n";
  }
  return out;
}

Result<Variables> parse_env_file(std::string_view text, const std::string& path) {
  Variables out;
  size_t line_no = 0;
  for (const auto& raw : split(text, '\n')) {
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    auto eq = line.find('=');
    std::string key(trim(line.substr(0, eq == std::string_view::npos ? 0 : eq)));
    if (eq == std::string_view::npos || !is_variable_name(key))
      return make_error(path + ":" + std::to_string(line_no) + ": not KEY=VALUE",
                        "fix the line or run `lavabuild instance upgrade` to write it again");
    std::string_view rest = trim(line.substr(eq + 1));
    std::string value;
    if (!rest.empty() && (rest[0] == '"' || rest[0] == '\'')) {
      char q = rest[0];
      size_t i = 1;
      bool closed = false;
      for (; i < rest.size(); ++i) {
        if (q == '"' && rest[i] == '\\' && i + 1 < rest.size()) {
          value += rest[++i];
        } else if (rest[i] == q) {
          closed = true;
          break;
        } else {
          value += rest[i];
        }
      }
      if (!closed) return make_error(path + ":" + std::to_string(line_no) + ": unterminated quote");
    } else {
      value = std::string(rest);
    }
    set_variable(out, key, value);
  }
  return out;
}

void set_variable(Variables& vars, const std::string& key, const std::string& value) {
  for (auto& [k, v] : vars)
    if (k == key) {
      v = value;
      return;
    }
  vars.emplace_back(key, value);
}

}  // namespace lb::instance
