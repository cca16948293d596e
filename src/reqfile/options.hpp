// Internal: splitting a logical line into requirement text and options (pip's
// break_args_options + shlex + optparse, restricted to the options a file may carry).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::reqfile::detail {

enum class OptId {
  index_url,
  extra_index_url,
  no_index,
  find_links,
  no_binary,
  only_binary,
  prefer_binary,
  require_hashes,
  pre,
  trusted_host,
  requirement,
  constraint,
  editable,
  hash,
  config_settings,
  global_option,
  install_option,  // per-requirement
};

/// True for the options that belong to a requirement (--hash, --config-settings, ...).
bool is_per_requirement(OptId id);

/// One option occurrence: its canonical long name ("--index-url") and its value.
struct LineOption {
  OptId id;
  std::string name;
  std::string value;
};

/// A logical line: the requirement text before the first token starting with '-', then
/// the options.
struct SplitLine {
  std::string args;
  std::vector<LineOption> options;
};

/// Split and parse. Long options may be abbreviated to a unique prefix (as optparse allows);
/// `--opt=value`, `--opt value`, `-ovalue`, `-o value`. Errors carry no location.
Result<SplitLine> split_line(std::string_view line);

/// POSIX shell-like word splitting (Python's shlex.split).
Result<std::vector<std::string>> shell_split(std::string_view s);

}  // namespace lb::reqfile::detail
