// build/: reading [build-system].
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "build/build_system.hpp"
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
