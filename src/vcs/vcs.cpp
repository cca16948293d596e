// What git and bzr share: the mirror's place and lock, a clone renamed into place, running the
// tools and reporting their failures, and the exported tree made reproducible.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "util/cancel.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"
#include "vcs/vcs.hpp"
#include "vcs/vcs_internal.hpp"

namespace lb::vcs {
namespace {

std::string repo_hash(const Url& url) {
  return sha256_hex(url.repo).substr(0, 32);
}

std::string display_command(const Command& cmd) {
  std::string out;
  for (const auto& arg : cmd.argv) {
    std::string a = redact_url(arg);
    bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?[]{}()<>|&;") == std::string::npos;
    out += (out.empty() ? "" : " ") + (plain ? a : "'" + replace_all(a, "'", "'\\''") + "'");
  }
  return out;
}

/// The last `n` non-empty lines of `text`, each indented.
std::string last_lines(std::string_view text, size_t n) {
  std::vector<std::string> lines;
  for (auto& line : split(text, '\n')) {
    std::string_view t = trim(line);
    if (!t.empty()) lines.emplace_back(t);
  }
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
    out += "\n    " + redact_url(lines[i]);
  return out;
}

/// Files 0644 or 0755 (by their owner's x bit), directories 0755, and every entry's mtime
/// `mtime` (links themselves, not their targets), bottom-up.
Status normalise_tree(const std::string& path, int64_t mtime) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return make_error("cannot stat " + path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    LB_ASSIGN(auto names, fs::list_dir(path));
    for (const auto& name : names) LB_TRY(normalise_tree(fs::join_path(path, name), mtime));
    if (::chmod(path.c_str(), 0755) != 0)
      return make_error("cannot chmod " + path + ": " + std::strerror(errno));
  } else if (S_ISREG(st.st_mode)) {
    if (::chmod(path.c_str(), (st.st_mode & S_IXUSR) ? 0755 : 0644) != 0)
      return make_error("cannot chmod " + path + ": " + std::strerror(errno));
  }
  const struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
  if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return make_error("cannot set the mtime of " + path + ": " + std::strerror(errno));
  return {};
}

Status check_cache_dir(const Url& url, const Options& opt) {
  if (opt.cache_dir.empty())
    return make_error(redact_url(url.text) + ": no cache directory for the VCS mirror",
                      "set a cache directory");
  if (starts_with(url.repo, "-"))
    return make_error("VCS URL " + quoted(redact_url(url.text)) +
                      ": the repository starts "
                      "with '-'");
  return {};
}

Result<fs::FileLock> lock_mirror(const Url& url, const Options& opt, bool exclusive) {
  std::string lock = lock_path(url, opt.cache_dir);
  LB_TRY(fs::create_dirs(fs::dirname(lock)));
  auto on_wait = [&] {
    if (opt.on_wait) opt.on_wait();
  };
  return exclusive ? fs::FileLock::acquire_or_wait(lock, on_wait)
                   : fs::FileLock::acquire_shared_or_wait(lock, on_wait);
}

/// Clone into <mirror>.tmp-<hex>/m and rename that to <mirror>: a killed clone leaves only the
/// temp directory, which the next clone removes.
Status clone_into_place(const Url& url, const Options& opt, const std::string& mirror) {
  for (const auto& leftover : fs::temp_siblings_of(mirror)) fs::remove_if_abandoned(leftover);
  LB_TRY(fs::create_dirs(fs::dirname(mirror)));
  LB_ASSIGN(fs::OwnedDir work, fs::OwnedDir::create(mirror));
  std::string target = fs::join_path(work.path(), "m");
  Status cloned = url.kind == Kind::git ? git_clone(url, opt, target) : bzr_clone(url, opt, target);
  if (cloned.ok()) cloned = fs::rename_path(target, mirror);
  (void)fs::remove_all(work.path());
  return cloned;
}

bool valid_commit_id(const Url& url, std::string_view id) {
  if (url.kind == Kind::git) {
    if (id.size() != 40 && id.size() != 64) return false;
    for (char c : id)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
  }
  if (id.empty() || id.front() == '-') return false;
  for (char c : id)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string mirror_dir(const Url& url, const std::string& cache_dir) {
  return fs::join_path(fs::join_path(fs::join_path(cache_dir, "vcs"), to_string(url.kind)),
                       repo_hash(url));
}

std::string lock_path(const Url& url, const std::string& cache_dir) {
  return fs::join_path(fs::join_path(cache_dir, "locks"), "vcs-" + repo_hash(url));
}

std::string reach_hint(const Url& url, Mirror mirror) {
  std::string hint = "check that " + redact_url(url.repo) +
                     " exists and can be reached (network, credentials), then run again";
  if (mirror == Mirror::present) hint += "; an offline run uses the mirror in the cache as it is";
  return hint;
}

Result<ProcessResult> run_command(const Url& url, const Options& opt, const Command& cmd) {
  ProcessOptions popt;
  popt.env = cmd.env;
  popt.unset_env = cmd.unset_env;
  popt.timeout = opt.timeout;
  popt.own_process_group = true;  // a timeout or Ctrl-C stops ssh and git-remote-* too
  auto run = run_process(cmd.argv, popt);
  if (!run.ok()) {
    const std::string& tool = cmd.argv.front();
    return make_error(redact_url(url.text) + ": " + run.error().message,
                      "install " + tool + " (Debian: apt-get install " + tool + ")");
  }
  if (run->timed_out)
    return make_error(redact_url(url.text) + ": `" + display_command(cmd) + "` took longer than " +
                          std::to_string(opt.timeout.count()) + " s and was stopped" +
                          last_lines(run->err, 5),
                      "check the network and the repository's size; the time limit is per "
                      "command");
  if (cancel::cancelled())
    return make_error(redact_url(url.text) + ": `" + display_command(cmd) + "` was interrupted");
  return run;
}

Error command_error(const Url& url, const Command& cmd, const ProcessResult& result,
                    std::string hint) {
  std::string stderr_tail = last_lines(result.err, 5);
  if (stderr_tail.empty()) stderr_tail = last_lines(result.out, 5);
  return make_error(redact_url(url.text) + ": `" + display_command(cmd) + "` failed (exit " +
                        std::to_string(result.exit_code) + ")" + stderr_tail,
                    std::move(hint));
}

Result<ProcessResult> run_checked(const Url& url, const Options& opt, const Command& cmd,
                                  std::string hint) {
  LB_ASSIGN(ProcessResult result, run_command(url, opt, cmd));
  if (result.exit_code != 0) return command_error(url, cmd, result, std::move(hint));
  return result;
}

Result<Revision> resolve(const Url& url, const Options& opt) {
  LB_TRY(check_cache_dir(url, opt));
  LB_ASSIGN(fs::FileLock lock, lock_mirror(url, opt, /*exclusive=*/true));
  lock.touch();  // the mirror's last use
  std::string mirror = mirror_dir(url, opt.cache_dir);
  bool cloned = false;
  if (!fs::is_dir(mirror)) {
    if (opt.offline)
      return make_error(redact_url(url.text) + ": no mirror of " + redact_url(url.repo) +
                            " in the cache, and the run is offline",
                        "run once online to clone it");
    LB_TRY(clone_into_place(url, opt, mirror));
    cloned = true;
  }
  return url.kind == Kind::git ? git_resolve(url, opt, mirror, cloned)
                               : bzr_resolve(url, opt, mirror, cloned);
}

Status export_tree(const Url& url, const Revision& rev, const std::string& dest_path,
                   const Options& opt) {
  LB_TRY(check_cache_dir(url, opt));
  if (!valid_commit_id(url, rev.commit_id))
    return make_error(redact_url(url.text) + ": " + quoted(rev.commit_id) + " is not a " +
                      (url.kind == Kind::git ? "full git commit id" : "bzr revision id"));
  std::string dest = fs::absolute(dest_path);
  if (fs::stat_path(dest).exists)
    return make_error(
        "cannot export " + redact_url(url.text) + " to " + dest + ": it exists already",
        "export into a new directory");
  LB_ASSIGN(fs::FileLock lock, lock_mirror(url, opt, /*exclusive=*/false));
  std::string mirror = mirror_dir(url, opt.cache_dir);
  if (!fs::is_dir(mirror))
    return make_error(redact_url(url.text) + ": no mirror of " + redact_url(url.repo) +
                          " in the cache to export from",
                      "resolve the URL first (run once online)");
  LB_TRY(fs::create_dirs(fs::dirname(dest)));
  LB_ASSIGN(fs::OwnedDir work, fs::OwnedDir::create(dest));
  Revision r = rev;
  auto tree = url.kind == Kind::git ? git_export(url, r, mirror, work.path(), opt)
                                    : bzr_export(url, r, mirror, work.path(), opt);
  Status done = tree.ok() ? normalise_tree(*tree, r.commit_time) : Status(tree.error());
  if (done.ok()) done = fs::rename_path(*tree, dest);
  (void)fs::remove_all(work.path());
  return done;
}

}  // namespace lb::vcs
