#include "interp/interpreter.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

namespace lb::interp {

namespace {

constexpr const char* kFormat = "lavabuild.interpreter.v2";

// Asks the interpreter everything we need in one run. Runs with -I -S so neither the user's
// site-packages nor PYTHON* variables change the answer.
constexpr const char* kProbe = R"PY(
import importlib.util, json, os, platform, sys, sysconfig
base = getattr(sys, "_base_executable", None) or sys.executable
if sys.prefix != sys.base_prefix:
    # Inside a venv: point at the interpreter the venv itself was made from.
    cand = os.path.join(sys.base_prefix, "bin", os.path.basename(base))
    base = cand if os.path.exists(cand) else base
schemes = sysconfig.get_scheme_names()
scheme = "venv" if "venv" in schemes else "posix_prefix"
root = "/@LAVABUILD_ENV@"
v = {"base": root, "platbase": root, "installed_base": root, "installed_platbase": root}
paths = sysconfig.get_paths(scheme, vars=v)
rel = {k: os.path.relpath(p, root) for k, p in paths.items()}
try:
    import venv
    scripts = os.path.join(os.path.dirname(venv.__file__), "scripts")
except Exception:
    scripts = ""
def fmt(info):
    version = "{0.major}.{0.minor}.{0.micro}".format(info)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version
try:
    glibc = os.confstr("CS_GNU_LIBC_VERSION") or ""
except (AttributeError, ValueError, OSError):
    glibc = ""
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": fmt(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
stdlib = sysconfig.get_paths()["stdlib"]
def bundled_wheels():
    # Where ensurepip takes its wheels: the distribution's WHEEL_PKG_DIR (Debian, Fedora:
    # /usr/share/python-wheels), then the stdlib's own ensurepip/_bundled.
    out = []
    for d in (sysconfig.get_config_var("WHEEL_PKG_DIR") or "", os.path.join(stdlib, "ensurepip", "_bundled")):
        try:
            out += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".whl"))
        except OSError:
            pass
    return out
def seed_packages():
    # What `python -m venv` seeds: setuptools too while ensurepip still ships it (< 3.12).
    try:
        with open(os.path.join(stdlib, "ensurepip", "__init__.py"), encoding="utf-8") as f:
            return ["pip", "setuptools"] if "_SETUPTOOLS_VERSION" in f.read() else ["pip"]
    except OSError:
        return ["pip", "setuptools"] if sys.version_info < (3, 12) else ["pip"]
print(json.dumps({
    "executable": base,
    "version": platform.python_version(),
    "major": sys.version_info[0], "minor": sys.version_info[1],
    "implementation": sys.implementation.name,
    "soabi": sysconfig.get_config_var("SOABI") or "",
    "debug": bool(sysconfig.get_config_var("Py_DEBUG")),
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "platform": sysconfig.get_platform(),
    "machine": platform.machine(),
    "glibc": glibc,
    "paths": rel,
    "venv_scripts": scripts,
    "markers": markers,
    "bundled_wheels": bundled_wheels(),
    "seed_packages": seed_packages(),
    "cache_tag": sys.implementation.cache_tag or "",
    "magic": importlib.util.MAGIC_NUMBER.hex(),
}))
)PY";

std::string stat_signature(const std::string& path) {
  auto info = fs::stat_path(path);
  return std::to_string(info.size) + ":" + std::to_string(info.mtime_ns) + ":" +
         std::to_string(info.inode);
}

std::string real_path(const std::string& path) {
  char* r = ::realpath(path.c_str(), nullptr);
  if (!r) return path;
  std::string out = r;
  std::free(r);
  return out;
}

bool is_elf(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char head[4] = {};
  size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  return n == 4 && std::string_view(head, 4) == std::string_view(
                                                    "\x7f"
                                                    "ELF",
                                                    4);
}

std::string abi_tag(const nlohmann::json& j) {
  std::string impl = j.value("implementation", "");
  int major = j.value("major", 3), minor = j.value("minor", 0);
  if (impl != "cpython") {
    std::string soabi = j.value("soabi", "");
    // e.g. "pypy39-pp73-x86_64-linux-gnu" -> "pypy39_pp73"
    auto parts = split(soabi, '-');
    if (parts.size() >= 2) return parts[0] + "_" + parts[1];
    return "";
  }
  std::string abi = "cp" + std::to_string(major) + std::to_string(minor);
  if (j.value("free_threaded", false)) abi += "t";
  if (j.value("debug", false)) abi += "d";
  return abi;
}

}  // namespace

const char* probe_script() {
  return kProbe;
}

