// The hook runner's source (hook_runner.py), compiled in by CMake (hook_runner.cpp.in).
#pragma once

#include <string_view>

namespace lb::build {

/// The text of hook_runner.py, run as `python -c`.
extern const std::string_view kHookRunner;

}  // namespace lb::build
