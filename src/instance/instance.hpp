// Named instances of a Python service: create, upgrade, roll back, collect generations,
// remove; what `list` and `generations` show. Layout in layout.hpp, recipe in recipe.hpp,
// processes in supervisor.hpp / systemd.hpp.
//
// etc/instance.toml (format "lavabuild.instance.v1"):
//   format = "lavabuild.instance.v1"
//   name = "NAME"
//   requirements = "/abs/path/requirements.txt"   what `upgrade` without -r locks again
//   [environment]  KEY = "value"                  --env overrides of the recipe's
// generations/N/generation.json (format "lavabuild.generation.v1"): generation, created
// (ISO 8601 UTC), digest (the env's), packages [{name, version}], requirements.
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

namespace lb::instance {

struct CreateRequest {
  std::string name;
  std::string requirements;  ///< a requirements file or a pylock.toml
  std::string recipe;        ///< empty: no processes, no hooks
  Variables env;             ///< --env KEY=VALUE
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

Result<std::vector<GenerationInfo>> generations(const std::string& root, const std::string& name);
/// The live recipe's process names (empty when it has none).
Result<std::vector<std::string>> process_names(const Paths& p);
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

/// Start, stop or restart processes: with systemd through systemctl, else the supervisor.
Status start(const std::string& root, const std::string& name, const std::string& process);
Status stop(const std::string& root, const std::string& name, const std::string& process);
Status restart(const std::string& root, const std::string& name, const std::string& process);

}  // namespace lb::instance
