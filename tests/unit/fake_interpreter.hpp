// A hand-made interpreter for unit tests: CPython 3.11 on x86_64 glibc Linux as a probe
// would report it, without running anything (no cache_tag: no bytecode).
#pragma once

#include "interp/interpreter.hpp"

namespace lb::test {

inline interp::Interpreter fake_cpython311() {
  interp::Interpreter in;
  in.executable = "/usr/bin/python3.11";
  in.home = "/usr/bin";
  in.version = "3.11.2";
  in.major = 3;
  in.minor = 11;
  in.implementation = "cpython";
  in.purelib = in.platlib = "lib/python3.11/site-packages";
  in.scripts = "bin";
  in.include = "include/site/python3.11";
  in.key = "k";
  in.tags = {{"cp311", "cp311", "linux_x86_64"},
             {"cp311", "abi3", "linux_x86_64"},
             {"py3", "none", "linux_x86_64"},
             {"py311", "none", "any"},
             {"py3", "none", "any"}};
  in.markers.values = {
      {"python_version", "3.11"},         {"python_full_version", "3.11.2"},
      {"implementation_name", "cpython"}, {"os_name", "posix"},
      {"sys_platform", "linux"},          {"platform_system", "Linux"},
      {"platform_machine", "x86_64"},     {"platform_python_implementation", "CPython"}};
  return in;
}

}  // namespace lb::test
