// build/: reading [build-system], the log diagnoses, and run_hook against a tiny in-tree
// backend and the real setuptools of Debian, in build envs made by the test.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "build/build_system.hpp"
#include "build/diagnose.hpp"
#include "build/hook.hpp"
#include "test_support.hpp"
#include "util/cancel.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

using namespace lb;
using namespace lb::build;
using lb::test::TempDir;

namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kWheelDir = "/usr/share/python-wheels";

std::string file_text(const std::string& path) {
  auto r = fs::read_file(path);
  return r.ok() ? *r : std::string();
}

/// A build env: `python3 -m venv --without-pip`, with Debian's setuptools and wheel wheels
/// unzipped into its site-packages (the engine installs them properly; a test may do this).
/// Made once per test run; `python` is empty and `missing` says why when it cannot be.
struct BuildEnv {
  std::string python;
  std::string missing;
};

const BuildEnv& build_env() {
  static TempDir dir("build-env");
  static BuildEnv env = [] {
    BuildEnv e;
    if (!lb::test::have_program(kPython)) {
      e.missing = std::string(kPython) + " is missing";
      return e;
    }
    std::vector<std::string> wheels;
    auto listing = fs::list_dir(kWheelDir);
    for (const auto& name : listing.ok() ? *listing : std::vector<std::string>{})
      if (starts_with(name, "setuptools-") || starts_with(name, "wheel-"))
        wheels.push_back(fs::join_path(kWheelDir, name));
    if (wheels.size() != 2) {
      e.missing = std::string("the setuptools and wheel wheels of ") + kWheelDir +
                  " (apt-get install python3-setuptools-whl python3-wheel-whl)";
      return e;
    }
    std::string venv = dir / "env";
    auto made = run_process({kPython, "-m", "venv", "--without-pip", venv});
    if (!made.ok() || made->exit_code != 0) {
      e.missing = "python3 -m venv (apt-get install python3-venv): " +
                  (made.ok() ? made->err : made.error().message);
      return e;
    }
    std::string python = venv + "/bin/python";
    auto site = run_process(
        {python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'), end='')"});
    REQUIRE(site.ok());
    std::vector<std::string> unzip = {
        python, "-c",
        "import sys, zipfile\nfor w in sys.argv[2:]: zipfile.ZipFile(w).extractall(sys.argv[1])",
        site->out};
    unzip.insert(unzip.end(), wheels.begin(), wheels.end());
    auto unzipped = run_process(unzip);
    REQUIRE(unzipped.ok());
    REQUIRE(unzipped->exit_code == 0);
    e.python = python;
    return e;
  }();
  return env;
}

#define REQUIRE_BUILD_ENV()                                                       \
  do {                                                                            \
    if (build_env().python.empty()) LB_MISSING_PREREQUISITE(build_env().missing); \
  } while (0)

/// A tiny in-tree backend (backend-path = ["."]) whose build_wheel does what config setting
/// "mode" says.
constexpr const char* kBackend = R"py(
import json, os, subprocess, sys, time

def _mode(config_settings):
    return (config_settings or {}).get("mode", "ok")

def get_requires_for_build_wheel(config_settings=None):
    if _mode(config_settings) == "bad-requirement":
        return ["not a requirement !!"]
    return ["cython>=3", "numpy; python_version >= '3'"]

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    mode = _mode(config_settings)
    with open("seen.json", "w") as f:
        json.dump({
            "config_settings": config_settings,
            "metadata_directory": metadata_directory,
            "cwd": os.getcwd(),
            "env": {k: os.environ.get(k) for k in
                    ("LB_TEST_VAR", "PYTHONNOUSERSITE", "PYTHONPATH", "PIP_INDEX_URL")},
            "sys_path": sys.path,
        }, f)
    print("building in", os.getcwd())
    if mode == "raise":
        for i in range(40):
            print("backend line", i)
        raise RuntimeError("boom from the backend")
    if mode == "sleep":
        child = subprocess.Popen(["sleep", "300"])
        with open("grandchild.pid", "w") as f:
            f.write(str(child.pid))
        time.sleep(300)
    if mode == "missing":
        return "nothing-1.0-py3-none-any.whl"
    if mode == "slash":
        return "../demo-1.0-py3-none-any.whl"
    if mode == "exit":
        os._exit(0)
    name = "demo-1.0-py3-none-any.whl"
    with open(os.path.join(wheel_directory, name), "wb") as f:
        f.write(b"not really a zip")
    return name
)py";

struct Project {
  TempDir dir{"build"};
  std::string src = dir / "src";
  std::string out = dir / "out";
  std::string log = dir / "logs/build.log";

  Project() { REQUIRE(fs::create_dirs(out).ok()); }

  HookRequest request(Hook hook, const BuildSystem& system) const {
    HookRequest r;
    r.python = build_env().python;
    r.source_dir = src;
    r.system = system;
    r.hook = hook;
    r.output_dir = out;
    r.log_path = log;
    r.scratch_dir = dir.path;
    return r;
  }
};

BuildSystem in_tree_backend() {
  BuildSystem s;
  s.declared = true;
  s.backend = "backend";
  s.backend_path = {"."};
  return s;
}

/// A project whose build backend is kBackend, in the tree.
struct InTreeProject : Project {
  InTreeProject() { dir.write("src/backend.py", kBackend); }
};

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  // A zombie waiting for a reaper that never comes (PID 1 in a container) is gone too.
  std::string stat = file_text("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

/// The names in a zip file, one per line.
std::string zip_names(const std::string& zip) {
  auto r = run_process(
      {kPython, "-c",
       "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", zip});
  REQUIRE(r.ok());
  return r->out;
}

constexpr const char* kExtensionC = R"c(
#include <Python.h>
static PyObject* answer(PyObject* self, PyObject* args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "cdemo", NULL, -1, methods};
PyMODINIT_FUNC PyInit_cdemo(void) { return PyModule_Create(&module); }
)c";

constexpr const char* kExtensionSetup = R"py(
from setuptools import setup, Extension
setup(name="cdemo", version="1.0", ext_modules=[Extension("cdemo", ["cdemo.c"])])
)py";

