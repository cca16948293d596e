// A real nginx on 127.0.0.1 for the net unit tests: free ports, and a process whose config,
// logs and temp dirs live in a fresh temp dir. Tests that use it check installed() first and
// report a missing nginx with LB_MISSING_PREREQUISITE (test_support.hpp): a failure in CI.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "util/fs.hpp"

extern char** environ;

namespace lb::test {

/// Where the tests expect the nginx binary.
inline constexpr const char* kNginx = "/usr/sbin/nginx";

/// A TCP port on 127.0.0.1 that was free a moment ago.
inline int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
inline bool can_connect(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

/// Start args[0] (an absolute path) with `args`, then wait until it accepts connections on
/// `port` (up to `tries` x 25 ms): false when it cannot start, exits first, or never listens
/// (`pid` is then the child's, or -1 when it is gone).
inline bool spawn_until_listening(std::vector<std::string> args, int port, pid_t& pid, int tries) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
  for (int i = 0; i < tries; ++i) {
    if (can_connect(port)) return true;
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      pid = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

/// The location block that makes nginx a Bazel HTTP cache under `prefix` (e.g. "/cache/"), as
/// Bazel's docs configure it: WebDAV PUT (201 for a new file, 204 for an overwrite), parent dirs
/// made on upload, uploads up to 1 GiB. Files land in `root` + `prefix`, which nginx's worker
/// must be able to write: launch() runs nginx with master_process off, so the worker is the
/// test's own user.
inline std::string bazel_cache_location(const std::string& prefix, const std::string& root) {
  return "    location " + prefix + " { root " + root +
         "; dav_methods PUT; create_full_put_path on; client_max_body_size 1G; }\n";
}

/// nginx with its prefix in a temp dir made from `tmpl` (mkdtemp form); on destruction the
/// process is stopped and the dir removed.
struct NginxProcess {
  std::string dir;
  int port = 0;
  pid_t pid = -1;

  explicit NginxProcess(std::string tmpl) { dir = mkdtemp(tmpl.data()); }
  ~NginxProcess() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    (void)fs::remove_all(dir);
  }
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  /// Whether the nginx binary is there to run.
  static bool installed() { return access(kNginx, X_OK) == 0; }

  /// Writes dir/nginx.conf with `http` inside its http block (temp paths are added), starts
  /// nginx and waits until it accepts on `port`. False if nginx is missing or did not start.
  bool launch(const std::string& http) {
    if (!installed()) return false;
    std::string conf = "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + dir +
                       "/nginx.pid;\nerror_log " + dir +
                       "/error.log;\nevents { worker_connections 64; }\nhttp {\n";
    for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
      conf += std::string("  ") + t + "_temp_path " + dir + "/" + t + ";\n";
    conf += http + "}\n";
    if (!fs::write_file(dir + "/nginx.conf", conf).ok()) return false;
    std::vector<std::string> args = {
        kNginx, "-p", dir + "/", "-c", dir + "/nginx.conf", "-e", dir + "/error.log"};
    return spawn_until_listening(args, port, pid, 200);
  }
};

}  // namespace lb::test
