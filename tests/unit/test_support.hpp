// Helpers every unit test may use: a temp dir that removes itself, and the one way a test
// says that a prerequisite (nginx, Python) is missing.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <string_view>

#include "util/fs.hpp"

namespace lb::test {

/// A fresh directory $TMPDIR/lb-<tag>-XXXXXX (default /tmp), removed with everything in it
/// on destruction.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag = "test") {
    const char* base = ::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/lb-" + tag + "-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)fs::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
  /// Write `content` to `rel` (creating its parent dirs); returns the file's path.
  std::string write(const std::string& rel, std::string_view content) const {
    std::string p = fs::join_path(path, rel);
    REQUIRE(fs::create_dirs(fs::dirname(p)).ok());
    REQUIRE(fs::write_file_atomic(p, content).ok());
    return p;
  }
};

/// True when running in CI ($CI is 1, true or yes), where a missing prerequisite fails.
inline bool in_ci() {
  const char* ci = ::getenv("CI");
  if (ci == nullptr) return false;
  std::string v = ci;
  return v == "1" || v == "true" || v == "TRUE" || v == "True" || v == "yes";
}

/// Whether `path` is an executable file (a prerequisite such as /usr/sbin/nginx).
inline bool have_program(const char* path) {
  return ::access(path, X_OK) == 0;
}

}  // namespace lb::test

/// A test that cannot run its prerequisite says so: a warning and the test ends on a
/// developer's machine, a failure in CI (CI=true). Use as the first statement of the test:
///   if (!lb::test::have_program(kNginx)) LB_MISSING_PREREQUISITE("nginx is not installed");
#define LB_MISSING_PREREQUISITE(message)                                                  \
  do {                                                                                    \
    if (::lb::test::in_ci()) FAIL("missing prerequisite (a failure in CI): " << message); \
    WARN("skipped, missing prerequisite: " << message);                                   \
    return;                                                                               \
  } while (0)
