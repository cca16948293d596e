#include "instance/supervisor.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "instance/config.hpp"
#include "instance/envfile.hpp"
#include "instance/recipe.hpp"
#include "instance/users.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace lb::instance {
namespace {

using json = nlohmann::json;
constexpr const char* kStateFormat = "lavabuild.process-state.v1";

double now_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

double mono_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

/// Field 22 of /proc/PID/stat: when the process started (clock ticks since boot); nothing
/// for a process that is gone or a zombie (dead, not yet reaped by its parent).
std::optional<long long> start_ticks(long pid) {
  auto text = fs::read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return std::nullopt;
  auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text->substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && (in >> field); ++i) {
    if (i == 3 && (field == "Z" || field == "X")) return std::nullopt;
    if (i == 22) return std::atoll(field.c_str());
  }
  return std::nullopt;
}

void write_pid_file(const std::string& path, long pid) {
  (void)fs::write_file_atomic(path, std::to_string(pid) + "\n");
}

/// When the system booted (seconds since the epoch): "btime" of /proc/stat.
double boot_time() {
  static const double btime = [] {
    auto text = fs::read_file("/proc/stat");
    if (!text.ok()) return 0.0;
    for (const auto& line : split(*text, '\n'))
      if (starts_with(line, "btime ")) return std::atof(line.c_str() + 6);
    return 0.0;
  }();
  return btime;
}

/// A small state file under run/ (with --user the instance user's directory): never through a
/// symlink, never a FIFO or device, at most 4 KiB. Its mtime too.
std::optional<std::pair<std::string, double>> read_state_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::pair<std::string, double>> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= 4096) {
    std::string text(size_t(st.st_size), '\0');
    ssize_t n = ::pread(fd, text.data(), text.size(), 0);
    if (n >= 0) {
      text.resize(size_t(n));
      out.emplace(std::move(text), double(st.st_mtim.tv_sec) + double(st.st_mtim.tv_nsec) / 1e9);
    }
  }
  ::close(fd);
  return out;
}

/// The pid in a pid file when that process still lives and is the one the file was written
/// for: it started before the file was written (a pid reused later belongs to a process
/// that started after).
std::optional<long> live_pid(const std::string& path) {
  auto file = read_state_file(path);
  if (!file) return std::nullopt;
  long pid = std::atol(file->first.c_str());
  if (pid <= 1) return std::nullopt;
  auto ticks = start_ticks(pid);
  if (!ticks) return std::nullopt;
  double started = boot_time() + double(*ticks) / double(::sysconf(_SC_CLK_TCK));
  if (started > file->second + 1.0) return std::nullopt;  // 1 s: btime and ticks are coarse
  return pid;
}

/// The real uid of a process ("Uid:" in /proc/PID/status).
std::optional<uid_t> process_uid(long pid) {
  auto text = fs::read_file("/proc/" + std::to_string(pid) + "/status");
  if (!text.ok()) return std::nullopt;
  for (const auto& line : split(*text, '\n'))
    if (starts_with(line, "Uid:")) return uid_t(std::strtoul(line.c_str() + 4, nullptr, 10));
  return std::nullopt;
}

/// Who the instance's processes run as: its user (etc/instance.toml), else root.
uid_t instance_uid(const Paths& p) {
  if (auto cfg = read_instance_toml(p.instance_toml()); cfg.ok() && !cfg->user.empty())
    if (auto u = find_user(cfg->user); u.ok()) return u->uid;
  return 0;
}

/// Signal a pid read from run/ only when it is a process of the instance's user: with
/// --user that user writes run/, and root must not signal whatever pid it puts there.
Status signal_instance_process(const Paths& p, long pid, int sig, bool group) {
  auto uid = process_uid(pid);
  if (!uid || *uid != instance_uid(p))
    return make_error("pid " + std::to_string(pid) + " in " + p.run +
                          " is not a process of the instance's user; not signalled",
                      "remove the stale files under " + p.run + " and try again");
  if (::kill(group ? -pid_t(pid) : pid_t(pid), sig) != 0 && errno != ESRCH)
    return make_error("cannot signal pid " + std::to_string(pid) + ": " + std::strerror(errno));
  return {};
}