/// A setuptools project with a C extension and no pyproject.toml (pip's defaults).
struct ExtensionProject : Project {
  explicit ExtensionProject(const std::string& extra_include = "") {
    dir.write("src/setup.py", kExtensionSetup);
    dir.write("src/cdemo.c", extra_include + kExtensionC);
  }
};

}  // namespace

// --- parse_build_system ------------------------------------------------------------------

TEST_CASE("build: no [build-system] gives pip's defaults") {
  for (std::string text : {"", "[project]\nname = 'x'\n", "[tool.black]\nline-length = 100\n"}) {
    auto s = parse_build_system(text, "pyproject.toml");
    REQUIRE(s.ok());
    CHECK_FALSE(s->declared);
    CHECK(s->requirements == std::vector<std::string>{"setuptools>=40.8.0"});
    CHECK(s->backend == "setuptools.build_meta:__legacy__");
    CHECK(s->backend_path.empty());
  }
}

TEST_CASE("build: a declared [build-system]") {
  auto s = parse_build_system(R"(
[build-system]
requires = ["flit_core >=3.2,<4", "tomli; python_version < '3.11'"]
build-backend = "flit_core.buildapi"
backend-path = ["_build", "tools/../backend"]
)",
                              "pyproject.toml");
  REQUIRE(s.ok());
  CHECK(s->declared);
  CHECK(s->requirements ==
        std::vector<std::string>{"flit_core >=3.2,<4", "tomli; python_version < '3.11'"});
  CHECK(s->backend == "flit_core.buildapi");
  CHECK(s->backend_path == std::vector<std::string>{"_build", "tools/../backend"});

  auto obj = parse_build_system(
      "[build-system]\nrequires = []\nbuild-backend = \"pkg.sub:Object.attr\"\n", "p.toml");
  REQUIRE(obj.ok());
  CHECK(obj->backend == "pkg.sub:Object.attr");
  CHECK(obj->requirements.empty());
}

TEST_CASE("build: [build-system] without build-backend takes the legacy backend (pip)") {
  auto s = parse_build_system("[build-system]\nrequires = [\"setuptools>=64\", \"wheel\"]\n",
                              "pyproject.toml");
  REQUIRE(s.ok());
  CHECK(s->declared);
  CHECK(s->backend == "setuptools.build_meta:__legacy__");
  CHECK(s->requirements == std::vector<std::string>{"setuptools>=64", "wheel"});
}

TEST_CASE("build: [build-system] without requires is an error (PEP 518)") {
  auto s = parse_build_system("[project]\nname = 'x'\n\n[build-system]\nbuild-backend = \"x\"\n",
                              "/src/pyproject.toml");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message ==
        "/src/pyproject.toml:4: [build-system] has no 'requires' (PEP 518 makes it mandatory)");
  CHECK(s.error().hint.find("requires = [") != std::string::npos);
}

