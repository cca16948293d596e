// git: a bare mirror clone, refs resolved with rev-parse, trees written by checkout-index.
#include <cstdlib>
#include <optional>
#include <string>

#include "util/fs.hpp"
#include "util/strings.hpp"
#include "vcs/vcs.hpp"
#include "vcs/vcs_internal.hpp"

namespace lb::vcs {
namespace {

/// How a git command may see configuration (see vcs.hpp).
enum class Config { user, none };

/// `git -c ... --git-dir=<mirror> <args>`; `mirror` empty for clone.
Command git(const std::string& mirror, std::vector<std::string> args, Config config) {
  Command cmd;
  cmd.argv = {"git", "-c", "core.hooksPath=/dev/null", "-c", "gc.autoDetach=false"};
  if (!mirror.empty()) cmd.argv.push_back("--git-dir=" + mirror);
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.env = {{"GIT_TERMINAL_PROMPT", "0"}, {"GIT_CONFIG_NOSYSTEM", "1"}};
  if (config == Config::none) cmd.env["GIT_CONFIG_GLOBAL"] = "/dev/null";
  // `git rev-parse --local-env-vars`: what could point git at another repository.
  cmd.unset_env = {"GIT_ALTERNATE_OBJECT_DIRECTORIES",
                   "GIT_CONFIG",
                   "GIT_CONFIG_PARAMETERS",
                   "GIT_CONFIG_COUNT",
                   "GIT_OBJECT_DIRECTORY",
                   "GIT_DIR",
                   "GIT_WORK_TREE",
                   "GIT_IMPLICIT_WORK_TREE",
                   "GIT_GRAFT_FILE",
                   "GIT_INDEX_FILE",
                   "GIT_NO_REPLACE_OBJECTS",
                   "GIT_REPLACE_REF_BASE",
                   "GIT_PREFIX",
                   "GIT_INTERNAL_SUPER_PREFIX",
                   "GIT_SHALLOW_FILE",
                   "GIT_COMMON_DIR",
                   "GIT_NAMESPACE"};
  return cmd;
}

/// The commit `spec` names in the mirror, or nullopt (with git's complaint in `why`).
Result<std::optional<std::string>> lookup(const Url& url, const Options& opt,
                                          const std::string& mirror, const std::string& spec,
                                          std::string& why) {
  Command cmd =
      git(mirror, {"rev-parse", "--verify", "--quiet", "--end-of-options", spec + "^{commit}"},
          Config::none);
  LB_ASSIGN(ProcessResult r, run_command(url, opt, cmd));
  std::string sha(trim(r.out));
  if (r.exit_code == 0 && sha.size() >= 40) return std::optional<std::string>(sha);
  if (r.exit_code != 0 && r.exit_code != 1 && r.exit_code != 128)
    return command_error(url, cmd, r, "the mirror may be damaged: remove it and run again");
  why = std::string(trim(r.err));
  return std::optional<std::string>();
}

/// A branch first, as pip prefers it over a tag of the same name; then anything rev-parse
/// understands (tag, short sha, refs/pull/1/head).
Result<std::optional<std::string>> resolve_rev(const Url& url, const Options& opt,
                                               const std::string& mirror, std::string& why) {
  if (url.rev.empty()) return lookup(url, opt, mirror, "HEAD", why);
  if (!url.rev_is_immutable()) {
    LB_ASSIGN(auto branch, lookup(url, opt, mirror, "refs/heads/" + url.rev, why));
    if (branch) return branch;
  }
  return lookup(url, opt, mirror, url.rev, why);
}

Status fetch(const Url& url, const Options& opt, const std::string& mirror) {
  // The mirror's refspec (+refs/*:refs/*) and prune: deleted branches and tags go too.
  Command cmd =
      git(mirror, {"fetch", "--quiet", "--prune", "--no-write-fetch-head", "origin"}, Config::user);
  LB_TRY(run_checked(url, opt, cmd, reach_hint(url, Mirror::present)));
  return {};
}

/// Point the mirror's HEAD at the remote's default branch (it may have been renamed since the
/// clone; fetch does not follow it in git 2.39).
Status follow_default_branch(const Url& url, const Options& opt, const std::string& mirror) {
  Command ls = git(mirror, {"ls-remote", "--symref", "origin", "HEAD"}, Config::user);
  LB_ASSIGN(ProcessResult r, run_checked(url, opt, ls, reach_hint(url, Mirror::present)));
  for (const auto& line : split(r.out, '\n')) {
    if (!starts_with(line, "ref: refs/heads/")) continue;
    std::string target = line.substr(5, line.find('\t') - 5);
    auto head = fs::read_file(fs::join_path(mirror, "HEAD"));
    if (head.ok() && trim(*head) == "ref: " + target) return {};
    Command set = git(mirror, {"symbolic-ref", "HEAD", target}, Config::none);
    LB_TRY(run_checked(url, opt, set, "the mirror may be damaged: remove it and run again"));
    return {};
  }
  return {};
}

Result<int64_t> commit_time(const Url& url, const Options& opt, const std::string& mirror,
                            const std::string& sha) {
  Command cmd = git(mirror, {"show", "-s", "--format=%ct", sha}, Config::none);
  LB_ASSIGN(ProcessResult r,
            run_checked(url, opt, cmd, "resolve the URL again, online, to fetch the commit"));
  return int64_t(std::strtoll(std::string(trim(r.out)).c_str(), nullptr, 10));
}

}  // namespace

Status git_clone(const Url& url, const Options& opt, const std::string& target) {
  Command cmd = git("", {"clone", "--quiet", "--mirror", "--template=", "--", url.repo, target},
                    Config::user);
  LB_TRY(run_checked(url, opt, cmd, reach_hint(url, Mirror::absent)));
  return {};
}

Result<Revision> git_resolve(const Url& url, const Options& opt, const std::string& mirror,
                             bool cloned) {
  Revision rev;
  rev.fetched = cloned;
  std::string why;
  std::optional<std::string> sha;
  if (cloned || (url.rev_is_immutable() || opt.offline)) {
    LB_ASSIGN(sha, resolve_rev(url, opt, mirror, why));
  }
  if (!sha && !cloned && !opt.offline) {
    if (url.rev.empty()) LB_TRY(follow_default_branch(url, opt, mirror));
    LB_TRY(fetch(url, opt, mirror));
    rev.fetched = true;
    LB_ASSIGN(sha, resolve_rev(url, opt, mirror, why));
  }
  if (!sha) {
    std::string what = url.rev.empty() ? "the default branch (HEAD)" : quoted(url.rev);
    if (opt.offline)
      return make_error(redact_url(url.text) + ": the mirror in the cache has no " + what +
                            " and the run is offline",
                        "run once online to fetch it");
    return make_error(redact_url(url.text) + ": no branch, tag or commit " + what + " in " +
                          redact_url(url.repo) + (why.empty() ? "" : " (" + why + ")"),
                      "check the revision after '@'");
  }
  rev.commit_id = *sha;
  LB_ASSIGN(rev.commit_time, commit_time(url, opt, mirror, rev.commit_id));
  return rev;
}

Result<std::string> git_export(const Url& url, Revision& rev, const std::string& mirror,
                               const std::string& work, const Options& opt) {
  if (rev.commit_time == 0) {
    LB_ASSIGN(rev.commit_time, commit_time(url, opt, mirror, rev.commit_id));
  }
  std::string treeish = rev.commit_id + ":" + url.subdirectory;
  if (!url.subdirectory.empty()) {
    Command type = git(mirror, {"cat-file", "-t", treeish}, Config::none);
    LB_ASSIGN(ProcessResult r, run_command(url, opt, type));
    if (r.exit_code != 0 || trim(r.out) != "tree")
      return make_error(redact_url(url.text) + ": commit " + rev.commit_id + " has no directory " +
                            quoted(url.subdirectory),
                        "check #subdirectory=");
  }
  std::string index = fs::join_path(work, "index");
  std::string tree = fs::join_path(work, "tree");
  LB_TRY(fs::create_dirs(tree));
  Command read = git(mirror, {"read-tree", "--end-of-options", treeish}, Config::none);
  read.env["GIT_INDEX_FILE"] = index;
  LB_TRY(run_checked(url, opt, read, "resolve the URL again, online, to fetch the commit"));
  Command checkout = git(mirror, {"--work-tree=" + tree, "checkout-index", "--all"}, Config::none);
  checkout.env["GIT_INDEX_FILE"] = index;
  LB_TRY(run_checked(url, opt, checkout, "check the free space in the destination"));
  return tree;
}

}  // namespace lb::vcs
