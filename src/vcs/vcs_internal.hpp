// Private to vcs/: running git and brz with one way of reporting failures, and the two
// backends behind resolve() and export_tree().
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/process.hpp"
#include "util/result.hpp"
#include "vcs/vcs.hpp"

namespace lb::vcs {

/// The URL with any password replaced by "****", for messages.
std::string redact_url(std::string_view url);

/// The brz revision spec for a URL's rev (see resolve() in vcs.hpp); empty when brz would
/// read it as something other than a revision of this branch ("branch:", "ancestor:" ...).
std::string bzr_revspec(std::string_view rev);

/// One git/brz command for `url`.
struct Command {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to the inherited environment
  std::vector<std::string> unset_env;
};

/// Run `cmd` bounded by opt.timeout. An error when it cannot start, times out or is
/// interrupted; otherwise the result, whatever the exit code.
Result<ProcessResult> run_command(const Url& url, const Options& opt, const Command& cmd);
/// The error for a command that exited non-zero: names the URL, the command and the last lines
/// of its stderr; `hint` says what to do.
Error command_error(const Url& url, const Command& cmd, const ProcessResult& result,
                    std::string hint);
/// run_command, and command_error when the exit code is not 0.
Result<ProcessResult> run_checked(const Url& url, const Options& opt, const Command& cmd,
                                  std::string hint);

/// Whether a mirror of the repository is in the cache already.
enum class Mirror { absent, present };
/// The hint for a clone (absent) or fetch (present) that failed.
std::string reach_hint(const Url& url, Mirror mirror);

/// The mirror of `url` at `mirror`, whose lock the caller holds exclusively. `cloned`: the
/// mirror was made by this call (so it is as fresh as a fetch).
Result<Revision> git_resolve(const Url& url, const Options& opt, const std::string& mirror,
                             bool cloned);
Result<Revision> bzr_resolve(const Url& url, const Options& opt, const std::string& mirror,
                             bool cloned);
/// Clone `url` into `target` (which does not exist).
Status git_clone(const Url& url, const Options& opt, const std::string& target);
Status bzr_clone(const Url& url, const Options& opt, const std::string& target);
/// Write the tree of `rev` (url.subdirectory of it when set) under `work` (an empty temp
/// directory beside the destination) and return the directory to be renamed into place.
/// `rev.commit_time` is filled in when it was 0.
Result<std::string> git_export(const Url& url, Revision& rev, const std::string& mirror,
                               const std::string& work, const Options& opt);
Result<std::string> bzr_export(const Url& url, Revision& rev, const std::string& mirror,
                               const std::string& work, const Options& opt);

}  // namespace lb::vcs