TEST_CASE("build: wrong types and values in [build-system] are errors naming the line") {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const auto& c : std::vector<Case>{
           {"build-system = 3\n", "p.toml:1: build-system must be a table"},
           {"[build-system]\nrequires = \"setuptools\"\n",
            "p.toml:2: [build-system] requires must be an array of strings"},
           {"[build-system]\nrequires = [\n  \"ok\",\n  3,\n]\n",
            "p.toml:4: [build-system] requires must be an array of strings"},
           {"[build-system]\nrequires = [\"ok\", \"foo >>1\"]\n",
            "p.toml:2: [build-system] requires: \"foo >>1\" is not a valid requirement"},
           {"[build-system]\nrequires = []\nbuild-backend = 3\n",
            "p.toml:3: [build-system] build-backend must be a string"},
           {"[build-system]\nrequires = []\nbuild-backend = \"flit core\"\n",
            "p.toml:3: [build-system] build-backend \"flit core\" is not a Python object"},
           {"[build-system]\nrequires = []\nbuild-backend = \"a:b:c\"\n", "is not a Python object"},
           {"[build-system]\nrequires = []\nbuild-backend = \"\"\n", "is not a Python object"},
           {"[build-system]\nrequires = []\nbackend-path = \".\"\n",
            "p.toml:3: [build-system] backend-path must be an array of strings"},
       }) {
    INFO(c.text);
    auto s = parse_build_system(c.text, "p.toml");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find(c.message) != std::string::npos);
  }
}

TEST_CASE("build: backend-path entries outside the tree are rejected") {
  for (std::string entry : {"..", "../x", "a/../../x", "/abs", "", "./.."}) {
    INFO(entry);
    auto s = parse_build_system(
        "[build-system]\nrequires = []\nbackend-path = [\"" + entry + "\"]\n", "p.toml");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("p.toml:3: [build-system] backend-path entry") == 0);
  }
  for (std::string entry : {".", "a/../b", "./x/", "a/b/.."}) {
    INFO(entry);
    CHECK(parse_build_system("[build-system]\nrequires = []\nbackend-path = [\"" + entry + "\"]\n",
                             "p.toml")
              .ok());
  }
}

TEST_CASE("build: bad TOML is an error with the line") {
  auto s = parse_build_system("[build-system]\nrequires = [\"a\"\nbuild-backend = 1\n",
                              "/src/pyproject.toml");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find("/src/pyproject.toml:3:") == 0);
  CHECK(s.error().message.find("invalid TOML") != std::string::npos);
}

TEST_CASE("build: a pyproject.toml over the size limit is refused") {
  std::string text = "[build-system]\nrequires = []\n# ";
  text.append(kMaxPyprojectBytes, 'x');
  auto s = parse_build_system(text, "big.toml");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find("big.toml is larger than 4 MiB") == 0);
  std::string many = "[build-system]\nrequires = [";
  for (size_t i = 0; i <= kMaxBuildRequires; ++i) many += "\"a\",";
  auto s2 = parse_build_system(many + "]\n", "p.toml");
  REQUIRE_FALSE(s2.ok());
  CHECK(s2.error().message.find("lavabuild reads at most 1000") != std::string::npos);
}

TEST_CASE("build: dotted keys and table names are bounded before toml++ sees them") {
  auto dotted = [](size_t parts) {
    std::string key = "a";
    for (size_t i = 1; i < parts; ++i) key += ".a";
    return key;
  };
  CHECK(parse_build_system(dotted(kMaxKeyParts) + " = 1\n", "p.toml").ok());
  CHECK(parse_build_system("[" + dotted(kMaxKeyParts) + "]\n", "p.toml").ok());
  for (std::string text : {
           "\n\n" + dotted(kMaxKeyParts + 1) + " = 1\n",
           "\n\n[" + dotted(50000) + "]\n",
           "x = '''\n'''\n[[" + dotted(kMaxKeyParts + 1) + "]]\n",
           "x = \"a\\\"b\"\n\n" + dotted(kMaxKeyParts + 1) + " = 1\n",
           "x = {y = 1}\n\na. \"b\" . 'c'" + dotted(kMaxKeyParts).substr(1) + " = 1\n",
       }) {
    INFO(text.substr(0, 40));
    auto s = parse_build_system(text, "p.toml");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message == "p.toml:3: a dotted key or table name with more than 64 parts");
  }
  // Dots in strings, comments, floats and times are not keys.
  std::string dots(10 * kMaxKeyParts, '.');
  std::string floats;
  for (int i = 0; i < 200; ++i) floats += "1.5, 07:32:00.25, ";
  for (std::string text : {
           "x = \"" + dots + "\"\n",
           "x = '" + dots + "'\n",
           "# " + dots + "\n",
           "x = \"\"\"\n" + dots + "\n\"\"\"\n",
           "x = '''" + dots + "'''\n",
           "x = [" + floats + "]\n",
       }) {
    INFO(text.substr(0, 40));
    CHECK(parse_build_system(text, "p.toml").ok());
  }
}

