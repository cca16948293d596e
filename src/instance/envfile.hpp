// The instance's environment file (etc/environment), in systemd's EnvironmentFile syntax:
// one KEY="value" line per variable, the value double-quoted with \" \\ \$ escaped (systemd
// does not expand variables in it; lavabuild's supervisor reads it the same way). Written
// by create and upgrade, read by every process and hook.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace lb::instance {

using Variables = std::vector<std::pair<std::string, std::string>>;

std::string render_env_file(const Variables& vars);
/// KEY=VALUE lines; '#' and ';' comments, blank lines; values bare, "double" or 'single'
/// quoted (a backslash escapes the next character inside double quotes).
Result<Variables> parse_env_file(std::string_view text, const std::string& path);
/// Set or replace KEY in vars (keeping its place when it is there).
void set_variable(Variables& vars, const std::string& key, const std::string& value);

}  // namespace lb::instance
