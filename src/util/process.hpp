// Running child processes (the interpreter probe, later PEP 517 build backends).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace lb {

struct ProcessResult {
  int exit_code = -1;
  std::string out;  // captured stdout
  std::string err;  // captured stderr
  /// Killed after ProcessOptions::timeout (exit_code is then 128 + SIGKILL).
  bool timed_out = false;
};

struct ProcessOptions {
  std::string cwd;                         // empty: inherit
  std::map<std::string, std::string> env;  // added to / overriding the inherited environment
  std::vector<std::string> unset_env;      // removed from the inherited environment
  std::string stdin_data;                  // written to the child's stdin
  /// 0: none. Otherwise the child runs in its own process group, which is killed (SIGKILL) when
  /// the time is up (timed_out) or when the run is cancelled (util/cancel.hpp: the group does
  /// not get the terminal's Ctrl-C itself), so helpers it started (ssh, git-remote-https) go too.
  std::chrono::milliseconds timeout{0};
};

/// Run argv[0] (looked up on PATH) with arguments; capture stdout and stderr.
/// Fails only when the program cannot be started.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

/// Look a program up on PATH; empty when not found. Paths containing '/' are returned as-is
/// when executable.
std::string find_program(const std::string& name);

}  // namespace lb
