// etc/instance.toml (format "lavabuild.instance.v1", mode 0600: it holds the database
// password):
//   format = "lavabuild.instance.v1"
//   name = "NAME"
//   requirements = "/abs/path/requirements.txt"   what `upgrade` without -r locks again
//   user = "lb-NAME"                               empty: processes run as root
//   [environment]  KEY = "value"                  --env overrides of the recipe's
//   [database]     engine = "postgresql", name, role, password, host, port, admin
#pragma once

#include <string>

#include "instance/envfile.hpp"
#include "util/result.hpp"

namespace lb::instance {

inline constexpr const char* kInstanceFormat = "lavabuild.instance.v1";

struct Database {
  std::string engine;  ///< "postgresql"; empty: none
  std::string name, role, password;
  std::string host;  ///< a socket directory or a host name
  std::string port;
  std::string admin;  ///< --db-admin conninfo; empty: libpq's PGHOST, PGPORT, PGUSER
};

struct InstanceConfig {
  std::string name, requirements, user;
  Variables env;
  Database database;
};

std::string render_instance_toml(const InstanceConfig& c);
Result<InstanceConfig> read_instance_toml(const std::string& path);

}  // namespace lb::instance
