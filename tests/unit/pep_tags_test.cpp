// PEP 425 tags: generate_tags against packaging.tags.sys_tags(), wheel and sdist file names.
#include <algorithm>

#include <catch2/catch.hpp>

#include "pep/tags.hpp"
#include "test_support.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

using lb::pep::generate_tags;
using lb::pep::SdistFilename;
using lb::pep::Tag;
using lb::pep::TagInputs;
using lb::pep::WheelFilename;

namespace {

TagInputs cpython311() {
  TagInputs in;
  in.implementation = "cp";
  in.py_major = 3;
  in.py_minor = 11;
  in.abi = "cp311";
  in.platform = "linux_x86_64";
  in.glibc_major = 2;
  in.glibc_minor = 36;
  in.arch = "x86_64";
  return in;
}

std::vector<std::string> strings(const std::vector<Tag>& tags) {
  std::vector<std::string> out;
  for (const Tag& t : tags) out.push_back(t.to_string());
  return out;
}

size_t index_of(const std::vector<std::string>& v, const std::string& s) {
  return static_cast<size_t>(std::find(v.begin(), v.end(), s) - v.begin());
}

}  // namespace

TEST_CASE("tags: CPython 3.11, glibc 2.36, x86_64 as packaging 24 sys_tags()", "[pep][tags]") {
  std::vector<std::string> tags = strings(generate_tags(cpython311()));
  REQUIRE(tags.size() == 914);
  const std::vector<std::string> head = {
      "cp311-cp311-manylinux_2_36_x86_64", "cp311-cp311-manylinux_2_35_x86_64",
      "cp311-cp311-manylinux_2_34_x86_64", "cp311-cp311-manylinux_2_33_x86_64",
      "cp311-cp311-manylinux_2_32_x86_64", "cp311-cp311-manylinux_2_31_x86_64",
      "cp311-cp311-manylinux_2_30_x86_64", "cp311-cp311-manylinux_2_29_x86_64",
      "cp311-cp311-manylinux_2_28_x86_64", "cp311-cp311-manylinux_2_27_x86_64",
      "cp311-cp311-manylinux_2_26_x86_64", "cp311-cp311-manylinux_2_25_x86_64",
      "cp311-cp311-manylinux_2_24_x86_64", "cp311-cp311-manylinux_2_23_x86_64",
      "cp311-cp311-manylinux_2_22_x86_64", "cp311-cp311-manylinux_2_21_x86_64",
      "cp311-cp311-manylinux_2_20_x86_64", "cp311-cp311-manylinux_2_19_x86_64",
      "cp311-cp311-manylinux_2_18_x86_64", "cp311-cp311-manylinux_2_17_x86_64",
      "cp311-cp311-manylinux2014_x86_64",  "cp311-cp311-manylinux_2_16_x86_64",
      "cp311-cp311-manylinux_2_15_x86_64",
  };
  CHECK(std::vector<std::string>(tags.begin(), tags.begin() + head.size()) == head);
  CHECK(tags[34] == "cp311-cp311-manylinux1_x86_64");
  CHECK(tags[35] == "cp311-cp311-linux_x86_64");
  CHECK(tags[36] == "cp311-abi3-manylinux_2_36_x86_64");
  CHECK(index_of(tags, "cp311-abi3-linux_x86_64") == 71);
  CHECK(index_of(tags, "cp311-none-linux_x86_64") == 107);
  CHECK(index_of(tags, "cp310-abi3-manylinux_2_36_x86_64") == 108);
  CHECK(index_of(tags, "cp32-abi3-linux_x86_64") == 431);
  CHECK(index_of(tags, "py311-none-manylinux_2_36_x86_64") == 432);
  CHECK(index_of(tags, "cp311-none-any") == 900);
  const std::vector<std::string> tail = {
      "py311-none-any", "py3-none-any",  "py310-none-any", "py39-none-any", "py38-none-any",
      "py37-none-any",  "py36-none-any", "py35-none-any",  "py34-none-any", "py33-none-any",
      "py32-none-any",  "py31-none-any", "py30-none-any"};
  CHECK(std::vector<std::string>(tags.end() - tail.size(), tags.end()) == tail);
}

