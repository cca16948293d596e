#include "instance/database.hpp"

#include <sys/random.h>

#include <cctype>

#include "util/process.hpp"
#include "util/strings.hpp"

namespace lb::instance {
namespace {

constexpr std::chrono::seconds kDbTimeout{600};

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n > 0) got += size_t(n);
  }
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

/// Where the administrator connects: --db-admin, or libpq's variables (at create), or the
/// server the database was made on (later: not whatever PGHOST says then).
struct Admin {
  std::string conninfo;    ///< --db-admin; empty: libpq's variables
  std::string host, port;  ///< the database's server, once known
};

std::string server_of(const Admin& a) {
  if (!a.conninfo.empty()) return "the server of --db-admin";
  std::string host = a.host, port = a.port;
  if (host.empty()) host = std::getenv("PGHOST") ? std::getenv("PGHOST") : "";
  if (port.empty()) port = std::getenv("PGPORT") ? std::getenv("PGPORT") : "";
  return "the PostgreSQL server at " + (host.empty() ? std::string("the default socket") : host) +
         " port " + (port.empty() ? std::string("5432") : port);
}

Admin admin_of(const Database& d) {
  return {d.admin, d.host, d.port};
}

/// psql as the administrator, the SQL on stdin (not in any process's argv), unaligned output.
Result<std::string> admin_sql(const Admin& a, const std::string& sql) {
  ProcessOptions po;
  po.timeout = kDbTimeout;
  po.stdin_data = sql;
  if (a.conninfo.empty() && !a.host.empty()) {
    po.env["PGHOST"] = a.host;
    po.env["PGPORT"] = a.port;
  }
  LB_ASSIGN(ProcessResult r,
            run_process({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d",
                         a.conninfo.empty() ? "dbname=postgres" : a.conninfo, "-f", "-"},
                        po));
  if (r.exit_code != 0)
    return make_error("PostgreSQL (" + server_of(a) + "): " + std::string(trim(r.err)),
                      "check that the server runs and that PGHOST, PGPORT and PGUSER (or "
                      "--db-admin) name a superuser connection");
  return r.out;
}

/// A libpq program as the instance's role: the password in PGPASSWORD, not in argv (where
/// every local user could read it), and nothing of the administrator's libpq variables.
Result<ProcessResult> as_role(const Database& d, std::vector<std::string> argv,
                              const std::string& stdin_data = "") {
  ProcessOptions po;
  po.timeout = kDbTimeout;
  po.unset_env_prefixes = {"PG"};
  po.env["PGPASSWORD"] = d.password;
  po.stdin_data = stdin_data;
  return run_process(argv, po);
}

/// The role's connection without its password (that goes in PGPASSWORD).
std::string role_url(const Database& d) {
  if (!d.host.empty() && d.host[0] == '/')
    return "postgresql://" + d.role + "@/" + d.name + "?host=" + d.host + "&port=" + d.port;
  return "postgresql://" + d.role + "@" + d.host + ":" + d.port + "/" + d.name;
}

}  // namespace

std::string database_url(const Database& d) {
  if (!d.host.empty() && d.host[0] == '/')
    return "postgresql://" + d.role + ":" + d.password + "@/" + d.name + "?host=" + d.host +
           "&port=" + d.port;
  return "postgresql://" + d.role + ":" + d.password + "@" + d.host + ":" + d.port + "/" + d.name;
}

bool conninfo_has_password(const std::string& conninfo) {
  std::string c = conninfo;
  for (auto& ch : c) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* scheme : {"postgresql://", "postgres://"})
    if (starts_with(c, scheme)) {
      std::string rest = c.substr(std::string(scheme).size());
      auto at = rest.find('@');
      auto end = rest.find_first_of("/?");
      if (at != std::string::npos && (end == std::string::npos || at < end) &&
          rest.substr(0, at).find(':') != std::string::npos)
        return true;                                    // postgresql://USER:PASSWORD@...
      return c.find("password=") != std::string::npos;  // ...?password=
    }
  // key=value conninfo: a password keyword (spaces around '=' are allowed by libpq)
  for (size_t at = c.find("password"); at != std::string::npos; at = c.find("password", at + 1)) {
    size_t k = at + 8;
    while (k < c.size() && c[k] == ' ') ++k;
    if (k < c.size() && c[k] == '=' && (at == 0 || c[at - 1] == ' ')) return true;
  }
  return false;
}

