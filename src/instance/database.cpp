#include "instance/database.hpp"

#include <sys/random.h>

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

std::string server_of(const std::string& admin) {
  if (!admin.empty()) return "the server of --db-admin";
  const char* host = std::getenv("PGHOST");
  const char* port = std::getenv("PGPORT");
  return std::string("the PostgreSQL server at ") + (host && *host ? host : "the default socket") +
         " port " + (port && *port ? port : "5432");
}

/// psql as the administrator: one SQL command, unaligned output.
Result<std::string> admin_sql(const std::string& admin, const std::string& sql) {
  ProcessOptions po;
  po.timeout = kDbTimeout;
  LB_ASSIGN(ProcessResult r, run_process({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d",
                                          admin.empty() ? "dbname=postgres" : admin, "-c", sql},
                                         po));
  if (r.exit_code != 0)
    return make_error("PostgreSQL (" + server_of(admin) + "): " + std::string(trim(r.err)),
                      "check that the server runs and that PGHOST, PGPORT and PGUSER (or "
                      "--db-admin) name a superuser connection");
  return r.out;
}

Result<ProcessResult> as_role(std::vector<std::string> argv) {
  ProcessOptions po;
  po.timeout = kDbTimeout;
  // The connection's own settings: nothing of the administrator's libpq variables.
  po.unset_env_prefixes = {"PG"};
  return run_process(argv, po);
}

}  // namespace

std::string database_url(const Database& d) {
  if (!d.host.empty() && d.host[0] == '/')
    return "postgresql://" + d.role + ":" + d.password + "@/" + d.name + "?host=" + d.host +
           "&port=" + d.port;
  return "postgresql://" + d.role + ":" + d.password + "@" + d.host + ":" + d.port + "/" + d.name;
}

Result<Database> create_database(const std::string& name, const std::string& admin) {
  Database d;
  d.engine = "postgresql";
  d.name = d.role = "lb_" + replace_all(name, "-", "_");
  d.password = random_hex(16);
  d.admin = admin;
  LB_ASSIGN(std::string where, admin_sql(admin, "\\echo :HOST :PORT"));
  auto words = split(std::string(trim(where)), ' ');
  if (words.size() != 2) return make_error("cannot tell where " + server_of(admin) + " listens");
  d.host = words[0];
  d.port = words[1];
  LB_ASSIGN(std::string exists,
            admin_sql(admin, "SELECT count(*) FROM pg_roles WHERE rolname = '" + d.role + "'"));
  if (trim(exists) != "0")
    return make_error("PostgreSQL role " + d.role + " exists already (" + server_of(admin) + ")",
                      "an instance of this name had one; drop it (DROP DATABASE " + d.name +
                          "; DROP ROLE " + d.role + ") or pick another name");
  LB_TRY(admin_sql(admin, "CREATE ROLE \"" + d.role + "\" LOGIN PASSWORD '" + d.password + "'"));
  if (auto r = admin_sql(admin, "CREATE DATABASE \"" + d.name + "\" OWNER \"" + d.role + "\"");
      !r.ok()) {
    (void)admin_sql(admin, "DROP ROLE IF EXISTS \"" + d.role + "\"");
    return r.error();
  }
  return d;
}

Status drop_database(const Database& d) {
  if (d.engine.empty()) return {};
  LB_TRY(admin_sql(d.admin, "DROP DATABASE IF EXISTS \"" + d.name + "\" WITH (FORCE)"));
  LB_TRY(admin_sql(d.admin, "DROP ROLE IF EXISTS \"" + d.role + "\""));
  return {};
}

Status dump_database(const Database& d, const std::string& file) {
  LB_ASSIGN(ProcessResult r,
            as_role({"pg_dump", "-Fc", "--no-owner", "-f", file, "-d", database_url(d)}));
  if (r.exit_code != 0)
    return make_error("pg_dump of " + d.name + " failed: " + std::string(trim(r.err)));
  return {};
}

Status restore_database(const Database& d, const std::string& file) {
  // Into a new database first, then swapped by name: the dump's content replaces all of
  // the old (tables the dump does not have go too), and a failed restore changes nothing.
  Database fresh = d;
  fresh.name = d.name + "_new_" + random_hex(4);
  std::string old_name = d.name + "_old_" + random_hex(4);
  LB_TRY(admin_sql(d.admin, "CREATE DATABASE \"" + fresh.name + "\" OWNER \"" + d.role + "\""));
  auto drop = [&](const std::string& db) {
    (void)admin_sql(d.admin, "DROP DATABASE IF EXISTS \"" + db + "\" WITH (FORCE)");
  };
  auto restored = as_role({"pg_restore", "--no-owner", "--no-privileges", "--single-transaction",
                           "--exit-on-error", "-d", database_url(fresh), file});
  if (!restored.ok() || restored->exit_code != 0) {
    drop(fresh.name);
    return make_error(
        "pg_restore into " + d.name + " failed: " +
        (restored.ok() ? std::string(trim(restored->err)) : restored.error().message));
  }
  // One transaction: both renames or neither (the instance's processes are stopped; any
  // other session on the old database is ended first).
  auto swapped = admin_sql(
      d.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + d.name +
                   "'; ALTER DATABASE \"" + d.name + "\" RENAME TO \"" + old_name +
                   "\"; ALTER DATABASE \"" + fresh.name + "\" RENAME TO \"" + d.name + "\"");
  if (!swapped.ok()) {
    drop(fresh.name);
    return swapped.error();
  }
  drop(old_name);
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> table_sums(const Database& d) {
  std::vector<std::pair<std::string, std::string>> out;
  auto sql = [&](const std::string& q) -> Result<std::string> {
    LB_ASSIGN(ProcessResult r, as_role({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d",
                                        database_url(d), "-c", q}));
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

}  // namespace lb::instance
