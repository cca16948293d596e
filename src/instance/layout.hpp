// Where instances live, and how their layout is versioned.
//
// Layout (format "lavabuild-instances 1", written to ROOT/LAYOUT on first use):
//   ROOT/LAYOUT                          the line "lavabuild-instances 1"
//   ROOT/instances/NAME/
//     etc/instance.toml                  how the instance was created (see instance.hpp)
//     etc/environment                    systemd EnvironmentFile: what processes and hooks get
//     etc/recipe.toml                    the recipe the next generation is built with
//     etc/systemd/lavabuild-NAME-PROCESS.service   one unit per process (systemd.hpp)
//     generations/N/                     N = 1, 2, ...: one build of the instance
//       env/  pylock.toml  requirements.txt (when built from requirements)  recipe.toml
//       generation.json                  written last: a generation without it is unfinished
//     current -> generations/N           the live generation (a new symlink renamed over it)
//     var/  run/  log/                   data, pid and state files, process logs
//   ROOT/backups/NAME/<UTC timestamp>/
// A ROOT written by a newer lavabuild (another LAYOUT line) is refused; none is upgraded yet
// (there is one version).
#pragma once

#include <string>
#include <vector>

#include "util/result.hpp"

namespace lb::instance {

inline constexpr const char* kLayoutFormat = "lavabuild-instances 1";

struct Paths {
  std::string root, dir, etc, var, run, log, generations, current;
  std::string generation(int n) const { return generations + "/" + std::to_string(n); }
  std::string env_file() const { return etc + "/environment"; }
  std::string instance_toml() const { return etc + "/instance.toml"; }
  std::string recipe() const { return etc + "/recipe.toml"; }
};

/// Instance names: 1-29 of [a-z0-9-], starting with a letter or digit (they become user,
/// unit and database names).
Status check_name(const std::string& name);
Paths paths_of(const std::string& root, const std::string& name);
/// Make ROOT/instances and ROOT/backups and write ROOT/LAYOUT, or check the LAYOUT there.
Status ensure_root(const std::string& root);
/// Check ROOT/LAYOUT when ROOT exists (read-only commands never create it).
Status check_root(const std::string& root);
/// Names of the instances under ROOT, sorted.
std::vector<std::string> list_instances(const std::string& root);
/// Finished generations (those with generation.json), ascending.
std::vector<int> list_generations(const Paths& p);
/// The generation `current` points at; an error when there is none.
Result<int> live_generation(const Paths& p);
/// Point `current` at generation N: a new symlink under a temp name renamed over the old one.
Status switch_current(const Paths& p, int n);
/// Remove generation dirs a killed run left without generation.json (not the live one).
void remove_unfinished_generations(const Paths& p);

}  // namespace lb::instance
