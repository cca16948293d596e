// Reading instance recipes with toml++ (kept private to this file). See recipe.hpp.
#include "instance/recipe.hpp"

#include <toml++/toml.h>

#include "util/fs.hpp"
#include "util/strings.hpp"
#include "util/text.hpp"

namespace lb::instance {
namespace {

constexpr uint64_t kMaxRecipeSize = uint64_t(1) << 20;
constexpr const char* kHint =
    "a recipe has [processes], [environment] and [hooks] (setup, pre-upgrade, post-upgrade) "
    "with string values; see recipes/instances/README.md";

Error fail(const std::string& path, const toml::source_region& where, const std::string& what) {
  return make_error(path + ":" + std::to_string(where.begin.line) + ": " + what, kHint);
}

}  // namespace

bool is_process_name(std::string_view name) {
  // No '-': the unit lavabuild-INSTANCE-PROCESS.service must tell instance and process apart.
  if (name.empty() || name.size() > 64 || name[0] == '_') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool is_variable_name(std::string_view name) {
  return is_env_var_name(name);
}

Result<Recipe> read_recipe(const std::string& path) {
  auto info = fs::stat_path(path);
  if (!info.exists) return make_error("cannot read recipe " + path + ": no such file");
  if (info.size > kMaxRecipeSize)
    return make_error("recipe " + path + " is larger than 1 MiB", "a recipe is a small TOML file");
  LB_ASSIGN(std::string text, fs::read_file(path));
  return parse_recipe(text, path);
}

Result<Recipe> parse_recipe(std::string_view text, const std::string& path) {
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return make_error(
        path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()),
        kHint);
  }
  Recipe r;
  for (const auto& [key, node] : doc) {
    std::string table(key.str());
    const toml::table* t = node.as_table();
    if (table != "processes" && table != "environment" && table != "hooks")
      return fail(path, node.source(), "unknown table or key '" + table + "'");
    if (!t) return fail(path, node.source(), "'" + table + "' must be a table");
    for (const auto& [k, v] : *t) {
      std::string name(k.str());
      std::string where = table + "." + name;
      if (!v.is_string()) return fail(path, v.source(), "'" + where + "' must be a string");
      std::string value = v.as_string()->get();
      if (table == "processes") {
        if (!is_process_name(name))
          return fail(path, v.source(),
                      "'" + where + "': a process name is [a-z0-9][a-z0-9_]* (at most 64)");
        if (trim(value).empty()) return fail(path, v.source(), "'" + where + "' is empty");
        for (char c : value)
          if (static_cast<unsigned char>(c) < 0x20 && c != '\t')
            return fail(path, v.source(),
                        "'" + where + "' must be one line (a unit's ExecStart= is one line)");
        r.processes.emplace_back(name, value);
      } else if (table == "environment") {
        if (!is_variable_name(name))
          return fail(path, v.source(), "'" + where + "': not a variable name");
        if (value.find('\n') != std::string::npos || value.find('\0') != std::string::npos)
          return fail(path, v.source(), "'" + where + "' must be one line");
        r.environment.emplace_back(name, value);
      } else {
        if (name != "setup" && name != "pre-upgrade" && name != "post-upgrade")
          return fail(path, v.source(),
                      "unknown hook '" + where + "' (setup, pre-upgrade, post-upgrade)");
        if (trim(value).empty()) return fail(path, v.source(), "'" + where + "' is empty");
        r.hooks[name] = value;
      }
    }
  }
  return r;
}

}  // namespace lb::instance