std::string supervisor_pid_file(const Paths& p) {
  return p.run + "/supervisor.pid";
}

// ------------------------------------------------------------------ the supervisor itself

struct Proc {
  std::string name, command;
  pid_t pid = 0;
  double started = 0;       // wall clock, for status
  double started_mono = 0;  // for the fast-exit rule
  int restarts = 0, fast_exits = 0;
  std::string state = "stopped";
  double next_start = 0;  // monotonic; for backoff
};

class Supervisor {
 public:
  /// `only`: start that process alone (the others stay stopped); empty: every process.
  Supervisor(Paths p, std::string only) : p_(std::move(p)), only_(std::move(only)) {}
  [[noreturn]] void run();

 private:
  void log(const std::string& line);
  void load_recipe();
  void spawn(Proc& pr);
  void stop(Proc& pr);
  void save(const Proc& pr);
  /// waitpid(-1) until nothing is left: every exit goes to reaped_ (orphans of a group too:
  /// the supervisor is their subreaper).
  void collect();
  /// Whether `pid`'s exit was collected (and take it out of reaped_).
  bool take_exit(pid_t pid, int* status);
  void reap();
  /// Act on the control file's requests (`text`), then acknowledge its seq.
  void handle_control(const std::string& text);
  Proc* find(pid_t pid);

  Paths p_;
  std::string only_;
  std::vector<Proc> procs_;
  std::vector<std::pair<pid_t, int>> reaped_;
};

void Supervisor::collect() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) reaped_.emplace_back(pid, status);
}

bool Supervisor::take_exit(pid_t pid, int* status) {
  for (auto it = reaped_.begin(); it != reaped_.end(); ++it)
    if (it->first == pid) {
      if (status) *status = it->second;
      reaped_.erase(it);
      return true;
    }
  return false;
}

void Supervisor::log(const std::string& line) {
  std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  std::fprintf(stderr, "%s %s\n", stamp, line.c_str());
  std::fflush(stderr);
}

void Supervisor::load_recipe() {
  auto r = read_recipe(p_.current + "/recipe.toml");
  if (!r.ok()) {
    log("cannot read the live recipe: " + r.error().to_string());
    return;
  }
  std::vector<Proc> next;
  for (const auto& [name, cmd] : r->processes) {
    Proc pr;
    pr.name = name;
    pr.command = cmd;
    for (const auto& old : procs_)
      if (old.name == name) pr.restarts = old.restarts;
    next.push_back(pr);
  }
  procs_ = std::move(next);
}

void Supervisor::save(const Proc& pr) {
  json j = {{"format", kStateFormat},
            {"state", pr.state},
            {"pid", pr.pid > 0 ? json(pr.pid) : json(nullptr)},
            {"started", pr.pid > 0 ? json(pr.started) : json(nullptr)},
            {"restarts", pr.restarts}};
  // The pid file first: a reader that finds the state "running" finds its pid file too.
  if (pr.pid > 0)
    write_pid_file(p_.run + "/" + pr.name + ".pid", pr.pid);
  else
    (void)fs::remove_all(p_.run + "/" + pr.name + ".pid");
  (void)fs::write_file_atomic(p_.run + "/" + pr.name + ".json", j.dump() + "\n");
}

