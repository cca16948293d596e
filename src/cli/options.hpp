// Command-line options shared by env, plan and lock (pip's names where pip has one), with
// LAVABUILD_* environment variables as defaults.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace lb::cli {

struct Options {
  std::string command;                   ///< env, plan, lock, verify, cache
  std::vector<std::string> inputs;       ///< requirement files, pylock.toml, or (verify) the env
  std::vector<std::string> constraints;  ///< -c: constraint files
  std::string output;                    ///< -o: env dir (env) or lock file (lock)
  std::string python;                    ///< --python
  std::optional<std::string> index_url;
  std::optional<std::string> pip_index_url;  ///< $PIP_INDEX_URL (a requirement file's -i wins)
  std::vector<std::string> extra_index_urls;
  std::vector<std::string> find_links;
  bool no_index = false;
  bool offline = false;
  bool require_hashes = false;
  bool pre = false;
  bool upgrade = false;                       ///< -U: ignore the pins of the existing env/lock
  std::vector<std::string> upgrade_packages;  ///< -P NAME: ignore the pin of NAME only
  bool seed = false;
  bool json = false;
  int verbose = 0;
  int jobs = 0;  ///< 0: number of cores
  std::string cache_dir;
  std::string link_mode = "hardlink";
  std::string locked;           ///< --locked pylock.toml
  std::string format = "text";  ///< plan --format
  std::string cache_action;     ///< cache stats|verify
  long timeout = 0;             ///< --timeout SECONDS (0: $LAVABUILD_HTTP_TIMEOUT or the default)
  bool repair = false;          ///< cache verify --repair
};

/// Parse argv (argv[0] is the program). Usage errors are returned as Error (no arguments at
/// all: the usage); `--help` and `--version` output is returned through `help_text`.
Result<Options> parse_options(int argc, char** argv, std::string& help_text);

/// The default cache directory: $LAVABUILD_CACHE_DIR, $XDG_CACHE_HOME/lavabuild,
/// ~/.cache/lavabuild.
std::string default_cache_dir();

/// "lavabuild X.Y.Z\n", from CMake's project(VERSION) (lavabuild/version.hpp).
std::string version_text();

/// Edits (insert, delete, substitute, swap two adjacent letters) between `a` and `b`.
size_t edit_distance(const std::string& a, const std::string& b);

/// The command `typed` was most likely meant to be ("evn" -> "env"), or "" when none is close.
std::string suggest_command(const std::string& typed);

}  // namespace lb::cli
