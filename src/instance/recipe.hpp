// An instance recipe (`--recipe FILE`, TOML; examples in recipes/instances/):
//   [processes]    NAME = "command line"   run with /bin/sh -c inside the env, so ${VAR}
//                                           expands from the instance's environment
//   [environment]  KEY = "value"            exported to every process and hook
//   [hooks]        setup | pre-upgrade | post-upgrade = "command line"
// Anything else (another table or key, a value that is not a string, a process name not
// [a-z0-9][a-z0-9_]*, a variable name not [A-Za-z_][A-Za-z0-9_]*) is an error naming the
// file, line and key. At most 1 MiB.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace lb::instance {

struct Recipe {
  std::vector<std::pair<std::string, std::string>> processes;    ///< sorted by name
  std::vector<std::pair<std::string, std::string>> environment;  ///< sorted by name
  std::map<std::string, std::string> hooks;                      ///< setup, pre-upgrade, ...
};

Result<Recipe> read_recipe(const std::string& path);
/// The same from text (`path` names it in messages).
Result<Recipe> parse_recipe(std::string_view text, const std::string& path);
/// A process name: [a-z0-9][a-z0-9_]{0,63} (no '-': units are lavabuild-INSTANCE-PROCESS).
bool is_process_name(std::string_view name);
/// A variable name: [A-Za-z_][A-Za-z0-9_]*.
bool is_variable_name(std::string_view name);

}  // namespace lb::instance