Result<Interpreter> parse_probe_output(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return make_error("the interpreter probe printed something that is not JSON: " +
                      text.substr(0, 200));
  Interpreter it;
  it.executable = j.value("executable", "");
  it.home = fs::dirname(it.executable);
  it.version = j.value("version", "");
  it.major = j.value("major", 3);
  it.minor = j.value("minor", 0);
  it.implementation = j.value("implementation", "");
  it.venv_scripts_dir = j.value("venv_scripts", "");
  for (const char* key : {"bundled_wheels", "seed_packages"}) {
    auto& into = key[0] == 'b' ? it.bundled_wheels : it.seed_packages;
    if (j.contains(key) && j[key].is_array())
      for (const auto& w : j[key])
        if (w.is_string()) into.push_back(w.get<std::string>());
  }
  it.cache_tag = j.value("cache_tag", "");
  it.bytecode_magic = j.value("magic", "");
  const auto& paths = j["paths"];
  if (!paths.is_object()) return make_error("the interpreter probe gave no scheme paths");
  it.purelib = paths.value("purelib", "");
  it.platlib = paths.value("platlib", "");
  it.scripts = paths.value("scripts", "bin");
  it.include = "include/site/python" + std::to_string(it.major) + "." + std::to_string(it.minor);
  it.data = paths.value("data", ".");
  if (it.data == ".") it.data = "";
  if (j["markers"].is_object())
    for (auto& [k, v] : j["markers"].items())
      if (v.is_string()) it.markers.values[k] = v.get<std::string>();

  pep::TagInputs in;
  in.implementation = it.implementation == "cpython" ? "cp"
                      : it.implementation == "pypy"  ? "pp"
                                                     : it.implementation;
  in.py_major = it.major;
  in.py_minor = it.minor;
  in.abi = abi_tag(j);
  std::string plat = j.value("platform", "");
  for (char& c : plat)
    if (c == '-' || c == '.') c = '_';
  in.platform = plat;
  in.arch = j.value("machine", "");
  std::string glibc = j.value("glibc", "");  // "glibc 2.36"
  if (starts_with(glibc, "glibc ")) {
    auto parts = split(glibc.substr(6), '.');
    if (parts.size() >= 2) {
      in.glibc_major = std::atoi(parts[0].c_str());
      in.glibc_minor = std::atoi(parts[1].c_str());
    }
  }
  it.tags = pep::generate_tags(in);
  if (it.executable.empty() || it.version.empty() || it.purelib.empty())
    return make_error("the interpreter probe answer is incomplete");
  return it;
}

Result<std::string> find_interpreter(const std::string& spec) {
  if (spec.empty()) {
    std::string p = find_program("python3");
    if (p.empty())
      return make_error("no python3 on PATH", "install Python 3 or pass --python PATH");
    return p;
  }
  if (spec.find('/') != std::string::npos) {
    if (!fs::exists(spec)) return make_error("--python " + spec + ": no such file");
    return spec;
  }
  std::vector<std::string> candidates;
  bool looks_like_version = !spec.empty() && std::isdigit(static_cast<unsigned char>(spec[0]));
  if (looks_like_version) {
    candidates = {"python" + spec, "/usr/bin/python" + spec, "/usr/local/bin/python" + spec};
  } else {
    candidates = {spec};
  }
  for (const auto& c : candidates) {
    std::string p = find_program(c);
    if (!p.empty()) return p;
  }
  return make_error("--python " + spec + ": no such interpreter found on PATH",
                    "pass the interpreter's path, e.g. --python /usr/bin/python3");
}

Result<Interpreter> probe(const std::string& python, const std::string& cache_dir) {
  std::string real = real_path(python);
  bool cacheable = !cache_dir.empty() && is_elf(real);
  std::string cache_file;
  std::string signature = stat_signature(real);
  if (cacheable) {
    cache_file = fs::join_path(cache_dir, "interpreters/" + sha256_hex(real) + ".json");
    auto cached = fs::read_file(cache_file);
    if (cached.ok()) {
      auto j = nlohmann::json::parse(*cached, nullptr, false);
      if (!j.is_discarded() && j.value("format", "") == kFormat &&
          j.value("stat", "") == signature && j.contains("probe")) {
        auto it = parse_probe_output(j["probe"].dump());
        if (it.ok()) {
          it->key = sha256_hex(real + "\n" + signature + "\n" + j["probe"].dump());
          return it;
        }
      }
    }
  }
  ProcessOptions opt;
  opt.unset_env = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONNOUSERSITE"};
  auto run = run_process({python, "-I", "-S", "-c", kProbe}, opt);
  if (!run.ok()) return run.error();
  if (run->exit_code != 0)
    return make_error("cannot run the interpreter " + python + " (exit " +
                          std::to_string(run->exit_code) + "): " + std::string(trim(run->err)),
                      "check --python");
  auto it = parse_probe_output(run->out);
  if (!it.ok()) return it.error().context(python);
  auto probe_json = nlohmann::json::parse(run->out);
  it->key = sha256_hex(real + "\n" + signature + "\n" + probe_json.dump());
  if (cacheable) {
    nlohmann::json entry = {{"format", kFormat}, {"stat", signature}, {"probe", probe_json}};
    if (fs::create_dirs(fs::dirname(cache_file)).ok())
      (void)fs::write_file_atomic(cache_file, entry.dump());  // a cache: failure is harmless
  }
  return it;
}

}  // namespace lb::interp
