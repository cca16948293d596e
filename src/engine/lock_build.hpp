// `lock`: requirements to a PEP 751 pylock.toml for this interpreter, every file with its
// hash and size; re-locking keeps the existing lock's pins unless -U/-P.
#pragma once

#include <string>
#include <vector>

#include "engine/context.hpp"
#include "engine/env_build.hpp"
#include "engine/pipeline.hpp"
#include "util/result.hpp"

namespace lb::engine {

struct LockReport {
  std::string path;  ///< absolute path written, or "-" for stdout
  std::string text;  ///< the lock (the caller prints it for "-")
  std::vector<PackagePin> packages;
  PackageDiff diff;
  bool had_lock = false;  ///< a lock was there before (its changes are worth listing)
};

/// Resolve and write ctx.opt.output (atomically), or only return the text for "-".
Result<LockReport> build_lock(Context& ctx, Pipeline& pipe);

/// --locked: the requirements must be satisfied by the lock, and the lock must be complete
/// (every dependency it names is in it).
Status check_locked(Context& ctx, const std::string& lock_path);

}  // namespace lb::engine