TEST_CASE("build: read_build_system reads the tree's pyproject.toml") {
  TempDir t("build-read");
  auto none = read_build_system(t.path);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("has neither pyproject.toml nor setup.py") != std::string::npos);

  t.write("setup.py", "from setuptools import setup; setup()\n");
  auto legacy = read_build_system(t.path);
  REQUIRE(legacy.ok());
  CHECK_FALSE(legacy->declared);

  t.write("pyproject.toml",
          "[build-system]\nrequires = [\"hatchling\"]\n"
          "build-backend = \"hatchling.build\"\nbackend-path = [\"b\"]\n");
  REQUIRE(fs::create_dirs(t / "b").ok());
  auto declared = read_build_system(t.path);
  REQUIRE(declared.ok());
  CHECK(declared->backend == "hatchling.build");
  auto paths = resolve_backend_path(*declared, t.path);
  REQUIRE(paths.ok());
  CHECK(*paths == std::vector<std::string>{t / "b"});

  // A backend-path entry that is a symlink out of the tree.
  REQUIRE(fs::remove_all(t / "b").ok());
  REQUIRE(fs::symlink("/usr/lib", t / "b").ok());
  auto escaped = read_build_system(t.path);
  REQUIRE_FALSE(escaped.ok());
  CHECK(escaped.error().message.find("resolves outside the source tree") != std::string::npos);

  // Not a regular file: never read.
  REQUIRE(fs::remove_all(t / "pyproject.toml").ok());
  REQUIRE(::mkfifo((t / "pyproject.toml").c_str(), 0644) == 0);
  auto fifo = read_build_system(t.path);
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.error().message.find("is not a regular file") != std::string::npos);
}

// --- the log: diagnoses and tail -----------------------------------------------------------

TEST_CASE("build: diagnose_build_log names what is missing") {
  struct Case {
    const char* log;
    const char* finding;
  };
  for (const auto& c : std::vector<Case>{
           {"cdemo.c:1:10: fatal error: Python.h: No such file or directory\n",
            "the header Python.h was not found: install python3-dev"},
           {"x.c:2:10: fatal error: 'openssl/ssl.h' file not found\n",
            "the header openssl/ssl.h was not found: install libssl-dev"},
           {"x.c:2:10: fatal error: nonexistent_lb.h: No such file or directory\n",
            "the header nonexistent_lb.h was not found: install the -dev package that provides "
            "it (`apt-file search nonexistent_lb.h` names it)"},
           {"m.c:3:10: fatal error: numpy/arrayobject.h: No such file or directory\n",
            "the header numpy/arrayobject.h was not found: add numpy to [build-system] requires"},
           {"error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory\n",
            "the C compiler 'x86_64-linux-gnu-gcc' was not found: install gcc (apt-get install "
            "build-essential)"},
           {"unable to execute 'x86_64-linux-gnu-g++': No such file or directory\n",
            "the C++ compiler 'x86_64-linux-gnu-g++' was not found: install g++"},
           {"/bin/sh: 1: gfortran: not found\n", "the Fortran compiler 'gfortran' was not found"},
           {"bash: line 1: cmake: command not found\n",
            "the program 'cmake' was not found: install it, or add the package that provides it "
            "to [build-system] requires"},
           {"error: can't find Rust compiler\n", "the Rust toolchain ('cargo') was not found"},
           {"/usr/bin/ld: cannot find -lxml2: No such file or directory\n",
            "the library libxml2 was not found by the linker: install libxml2-dev"},
           {"/usr/bin/ld: cannot find -lfoo\n",
            "the library libfoo was not found by the linker: install the -dev package that "
            "provides libfoo.so"},
           {"ModuleNotFoundError: No module named 'numpy'\n",
            "the module 'numpy' is not installed in the build env: add the package that provides "
            "it to [build-system] requires"},
           {"Package libffi was not found in the pkg-config search path.\n",
            "the pkg-config package 'libffi' was not found"},
           {"-- No CMAKE_CXX_COMPILER could be found.\n", "CMake found no C++ compiler"},
           {"ERROR: Unknown compiler(s): [['cc'], ['gcc']]\n", "Meson found no C or C++ compiler"},
           {"\x1b[01m\x1b[Kx.c:1:10:\x1b[m\x1b[K \x1b[01;31m\x1b[Kfatal error: \x1b[m\x1b[Kzlib.h: "
            "No such file or directory\n",
            "the header zlib.h was not found: install zlib1g-dev"},
       }) {
    INFO(c.log);
    auto found = diagnose_build_log(c.log);
    REQUIRE(found.size() == 1);
    CHECK(found[0].find(c.finding) == 0);
  }
  LogContext cc{"/nonexistent/cc -O2", ""};
  auto from_cc = diagnose_build_log(
      "SystemExit: error: command '/nonexistent/cc' failed: No such file or directory\n", cc);
  REQUIRE(from_cc.size() == 1);
  CHECK(from_cc[0] ==
        "the C compiler '/nonexistent/cc' (from $CC) was not found: fix CC, or "
        "unset it and install gcc (apt-get install build-essential)");

  CHECK(diagnose_build_log("all fine\nerror: command 'gcc' failed with exit code 1\n").empty());
  CHECK(diagnose_build_log("cc1: fatal error: x.c: No such file or directory\n").empty());
  // Distinct findings in the order seen, at most kMaxDiagnoses.
  auto many = diagnose_build_log(
      "ModuleNotFoundError: No module named 'a'\nModuleNotFoundError: No module named 'a'\n"
      "ModuleNotFoundError: No module named 'b'\nModuleNotFoundError: No module named 'c'\n"
      "ModuleNotFoundError: No module named 'd'\n");
  REQUIRE(many.size() == kMaxDiagnoses);
  CHECK(many[0].find("'a'") != std::string::npos);
  CHECK(many[1].find("'b'") != std::string::npos);
}

