// `lavabuild instance ...`: the command's options and output around instance/instance.hpp.
#pragma once

#include "cli/output.hpp"
#include "engine/options.hpp"

namespace lb::cli {

/// Run `instance ACTION`; returns the exit status.
int cmd_instance(const engine::Options& o, Reporter& out);

}  // namespace lb::cli