TEST_CASE("tags: aarch64 stops at manylinux_2_17, musl and others", "[pep][tags]") {
  TagInputs in = cpython311();
  in.platform = "linux_aarch64";
  in.arch = "aarch64";
  in.glibc_minor = 28;
  auto plats = lb::pep::platform_tags(in);
  CHECK(plats.front() == "manylinux_2_28_aarch64");
  CHECK(plats[plats.size() - 3] == "manylinux_2_17_aarch64");
  CHECK(plats[plats.size() - 2] == "manylinux2014_aarch64");
  CHECK(plats.back() == "linux_aarch64");

  TagInputs musl = cpython311();
  musl.glibc_major = musl.glibc_minor = 0;
  musl.musl_major = 1;
  musl.musl_minor = 2;
  CHECK(lb::pep::platform_tags(musl) ==
        std::vector<std::string>{"musllinux_1_2_x86_64", "musllinux_1_1_x86_64",
                                 "musllinux_1_0_x86_64", "linux_x86_64"});

  TagInputs mac = cpython311();
  mac.platform = "macosx_11_0_arm64";
  CHECK(lb::pep::platform_tags(mac) == std::vector<std::string>{"macosx_11_0_arm64"});
}

TEST_CASE("tags: debug, free-threaded and non-CPython interpreters", "[pep][tags]") {
  TagInputs in = cpython311();
  in.platform = "win_amd64";
  in.abi = "cp311d";
  auto tags = strings(generate_tags(in));
  CHECK(tags[0] == "cp311-cp311d-win_amd64");
  CHECK(tags[1] == "cp311-cp311-win_amd64");
  CHECK(tags[2] == "cp311-abi3-win_amd64");

  in.py_minor = 13;
  in.abi = "cp313t";
  tags = strings(generate_tags(in));
  CHECK(tags[0] == "cp313-cp313t-win_amd64");
  CHECK(tags[1] == "cp313-none-win_amd64");  // no abi3 for free-threaded builds
  CHECK(index_of(tags, "cp312-abi3-win_amd64") == tags.size());

  TagInputs pypy;
  pypy.implementation = "pp";
  pypy.py_major = 3;
  pypy.py_minor = 10;
  pypy.abi = "pypy310_pp73";
  pypy.platform = "win_amd64";
  tags = strings(generate_tags(pypy));
  CHECK(tags[0] == "pp310-pypy310_pp73-win_amd64");
  CHECK(tags[1] == "pp310-none-win_amd64");
  CHECK(tags[2] == "py310-none-win_amd64");
  CHECK(index_of(tags, "pp3-none-any") < index_of(tags, "py310-none-any"));
}

