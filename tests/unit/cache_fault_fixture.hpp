// The fault-injecting Bazel HTTP cache (tests/tools/cache_fault_server.py) as a process of a
// unit test: on a free 127.0.0.1 port, serving a fresh temp dir, stopped on destruction. Tests
// check installed() first and report a missing python3 (or zstd, for the zstd mode) with
// LB_MISSING_PREREQUISITE (test_support.hpp): a failure in CI.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "nginx_fixture.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::test {

/// Where the tests expect Python and the zstd program.
inline constexpr const char* kPython3 = "/usr/bin/python3";
inline constexpr const char* kZstd = "/usr/bin/zstd";

struct CacheFaultServer {
  std::string dir;   // temp dir: root/ (served), requests.log
  std::string root;  // what GET/HEAD/PUT paths are below
  int port = 0;
  pid_t pid = -1;

  CacheFaultServer() {
    std::string tmpl = "/tmp/lb-cache-fault-XXXXXX";
    dir = mkdtemp(tmpl.data());
    root = dir + "/root";
    (void)fs::create_dirs(root);
  }
  ~CacheFaultServer() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    (void)fs::remove_all(dir);
  }
  CacheFaultServer(const CacheFaultServer&) = delete;
  CacheFaultServer& operator=(const CacheFaultServer&) = delete;

  static std::string script() {
    return std::string(LAVABUILD_SOURCE_DIR) + "/tests/tools/cache_fault_server.py";
  }
  static bool installed() { return access(kPython3, X_OK) == 0; }

  /// Starts the server in `mode` ("normal", "stall", "head405,put204", ...) and waits (up to
  /// 10 s) until it accepts connections. False if it did not start.
  bool start(const std::string& mode) {
    port = free_port();
    std::vector<std::string> args = {kPython3, script(),
                                     "--root", root,
                                     "--port", std::to_string(port),
                                     "--mode", mode,
                                     "--log",  dir + "/requests.log"};
    return spawn_until_listening(args, port, pid, 400);
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }

  /// The request log: "METHOD PATH RANGE ACCEPT-ENCODING" per request ("-" when absent).
  std::vector<std::string> requests() const {
    auto text = fs::read_file(dir + "/requests.log");
    std::vector<std::string> out;
    for (auto& line : split(text.ok() ? *text : "", '\n'))
      if (!line.empty()) out.push_back(line);
    return out;
  }
};

}  // namespace lb::test