void Supervisor::spawn(Proc& pr) {
  std::vector<std::string> env;
  bool has_home = false;
  if (auto text = fs::read_file(p_.env_file()); text.ok()) {
    if (auto vars = parse_env_file(*text, p_.env_file()); vars.ok())
      for (const auto& [k, v] : *vars) {
        env.push_back(k + "=" + v);
        has_home = has_home || k == "HOME";
      }
    else
      log(vars.error().to_string());
  }
  for (const char* keep : {"HOME", "LANG"})
    if (const char* v = std::getenv(keep); v && !(has_home && std::string(keep) == "HOME"))
      env.push_back(std::string(keep) + "=" + v);
  // The instance's user (etc/instance.toml), looked up at each start, when the supervisor
  // runs as root (launch drops to that user when there is one: then it cannot read the file).
  std::optional<User> user;
  if (auto cfg = read_instance_toml(p_.instance_toml());
      ::getuid() == 0 && cfg.ok() && !cfg->user.empty()) {
    auto u = find_user(cfg->user);
    if (!u.ok()) {
      log("cannot start " + pr.name + ": " + u.error().message);
      pr.state = "backoff";
      pr.next_start = mono_s() + 5;
      return;
    }
    user = *u;
  }
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  // The command line as the user wrote it (compound commands, assignments, cd && ...): the
  // process group, not the shell's pid, is what stop signals.
  std::string script = pr.command;
  std::string log_path = p_.log + "/" + pr.name + ".log";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE}) ::signal(s, SIG_DFL);
    int out =
        ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out >= 0) ::dup2(out, 1), ::dup2(out, 2);
    if (in >= 0) ::dup2(in, 0);
    if (user &&
        (::setgroups(0, nullptr) != 0 || ::setgid(user->gid) != 0 || ::setuid(user->uid) != 0))
      _exit(125);
    if (::chdir(p_.var.c_str()) != 0) _exit(126);
    const char* argv[] = {"sh", "-c", script.c_str(), nullptr};
    ::execve("/bin/sh", const_cast<char**>(argv), envp.data());
    _exit(127);
  }
  if (pid < 0) {
    log("cannot start " + pr.name + ": " + std::strerror(errno));
    pr.state = "backoff";
    pr.next_start = mono_s() + 1;
    return;
  }
  ::setpgid(pid, pid);
  pr.pid = pid;
  pr.started = now_s();
  pr.started_mono = mono_s();
  pr.state = "running";
  save(pr);
  log("started " + pr.name + " (pid " + std::to_string(pid) + "): " + pr.command);
}

Proc* Supervisor::find(pid_t pid) {
  for (auto& pr : procs_)
    if (pr.pid == pid) return &pr;
  return nullptr;
}

void Supervisor::stop(Proc& pr) {
  if (pr.pid <= 0) {
    pr.state = "stopped";
    save(pr);
    return;
  }
  pid_t pgid = pr.pid;
  if (take_exit(pr.pid, nullptr)) {  // exited already: its pid may be another's by now
    log(pr.name + " (pid " + std::to_string(pr.pid) + ") had exited");
    pr.pid = 0;
    pr.state = "stopped";
    save(pr);
    return;
  }
  ::kill(-pgid, SIGTERM);
  double deadline = mono_s() + double(kStopTimeout.count());
  bool leader_done = false;
  while (mono_s() < deadline) {
    collect();
    leader_done = leader_done || take_exit(pr.pid, nullptr);
    if (leader_done && ::kill(-pgid, 0) != 0) break;  // the whole group is gone
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (::kill(-pgid, 0) == 0) {
    log("stopping " + pr.name + ": still running " + std::to_string(kStopTimeout.count()) +
        " s after SIGTERM; SIGKILL");
    ::kill(-pgid, SIGKILL);
  }
  if (!leader_done && !take_exit(pr.pid, nullptr)) ::waitpid(pr.pid, nullptr, 0);
  log("stopped " + pr.name + " (pid " + std::to_string(pr.pid) + ")");
  pr.pid = 0;
  pr.state = "stopped";
  save(pr);
}

void Supervisor::reap() {
  collect();
  auto exits = std::move(reaped_);
  reaped_.clear();
  for (const auto& [pid, status] : exits) {
    Proc* pr = find(pid);
    if (!pr) continue;  // an orphan of a group
    std::string how = WIFEXITED(status)
                          ? "exited with status " + std::to_string(WEXITSTATUS(status))
                          : "was killed by signal " + std::to_string(WTERMSIG(status));
    ::kill(-pid, SIGKILL);  // what the process left in its group goes with it
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      // As systemd's Restart=on-failure (the units): a clean exit is not a failure.
      pr->pid = 0;
      pr->state = "stopped";
      log(pr->name + " exited with status 0; not started again");
      save(*pr);
      continue;
    }
    double ran = mono_s() - pr->started_mono;
    pr->fast_exits = ran < double(kFastExit.count()) ? pr->fast_exits + 1 : 1;
    pr->pid = 0;
    if (pr->fast_exits >= kGiveUpAfter) {
      pr->state = "failed";
      log(pr->name + " " + how + "; it exited " + std::to_string(pr->fast_exits) +
          " times in a row within " + std::to_string(kFastExit.count()) +
          " s of starting: giving up (see " + p_.log + "/" + pr->name + ".log)");
    } else {
      double wait = std::min(double(kMaxBackoff.count()), std::pow(2.0, pr->fast_exits - 1));
      pr->state = "backoff";
      pr->next_start = mono_s() + wait;
      log(pr->name + " " + how + "; starting it again in " + std::to_string(int(wait)) + " s");
    }
    save(*pr);
  }
}

