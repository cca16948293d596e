// The command-line entry point: parses options, runs one command, maps errors to exit codes
// (0 success, 1 a failure the user can fix, 2 a usage error).
#pragma once

namespace lb::cli {

int run(int argc, char** argv);

}  // namespace lb::cli