TEST_CASE("build: log_tail keeps the last lines, safe to print") {
  std::string log;
  for (int i = 0; i < 40; ++i) log += "line " + std::to_string(i) + "\n\n";
  auto tail = log_tail(log, 3);
  CHECK(tail == std::vector<std::string>{"line 37", "line 38", "line 39"});
  CHECK(log_tail("progress 10%\rprogress 100%\r\nnext\x1b[31m red\x1b[0m\x07\n") ==
        std::vector<std::string>{"progress 100%", "next red"});
  CHECK(log_tail("\x1b]0;title\x07shown\n") == std::vector<std::string>{"shown"});
  std::string long_line(kLogLineBytes - 1, 'a');
  long_line += "\xc3\xa9tail";  // a two-byte character across the cut
  auto cut = log_tail(long_line);
  REQUIRE(cut.size() == 1);
  CHECK(cut[0] == std::string(kLogLineBytes - 1, 'a') + "...");
  CHECK(log_tail("").empty());
  CHECK(log_tail("no newline") == std::vector<std::string>{"no newline"});
}

// --- util/process additions the runner needs ---------------------------------------------

TEST_CASE("build: run_process appends output to a file, drops variables by prefix") {
  TempDir t("build-proc");
  std::string out = t / "out.log";
  t.write("out.log", "before\n");
  ::setenv("LB_PREFIX_TEST_A", "1", 1);
  ProcessOptions opt;
  opt.output_path = out;
  opt.unset_env_prefixes = {"LB_PREFIX_TEST_"};
  auto r = run_process(
      {"/bin/sh", "-c", "echo out; echo err >&2; echo \"a=${LB_PREFIX_TEST_A:-unset}\""}, opt);
  ::unsetenv("LB_PREFIX_TEST_A");
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->out.empty());
  CHECK(file_text(out) == "before\nout\nerr\na=unset\n");
}

