// Running child processes (the interpreter probe, PEP 517 build backends).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace lb {

struct ProcessResult {
  int exit_code = -1;
  std::string out;         // captured stdout
  std::string err;         // captured stderr
  bool timed_out = false;  // stopped because it outlived ProcessOptions::timeout
  bool cancelled = false;  // stopped because the run was cancelled (own_process_group)
};

struct ProcessOptions {
  std::string cwd;                         // empty: inherit
  std::map<std::string, std::string> env;  // added to / overriding the inherited environment
  std::vector<std::string> unset_env;      // removed from the inherited environment
  std::string stdin_data;                  // written to the child's stdin
  /// Variables whose names start with one of these (e.g. "PIP_") are removed from the
  /// inherited environment too.
  std::vector<std::string> unset_env_prefixes{};
  /// Non-empty: the child's stdout and stderr both go to this file, appended (created 0644
  /// when absent), instead of being captured; ProcessResult::out and err stay empty.
  std::string output_path{};
  /// Above zero: a child still running after this long is stopped (stop_child below) and
  /// ProcessResult::timed_out is set. Measured from the start; with captured output the
  /// child must also have closed its pipes within it.
  std::chrono::milliseconds timeout{0};
  /// Start the child as the leader of a new process group, with default signal handling
  /// and an empty signal mask, so that stopping it (timeout, cancellation) stops everything
  /// it started (compilers, `make -j`). The terminal's Ctrl-C reaches only the foreground
  /// group, so such a child is also stopped when cancel::cancelled() becomes true (checked
  /// every 100 ms), and ProcessResult::cancelled is set.
  bool own_process_group = false;
};

/// How a child is stopped: SIGTERM (to its group with own_process_group), then, when it has
/// not exited kStopGrace later, or at once when it has, SIGKILL to the group for whatever
/// in it ignored SIGTERM.
inline constexpr std::chrono::milliseconds kStopGrace{2000};

/// Run argv[0] (looked up on PATH) with arguments; capture stdout and stderr.
/// Fails only when the program cannot be started.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

/// Look a program up on PATH; empty when not found. Paths containing '/' are returned as-is
/// when executable.
std::string find_program(const std::string& name);

}  // namespace lb
