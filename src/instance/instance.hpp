// Named instances of a Python service: create, upgrade, roll back, collect generations,
// remove; what `list` and `generations` show. Layout in layout.hpp, recipe in recipe.hpp,
// processes in supervisor.hpp / systemd.hpp.
//
// etc/instance.toml: config.hpp. generations/N/generation.json (format
// "lavabuild.generation.v1"): generation, created (ISO 8601 UTC), digest (the env's),
// packages [{name, version}], requirements.
//
// A backup (ROOT/backups/NAME/<UTC timestamp>/, format "lavabuild.backup.v1" in
// backup.json): pylock.toml, recipe.toml, requirements.txt (when the live generation has
// one), manifest.json (its generation.json), etc.tar.zst, var.tar.zst, var.sums ("SHA256
// SIZE PATH" per file of var/), database.dump (pg_dump -Fc) and tables.sums ("TABLE COUNT
// MD5"), and SHA256SUMS over every other file (sha256sum's format). Written into a temp
// directory renamed into place.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/env_state.hpp"
#include "engine/options.hpp"
#include "engine/output.hpp"
#include "instance/envfile.hpp"
#include "instance/layout.hpp"
#include "instance/supervisor.hpp"
#include "util/fs.hpp"

namespace lb::instance {

struct CreateRequest {
  std::string name;
  std::string requirements;  ///< a requirements file or a pylock.toml
  std::string recipe;        ///< empty: no processes, no hooks
  Variables env;             ///< --env KEY=VALUE
  /// --user: none; "" for a system user lb-NAME (made when missing); else an existing user.
  std::optional<std::string> user;
  std::string database;   ///< --database: "" or "postgresql"
  std::string db_admin;   ///< --db-admin CONNINFO; empty: libpq's variables
  bool run_setup = true;  ///< false for backup --verify's scratch instance
};

struct UpgradeRequest {
  std::string name;
  std::string requirements;  ///< empty: the instance's own (instance.toml)
  bool upgrade = false;      ///< -U
  std::vector<std::string> upgrade_packages;
};

struct GenerationInfo {
  int generation = 0;
  std::string created, digest, requirements;
  std::vector<engine::PackagePin> packages;
};

struct Outcome {
  std::string summary;  ///< one line for the user
  int generation = 0;
};

/// `base`: the options the command line gave (index, cache, interpreter); `out`: progress.
Result<Outcome> create(const std::string& root, const CreateRequest& req,
                       const engine::Options& base, engine::Output& out);
Result<Outcome> upgrade(const std::string& root, const UpgradeRequest& req,
                        const engine::Options& base, engine::Output& out);
Result<Outcome> rollback(const std::string& root, const std::string& name, std::optional<int> to,
                         engine::Output& out);
/// Remove all but the `keep` newest generations (never the live one); the removed ones.
Result<std::vector<int>> collect_generations(const std::string& root, const std::string& name,
                                             int keep);
Status remove(const std::string& root, const std::string& name);

/// Write a backup of the live generation, etc/, var/ and the database; its directory.
Result<std::string> backup(const std::string& root, const std::string& name, engine::Output& out);
/// Check a backup's sums, then make it the instance's content: a new generation from its
/// lock and recipe, var/ and the database replaced, processes restarted. Nothing changes on
/// a failure.
Result<Outcome> restore(const std::string& root, const std::string& name,
                        const std::string& backup_dir, const engine::Options& base,
                        engine::Output& out);
/// Restore a backup into a scratch instance (own database) and compare the env digest,
/// var/ and the tables with what the backup recorded; the scratch instance is removed.
Status verify_backup(const std::string& root, const std::string& name,
                     const std::string& backup_dir, const engine::Options& base,
                     engine::Output& out);

Result<std::vector<GenerationInfo>> generations(const std::string& root, const std::string& name);
/// The live recipe's process names (empty when it has none).
Result<std::vector<std::string>> process_names(const Paths& p);
/// `process` (when not empty) is one of `names`, else an error naming the instance's processes.
Status check_process(const std::vector<std::string>& names, const std::string& name,
                     const std::string& process);
/// An existing instance's paths (an error naming it when there is no such instance).
Result<Paths> existing(const std::string& root, const std::string& name);

struct ListEntry {
  std::string name, digest;
  int generation = 0;
  uint64_t disk_bytes = 0;    ///< every file of the instance, each inode once
  uint64_t shared_bytes = 0;  ///< of those, the bytes other instances link too
  std::vector<ProcessStatus> processes;
};
std::vector<ListEntry> list(const std::string& root);

/// Each process of the live recipe: its state (systemctl show, or the supervisor's files).
std::vector<ProcessStatus> process_status(const Paths& p, const std::string& name);

/// One mutating command at a time per instance (ROOT/instances/.NAME.lock; not re-entrant:
/// the operations above take it themselves, start/stop/restart below do not).
Result<fs::FileLock> lock_instance(const std::string& root, const std::string& name,
                                   engine::Output& out);

/// Start, stop or restart processes: with systemd through systemctl, else the supervisor.
Status start(const std::string& root, const std::string& name, const std::string& process);
Status stop(const std::string& root, const std::string& name, const std::string& process);
Status restart(const std::string& root, const std::string& name, const std::string& process);

}  // namespace lb::instance
