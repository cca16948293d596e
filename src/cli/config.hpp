// Config files: defaults for the options, in TOML (toml++, private to config.cpp).
//
// Which files, lowest precedence first (--no-config / LAVABUILD_NO_CONFIG=1: none;
// --config FILE / LAVABUILD_CONFIG=FILE: that one file instead of both):
//   1. the user's:    $XDG_CONFIG_HOME/lavabuild/config.toml (default ~/.config/lavabuild/...)
//   2. the project's: lavabuild.toml beside the first requirements file (env, plan, lock)
// A key set in a later file replaces the earlier value (lists too). The whole order, from
// strongest: command line > LAVABUILD_* variables > requirement file options (-i, ...) for
// index-url > project file > user file > PIP_* variables > defaults. pip's variables rank
// below lavabuild's own file as uv ignores them under its uv.toml: they are set for pip.
//
// Format version 1 (the files carry no version field: later versions add keys, and a key whose
// meaning changes gets a new name). Keys (all optional; paths relative to the file that
// names them):
//   index-url = "URL"            extra-index-url = ["URL", ...]   find-links = ["DIR|URL", ...]
//   no-index = bool              pre = bool                       cache-dir = "DIR"
//   link-mode = "hardlink|clone|copy"   python = "PATH|NAME|VERSION"
//   jobs = 1..1024               timeout = seconds (> 0)
//   recipes = "DIR"              build-timeout = seconds (> 0)   (source builds)
//   [remote]  the shared remote cache (engine/remote.hpp), as the --remote-* options
//   cache = "URL"  trusted-keys = ["name:base64", ...]  signing-key = "FILE"  read-only = bool
//   timeout = seconds  headers = {Name = "value", ...}  ca = "FILE"
// A key this version does not know, or a value of the wrong type, is an error naming the file,
// line and key (with the nearest known key), never ignored.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/options.hpp"
#include "util/result.hpp"

namespace lb::cli {

/// What one config file sets; unset keys are empty optionals.
struct ConfigFile {
  std::optional<std::string> index_url;
  std::optional<std::vector<std::string>> extra_index_urls;
  std::optional<std::vector<std::string>> find_links;  ///< local paths made absolute
  std::optional<bool> no_index, pre;
  std::optional<std::string> cache_dir;  ///< absolute
  std::optional<std::string> link_mode, python;
  std::optional<int> jobs;
  std::optional<long> timeout;
  std::optional<std::string> recipes;  ///< absolute
  std::optional<long> build_timeout;
  engine::RemoteOptions remote;
  std::vector<std::string> files;  ///< the files read, lowest precedence first
};

/// Parse one config file's text; `path` names it in messages and anchors relative paths.
Result<ConfigFile> parse_config(std::string_view text, const std::string& path);

/// `over`'s keys replace `base`'s (a later, stronger file over an earlier one).
void merge_config(ConfigFile& base, const ConfigFile& over);

/// $XDG_CONFIG_HOME/lavabuild/config.toml, else ~/.config/lavabuild/config.toml.
std::string user_config_path();

/// The config files for one run, merged: `explicit_file` alone when non-empty (it must exist),
/// else the user's file and `project_dir`/lavabuild.toml (when `project_dir` is non-empty),
/// each only when it exists. An unreadable or invalid file is an error.
Result<ConfigFile> load_config(const std::string& explicit_file, const std::string& project_dir);

/// The keys a config file may set ("index-url", ..., "remote.cache", ...), for --help.
const std::vector<std::string>& config_keys();

}  // namespace lb::cli