TEST_CASE("build: run_process stops a process group at its timeout") {
  TempDir t("build-proc");
  ProcessOptions opt;
  opt.timeout = std::chrono::milliseconds(300);
  opt.own_process_group = true;
  opt.output_path = t / "out.log";
  auto start = std::chrono::steady_clock::now();
  auto r = run_process({"/bin/sh", "-c", "sleep 30 & echo $! > " + (t / "pid") + "; wait"}, opt);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK(r->exit_code == 128 + SIGTERM);
  CHECK(s < 5);
  pid_t grandchild = std::stoi(file_text(t / "pid"));
  for (int i = 0; i < 100 && !process_gone(grandchild); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(process_gone(grandchild));
  // Quick children are not held up by the exit watch.
  auto quick = run_process({"/bin/true"}, opt);
  REQUIRE(quick.ok());
  CHECK_FALSE(quick->timed_out);
  CHECK(quick->exit_code == 0);
}

// --- run_hook with an in-tree backend --------------------------------------------------------

TEST_CASE("build: get_requires_for_build_wheel from an in-tree backend") {
  REQUIRE_BUILD_ENV();
  InTreeProject p;
  auto r = run_hook(p.request(Hook::get_requires_for_build_wheel, in_tree_backend()));
  REQUIRE(r.ok());
  CHECK_FALSE(r->hook_missing);
  CHECK(r->requirements == std::vector<std::string>{"cython>=3", "numpy; python_version >= '3'"});
  std::string log = file_text(p.log);
  CHECK(log.find("==> lavabuild: get_requires_for_build_wheel (backend backend) in " + p.src) == 0);
  CHECK(log.find("==> lavabuild: get_requires_for_build_wheel ended: exit status 0 after") !=
        std::string::npos);

  auto req = p.request(Hook::get_requires_for_build_wheel, in_tree_backend());
  req.config_settings = {{"mode", "bad-requirement"}};
  auto bad = run_hook(req);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("the build backend backend returned an invalid requirement "
                                 "\"not a requirement !!\"") == 0);
}

TEST_CASE("build: a missing optional hook is reported, a missing build_editable is an error") {
  REQUIRE_BUILD_ENV();
  InTreeProject p;
  auto r = run_hook(p.request(Hook::prepare_metadata_for_build_wheel, in_tree_backend()));
  REQUIRE(r.ok());
  CHECK(r->hook_missing);
  auto e = run_hook(p.request(Hook::get_requires_for_build_editable, in_tree_backend()));
  REQUIRE(e.ok());
  CHECK(e->hook_missing);
  CHECK(e->requirements.empty());
  auto editable = run_hook(p.request(Hook::build_editable, in_tree_backend()));
  REQUIRE_FALSE(editable.ok());
  CHECK(editable.error().message ==
        "the build backend backend does not support editable installs (it has no "
        "build_editable hook, PEP 660)");
}

TEST_CASE("build: build_wheel returns the wheel's name; settings and env reach the hook") {
  REQUIRE_BUILD_ENV();
  InTreeProject p;
  auto req = p.request(Hook::build_wheel, in_tree_backend());
  req.config_settings = {{"mode", "ok"}, {"k", "1"}, {"k", "2"}, {"k", "3"}, {"empty", ""}};
  req.env = {{"LB_TEST_VAR", "from the caller"}};
  ::setenv("PYTHONPATH", "/nonexistent-lb-pythonpath", 1);
  ::setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple", 1);
  auto r = run_hook(req);
  ::unsetenv("PYTHONPATH");
  ::unsetenv("PIP_INDEX_URL");
  REQUIRE(r.ok());
  CHECK(r->basename == "demo-1.0-py3-none-any.whl");
  CHECK(fs::exists(fs::join_path(p.out, r->basename)));

  auto seen = file_text(p.src + "/seen.json");
  INFO(seen);
  CHECK(seen.find(R"("config_settings": {"mode": "ok", "k": ["1", "2", "3"], "empty": ""})") !=
        std::string::npos);
  CHECK(seen.find(R"("metadata_directory": null)") != std::string::npos);
  CHECK(seen.find(R"("LB_TEST_VAR": "from the caller")") != std::string::npos);
  CHECK(seen.find(R"("PYTHONNOUSERSITE": "1")") != std::string::npos);
  CHECK(seen.find(R"("PYTHONPATH": null)") != std::string::npos);
  CHECK(seen.find(R"("PIP_INDEX_URL": null)") != std::string::npos);
  CHECK(seen.find(R"("cwd": ")" + p.src + "\"") != std::string::npos);
  CHECK(seen.find(R"("sys_path": [")" + p.src + "\"") != std::string::npos);  // backend-path first
  CHECK(seen.find("/nonexistent-lb-pythonpath") == std::string::npos);
  CHECK(file_text(p.log).find("building in " + p.src) != std::string::npos);

  // metadata_directory is passed on, absolute.
  REQUIRE(fs::create_dirs(p.out + "/demo-1.0.dist-info").ok());
  req.metadata_directory = p.out + "/demo-1.0.dist-info";
  REQUIRE(run_hook(req).ok());
  CHECK(file_text(p.src + "/seen.json")
            .find(R"("metadata_directory": ")" + p.out + "/demo-1.0.dist-info\"") !=
        std::string::npos);
}

