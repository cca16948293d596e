// Helpers shared by the cli unit tests: capturing stdout/stderr and calling lb::cli::run.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "util/fs.hpp"

namespace lb::test {

/// Redirects a file descriptor into a temp file until text() is called.
class Capture {
 public:
  explicit Capture(int fd) : fd_(fd) {
    char tmpl[] = "/tmp/lb-cli-capture-XXXXXX";
    int tmp = ::mkstemp(tmpl);
    path_ = tmpl;
    std::fflush(nullptr);
    saved_ = ::dup(fd_);
    ::dup2(tmp, fd_);
    ::close(tmp);
  }
  ~Capture() {
    restore();
    ::unlink(path_.c_str());
  }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  std::string text() {
    restore();
    auto t = fs::read_file(path_);
    return t.ok() ? *t : "";
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(nullptr);
    ::dup2(saved_, fd_);
    ::close(saved_);
    saved_ = -1;
  }
  int fd_;
  int saved_ = -1;
  std::string path_;
};

/// What run_cli returns: exit code, stdout and stderr.
struct RunOut {
  int rc;
  std::string out, err;
};

/// lb::cli::run with argv built from `args` (argv[0] is "lavabuild"), output captured.
inline RunOut run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "lavabuild");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Capture out(1), err(2);
  int rc = cli::run(int(args.size()), argv.data());
  std::string e = err.text();
  return {rc, out.text(), e};
}

}  // namespace lb::test
