// lavabuild's own supervisor, for hosts where PID 1 is not systemd (containers, CI): one
// detached process per instance that runs the live generation's processes.
//
// Each process runs as `/bin/sh -c COMMAND` in its own process group, with exactly
// the variables of etc/environment (plus HOME and LANG), in var/, its output appended to
// log/PROCESS.log. A process that exits is started again after a back-off of 1 s, 2 s, 4 s ...
// (at most kMaxBackoff); after kGiveUpAfter exits in a row each within kFastExit of its
// start it stays down, state "failed". Stopping sends SIGTERM to the group, then SIGKILL
// to whatever is left kStopTimeout later.
//
// Files under run/ (each written atomically):
//   supervisor.pid     the supervisor's pid ("PID\n"); a pid is believed only while that
//                      process lives, is no zombie, and started before the file was written
//                      (so a reused pid is not taken for it)
//   PROCESS.pid        the same, for each running process (the leader of its group)
//   PROCESS.json       {"state": running|backoff|failed|stopped, "pid", "started" (epoch s),
//                       "restarts"} (format lavabuild.process-state.v1)
//   control            requests: "seq N" then lines "restart|stop|start NAME|*"; the
//                      supervisor acts on SIGHUP and acknowledges with supervisor.json
//                      {"seq": N}
// The supervisor's own messages go to log/supervisor.log.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "instance/layout.hpp"
#include "util/result.hpp"

namespace lb::instance {

inline constexpr std::chrono::seconds kMaxBackoff{30};
inline constexpr std::chrono::seconds kFastExit{10};
inline constexpr int kGiveUpAfter = 5;
inline constexpr std::chrono::seconds kStopTimeout{10};

struct ProcessStatus {
  std::string name;
  /// running, backoff, failed, stopped; orphaned: still running, left by a supervisor that
  /// was killed (start and stop stop it first)
  std::string state = "stopped";
  std::optional<long> pid;
  std::optional<double> uptime_s;
  int restarts = 0;
};

struct SupervisorStatus {
  bool running = false;
  std::optional<long> pid;
  std::vector<ProcessStatus> processes;
};

/// The hidden command `start` execs to become an instance's supervisor:
/// `lavabuild __supervise ROOT NAME [PROCESS]` (cli/commands.cpp hands it to supervise_main).
inline constexpr const char* kSuperviseCommand = "__supervise";
/// The supervisor's program: detach from the caller's descriptors, become the instance's
/// user, take run/supervisor.lock (another supervisor holds it: exit 0), log to
/// log/supervisor.log, then run `only` (or every process) until SIGTERM. Returns only when it
/// cannot start.
int supervise_main(const std::string& root, const std::string& name, const std::string& only);
/// The state of the supervisor and of each of `names` (the live recipe's processes).
SupervisorStatus supervisor_status(const Paths& p, const std::vector<std::string>& names);
/// Start the supervisor unless it runs (then: start `process`, or every stopped one), and
/// wait until each process was started once. `names` must not be empty.
Status start_processes(const Paths& p, const std::vector<std::string>& names,
                       const std::string& process);
/// Stop `process`, or (empty) every process and the supervisor; without a supervisor, the
/// processes a killed one left running. Nothing running: nothing to do.
Status stop_processes(const Paths& p, const std::string& process);
/// Restart `process` (or every process) when the supervisor runs; false when it does not.
Result<bool> restart_processes(const Paths& p, const std::string& process);
/// The last `lines` lines of log/PROCESS.log.
std::vector<std::string> tail_log(const std::string& path, size_t lines);

}  // namespace lb::instance