TEST_CASE("build: a hook that raises fails with the log's tail and its path") {
  REQUIRE_BUILD_ENV();
  InTreeProject p;
  p.dir.write("logs/build.log", "an earlier hook's output\n");
  auto req = p.request(Hook::build_wheel, in_tree_backend());
  req.config_settings = {{"mode", "raise"}};
  auto r = run_hook(req);
  REQUIRE_FALSE(r.ok());
  const std::string& m = r.error().message;
  INFO(m);
  CHECK(m.find("the build backend backend failed in build_wheel (exit status 1); the last 25 "
               "lines of its output:\n") == 0);
  CHECK(m.find("  | RuntimeError: boom from the backend") != std::string::npos);
  CHECK(m.find("  | backend line 39") != std::string::npos);
  CHECK(m.find("backend line 5\n") == std::string::npos);  // only the tail
  CHECK(m.find("an earlier hook") == std::string::npos);   // only this hook's output
  CHECK(r.error().hint == "the whole log is " + p.log);
  std::string log = file_text(p.log);
  CHECK(log.find("an earlier hook's output\n==> lavabuild: build_wheel") == 0);
  CHECK(log.find("backend line 5\n") != std::string::npos);
  CHECK(log.find("build_wheel ended: exit status 1") != std::string::npos);
}

TEST_CASE("build: a hook past its timeout is stopped with its process group") {
  REQUIRE_BUILD_ENV();
  InTreeProject p;
  auto req = p.request(Hook::build_wheel, in_tree_backend());
  req.config_settings = {{"mode", "sleep"}};
  req.timeout = std::chrono::seconds(2);
  auto start = std::chrono::steady_clock::now();
  auto r = run_hook(req);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  CHECK(r.error().message.find("the build backend backend did not finish build_wheel in 2 s "
                               "(--build-timeout), so it was stopped; the last") == 0);
  CHECK(r.error().message.find("  | building in " + p.src) != std::string::npos);
  CHECK(r.error().hint == "the whole log is " + p.log);
  CHECK(s >= 2);
  CHECK(s < 2 + 3);
  CHECK(file_text(p.log).find("build_wheel ended: stopped (timeout)") != std::string::npos);
  pid_t grandchild = std::stoi(file_text(p.src + "/grandchild.pid"));
  for (int i = 0; i < 100 && !process_gone(grandchild); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(process_gone(grandchild));
}

TEST_CASE("build: a cancelled run stops the hook's process group") {
  REQUIRE_BUILD_ENV();
  InTreeProject p;
  auto req = p.request(Hook::build_wheel, in_tree_backend());
  req.config_settings = {{"mode", "sleep"}};
  std::string pid_file = p.src + "/grandchild.pid";
  std::thread canceller([&] {
    for (int i = 0; i < 500 && !fs::exists(pid_file); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel::request(SIGINT);
  });
  auto start = std::chrono::steady_clock::now();
  auto r = run_hook(req);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  canceller.join();
  cancel::reset();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "interrupted: build_wheel of the build backend backend was stopped");
  CHECK(s < 10);
  pid_t grandchild = std::stoi(file_text(pid_file));
  for (int i = 0; i < 100 && !process_gone(grandchild); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(process_gone(grandchild));
}

TEST_CASE("build: a returned name that is not a plain existing wheel is an error") {
  REQUIRE_BUILD_ENV();
  InTreeProject p;
  for (std::string mode : {"missing", "slash"}) {
    INFO(mode);
    auto req = p.request(Hook::build_wheel, in_tree_backend());
    req.config_settings = {{"mode", mode}};
    auto r = run_hook(req);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("the build backend backend returned \"") == 0);
    CHECK(r.error().message.find(mode == "slash" ? "which is not a plain name in " + p.out
                                                 : "which is not a .whl file in " + p.out) !=
          std::string::npos);
  }
  auto req = p.request(Hook::build_wheel, in_tree_backend());
  req.config_settings = {{"mode", "exit"}};
  auto r = run_hook(req);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("the build backend backend ended build_wheel without a result") ==
        0);
}

