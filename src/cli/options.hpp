// Parsing the command line (pip's names where pip has one, LAVABUILD_* environment variables
// as defaults) into engine::Options.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/suggest.hpp"
#include "engine/options.hpp"
#include "util/result.hpp"

namespace lb::cli {

using engine::Options;

/// Parse argv (argv[0] is the program). Usage errors are returned as Error (no arguments at
/// all: the usage); `--help` and `--version` output is returned through `help_text`.
Result<Options> parse_options(int argc, char** argv, std::string& help_text);

/// The default cache directory: $LAVABUILD_CACHE_DIR, $XDG_CACHE_HOME/lavabuild,
/// ~/.cache/lavabuild.
std::string default_cache_dir();

/// "lavabuild X.Y.Z\n", from CMake's project(VERSION) (lavabuild/version.hpp).
std::string version_text();

/// The command `typed` was most likely meant to be ("evn" -> "env"), or "" when none is close.
std::string suggest_command(const std::string& typed);

}  // namespace lb::cli
