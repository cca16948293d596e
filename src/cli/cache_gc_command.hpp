// `lavabuild cache gc`: the command's output around engine/cache_gc.hpp.
#pragma once

#include "engine/options.hpp"
#include "store/store.hpp"

namespace lb::cli {

/// Run gc on `store` (opened with StoreUse::gc) and print what went (or would go); returns
/// the exit status.
int cmd_cache_gc(store::Store& store, const engine::Options& o);

}  // namespace lb::cli
