// `env`: requirements (or a lock) to a working venv at a path, by the step graph.
//
// The run: lock the target; finish a journalled change a killed run left (journal.hpp);
// remove leftovers of killed runs; no-op when the stamp matches and nothing drifted
// (env_state.hpp); else resolve and build the graph. A target that is absent, empty, or a
// lavabuild env for another interpreter or path is built whole in a directory beside it and
// renamed (or exchanged) into place. A lavabuild env at the same path, or a venv another tool
// made (taken over, as `uv pip sync` does), is changed in place: only the distributions that
// are new, changed, damaged or to be removed are touched, through a journal.
#pragma once

#include <string>
#include <vector>

#include "engine/context.hpp"
#include "engine/env_state.hpp"
#include "engine/pipeline.hpp"
#include "engine/remote.hpp"
#include "util/result.hpp"

namespace lb::engine {

struct StepRun {
  std::string kind, package;
};

/// One package a run added (from empty), removed (to empty) or changed.
struct PackageChange {
  std::string name, from, to;
};

struct PackageDiff {
  std::vector<PackageChange> added, removed, changed;  ///< each sorted by name
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};

/// `before` and `after`: normalised name -> version.
PackageDiff diff_packages(const std::map<std::string, std::string>& before,
                          const std::map<std::string, std::string>& after);

struct EnvReport {
  std::string env_dir, digest;
  std::vector<PackagePin> packages;
  std::vector<StepRun> executed;
  size_t cache_hits = 0;
  uint64_t downloaded_bytes = 0;
  double seconds = 0;
  PackageDiff diff;
  bool up_to_date = false;
  bool had_env = false;  ///< the target held an env before (its changes are worth listing)
  /// SIGINT/SIGTERM stopped the run (util/cancel.hpp): the target was left as it was, the
  /// temp dirs removed; what was fetched and unpacked is kept in the store.
  bool interrupted = false;
  size_t kept_downloaded = 0, kept_unpacked = 0;
  /// This run's remote cache counters, when a remote cache is configured.
  std::optional<RemoteTotals> remote;
};

/// Build or update the env at ctx.opt.output. Reports progress and narrative lines through
/// ctx.out; the summary is the caller's to render.
Result<EnvReport> build_env(Context& ctx, Pipeline& pipe);

/// `plan`: the step graph `env` would run for ctx.opt.output (default .venv), with the
/// distributions its steps refer to. Nothing is built.
struct Plan {
  Resolved resolved;
  graph::Graph graph;
};
Result<std::unique_ptr<Plan>> plan_env(Context& ctx, Pipeline& pipe);

/// The lock that serialises runs on one target: a lock file in the store, or in a read-only
/// store (nothing there to write) the target's parent directory itself.
Result<fs::FileLock> lock_target(Context& ctx, const std::string& final_dir);

}  // namespace lb::engine
