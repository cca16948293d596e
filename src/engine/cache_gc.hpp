// `lavabuild cache gc`: remove what no live env, lock or other root references, least
// recently used roots first when a size is asked for; and `cache stats`' byte counts.
//
// Roots are index entries (store/store.hpp lists every prefix):
//   "env/<abs env path>" -> {"digest": "<manifest digest>", "unpack": [unpack keys],
//                            "wheels": [wheel sha256], "bytecode": [bytecode keys],
//                            "used": <unix s>}   (engine/pipeline.hpp)
//       written by `lavabuild env`; live while the directory exists and the digest on line 3
//       of its .lavabuild/stamp equals "digest". Last used: the later of "used" and the mtime
//       of locks/env-<sha256(path)[:32]> (touched by every run on the env, no-op runs too).
//   "lock/<abs lock path>" -> {"format": "lavabuild.lock-root.v1", "wheels": [sha256],
//                              "used": <unix s>}
//       written by `lavabuild lock -o FILE`; live while FILE exists and names every sha256.
//   "root/<name>" -> {"format": "lavabuild.root.v1", "wheels": [sha256], "unpack": [unpack
//                     keys], "blobs": ["<sha256>" or "<sha256>.x"], "used": <unix s>}
//       the hook for later components (instances, generations): always live; its writer
//       erases it when the thing it stands for is gone. Missing fields mean none.
// A live root keeps: its wheel blobs and the dl/, meta/, metaurl/ entries of those wheels;
// its ac/<unpack key> entries and every member blob they name; for an env, every blob one
// of its files is a hard link to (the shared per-env files: manifest, RECORD, scripts).
// its bytecode/<key> entries (the pyc blobs they name are among the linked ones).
// Everything else is garbage: blobs, ac/ dl/ meta/ metaurl/ page/ pyc/ bytecode/ entries, dead
// roots, partial downloads (partial/), lock files no process holds (locks/), dead runs' tmp/.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/output.hpp"
#include "lock/pylock.hpp"
#include "store/store.hpp"
#include "util/result.hpp"

namespace lb::engine {

/// Format tags of the lock/ and root/ values.
inline constexpr const char* kLockRootFormat = "lavabuild.lock-root.v1";
inline constexpr const char* kRootFormat = "lavabuild.root.v1";

/// Record `lock/<lock_path>` for the lock just written (a warning when the index is busy).
void record_lock_root(store::Store& store, const std::string& lock_path, const lock::Lock& lock,
                      Output& out);

// --- the pure part: what to remove, given an inventory (unit-tested) -------------------

struct GcBlob {
  std::string name;  ///< "<sha256>" or "<sha256>.x"
  uint64_t size = 0;
  uint64_t nlink = 1;  ///< > 1: envs still hold the bytes after the blob is removed
};

struct GcRoot {
  std::string key;  ///< the index key, e.g. "env//srv/app/env"
  int64_t last_used = 0;
  std::set<std::string> blobs;    ///< blob names it keeps
  std::set<std::string> entries;  ///< index keys it keeps (not its own key)
};

struct GcInventory {
  std::vector<GcBlob> blobs;
  std::vector<std::string> entries;  ///< collectable index keys (known prefixes, roots too)
  std::vector<GcRoot> live;          ///< live roots
  uint64_t other_bytes = 0;          ///< bytes that stay whatever gc does (index, journal, probes)
};

struct GcPlan {
  std::vector<std::string> blobs;    ///< names to remove
  std::vector<std::string> entries;  ///< index keys to remove
  std::vector<std::string> evicted;  ///< live root keys dropped for --max-size, oldest first
  uint64_t blob_bytes = 0;           ///< bytes of the removed blobs
  uint64_t freed_bytes = 0;          ///< of those, bytes no env holds (nlink == 1)
  uint64_t size_after = 0;           ///< blob bytes + other_bytes left
};

/// Garbage first; then, while the kept blobs and other_bytes exceed `max_size`, evict live
/// roots least recently used first, removing what only they kept.
GcPlan plan_gc(const GcInventory& inv, std::optional<uint64_t> max_size);

// --- the command ---------------------------------------------------------------------------

struct GcOptions {
  std::optional<uint64_t> max_size;
  bool dry_run = false;
};

struct GcReport {
  GcPlan plan;
  uint64_t files = 0, file_bytes = 0;  ///< partial downloads, stale lock files, dead tmp/
  std::vector<std::string> file_paths;
  uint64_t size_before = 0;
  size_t live_roots = 0;
};

/// Collect garbage in `store`, which the caller opened with StoreUse::gc (no run is using
/// it). With dry_run nothing changes.
Result<GcReport> collect_garbage(store::Store& store, const GcOptions& options);

/// Bytes under the cache dir by area: "blobs", "index", "partial", "locks", "tmp",
/// "journal", "interpreters", "other" (every byte on disk, links counted once per name).
std::map<std::string, uint64_t> bytes_by_area(const std::string& cache_dir);

}  // namespace lb::engine
