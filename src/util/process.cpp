#include "util/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

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

namespace {

using Clock = std::chrono::steady_clock;

/// How often a child in its own process group is checked for cancellation.
constexpr std::chrono::milliseconds kCancelPoll{100};

/// A descriptor that becomes readable when `pid` exits (pidfd_open, Linux 5.3), or -1 where
/// the kernel or a seccomp filter refuses it (then exits are polled with waitid).
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // close-on-exec by default
#else
  (void)pid;
  return -1;
#endif
}

/// Whether `pid` has exited, without reaping it (its process group stays valid).
bool has_exited(pid_t pid) {
  for (;;) {
    siginfo_t info = {};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0)
      return info.si_pid != 0;
    if (errno != EINTR) return true;  // ECHILD: nothing left to wait for
  }
}

/// Sleep until `pid` exits or `ms` passed.
void wait_exit_for(pid_t pid, int pidfd, std::chrono::milliseconds ms) {
  if (pidfd >= 0) {
    pollfd p = {pidfd, POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(ms.count()));
  } else if (!has_exited(pid)) {
    std::this_thread::sleep_for(std::min(ms, std::chrono::milliseconds(10)));
  }
}

/// Stop a child as kStopGrace says; the caller reaps it.
void stop_child(pid_t pid, int pidfd, bool group) {
  pid_t target = group ? -pid : pid;
  (void)::kill(target, SIGTERM);
  auto until = Clock::now() + kStopGrace;
  while (!has_exited(pid) && Clock::now() < until)
    wait_exit_for(pid, pidfd, std::chrono::milliseconds(20));
  (void)::kill(target, SIGKILL);
}

bool has_any_prefix(std::string_view name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (starts_with(name, p)) return true;
  return false;
}

}  // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& opt) {
  if (argv.empty()) return make_error("run_process: empty command");
  std::string program = find_program(argv[0]);
  if (program.empty()) return make_error("cannot find program '" + argv[0] + "' on PATH");

  // Environment: inherited, minus unset_env (and its prefixes), plus env overrides.
  std::vector<std::string> env_storage;
  std::set<std::string> drop(opt.unset_env.begin(), opt.unset_env.end());
  for (const auto& [k, v] : opt.env) drop.insert(k);
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string_view::npos) {
      std::string_view name = entry.substr(0, eq);
      if (drop.count(std::string(name)) || has_any_prefix(name, opt.unset_env_prefixes)) continue;
    }
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

  const bool to_file = !opt.output_path.empty();
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1};
  int file_fd = -1;
  if (to_file) {
    file_fd = ::open(opt.output_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (file_fd < 0)
      return make_error("cannot open " + opt.output_path + ": " + std::strerror(errno));
  }
  auto close_fd = [](int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  };
  if ((!to_file && (::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC))) ||
      ::pipe2(in_pipe, O_CLOEXEC)) {
    std::string why = std::strerror(errno);
    for (int* fd : {&out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1], &file_fd})
      close_fd(*fd);
    return make_error("cannot create pipe: " + why);
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, to_file ? file_fd : out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, to_file ? file_fd : err_pipe[1], 2);
  if (!opt.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, opt.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (opt.own_process_group) {
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaddset(&defaults, sig);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(
        &attr,
        static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
  }
  pid_t pid;
  int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  close_fd(file_fd);
  if (rc != 0) {
    close_fd(in_pipe[1]);
    close_fd(out_pipe[0]);
    close_fd(err_pipe[0]);
    return make_error("cannot start " + program + ": " + std::strerror(rc));
  }

  ProcessResult result;
  size_t in_off = 0;
  if (opt.stdin_data.empty()) {
    close_fd(in_pipe[1]);
  } else {
    ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  }
  // Without pipes to tell when the child is done, or with a time limit, its exit is
  // watched: through a pidfd, else by polling waitid with a growing sleep.
  const bool has_timeout = opt.timeout.count() > 0;
  const bool watch_exit = to_file || has_timeout || opt.own_process_group;
  int pidfd = watch_exit ? open_pidfd(pid) : -1;
  bool exited = false;
  const auto deadline = has_timeout ? Clock::now() + opt.timeout : Clock::time_point::max();
  std::chrono::milliseconds backoff{1};
  bool out_open = !to_file, err_open = !to_file;
  char buf[1 << 15];
  while (out_open || err_open || in_pipe[1] >= 0 || (watch_exit && !exited)) {
    if (has_timeout && Clock::now() >= deadline) result.timed_out = true;
    if (opt.own_process_group && cancel::cancelled()) result.cancelled = !result.timed_out;
    if (result.timed_out || result.cancelled) {
      stop_child(pid, pidfd, opt.own_process_group);
      break;
    }
    pollfd fds[4];
    int n = 0;
    int out_idx = -1, err_idx = -1, in_idx = -1, pid_idx = -1;
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
    if (watch_exit && !exited && pidfd >= 0) {
      fds[n] = {pidfd, POLLIN, 0};
      pid_idx = n++;
    }
    std::chrono::milliseconds wait = std::chrono::milliseconds::max();
    if (has_timeout) wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (opt.own_process_group) wait = std::min(wait, kCancelPoll);
    if (watch_exit && !exited && pidfd < 0) {
      wait = std::min(wait, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
    }
    int wait_ms = wait == std::chrono::milliseconds::max()
                      ? -1
                      : static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 1 << 30));
    if (::poll(fds, nfds_t(n), wait_ms) < 0) {
      if (errno == EINTR) continue;
      break;
    }
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
      if (in_off >= opt.stdin_data.size()) close_fd(in_pipe[1]);
    }
    if (pid_idx >= 0 ? (fds[pid_idx].revents & (POLLIN | POLLHUP | POLLERR)) != 0
                     : (watch_exit && !exited && has_exited(pid)))
      exited = true;
    if (exited && in_pipe[1] >= 0) close_fd(in_pipe[1]);  // nobody left to read it
  }
  close_fd(in_pipe[1]);
  close_fd(out_pipe[0]);
  close_fd(err_pipe[0]);
  close_fd(pidfd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace lb