TEST_CASE("build: a backend that is not there is named") {
  REQUIRE_BUILD_ENV();
  InTreeProject p;
  BuildSystem flit;
  flit.declared = true;
  flit.backend = "flit_core.buildapi";
  flit.requirements = {"flit_core"};
  auto r = run_hook(p.request(Hook::build_wheel, flit));
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  CHECK(r.error().message.find("the build backend module 'flit_core' is not installed in the "
                               "build env: add it to [build-system] requires\nthe build backend "
                               "flit_core.buildapi failed in build_wheel") == 0);

  BuildSystem no_object = in_tree_backend();
  no_object.backend = "backend:Nope";
  auto r2 = run_hook(p.request(Hook::build_wheel, no_object));
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().message.find("the build backend backend:Nope cannot be loaded: the build "
                                "backend 'backend:Nope' has no attribute 'Nope'") == 0);

  // backend-path is set, but the backend is not in it (PEP 517: it MUST be loaded from there).
  BuildSystem elsewhere = in_tree_backend();
  elsewhere.backend = "json";
  auto r3 = run_hook(p.request(Hook::build_wheel, elsewhere));
  REQUIRE_FALSE(r3.ok());
  CHECK(r3.error().message.find("is not in backend-path") != std::string::npos);

  BuildSystem outside = in_tree_backend();
  outside.backend_path = {"../.."};
  auto r4 = run_hook(p.request(Hook::build_wheel, outside));
  REQUIRE_FALSE(r4.ok());
  CHECK(r4.error().message.find("resolves outside the source tree") != std::string::npos);
}

// --- run_hook with the real setuptools -----------------------------------------------------

TEST_CASE("build: setuptools builds a C extension into a wheel") {
  REQUIRE_BUILD_ENV();
  if (!lb::test::have_program("/usr/bin/gcc")) LB_MISSING_PREREQUISITE("gcc is missing");
  ExtensionProject p;
  auto system = read_build_system(p.src);
  REQUIRE(system.ok());
  CHECK_FALSE(system->declared);
  auto requires_ = run_hook(p.request(Hook::get_requires_for_build_wheel, *system));
  REQUIRE(requires_.ok());
  CHECK_FALSE(requires_->hook_missing);
  auto r = run_hook(p.request(Hook::build_wheel, *system));
  INFO(file_text(p.log));
  REQUIRE(r.ok());
  CHECK(starts_with(r->basename, "cdemo-1.0-cp3"));
  CHECK(ends_with(r->basename, ".whl"));
  std::string names = zip_names(fs::join_path(p.out, r->basename));
  INFO(names);
  CHECK(names.find("cdemo.cpython-") != std::string::npos);
  CHECK(names.find(".so\n") != std::string::npos);
}

TEST_CASE("build: setuptools builds a pure project and prepares its metadata") {
  REQUIRE_BUILD_ENV();
  Project p;
  p.dir.write("src/pyproject.toml", R"(
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "puredemo"
version = "1.0"
)");
  p.dir.write("src/puredemo/__init__.py", "ANSWER = 42\n");
  auto system = read_build_system(p.src);
  REQUIRE(system.ok());
  CHECK(system->declared);
  auto meta = run_hook(p.request(Hook::prepare_metadata_for_build_wheel, *system));
  INFO(file_text(p.log));
  REQUIRE(meta.ok());
  CHECK(meta->basename == "puredemo-1.0.dist-info");
  CHECK(fs::exists(p.out + "/puredemo-1.0.dist-info/METADATA"));

  std::string wheels = p.dir / "wheels";
  REQUIRE(fs::create_dirs(wheels).ok());
  auto req = p.request(Hook::build_wheel, *system);
  req.output_dir = wheels;
  req.metadata_directory = p.out + "/" + meta->basename;
  auto r = run_hook(req);
  REQUIRE(r.ok());
  CHECK(r->basename == "puredemo-1.0-py3-none-any.whl");
  CHECK(zip_names(wheels + "/" + r->basename).find("puredemo/__init__.py") != std::string::npos);
}

TEST_CASE("build: a missing header and a missing compiler are named") {
  REQUIRE_BUILD_ENV();
  if (!lb::test::have_program("/usr/bin/gcc")) LB_MISSING_PREREQUISITE("gcc is missing");
  {
    ExtensionProject p("#include <nonexistent_lb.h>\n");
    auto r = run_hook(p.request(Hook::build_wheel, *read_build_system(p.src)));
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message);
    CHECK(r.error().message.find(
              "the header nonexistent_lb.h was not found: install the -dev package that provides "
              "it (`apt-file search nonexistent_lb.h` names it)\nthe build backend "
              "setuptools.build_meta:__legacy__ failed in build_wheel (exit status 1)") == 0);
  }
  {
    ExtensionProject p;
    auto req = p.request(Hook::build_wheel, *read_build_system(p.src));
    req.env = {{"CC", "/nonexistent/cc"}};
    auto r = run_hook(req);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message);
    CHECK(r.error().message.find("the C compiler '/nonexistent/cc' (from $CC) was not found: fix "
                                 "CC, or unset it and install gcc (apt-get install "
                                 "build-essential)\nthe build backend") == 0);
  }
}
