// Bytecode beside installed sources: where importlib looks for it, and what the installer
// links there. Compiling it is the engine's business (engine/bytecode.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "env/types.hpp"

namespace lb::env {

/// importlib.util.cache_from_source for optimisation level 0: "a/mod.py" ->
/// "a/__pycache__/mod.<cache_tag>.pyc"; "" when `rel` does not end in ".py" (compileall
/// compiles only those) or `cache_tag` is empty.
std::string pyc_path(std::string_view rel, std::string_view cache_tag);

/// The source a "a/__pycache__/mod.<cache_tag>.pyc" belongs to ("a/mod.py"), or "" when `rel`
/// is not such a path.
std::string pyc_source(std::string_view rel, std::string_view cache_tag);

/// The files of `dist` that are bytecode lavabuild compiled: with dist.bytecode_tag set, each
/// "__pycache__/<name>.<tag>.pyc" whose source is listed beside it (a wheel's own file at
/// such a path was left out for it). Other bytecode is Python's to rewrite or remove. The
/// compiled pycs are checked by `verify` and the next run like any file, but the env digest
/// counts them by path: their bytes may differ between machines for the same source.
std::unordered_set<std::string> compiled_pycs(const InstalledDist& dist);

/// One path of compiled_pycs(dist), without building the set (dist.files is sorted by path).
bool is_compiled_pyc(const InstalledDist& dist, std::string_view rel);

/// One compiled source: its pyc blob in the store (not executable).
struct CompiledPyc {
  std::string sha256;
  uint64_t size = 0;
};

/// The bytecode of one wheel for one interpreter: wheel member path -> pyc blob. Members
/// missing from the map have none (not a .py file, or it does not compile).
struct Bytecode {
  std::string cache_tag;  ///< e.g. "cpython-311"
  std::unordered_map<std::string, CompiledPyc> by_member;
};

}  // namespace lb::env
