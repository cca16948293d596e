// etc/instance.toml, written by hand and read with toml++ (kept private to this file).
#include "instance/config.hpp"

#include <cstdio>

#include <toml++/toml.h>

#include "util/fs.hpp"
#include "util/text.hpp"

namespace lb::instance {
namespace {

std::string quote(const std::string& s) {
  return toml_basic_string(s);
}

}  // namespace

std::string render_instance_toml(const InstanceConfig& c) {
  std::string out = "format = " + quote(kInstanceFormat) + "\n";
  out += "name = " + quote(c.name) + "\n";
  out += "requirements = " + quote(c.requirements) + "\n";
  out += "user = " + quote(c.user) + "\n";
  out += "\n[environment]\n";
  for (const auto& [k, v] : c.env) out += k + " = " + quote(v) + "\n";
  if (!c.database.engine.empty()) {
    const Database& d = c.database;
    out += "\n[database]\n";
    for (const auto& [k, v] : {std::pair<const char*, const std::string*>{"engine", &d.engine},
                               {"name", &d.name},
                               {"role", &d.role},
                               {"password", &d.password},
                               {"host", &d.host},
                               {"port", &d.port},
                               {"admin", &d.admin}})
      out += std::string(k) + " = " + quote(*v) + "\n";
  }
  return out;
}

Result<InstanceConfig> read_instance_toml(const std::string& path) {
  LB_ASSIGN(std::string text, fs::read_file(path));
  InstanceConfig c;
  try {
    toml::table t = toml::parse(text, path);
    if (t["format"].value_or(std::string()) != kInstanceFormat)
      return make_error(path + " is not " + std::string(kInstanceFormat),
                        "it was written by another version of lavabuild");
    c.name = t["name"].value_or(std::string());
    c.requirements = t["requirements"].value_or(std::string());
    c.user = t["user"].value_or(std::string());
    if (const toml::table* env = t["environment"].as_table())
      for (const auto& [k, v] : *env)
        c.env.emplace_back(std::string(k.str()), v.value_or(std::string()));
    if (const toml::table* db = t["database"].as_table()) {
      auto get = [&](const char* k) { return (*db)[k].value_or(std::string()); };
      c.database = {get("engine"), get("name"), get("role"), get("password"),
                    get("host"),   get("port"), get("admin")};
    }
  } catch (const toml::parse_error& e) {
    return make_error(path + ": " + std::string(e.description()));
  }
  return c;
}

}  // namespace lb::instance
