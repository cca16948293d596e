#include "util/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <set>

#include "util/cancel.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace lb {

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  for (const auto& dir : split(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return "";
}

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& opt) {
  if (argv.empty()) return make_error("run_process: empty command");
  std::string program = find_program(argv[0]);
  if (program.empty()) return make_error("cannot find program '" + argv[0] + "' on PATH");

  // Environment: inherited, minus unset_env, plus env overrides.
  std::vector<std::string> env_storage;
  std::set<std::string> drop(opt.unset_env.begin(), opt.unset_env.end());
  for (const auto& [k, v] : opt.env) drop.insert(k);
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string_view::npos && drop.count(std::string(entry.substr(0, eq)))) continue;
    env_storage.emplace_back(entry);
  }
  for (const auto& [k, v] : opt.env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_storage) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args_storage(argv.begin(), argv.end());
  std::vector<char*> args;
  for (auto& s : args_storage) args.push_back(s.data());
  args.push_back(nullptr);

  int out_pipe[2], err_pipe[2], in_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC) || ::pipe2(in_pipe, O_CLOEXEC))
    return make_error(std::string("cannot create pipe: ") + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  if (!opt.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, opt.cwd.c_str());
  // With a timeout the child leads its own process group, so the whole group can be killed.
  const bool bounded = opt.timeout.count() > 0;
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (bounded) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  pid_t pid;
  int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return make_error("cannot start " + program + ": " + std::strerror(rc));
  }

  ProcessResult result;
  size_t in_off = 0;
  if (opt.stdin_data.empty()) {
    ::close(in_pipe[1]);
    in_pipe[1] = -1;
  } else {
    ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  }
  bool out_open = true, err_open = true;
  char buf[1 << 15];
  const auto deadline = std::chrono::steady_clock::now() + opt.timeout;
  while (out_open || err_open || in_pipe[1] >= 0) {
    pollfd fds[3];
    int n = 0;
    int out_idx = -1, err_idx = -1, in_idx = -1;
    if (out_open) {
      fds[n] = {out_pipe[0], POLLIN, 0};
      out_idx = n++;
    }
    if (err_open) {
      fds[n] = {err_pipe[0], POLLIN, 0};
      err_idx = n++;
    }
    if (in_pipe[1] >= 0) {
      fds[n] = {in_pipe[1], POLLOUT, 0};
      in_idx = n++;
    }
    int wait_ms = -1;
    if (bounded) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || cancel::cancelled()) {
        result.timed_out = left.count() <= 0;
        ::kill(-pid, SIGKILL);
        break;
      }
      wait_ms = int(std::min<int64_t>(left.count(), 200));  // 200 ms: to notice a cancel
    }
    int ready = ::poll(fds, nfds_t(n), wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) continue;
    auto drain = [&](int idx, int fd, std::string& sink, bool& open) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r > 0)
        sink.append(buf, size_t(r));
      else if (r == 0 || errno != EINTR)
        open = false;
    };
    drain(out_idx, out_pipe[0], result.out, out_open);
    drain(err_idx, err_pipe[0], result.err, err_open);
    if (in_idx >= 0 && (fds[in_idx].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w =
          ::write(in_pipe[1], opt.stdin_data.data() + in_off, opt.stdin_data.size() - in_off);
      if (w > 0) in_off += size_t(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) in_off = opt.stdin_data.size();
      if (in_off >= opt.stdin_data.size()) {
        ::close(in_pipe[1]);
        in_pipe[1] = -1;
      }
    }
  }
  if (in_pipe[1] >= 0) ::close(in_pipe[1]);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace lb
