// The remote cache of a run (remote/layer.hpp): which index entries are shared, the keys to
// sign and check them with, and the counters the run reports.
//
// Shared index keys (their values are documented by their owners): "build/" (a wheel built
// from source: the wheel blob), "buildreq/" and "buildmeta/" (what a backend's hooks said:
// no blobs), "ac/" (an unpacked wheel: every file's blob) and "bytecode/" (a wheel's compiled
// bytecode: the pyc blobs). Everything else (index pages, env and lock references, local
// source stat caches) stays on the machine. A build env is an env of wheels, so its
// unpacked files and bytecode come from the remote like any env's.
//
// Index key "remote-stats" (format "lavabuild.remote-stats.v1"): the counters summed over
// every run that used a remote, for `cache stats`: one line
// "lavabuild.remote-stats.v1 <hits> <misses> <uploaded bytes> <downloaded bytes> <errors>".
#pragma once

#include <memory>
#include <string>

#include "engine/context.hpp"
#include "remote/layer.hpp"

namespace lb::engine {

inline constexpr const char* kRemoteStatsKey = "remote-stats";
inline constexpr const char* kRemoteStatsFormat = "lavabuild.remote-stats.v1";

/// What the engine shares (see above).
remote::Sharing engine_sharing();

/// With ctx.opt.remote.cache set: read the keys (an error names a bad key file), open the
/// remote (a remote that cannot be reached is a warning, and the run goes on without it) and
/// put it behind ctx.store; ctx.remote_stats counts what happens.
Status attach_remote(Context& ctx);

/// Add this run's counters to the store's "remote-stats" entry (deferred with the run's
/// other index writes).
void record_remote_stats(Context& ctx);

/// The summed counters of the store ("remote-stats"); all zero when none were recorded.
struct RemoteTotals {
  uint64_t hits = 0, misses = 0, uploaded_bytes = 0, downloaded_bytes = 0, errors = 0;
};
RemoteTotals read_remote_totals(store::Store& s);

}  // namespace lb::engine

namespace lb::engine {

/// `cache push ENV`: publish every shared entry the env at `env_dir` was built from (its
/// unpacked wheels, bytecode, and the builds of the wheels it was built from). Returns the
/// number of entries published; an error when the remote is not writable or the env is
/// unknown to this store.
Result<uint64_t> push_env_entries(Context& ctx, const std::string& env_dir);

}  // namespace lb::engine