Result<Database> create_database(const std::string& name, const std::string& admin) {
  if (conninfo_has_password(admin))
    return make_error(
        "--db-admin carries a password: every local user can read a command "
        "line, and the connection is kept in etc/instance.toml",
        "give the connection without it and the password in ~/.pgpass or "
        "PGPASSWORD");
  Database d;
  d.engine = "postgresql";
  d.name = d.role = "lb_" + replace_all(name, "-", "_");
  d.password = random_hex(16);
  d.admin = admin;
  Admin a{admin, "", ""};
  LB_ASSIGN(std::string where, admin_sql(a, "\\echo :HOST :PORT\n"));
  auto words = split(std::string(trim(where)), ' ');
  if (words.size() != 2) return make_error("cannot tell where " + server_of(a) + " listens");
  d.host = words[0];
  d.port = words[1];
  a = admin_of(d);
  LB_ASSIGN(std::string exists,
            admin_sql(a, "SELECT count(*) FROM pg_roles WHERE rolname = '" + d.role + "';\n"));
  if (trim(exists) != "0")
    return make_error("PostgreSQL role " + d.role + " exists already (" + server_of(a) + ")",
                      "an instance of this name had one; drop it (DROP DATABASE " + d.name +
                          "; DROP ROLE " + d.role + ") or pick another name");
  // Not in the server's statement log either.
  LB_TRY(admin_sql(a, "SET log_statement = 'none';\nCREATE ROLE \"" + d.role +
                          "\" LOGIN PASSWORD '" + d.password + "';\n"));
  if (auto r = admin_sql(a, "CREATE DATABASE \"" + d.name + "\" OWNER \"" + d.role + "\";\n");
      !r.ok()) {
    (void)admin_sql(a, "DROP ROLE IF EXISTS \"" + d.role + "\";\n");
    return r.error();
  }
  return d;
}

Status drop_database(const Database& d) {
  if (d.engine.empty()) return {};
  LB_TRY(admin_sql(admin_of(d), "DROP DATABASE IF EXISTS \"" + d.name + "\" WITH (FORCE);\n"));
  LB_TRY(admin_sql(admin_of(d), "DROP ROLE IF EXISTS \"" + d.role + "\";\n"));
  return {};
}

Status dump_database(const Database& d, const std::string& file) {
  LB_ASSIGN(ProcessResult r,
            as_role(d, {"pg_dump", "-Fc", "--no-owner", "-f", file, "-d", role_url(d)}));
  if (r.exit_code != 0)
    return make_error("pg_dump of " + d.name + " failed: " + std::string(trim(r.err)));
  return {};
}

Status drop_copy(const Database& copy) {
  auto r =
      admin_sql(admin_of(copy), "DROP DATABASE IF EXISTS \"" + copy.name + "\" WITH (FORCE);\n");
  if (!r.ok()) return r.error();
  return {};
}

Result<Database> restore_beside(const Database& d, const std::string& file) {
  Database fresh = d;
  fresh.name = d.name + "_new_" + random_hex(4);
  LB_TRY(
      admin_sql(admin_of(d), "CREATE DATABASE \"" + fresh.name + "\" OWNER \"" + d.role + "\";\n"));
  auto restored = as_role(d, {"pg_restore", "--no-owner", "--no-privileges", "--single-transaction",
                              "--exit-on-error", "-d", role_url(fresh), file});
  if (!restored.ok() || restored->exit_code != 0) {
    (void)drop_copy(fresh);
    return make_error(
        "pg_restore of " + file + " failed: " +
        (restored.ok() ? std::string(trim(restored->err)) : restored.error().message));
  }
  return fresh;
}

namespace {
/// d's database renamed to `aside` and `other` renamed to d's name, in one transaction (both
/// or neither), once every session on either is ended (the instance's processes are stopped).
Status rename_pair(const Database& d, const std::string& aside, const std::string& other) {
  auto r = admin_sql(admin_of(d),
                     "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('" +
                         d.name + "', '" + other + "');\nBEGIN;\nALTER DATABASE \"" + d.name +
                         "\" RENAME TO \"" + aside + "\";\nALTER DATABASE \"" + other +
                         "\" RENAME TO \"" + d.name + "\";\nCOMMIT;\n");
  if (!r.ok()) return r.error();
  return {};
}
}  // namespace

Result<std::string> swap_in(const Database& d, const Database& fresh) {
  std::string old_name = d.name + "_old_" + random_hex(4);
  LB_TRY(rename_pair(d, old_name, fresh.name));
  return old_name;
}

Status swap_back(const Database& d, const std::string& old_name) {
  Database gone = d;
  gone.name = d.name + "_undone_" + random_hex(4);
  LB_TRY(rename_pair(d, gone.name, old_name));
  return drop_copy(gone);
}

Result<std::vector<std::pair<std::string, std::string>>> table_sums(const Database& d) {
  std::vector<std::pair<std::string, std::string>> out;
  auto sql = [&](const std::string& q) -> Result<std::string> {
    LB_ASSIGN(ProcessResult r, as_role(d,
                                       {"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d",
                                        role_url(d), "-f", "-"},
                                       q + ";\n"));
    if (r.exit_code != 0)
      return make_error("reading " + d.name + " failed: " + std::string(trim(r.err)));
    return r.out;
  };
  LB_ASSIGN(std::string tables,
            sql("SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM "
                "information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT "
                "IN ('pg_catalog', 'information_schema') ORDER BY 1"));
  for (const auto& t : split(tables, '\n')) {
    if (trim(t).empty()) continue;
    LB_ASSIGN(std::string sum,
              sql("SELECT count(*) || ' ' || md5(coalesce(string_agg(r::text, E'\\n' ORDER BY "
                  "r::text), '')) FROM " +
                  t + " r"));
    out.emplace_back(t, std::string(trim(sum)));
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> dump_sums(const Database& d,
                                                                   const std::string& file) {
  LB_ASSIGN(Database copy, restore_beside(d, file));
  auto sums = table_sums(copy);
  (void)drop_copy(copy);
  return sums;
}

}  // namespace lb::instance
