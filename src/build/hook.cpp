#include "build/hook.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "build/diagnose.hpp"
#include "build/hook_runner.hpp"
#include "pep/requirement.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

namespace lb::build {
namespace {

// Ordered: config settings reach the backend in the order given, as pip's dict does.
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

bool returns_requirements(Hook h) {
  return h == Hook::get_requires_for_build_wheel || h == Hook::get_requires_for_build_editable;
}
bool returns_metadata(Hook h) {
  return h == Hook::prepare_metadata_for_build_wheel ||
         h == Hook::prepare_metadata_for_build_editable;
}
bool is_optional(Hook h) {
  return returns_requirements(h) || returns_metadata(h);
}

/// pip's --config-settings rule: one value is a string, a repeated key a list, in order.
json config_settings_json(const std::vector<std::pair<std::string, std::string>>& settings) {
  json obj = json::object();
  for (const auto& [key, value] : settings) {
    auto it = obj.find(key);
    if (it == obj.end()) {
      obj[key] = value;
    } else if (it->is_array()) {
      it->push_back(value);
    } else {
      json first = *it;
      *it = json::array({std::move(first), value});
    }
  }
  return obj;
}

/// Append `text` to the log (created 0644 with its directory); returns the log's size after.
Result<uint64_t> append_log(const std::string& path, std::string_view text) {
  LB_TRY(fs::create_dirs(fs::dirname(fs::absolute(path))));
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot open the build log " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t w = ::write(fd, text.data() + off, text.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += size_t(w);
  }
  struct stat st;
  uint64_t size = ::fstat(fd, &st) == 0 ? uint64_t(st.st_size) : 0;
  ::close(fd);
  if (off < text.size()) return make_error("cannot write the build log " + path);
  return size;
}

/// What was appended to `path` since `offset`: its last `max` bytes at most.
std::string read_since(const std::string& path, uint64_t offset, size_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  struct stat st;
  std::string out;
  if (::fstat(fd, &st) == 0 && uint64_t(st.st_size) > offset) {
    uint64_t size = uint64_t(st.st_size);
    uint64_t from = size - offset > max ? size - max : offset;
    out.resize(size_t(size - from));
    size_t got = 0;
    while (got < out.size()) {
      ssize_t r = ::pread(fd, out.data() + got, out.size() - got, off_t(from + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += size_t(r);
    }
    out.resize(got);
  }
  ::close(fd);
  return out;
}

std::string env_or(const HookRequest& req, const char* name) {
  if (auto it = req.env.find(name); it != req.env.end()) return it->second;
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// A plain name: not empty, no '/', not "." or "..", no NUL, at most NAME_MAX bytes.
bool is_plain_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.size() <= 255 &&
         s.find('/') == std::string::npos && s.find('\0') == std::string::npos;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

}  // namespace

std::string_view hook_name(Hook h) {
  switch (h) {
    case Hook::get_requires_for_build_wheel:
      return "get_requires_for_build_wheel";
    case Hook::get_requires_for_build_editable:
      return "get_requires_for_build_editable";
    case Hook::prepare_metadata_for_build_wheel:
      return "prepare_metadata_for_build_wheel";
    case Hook::prepare_metadata_for_build_editable:
      return "prepare_metadata_for_build_editable";
    case Hook::build_wheel:
      return "build_wheel";
    case Hook::build_editable:
      return "build_editable";
  }
  return "build_wheel";
}

Result<HookOutcome> run_hook(const HookRequest& req) {
  const std::string hook(hook_name(req.hook));
  const std::string backend =
      req.system.backend.empty() ? std::string(kLegacyBackend) : req.system.backend;
  const std::string who = "the build backend " + backend;
  if (req.log_path.empty()) return make_error("run_hook: no log file given for " + hook);
  if (!fs::is_dir(req.source_dir))
    return make_error("the source tree " + req.source_dir + " is not a directory");
  if (!fs::is_dir(req.output_dir))
    return make_error("the output directory " + req.output_dir + " of " + hook +
                      " is not a directory");
  LB_ASSIGN(auto backend_path, resolve_backend_path(req.system, req.source_dir));
  const std::string output_dir = fs::absolute(req.output_dir);

  json request = {
      {"protocol", "lavabuild.hook.v1"},
      {"hook", hook},
      {"backend", backend},
      {"backend_path", backend_path},
      {"directory", output_dir},
      {"metadata_directory",
       req.metadata_directory.empty() ? json(nullptr) : json(fs::absolute(req.metadata_directory))},
      {"config_settings", config_settings_json(req.config_settings)},
  };
  std::string request_text;
  try {
    request_text = request.dump();
  } catch (const json::exception&) {
    return make_error("cannot run " + hook + " in " + req.source_dir +
                          ": a path or config setting is not valid UTF-8",
                      "the hook runner passes them to Python as JSON text");
  }

  const char* tmpdir = std::getenv("TMPDIR");
  std::string scratch_root =
      !req.scratch_dir.empty() ? req.scratch_dir : (tmpdir && *tmpdir ? tmpdir : "/tmp");
  LB_ASSIGN(fs::OwnedDir scratch,
            fs::OwnedDir::create(fs::join_path(scratch_root, "lavabuild-hook"), 0700));
  struct RemoveScratch {
    const fs::OwnedDir& dir;
    ~RemoveScratch() { (void)fs::remove_all(dir.path()); }
  } remove_scratch{scratch};
  const std::string request_path = fs::join_path(scratch.path(), "request.json");
  const std::string result_path = fs::join_path(scratch.path(), "result.json");
  LB_TRY(fs::write_file(request_path, request_text, 0600));

  LB_ASSIGN(uint64_t log_start,
            append_log(req.log_path, "==> lavabuild: " + hook + " (backend " + backend + ") in " +
                                         req.source_dir + "\n"));

  ProcessOptions opt;
  opt.cwd = req.source_dir;
  opt.output_path = req.log_path;
  opt.timeout = req.timeout;
  opt.own_process_group = true;
  opt.unset_env = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT",
                   "PYTHONEXECUTABLE"};
  opt.unset_env_prefixes = {"PIP_"};
  opt.env["PYTHONNOUSERSITE"] = "1";
  if (req.python.find('/') != std::string::npos) {
    const char* path = std::getenv("PATH");
    std::string bin = fs::dirname(fs::absolute(req.python));
    opt.env["PATH"] = path && *path ? bin + ":" + path : bin;
  }
  for (const auto& [k, v] : req.env) opt.env[k] = v;

  auto started = Clock::now();
  auto run =
      run_process({req.python, "-c", std::string(kHookRunner), request_path, result_path}, opt);
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!run.ok())
    return make_error("cannot run " + hook + " of " + who + ": " + run.error().message,
                      "the build env's interpreter should be " + req.python);

  // This hook's output, read before the closing line goes in.
  const std::string output = read_since(req.log_path, log_start, kDiagnoseBytes);
  std::string ending = run->timed_out   ? "stopped (timeout)"
                       : run->cancelled ? "stopped (interrupted)"
                                        : "exit status " + std::to_string(run->exit_code);
  (void)append_log(req.log_path, "==> lavabuild: " + hook + " ended: " + ending + " after " +
                                     seconds_text(seconds) + " s\n");

  // Named findings first, then the headline, then the last lines of the output.
  LogContext context{env_or(req, "CC"), env_or(req, "CXX")};
  auto failure = [&](const std::string& headline, std::vector<std::string> findings) {
    std::string msg;
    for (const auto& f : findings) msg += f + "\n";
    msg += headline;
    auto tail = log_tail(output);
    if (!tail.empty()) {
      msg += "; the last " + std::to_string(tail.size()) + " lines of its output:";
      for (const auto& line : tail) msg += "\n  | " + line;
    }
    return make_error(msg, "the whole log is " + req.log_path);
  };

  if (run->timed_out)
    return failure(who + " did not finish " + hook + " in " + std::to_string(req.timeout.count()) +
                       " s (--build-timeout), so it was stopped",
                   diagnose_build_log(output, context));
  if (run->cancelled)
    return make_error("interrupted: " + hook + " of " + who + " was stopped",
                      "its log is " + req.log_path);

  json result;
  bool have_result = false;
  auto info = fs::stat_path(result_path);
  if (info.exists && info.is_regular && info.size <= kMaxHookResultBytes) {
    if (auto text = fs::read_file(result_path); text.ok()) {
      result = json::parse(*text, nullptr, /*allow_exceptions=*/false);
      have_result = result.is_object() && result.contains("status") && result["status"].is_string();
    }
  }
  const std::string status = have_result ? result["status"].get<std::string>() : "";
  auto message = [&] {
    return result.contains("message") && result["message"].is_string()
               ? result["message"].get<std::string>()
               : std::string();
  };

  if (status == "backend_unavailable") {
    std::string module = result.contains("module") && result["module"].is_string()
                             ? result["module"].get<std::string>()
                             : backend.substr(0, backend.find(':'));
    return failure(who + " failed in " + hook,
                   {"the build backend module '" + module +
                    "' is not installed in the build env: add it to [build-system] requires"});
  }
  if (status == "backend_invalid") return failure(who + " cannot be loaded: " + message(), {});
  if (status == "hook_missing") {
    if (is_optional(req.hook)) {
      HookOutcome outcome;
      outcome.hook_missing = true;
      return outcome;
    }
    if (req.hook == Hook::build_editable)
      return make_error(who +
                            " does not support editable installs (it has no build_editable "
                            "hook, PEP 660)",
                        "install the project without -e, or use a backend that supports PEP 660 "
                        "(setuptools >= 64, flit_core >= 3.4, hatchling)");
    return make_error(who + " has no " + hook + " hook, which PEP 517 requires",
                      "check [build-system] build-backend in pyproject.toml");
  }
  if (status == "bad_return")
    return make_error(
        who + " returned a value from " + hook + " that is not plain data: " + message(),
        "this is a bug in the backend; the whole log is " + req.log_path);
  if (status != "ok" || run->exit_code != 0) {
    std::string headline =
        have_result || run->exit_code != 0
            ? who + " failed in " + hook + " (exit status " + std::to_string(run->exit_code) + ")"
            : who + " ended " + hook + " without a result (the interpreter exited from inside it)";
    return failure(headline, diagnose_build_log(output, context));
  }

  const json& value = result["value"];
  HookOutcome outcome;
  auto bad_value = [&](const std::string& what) {
    return make_error(who + " returned " + what + " from " + hook,
                      "this is a bug in the backend or in the project's build configuration; "
                      "the whole log is " +
                          req.log_path);
  };
  if (returns_requirements(req.hook)) {
    if (!value.is_array()) return bad_value("something other than a list of requirements");
    if (value.size() > kMaxHookRequires)
      return bad_value(std::to_string(value.size()) + " requirements (lavabuild takes at most " +
                       std::to_string(kMaxHookRequires) + ")");
    for (const auto& item : value) {
      if (!item.is_string()) return bad_value("a list with a non-string in it");
      std::string text = item.get<std::string>();
      if (auto r = pep::Requirement::parse(text); !r.ok())
        return bad_value("an invalid requirement " + lb::quoted(text) + " (" + r.error().message +
                         ")");
      outcome.requirements.push_back(std::move(text));
    }
    return outcome;
  }
  if (!value.is_string()) return bad_value("something other than a file name");
  std::string name = value.get<std::string>();
  if (!is_plain_name(name))
    return bad_value(lb::quoted(name) + ", which is not a plain name in " + output_dir);
  auto found = fs::stat_path(fs::join_path(output_dir, name));
  if (returns_metadata(req.hook)) {
    if (!ends_with(name, ".dist-info") || !found.is_dir || found.is_symlink)
      return bad_value(lb::quoted(name) + ", which is not a .dist-info directory in " + output_dir);
  } else if (!ends_with(name, ".whl") || !found.is_regular) {
    return bad_value(lb::quoted(name) + ", which is not a .whl file in " + output_dir);
  }
  outcome.basename = std::move(name);
  return outcome;
}

}  // namespace lb::build
