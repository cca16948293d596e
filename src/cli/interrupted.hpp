// What a run stopped by SIGINT/SIGTERM says before it exits (util/cancel.hpp).
#pragma once

#include <cstddef>
#include <string>

#include "cli/output.hpp"

namespace lb::cli {

/// What an interrupted run kept in the store.
struct Kept {
  size_t downloaded = 0;  ///< distribution files downloaded into the store
  size_t unpacked = 0;    ///< unpack outputs recorded in the store
};

/// Print "interrupted: kept N downloaded wheels and M unpacked in the store; TARGET left as
/// it was" (even with -q; the target may be empty: nothing to say about it) and return the exit
/// status for the signal (130 for SIGINT, 143 for SIGTERM). The caller has already removed its temp
/// directories and flushed the index.
int report_interrupted(Reporter& out, const Kept& kept, const std::string& target);

}  // namespace lb::cli