void Supervisor::handle_control(const std::string& text) {
  long seq = 0;
  for (const auto& line : split(text, '\n')) {
    auto words = split(std::string(trim(line)), ' ');
    if (words.size() != 2) continue;
    if (words[0] == "seq") {
      seq = std::atol(words[1].c_str());
      continue;
    }
    bool all = words[1] == "*";
    for (auto& pr : procs_) {
      if (!all && pr.name != words[1]) continue;
      if (words[0] == "stop" || words[0] == "restart") stop(pr);
      if (words[0] == "start" || words[0] == "restart") {
        pr.fast_exits = 0;
        if (words[0] == "restart") pr.restarts = 0;
        spawn(pr);
      }
    }
  }
  (void)fs::write_file_atomic(p_.run + "/supervisor.json",
                              json({{"seq", seq}, {"pid", long(::getpid())}}).dump() + "\n");
}

void Supervisor::run() {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  write_pid_file(supervisor_pid_file(p_), ::getpid());
  log("supervisor started (pid " + std::to_string(::getpid()) + ")");
  load_recipe();
  for (auto& pr : procs_) {
    if (only_.empty() || pr.name == only_) {
      spawn(pr);
    } else {
      pr.state = "stopped";
      save(pr);
    }
  }
  (void)fs::write_file_atomic(p_.run + "/supervisor.json",
                              json({{"seq", 0}, {"pid", long(::getpid())}}).dump() + "\n");
  for (;;) {
    timespec wait{0, 200 * 1000 * 1000};
    siginfo_t info{};
    int sig = ::sigtimedwait(&set, &info, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    reap();
    if (sig == SIGHUP) {
      // A restart of every process reads the live recipe again (an upgrade switched it).
      if (auto file = read_state_file(p_.run + "/control")) {
        if (file->first.find("restart *") != std::string::npos) {
          for (auto& pr : procs_) stop(pr);
          load_recipe();
        }
        handle_control(file->first);
      }
    }
    for (auto& pr : procs_)
      if (pr.state == "backoff" && mono_s() >= pr.next_start) {
        ++pr.restarts;
        spawn(pr);
      }
  }
  for (auto& pr : procs_) stop(pr);
  log("supervisor stopped");
  (void)fs::remove_all(supervisor_pid_file(p_));
  _exit(0);
}

// ------------------------------------------------------------------ the client side

void close_inherited_fds() {
  auto names = fs::list_dir("/proc/self/fd");
  if (!names.ok()) return;
  for (const auto& n : *names) {
    int fd = std::atoi(n.c_str());
    if (fd > 2) ::close(fd);
  }
}

/// Start the supervisor of `p` (running `only`, or every process) as a new program: the
/// double fork detaches it, and the exec of this executable (/proc/self/exe, `lavabuild
/// __supervise ROOT NAME [PROCESS]`) leaves nothing of this process behind in it (locks held
/// by other threads at the fork, the caller's descriptors): between fork and exec only
/// async-signal-safe calls run.
Status launch(const Paths& p, const std::string& only) {
  (void)fs::create_dirs(p.run);
  (void)fs::create_dirs(p.log);
  (void)fs::remove_all(p.run + "/control");
  const std::string name = fs::basename(p.dir);
  std::vector<const char*> argv{"lavabuild", kSuperviseCommand, p.root.c_str(), name.c_str()};
  if (!only.empty()) argv.push_back(only.c_str());
  argv.push_back(nullptr);
  pid_t first = ::fork();
  if (first < 0)
    return make_error(std::string("cannot start the supervisor: ") + std::strerror(errno));
  if (first == 0) {
    ::setsid();
    if (::fork() != 0) _exit(0);
    ::execv("/proc/self/exe", const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  int status = 0;
  ::waitpid(first, &status, 0);
  return {};
}

/// Stop the processes a killed supervisor left running (`process`, or all): their pid files
/// in run/ still name them. SIGTERM to each group, SIGKILL to what is left kStopTimeout later.
Status stop_orphans(const Paths& p, const std::string& process) {
  auto files = fs::list_dir(p.run);
  if (!files.ok()) return {};
  for (const auto& f : *files) {
    if (!ends_with(f, ".pid") || f == "supervisor.pid") continue;
    if (!process.empty() && f != process + ".pid") continue;
    if (auto orphan = live_pid(p.run + "/" + f)) {
      LB_TRY(signal_instance_process(p, *orphan, SIGTERM, true));
      double deadline = mono_s() + double(kStopTimeout.count());
      while (::kill(-pid_t(*orphan), 0) == 0 && mono_s() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      (void)signal_instance_process(p, *orphan, SIGKILL, true);
    }
  }
  return {};
}

long control_seq(const Paths& p) {
  auto file = read_state_file(p.run + "/supervisor.json");
  if (!file) return -1;
  json j = json::parse(file->first, nullptr, false);
  return j.is_object() && j.contains("seq") && j["seq"].is_number() ? j["seq"].get<long>() : -1;
}

/// Send the supervisor `lines` and wait for its acknowledgement.
Status send_control(const Paths& p, long pid, const std::vector<std::string>& lines) {
  long seq = std::max(0L, control_seq(p)) + 1;
  std::string text = "seq " + std::to_string(seq) + "\n";
  for (const auto& l : lines) text += l + "\n";
  LB_TRY(fs::write_file_atomic(p.run + "/control", text));
  LB_TRY(signal_instance_process(p, pid, SIGHUP, false));
  // Stopping each process may take kStopTimeout.
  double deadline = mono_s() + 30 + double(kStopTimeout.count()) * 4;
  while (mono_s() < deadline) {
    if (control_seq(p) >= seq) return {};
    if (!live_pid(supervisor_pid_file(p)))
      return make_error("the supervisor of " + p.dir + " stopped (see " + p.log +
                        "/supervisor.log)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return make_error("the supervisor of " + p.dir + " did not answer (see " + p.log +
                    "/supervisor.log)");
}

}  // namespace

int supervise_main(const std::string& root, const std::string& name, const std::string& only) {
  if (!check_name(name).ok()) return 2;
  // main() installed lavabuild's cancellation handlers: a SIGTERM before run() blocks it
  // must stop the supervisor, not set a flag nobody reads.
  for (int s : {SIGTERM, SIGINT}) ::signal(s, SIG_DFL);
  const Paths p = paths_of(root, name);
  close_inherited_fds();
  // With --user the supervisor itself runs as the instance's user: every file it writes
  // under run/ and log/ (which that user owns) is the user's, and root never opens a path
  // there that the user could have made a symlink.
  if (auto cfg = read_instance_toml(p.instance_toml()); cfg.ok() && !cfg->user.empty()) {
    auto u = find_user(cfg->user);
    if (!u.ok() || ::setgroups(0, nullptr) != 0 || ::setgid(u->gid) != 0 || ::setuid(u->uid) != 0)
      return 125;
  }
  // One supervisor per instance: an flock held for its whole life.
  int lock =
      ::open((p.run + "/supervisor.lock").c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) return 0;
  if (::chdir("/") != 0) return 126;
  int in = ::open("/dev/null", O_RDONLY);
  int out =
      ::open((p.log + "/supervisor.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
  if (out < 0) out = ::open("/dev/null", O_WRONLY);  // never the caller's terminal or pipes
  if (in >= 0) ::dup2(in, 0);
  if (out >= 0) ::dup2(out, 1), ::dup2(out, 2);
  if (in > 2) ::close(in);
  if (out > 2) ::close(out);
  ::umask(022);
  Supervisor(p, only).run();
}

SupervisorStatus supervisor_status(const Paths& p, const std::vector<std::string>& names) {
  SupervisorStatus st;
  st.pid = live_pid(supervisor_pid_file(p));
  st.running = st.pid.has_value();
  double now = now_s();
  for (const auto& name : names) {
    ProcessStatus ps;
    ps.name = name;
    auto file = read_state_file(p.run + "/" + name + ".json");
    json j = file ? json::parse(file->first, nullptr, false) : json();
    if (!st.running) {
      // A killed supervisor's processes may still run: shown, so that nobody starts a
      // second copy by hand (start and stop stop them first).
      if (auto orphan = live_pid(p.run + "/" + name + ".pid")) {
        ps.state = "orphaned";
        ps.pid = orphan;
      }
    }
    if (j.is_object()) {
      ps.restarts = j.value("restarts", 0);
      if (st.running) ps.state = j.value("state", std::string("stopped"));
      if (st.running && ps.state == "running") {
        ps.pid = live_pid(p.run + "/" + name + ".pid");
        if (!ps.pid)
          ps.state = "backoff";  // exited a moment ago; the supervisor is about to notice
        else if (j["started"].is_number())
          ps.uptime_s = std::max(0.0, now - j["started"].get<double>());
      }
    }
    st.processes.push_back(ps);
  }
  return st;
}

Status start_processes(const Paths& p, const std::vector<std::string>& names,
                       const std::string& process) {
  if (auto pid = live_pid(supervisor_pid_file(p))) {
    std::vector<std::string> lines;
    for (const auto& ps : supervisor_status(p, names).processes)
      if ((process.empty() || ps.name == process) && ps.state != "running")
        lines.push_back("start " + ps.name);
    return lines.empty() ? Status{} : send_control(p, *pid, lines);
  }
  // Processes a killed supervisor left running: stopped first, or the new ones would find
  // their ports taken.
  LB_TRY(stop_orphans(p, ""));
  for (const auto& n : names) (void)fs::remove_all(p.run + "/" + n + ".json");
  LB_TRY(launch(p, process));
  double deadline = mono_s() + 15;
  while (mono_s() < deadline) {
    auto st = supervisor_status(p, names);
    bool all = st.running;
    for (const auto& ps : st.processes) all = all && fs::exists(p.run + "/" + ps.name + ".json");
    if (all) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return make_error("the supervisor of " + p.dir + " did not start its processes",
                    "see " + p.log + "/supervisor.log");
}

Status stop_processes(const Paths& p, const std::string& process) {
  auto pid = live_pid(supervisor_pid_file(p));
  if (!pid) return stop_orphans(p, process);  // no supervisor: only what a killed one left
  if (!process.empty()) return send_control(p, *pid, {"stop " + process});
  LB_TRY(signal_instance_process(p, *pid, SIGTERM, false));
  double deadline = mono_s() + 30 + double(kStopTimeout.count()) * 4;
  while (mono_s() < deadline) {
    if (!live_pid(supervisor_pid_file(p))) return {};  // gone, or a zombie nobody reaps yet
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return make_error("the supervisor of " + p.dir + " (pid " + std::to_string(*pid) +
                    ") did not stop");
}

Result<bool> restart_processes(const Paths& p, const std::string& process) {
  auto pid = live_pid(supervisor_pid_file(p));
  if (!pid) return false;
  LB_TRY(send_control(p, *pid, {"restart " + (process.empty() ? std::string("*") : process)}));
  return true;
}

std::vector<std::string> tail_log(const std::string& path, size_t lines) {
  std::vector<std::string> out;
  // Never through a symlink: with --user, log/ belongs to the instance's user, and root
  // reads it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return out;
  struct stat st {};
  ::fstat(fd, &st);
  // The last 1 MiB at most: enough for any sensible number of lines.
  off_t size = st.st_size, from = size > (off_t(1) << 20) ? size - (off_t(1) << 20) : 0;
  std::string text(size_t(size - from), '\0');
  ssize_t n = ::pread(fd, text.data(), text.size(), from);
  ::close(fd);
  text.resize(n > 0 ? size_t(n) : 0);
  auto all = split(text, '\n');
  if (!all.empty() && all.back().empty()) all.pop_back();
  if (from > 0 && !all.empty()) all.erase(all.begin());  // a partial first line
  size_t first = all.size() > lines ? all.size() - lines : 0;
  out.assign(all.begin() + long(first), all.end());
  return out;
}

}  // namespace lb::instance
