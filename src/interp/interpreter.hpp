// The target interpreter: asked once for its version, ABI, tags, markers and venv scheme.
//
// Cache format (version "lavabuild.interpreter.v2"; v2 added bundled_wheels, seed_packages,
// cache_tag and magic):
// <cache_dir>/interpreters/<key>.json holds the probe's JSON answer verbatim plus {"format": ...,
// "stat": "<size>:<mtime_ns>:<inode>"} of the interpreter binary. The key is the SHA-256 of the
// binary's real path; the entry is used only while the binary's stat is unchanged. Shell-script
// launchers (pyenv shims) are never cached because what they run can change without their own stat
// changing.
#pragma once

#include <string>
#include <vector>

#include "pep/marker.hpp"
#include "pep/tags.hpp"
#include "util/result.hpp"

namespace lb::interp {

struct Interpreter {
  std::string executable;  ///< what the venv's bin/python links to (the base interpreter)
  std::string home;        ///< dirname(executable): pyvenv.cfg "home"
  std::string version;     ///< "3.11.2"
  int major = 3, minor = 11;
  std::string implementation;    ///< "cpython"
  std::string venv_scripts_dir;  ///< the stdlib's venv/scripts (activate templates), may be empty
  /// Wheels ensurepip would install from: the distribution's WHEEL_PKG_DIR (Debian:
  /// /usr/share/python-wheels) and <stdlib>/ensurepip/_bundled, absolute paths.
  std::vector<std::string> bundled_wheels;
  /// What `python -m venv` seeds: {"pip"}, plus "setuptools" where ensurepip ships it (< 3.12).
  std::vector<std::string> seed_packages;
  /// venv scheme paths relative to the env root ("lib/python3.11/site-packages", "bin", ...).
  std::string purelib, platlib, scripts, include, data;
  std::vector<pep::Tag> tags;  ///< supported wheel tags, most preferred first
  pep::MarkerEnv markers;      ///< PEP 508 environment
  std::string key;             ///< identity of the binary: SHA-256 over path, version, stat
  /// sys.implementation.cache_tag ("cpython-311"): names __pycache__/mod.<tag>.pyc; empty
  /// when the implementation writes no bytecode cache.
  std::string cache_tag;
  /// importlib.util.MAGIC_NUMBER in hex: the bytecode format the pycs must carry.
  std::string bytecode_magic;
};

/// Resolve `--python`: a path, a program name ("python3.12") or a version ("3.12").
/// Empty means `python3` on PATH.
Result<std::string> find_interpreter(const std::string& spec);

/// Probe the interpreter (or load the cached answer from `cache_dir`, which may be empty to
/// disable caching).
Result<Interpreter> probe(const std::string& python, const std::string& cache_dir);

/// Parse the probe's JSON output (exposed for tests).
Result<Interpreter> parse_probe_output(const std::string& json);

/// The probe program, run as `python -I -S -c <script>` (printed by tests and -v).
const char* probe_script();

}  // namespace lb::interp
