// Reading a failed build's log: the lines that say what is missing (a compiler, a header, a
// library, a Python module), and the last lines to show on the terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lb::build {

/// Limits on what is taken from a build log, an untrusted file (docs/LIMITS.md).
inline constexpr size_t kLogTailLines = 25;        ///< lines shown when a hook fails
inline constexpr size_t kLogLineBytes = 400;       ///< each shown line is cut after this
inline constexpr size_t kDiagnoseBytes = 4 << 20;  ///< the end of a hook's output scanned
inline constexpr size_t kMaxDiagnoses = 3;         ///< distinct findings named

/// What the build's environment says about the compilers, so that a missing `$CC` is named
/// as such.
struct LogContext {
  std::string cc;   ///< $CC as the hook saw it (may be empty)
  std::string cxx;  ///< $CXX
};

/// The things a failed build's log says are missing, each one sentence naming it and the
/// fix ("the header Python.h was not found: install python3-dev"), first seen first, at most
/// kMaxDiagnoses distinct ones. Recognises gcc's and clang's missing headers, setuptools'
/// and the shell's missing programs (compilers classified as C, C++, Fortran, Rust), CMake's
/// and Meson's missing compilers, the linker's missing -lNAME, pkg-config's missing packages,
/// and Python's ModuleNotFoundError.
std::vector<std::string> diagnose_build_log(std::string_view log, const LogContext& context = {});

/// The last `max_lines` non-blank lines of `log`, safe to print on a terminal: what a terminal
/// would show of a line rewritten with '\r', escape sequences and other control characters
/// removed, each cut after kLogLineBytes (at a UTF-8 boundary, marked with "...").
std::vector<std::string> log_tail(std::string_view log, size_t max_lines = kLogTailLines);

}  // namespace lb::build
