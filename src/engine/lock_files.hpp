// The sha256 and size of each file a lock records, with as little transfer as possible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/context.hpp"
#include "engine/fetch.hpp"
#include "engine/pipeline.hpp"
#include "util/result.hpp"

namespace lb::engine {

/// What a lock says of one file.
struct LockedDigest {
  std::string sha256;
  uint64_t size = 0;
};

/// The sha256 and size of every dist's file (indexed like `dists`; d.sha256 is set too):
///  - a file already in the store: from the store;
///  - a remote file whose index page gives its sha256 (and that satisfies any --hash pins of
///    its project): that hash, and its size from the index (PEP 700) or, all at once, from
///    HEAD requests' Content-Length; nothing is downloaded (an install from the lock verifies
///    both against the bytes it downloads);
///  - any other (find-links directories and pages without hashes, direct URLs, a size no HEAD
///    answered): fetched into the store (local files are read) and hashed, in parallel on the
///    step executor, and checked against --hash pins.
/// The first failure is returned as it is (it names the file and what to do).
Result<std::vector<LockedDigest>> lock_digests(Context& ctx, Fetcher& fetcher,
                                               std::vector<Planned>& dists);

}  // namespace lb::engine
