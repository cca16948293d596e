// `lavabuild cache verify [--repair]`: re-hash every blob, check that every index entry
// which names blobs (ac/ unpack outputs, dl/ downloads) names intact ones, and with
// --repair remove the corrupt blobs and every entry that depends on them, so the next run
// fetches or unpacks again instead of linking damaged files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "util/result.hpp"

namespace lb::engine {

struct CacheProblems {
  std::vector<std::string> bad_files;     ///< blob paths (or stray files) that fail
  std::vector<std::string> bad_entries;   ///< index keys naming a missing or bad blob
  std::vector<std::string> entry_detail;  ///< why, per bad entry
  bool empty() const { return bad_files.empty() && bad_entries.empty(); }
};

/// Find every problem; nothing is changed.
Result<CacheProblems> check_cache(store::Store& store);
/// Remove the bad files and entries found by check_cache.
Status repair_cache(store::Store& store, const CacheProblems& problems);

}  // namespace lb::engine
