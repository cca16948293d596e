// An instance's PostgreSQL role and database, made and dropped through an administrator
// connection: libpq's variables (PGHOST, PGPORT, PGUSER, ...) or --db-admin CONNINFO; the
// programs psql, pg_dump and pg_restore (Debian's postgresql-client) do the talking.
// Both are named lb_NAME ('-' -> '_'); the password is 32 random hex digits.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "instance/config.hpp"
#include "util/result.hpp"

namespace lb::instance {

/// Create role and database for instance `name`; nothing is left on failure.
Result<Database> create_database(const std::string& name, const std::string& admin);
Status drop_database(const Database& d);
/// postgresql://ROLE:PASSWORD@HOST:PORT/DB, or @/DB?host=DIR&port=P for a socket directory.
std::string database_url(const Database& d);
/// pg_dump -Fc of the database, as its role.
Status dump_database(const Database& d, const std::string& file);
/// Replace the database's content by a dump's (objects owned by d's role): restored into a
/// new database, then swapped in by name; nothing changes when the restore fails.
Status restore_database(const Database& d, const std::string& file);
/// Per table ("schema.table"): row count and an md5 of the rows in order.
Result<std::vector<std::pair<std::string, std::string>>> table_sums(const Database& d);

}  // namespace lb::instance