TEST_CASE("tags: cross-check with the local python's sys_tags()", "[pep][tags][python]") {
  std::string python = lb::find_program("python3");
  if (python.empty()) LB_MISSING_PREREQUISITE("python3 (for the sys_tags cross-check)");
  const char* script = R"PY(
import os, sys, sysconfig
try:
    from pip._vendor.packaging import tags, __version__ as pv
except ImportError:
    from packaging import tags, __version__ as pv
glibc = os.confstr("CS_GNU_LIBC_VERSION") or "none 0.0"
major, minor = glibc.split()[1].split(".")[:2]
first = next(iter(tags.sys_tags()))
plat = sysconfig.get_platform().replace(".", "_").replace("-", "_").replace(" ", "_")
print(pv.split(".")[0], sys.implementation.name, sys.version_info[0], sys.version_info[1],
      first.abi, plat, major, minor)
for t in tags.sys_tags():
    print(t)
)PY";
  auto run = lb::run_process({python, "-c", script});
  if (!run.ok() || run->exit_code != 0)
    LB_MISSING_PREREQUISITE("packaging.tags is not usable with " << python);
  std::vector<std::string> lines = lb::split(std::string(lb::trim(run->out)), '\n');
  REQUIRE(lines.size() > 1);
  std::vector<std::string> info = lb::split(lines[0], ' ');
  REQUIRE(info.size() == 8);
  if (info[1] != "cpython" || !lb::starts_with(info[5], "linux_") || info[6] == "0")
    LB_MISSING_PREREQUISITE("CPython on glibc Linux (for the sys_tags cross-check)");
  TagInputs in;
  in.implementation = "cp";
  in.py_major = std::stoi(info[2]);
  in.py_minor = std::stoi(info[3]);
  in.abi = info[4];
  in.platform = info[5];
  in.glibc_major = std::stoi(info[6]);
  in.glibc_minor = std::stoi(info[7]);
  std::vector<std::string> mine = strings(generate_tags(in));
  if (std::stoi(info[0]) < 22)  // packaging < 22 did not yield cpXY-none-any
    mine.erase(mine.begin() +
               static_cast<long>(index_of(mine, "cp" + info[2] + info[3] + "-none-any")));
  std::vector<std::string> theirs(lines.begin() + 1, lines.end());
  CHECK(mine == theirs);
}

TEST_CASE("wheel file names", "[pep][tags]") {
  auto w = WheelFilename::parse("Foo_Bar-1.0.post1-1abc-py2.py3-none-any.whl");
  REQUIRE(w.ok());
  CHECK(w->name == "Foo_Bar");
  CHECK(w->normalized_name() == "foo-bar");
  CHECK(w->version == "1.0.post1");
  CHECK(w->build == "1abc");
  CHECK(strings(w->tags) == std::vector<std::string>{"py2-none-any", "py3-none-any"});

  auto np = WheelFilename::parse(
      "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
  REQUIRE(np.ok());
  CHECK(np->build.empty());
  CHECK(strings(np->tags) == std::vector<std::string>{"cp311-cp311-manylinux_2_17_x86_64",
                                                      "cp311-cp311-manylinux2014_x86_64"});

  for (const char* bad :
       {"foo-1.0-py3-none-any.zip", "foo-1.0-none-any.whl", "foo-1.0-1-2-py3-none-any.whl",
        "foo-bad_version-py3-none-any.whl", "foo-1.0-abc-py3-none-any.whl",
        "foo__bar-1.0-py3-none-any.whl", "-1.0-py3-none-any.whl", "foo-1.0-py3--any.whl"}) {
    INFO(bad);
    auto r = WheelFilename::parse(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().message.find(bad) != std::string::npos);
  }
}

TEST_CASE("sdist file names", "[pep][tags]") {
  auto s = SdistFilename::parse("zope.interface-6.0.tar.gz");
  REQUIRE(s.ok());
  CHECK(s->name == "zope.interface");
  CHECK(s->version == "6.0");
  CHECK(s->normalized_name() == "zope-interface");
  auto d = SdistFilename::parse("python-dateutil-2.8.2.zip");
  REQUIRE(d.ok());
  CHECK(d->name == "python-dateutil");
  CHECK(d->version == "2.8.2");
  auto r = SdistFilename::parse("foo-bar-1.0rc1.tar.gz");
  REQUIRE(r.ok());
  CHECK(r->name == "foo-bar");
  CHECK(r->version == "1.0rc1");
  CHECK_FALSE(SdistFilename::parse("foo-1.0.tar.bz2").ok());
  CHECK_FALSE(SdistFilename::parse("foo.tar.gz").ok());
  CHECK_FALSE(SdistFilename::parse("foo-bar.tar.gz").ok());
  CHECK_FALSE(SdistFilename::parse("-1.0.tar.gz").ok());
}
