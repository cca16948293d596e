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

/// Whether a libpq connection string (URL or key=value) carries a password.
bool conninfo_has_password(const std::string& conninfo);
/// Create role and database for instance `name`; nothing is left on failure. An `admin`
/// connection with a password in it is refused (command lines are public; ~/.pgpass or
/// PGPASSWORD carry it instead).
Result<Database> create_database(const std::string& name, const std::string& admin);
Status drop_database(const Database& d);
/// postgresql://ROLE:PASSWORD@HOST:PORT/DB, or @/DB?host=DIR&port=P for a socket directory.
std::string database_url(const Database& d);
/// pg_dump -Fc of the database, as its role (its password in PGPASSWORD, never in argv).
Status dump_database(const Database& d, const std::string& file);
/// A dump restored into a new database beside `d` (owned by d's role; objects too).
Result<Database> restore_beside(const Database& d, const std::string& file);
/// Drop such a copy.
Status drop_copy(const Database& copy);
/// Swap `fresh` in under d's name (both renames in one transaction); the old database stays,
/// renamed: its name is returned, for swap_back, or drop_copy once all went well.
Result<std::string> swap_in(const Database& d, const Database& fresh);
/// Undo swap_in: the old database under d's name again, the restored one dropped.
Status swap_back(const Database& d, const std::string& old_name);
/// Per table ("schema.table"): row count and an md5 of the rows in order.
Result<std::vector<std::pair<std::string, std::string>>> table_sums(const Database& d);
/// table_sums of what a dump holds (restored beside, summed, dropped): what a restore of it
/// must give, whatever the live database did meanwhile.
Result<std::vector<std::pair<std::string, std::string>>> dump_sums(const Database& d,
                                                                   const std::string& file);

}  // namespace lb::instance
