// build/: reading [build-system], and the log diagnoses.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "build/build_system.hpp"
#include "build/diagnose.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

using namespace lb;
using namespace lb::build;
using lb::test::TempDir;

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
