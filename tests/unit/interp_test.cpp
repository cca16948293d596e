#include <unistd.h>

#include <catch2/catch.hpp>

#include "interp/interpreter.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

using namespace lb;

TEST_CASE("probe output parses into scheme, tags and markers") {
  std::string json = R"({"executable": "/usr/bin/python3.11", "version": "3.11.2", "major": 3,
    "minor": 11, "implementation": "cpython", "soabi": "cpython-311-x86_64-linux-gnu",
    "debug": false, "free_threaded": false, "platform": "linux-x86_64", "machine": "x86_64",
    "glibc": "glibc 2.36", "venv_scripts": "/usr/lib/python3.11/venv/scripts",
    "paths": {"purelib": "lib/python3.11/site-packages", "platlib": "lib/python3.11/site-packages",
              "scripts": "bin", "data": "."},
    "markers": {"python_version": "3.11", "sys_platform": "linux"},
    "bundled_wheels": ["/usr/share/python-wheels/pip-23.0.1-py3-none-any.whl", 7],
    "seed_packages": ["pip", "setuptools"]})";
  auto it = interp::parse_probe_output(json);
  REQUIRE(it.ok());
  CHECK(it->home == "/usr/bin");
  CHECK(it->purelib == "lib/python3.11/site-packages");
  CHECK(it->include == "include/site/python3.11");
  CHECK(it->data.empty());
  REQUIRE(!it->tags.empty());
  CHECK(it->tags.front().to_string() == "cp311-cp311-manylinux_2_36_x86_64");
  CHECK(it->tags.back().to_string() == "py30-none-any");
  CHECK(it->markers.values.at("sys_platform") == "linux");
  CHECK(it->bundled_wheels ==
        std::vector<std::string>{"/usr/share/python-wheels/pip-23.0.1-py3-none-any.whl"});
  CHECK(it->seed_packages == std::vector<std::string>{"pip", "setuptools"});
  CHECK_FALSE(interp::parse_probe_output("not json").ok());
  CHECK_FALSE(interp::parse_probe_output("{}").ok());
}

TEST_CASE("probing a real interpreter, then reading it from the cache") {
  std::string py = find_program("/usr/bin/python3");
  if (py.empty()) LB_MISSING_PREREQUISITE("/usr/bin/python3 is missing");
  lb::test::TempDir tmp("interp");
  std::string cache = tmp.path;
  auto first = interp::probe(py, cache);
  REQUIRE(first.ok());
  CHECK(first->major == 3);
  CHECK(first->markers.values.count("python_full_version") == 1);
  CHECK(fs::exists(first->executable));
  auto second = interp::probe(py, cache);
  REQUIRE(second.ok());
  CHECK(second->key == first->key);
  CHECK(second->tags.size() == first->tags.size());
}

TEST_CASE("find_interpreter") {
  CHECK_FALSE(interp::find_interpreter("/nonexistent/python").ok());
  CHECK_FALSE(interp::find_interpreter("9.99").ok());
}
