// What a run is asked to do: the options env, plan and lock share, as the command layer
// parsed them (cli/options.hpp) or another caller (an instance) sets them.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lb::engine {

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
  bool no_compile = false;  ///< --no-compile: no bytecode in the env (pip's option)
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

}  // namespace lb::engine
