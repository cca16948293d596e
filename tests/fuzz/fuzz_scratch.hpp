// A scratch directory for fuzz targets that need the filesystem: $TMPDIR/lb-<tag>-XXXXXX
// (mkdtemp: random and exclusive; default /tmp), removed with its content when the fuzzer exits.
// (The unit tests' TempDir lives in tests/unit/test_support.hpp, which needs Catch2.)
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <string>

#include "util/fs.hpp"

namespace lb::fuzz {

/// Made on the first call; every later call returns the same path. A failure traps.
inline const std::string& scratch_dir(const char* tag) {
  static const std::string dir = [tag] {
    const char* base = ::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/lb-" + tag + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) __builtin_trap();
    static std::string top = tmpl;
    std::atexit([] { (void)lb::fs::remove_all(top); });
    return tmpl;
  }();
  return dir;
}

}  // namespace lb::fuzz
