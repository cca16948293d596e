// Running one PEP 517 / PEP 660 build backend hook in a subprocess of the build env's Python,
// through a small runner script compiled into lavabuild (hook_runner.py; no pip, no `build`).
//
// The runner protocol (lavabuild.hook.v1; lavabuild and its runner are one binary, so this is
// not a persistent format, but it is written down here):
//   argv:    PYTHON -c <hook_runner.py> REQUEST RESULT, cwd = the source tree, in its own
//            process group; stdout and stderr appended to the build log.
//   REQUEST: {"protocol": "lavabuild.hook.v1", "hook": NAME, "backend": "mod:obj",
//             "backend_path": [absolute dirs], "directory": wheel or metadata directory,
//             "metadata_directory": str or null, "config_settings": {key: str | [str, ...]}}
//   RESULT:  {"status": "ok", "value": <the hook's return value>}
//            | {"status": "hook_missing"}
//            | {"status": "backend_unavailable", "module": NAME, "message": TEXT}
//            | {"status": "backend_invalid" | "bad_return" | "error", "message": TEXT}
//            written through a temp file and a rename; read only as JSON, never the log.
// The build log: each hook appends a line "==> lavabuild: HOOK (backend B) in DIR", the
// backend's output, and "==> lavabuild: HOOK ended: ... after S s".
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "build/build_system.hpp"
#include "util/result.hpp"

namespace lb::build {

enum class Hook {
  get_requires_for_build_wheel,
  get_requires_for_build_editable,
  prepare_metadata_for_build_wheel,
  prepare_metadata_for_build_editable,
  build_wheel,
  build_editable,
};
/// The hook's Python name ("build_wheel").
std::string_view hook_name(Hook);

/// The largest RESULT file read, and the most requirements a get_requires_* hook may return
/// (docs/LIMITS.md).
inline constexpr size_t kMaxHookResultBytes = size_t(16) << 20;
inline constexpr size_t kMaxHookRequires = 1000;

struct HookRequest {
  std::string python;      ///< the interpreter to run: the isolated build env's bin/python
  std::string source_dir;  ///< the hook's cwd (a private copy; the hook may write to it)
  BuildSystem system;
  Hook hook = Hook::build_wheel;
  std::string output_dir;  ///< wheel_directory / metadata_directory; exists
  /// --config-settings KEY=VALUE in order; pip's rule: a repeated key becomes a list.
  std::vector<std::pair<std::string, std::string>> config_settings;
  /// Added to the child's environment (SOURCE_DATE_EPOCH, CC, ...); may override anything
  /// run_hook sets or removes.
  std::map<std::string, std::string> env;
  /// For build_wheel/build_editable after prepare_metadata_*: the .dist-info directory it
  /// made (optional).
  std::string metadata_directory;
  /// 0: no limit.
  std::chrono::seconds timeout{3600};
  /// The hook's stdout+stderr are appended here (created, with its directory, if absent).
  std::string log_path;
  /// Where the runner's REQUEST and RESULT files live, in a temp directory of their own
  /// removed afterwards (empty: $TMPDIR, else /tmp). (Not in the brief; added.)
  std::string scratch_dir;
};

struct HookOutcome {
  /// The backend lacks an optional hook (get_requires_*, prepare_metadata_*): the caller falls
  /// back as PEP 517 says (no extra requirements; metadata from the built wheel).
  bool hook_missing = false;
  /// get_requires_*: PEP 508 strings, each checked to parse. (The brief's `requires`, a C++20
  /// keyword.)
  std::vector<std::string> requirements;
  /// build_* / prepare_metadata_*: the .whl file or .dist-info directory name returned, checked
  /// to be a plain name of that kind that exists in output_dir.
  std::string basename;
};

/// Run one hook in a subprocess of `req.python`: `python -c RUNNER` (not -I: the build env is
/// a venv whose site-packages must be on sys.path) with PYTHONNOUSERSITE=1, without
/// PYTHONPATH, PYTHONHOME, PYTHONSTARTUP, PYTHONINSPECT and PIP_*, with the interpreter's
/// directory first on PATH (the build env's scripts: cmake, ninja, cython), in its own
/// process group. The runner puts the backend-path entries (resolve_backend_path) first on
/// sys.path, imports the backend (`module:obj.attr`), calls the hook with PEP 517's arguments
/// and writes its return value to the RESULT file.
/// Failures (messages that name what is missing come first, then the last kLogTailLines
/// lines of what this hook wrote to the log, and the hint names log_path):
///  - the hook raised or the runner exited non-zero: "the build backend B failed in HOOK";
///  - timeout: the process group is stopped (SIGTERM, SIGKILL after kStopGrace):
///    "the build backend B did not finish HOOK in N s (--build-timeout)";
///  - the backend cannot be imported: "the build backend module 'flit_core' is not installed
///    in the build env: add it to [build-system] requires";
///  - a missing compiler, header, library or module seen in the log (diagnose_build_log);
///  - a return value of the wrong kind, a name with '/', or one not in output_dir;
///  - build_wheel or build_editable missing from the backend;
///  - the run was cancelled (cancel::cancelled()): the group is stopped the same way.
Result<HookOutcome> run_hook(const HookRequest& req);

}  // namespace lb::build
