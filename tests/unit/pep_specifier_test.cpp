// PEP 440 specifiers: operator semantics, pre-release policy, filter, canonical text, and a
// cross-check against packaging (pip._vendor.packaging) when a python3 is available.
#include <cstdlib>
#include <sstream>

#include <catch2/catch.hpp>

#include "pep/specifier.hpp"
#include "test_support.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

using lb::pep::Specifier;
using lb::pep::SpecifierSet;
using lb::pep::Version;

namespace {

Version V(const std::string& s) {
  auto r = Version::parse(s);
  INFO(s);
  REQUIRE(r.ok());
  return *r;
}

SpecifierSet S(const std::string& s) {
  auto r = SpecifierSet::parse(s);
  INFO(s);
  if (!r.ok()) INFO(r.error().message);
  REQUIRE(r.ok());
  return *r;
}

std::vector<std::string> strings(const std::vector<Version>& vs) {
  std::vector<std::string> out;
  for (const Version& v : vs) out.push_back(v.to_string());
  return out;
}

std::vector<Version> versions(std::initializer_list<const char*> list) {
  std::vector<Version> out;
  for (const char* s : list) out.push_back(V(s));
  return out;
}

struct Case {
  const char* spec;
  const char* version;
  bool by_default;  // Specifier(spec).contains(version)
  bool with_pre;    // ... prereleases=True
};

// Generated with packaging 24.1.
const Case kCases[] = {
    {"==1.2.3", "1.2.3", true, true},
    {"==1.2.3", "1.2.3.0", true, true},
    {"==1.2.3", "1.2.3+local", true, true},
    {"==1.2.3+local", "1.2.3", false, false},
    {"==1.2.3+local", "1.2.3+local", true, true},
    {"==1.2.3+local", "1.2.3+other", false, false},
    {"==1.2.*", "1.2", true, true},
    {"==1.2.*", "1.2.0", true, true},
    {"==1.2.*", "1.2.9", true, true},
    {"==1.2.*", "1.3", false, false},
    {"==1.2.*", "1.2rc1", false, true},
    {"==1.2.*", "1.2.post1", true, true},
    {"==1.2.*", "1.2+x", true, true},
    {"==1.2.*", "1!1.2", false, false},
    {"==1.2.*", "1", false, false},
    {"==1.2.0.*", "1.2", true, true},
    {"!=1.2.*", "1.2.5", false, false},
    {"!=1.2.*", "1.3", true, true},
    {"!=1.2.3", "1.2.3+x", false, false},
    {"!=1.2.3", "1.2.4", true, true},
    {"~=2.2", "2.2", true, true},
    {"~=2.2", "2.3", true, true},
    {"~=2.2", "3.0", false, false},
    {"~=2.2", "2.1", false, false},
    {"~=2.2.0", "2.2.9", true, true},
    {"~=2.2.0", "2.3", false, false},
    {"~=1.4.5a4", "1.4.5", true, true},
    {"~=1.4.5a4", "1.4.6", true, true},
    {"~=1.4.5a4", "1.5", false, false},
    {"~=2.2", "2.2.post3", true, true},
    {"~=2.2", "2.2+local", true, true},
    {"~=1!2.2", "1!2.9", true, true},
    {"~=1!2.2", "2.9", false, false},
    {"<3.1", "3.0", true, true},
    {"<3.1", "3.1.dev0", false, false},
    {"<3.1", "3.0.dev0", false, true},
    {"<3.1rc1", "3.1.dev0", false, true},
    {"<3.1", "3.1a1", false, false},
    {"<3.1", "3.0+local", true, true},
    {"<3.1", "3.1+local", false, false},
    {">3.1", "3.1.post1", false, false},
    {">3.1", "3.2.post1", true, true},
    {">3.1.post1", "3.1.post2", true, true},
    {">3.1", "3.1+local", false, false},
    {">3.1", "3.1.0.1", true, true},
    {">3.1", "3.2+local", true, true},
    {">3.1.dev0", "3.1", true, true},
    {">3.1a1", "3.1a2", false, true},
    {"<=2.0", "2.0+local", true, true},
    {">=2.0", "2.0+local", true, true},
    {">=2.0", "2.0.dev1", false, false},
    {">=2.0.dev1", "2.0.dev1", true, true},
    {"<=2.0", "2.0rc1", false, true},
    {"===1.0", "1.0", true, true},
    {"===1.0", "1.0.0", false, false},
    {"===1.0", "1.0+x", false, false},
    {">=1.0a1", "1.0a2", true, true},
    {"==1.0a1", "1.0a1", true, true},
    {"!=1.0a1", "1.0a1", false, false},
    {"!=1.0", "1.0a1", false, true},
    {">1.0", "2.0a1", false, true},
    {"<2", "2.0rc1", false, false},
    {"<2", "1.9rc1", false, true},
};

}  // namespace

TEST_CASE("specifier: operator semantics match packaging", "[pep][specifier]") {
  for (const Case& c : kCases) {
    INFO(c.spec << " contains " << c.version);
    SpecifierSet set = S(c.spec);
    CHECK(set.contains(V(c.version)) == c.by_default);
    CHECK(set.contains(V(c.version), true) == c.with_pre);
    CHECK_FALSE((V(c.version).is_prerelease() && set.contains(V(c.version), false)));
  }
}

TEST_CASE("specifier: parse and canonical text", "[pep][specifier]") {
  const std::pair<const char*, const char*> ok[] = {
      {"", ""},
      {">=1.0", ">=1.0"},
      {">=1.0,<2", "<2,>=1.0"},
      {"==1.2.*", "==1.2.*"},
      {"=== foo", "===foo"},
      {">=1.0 , !=1.5", "!=1.5,>=1.0"},
      {">= 1.0", ">=1.0"},
      {"==1.0+local", "==1.0+local"},
      {"~=1.0a1", "~=1.0a1"},
      {"== 1.0.* ", "==1.0.*"},
      {"===", "==="},
      {">=1.0,", ">=1.0"},
      {",>=1.0", ">=1.0"},
      {">=1.0,,<2", "<2,>=1.0"},
      {">=1.0,>=1", ">=1.0"},
      {">=1.0,>=1.0.0", ">=1.0"},
      {"~=1.0,~=1.0.0", "~=1.0,~=1.0.0"},
      {">=v1.0", ">=v1.0"},
      {">=1!1.0", ">=1!1.0"},
      {">=1.0-1", ">=1.0-1"},
      {">=1.0_post1", ">=1.0_post1"},
  };
  for (const auto& [in, out] : ok) {
    INFO(in);
    CHECK(S(in).to_string() == out);
  }
  for (const char* bad :
       {"v1.0", ">>1", "=>1", "==1.0.*.*", ">=1.0.*", "<1.0+local", "~=1", "~=1.0.*", "==1.0a1.*",
        "==1.*+x", "== 1.0 .*", "==1.0 .*", "1.0", ">=", "=== a b", ">=1.0,<2,foo"}) {
    INFO(bad);
    auto r = SpecifierSet::parse(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().message.find("invalid version specifier") != std::string::npos);
  }
}

TEST_CASE("specifier: error messages say why", "[pep][specifier]") {
  auto r = SpecifierSet::parse(">=1.0, >=1.0.*");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("'.*' is only allowed with == and !=") != std::string::npos);
  CHECK(r.error().message.find("\">=1.0, >=1.0.*\"") != std::string::npos);
  CHECK_FALSE(r.error().hint.empty());
  auto t = SpecifierSet::parse("~=1");
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().message.find("two release numbers") != std::string::npos);
}

TEST_CASE("specifier: pre-release mentions", "[pep][specifier]") {
  CHECK(S(">=1.0a1").mentions_prerelease());
  CHECK(S("==1.0.dev0").mentions_prerelease());
  CHECK(S("<=2.0rc1").mentions_prerelease());
  CHECK(S("~=1.0b1").mentions_prerelease());
  CHECK_FALSE(S(">1.0a1").mentions_prerelease());  // exclusive operators never do
  CHECK_FALSE(S("<2.0a1").mentions_prerelease());
  CHECK_FALSE(S("!=1.0a1").mentions_prerelease());
  CHECK_FALSE(S("==1.*").mentions_prerelease());
  CHECK_FALSE(S("").mentions_prerelease());
  // any pre-release-mentioning clause allows pre-releases for the whole set
  CHECK(S(">=1.0a1,<3").contains(V("2.0b1")));
  CHECK_FALSE(S(">=1.0,<3").contains(V("2.0b1")));
  CHECK_FALSE(S("").contains(V("2.0b1")));
  CHECK(S("").contains(V("2.0b1"), true));
  CHECK(S("").contains(V("2.0")));
}

TEST_CASE("specifier: filter follows the PEP 440 pre-release rule", "[pep][specifier]") {
  auto all = versions({"1.2", "1.3", "1.4", "1.5a1"});
  CHECK(strings(S(">=1.2.3").filter(all)) == std::vector<std::string>{"1.3", "1.4"});
  CHECK(strings(S(">=1.2.3").filter(all, true)) == std::vector<std::string>{"1.3", "1.4", "1.5a1"});
  CHECK(strings(S(">=1.2.3").filter(all, false)) == std::vector<std::string>{"1.3", "1.4"});
  CHECK(strings(S(">=1.5a1").filter(all)) == std::vector<std::string>{"1.5a1"});
  // pre-releases when they are the only match (packaging >= 25 / PEP 440 behaviour)
  CHECK(strings(S(">1.4").filter(all)) == std::vector<std::string>{"1.5a1"});
  CHECK(strings(S(">1.1").filter(versions({"1.1", "2.0a1"}))) == std::vector<std::string>{"2.0a1"});
  CHECK(strings(S("<=2.0.0").filter(versions({"1.0a1"}))) == std::vector<std::string>{"1.0a1"});
  CHECK(strings(S(">1.4").filter(all, false)).empty());
  CHECK(
      strings(
          S(">=1,!=1.*,!=2.*,!=3.0,<=3.0").filter(versions({"0.9", "3.0.dev0", "3.0a1", "4.0"}))) ==
      std::vector<std::string>{"3.0.dev0", "3.0a1"});
  // the empty set
  CHECK(strings(S("").filter(versions({"1.3", "1.5a1"}))) == std::vector<std::string>{"1.3"});
  CHECK(strings(S("").filter(versions({"1.5a1"}))) == std::vector<std::string>{"1.5a1"});
  CHECK(strings(S("").filter(versions({"1.5a1"}), false)).empty());
  // order is preserved
  CHECK(strings(S("!=1.3").filter(versions({"1.4", "1.2", "1.3", "1.0"}))) ==
        std::vector<std::string>{"1.4", "1.2", "1.0"});
}

TEST_CASE("specifier: hand-built Specifier works too", "[pep][specifier]") {
  Specifier s;
  s.op = "~=";
  s.version = "1.4";
  CHECK(s.contains(V("1.9")));
  CHECK_FALSE(s.contains(V("2.0")));
  CHECK(s.to_string() == "~=1.4");
}

// ---------------------------------------------------------------------------------------
// Cross-check: ask packaging (vendored in pip) about many version/specifier pairs.
// Uses $LAVABUILD_TEST_PYTHON or python3; skipped with a warning when neither works.

namespace {

const char* kCrossVersions[] = {
    "0",
    "0.9",
    "1",
    "1.0",
    "1.0.0",
    "1.0.1",
    "1.0a1",
    "1.0b2",
    "1.0rc1",
    "1.0.dev0",
    "1.0a1.dev1",
    "1.0.post1",
    "1.0.post1.dev1",
    "1.0+local",
    "1.0+local.7",
    "1.0.1+x",
    "1.1",
    "1.1.dev1",
    "1.1rc1",
    "1.2",
    "1.2.3",
    "1.2.3.4",
    "1.4.5",
    "1.4.6a1",
    "2",
    "2.0a1",
    "2.0.post2",
    "3!1.0",
    "1!2.0",
    "10.0",
    "1.0-1",
    "v1.0",
    "1.0.0a0",
    "0.0.1",
    "2.1+ubuntu1",
    "1.10",
};

const char* kCrossSpecs[] = {
    "==1.0",       "==1.0.0", "==1.*",       "==1.0.*",    "!=1.0",         "!=1.*",
    "==1.0+local", ">=1.0",   ">1.0",        "<=1.0",      "<1.0",          "<1.1",
    ">1.0.post1",  ">=1.0a1", "<2.0a1",      "~=1.0",      "~=1.4.5",       "~=1.0.dev0",
    ">=1!1.0",     "==3!1.*", "<1!0",        ">=0.9,<1.1", "~=1.0,!=1.0.1", "===1.0",
    ">1.0.0",      "<1.0.1",  ">=1.0.post1", "<=1.1.dev1", "==2",           ">1.1rc1",
};

std::string python_program() {
  if (const char* env = std::getenv("LAVABUILD_TEST_PYTHON")) return env;
  return lb::find_program("python3");
}

}  // namespace

TEST_CASE("specifier: cross-check with packaging", "[pep][specifier][python]") {
  std::string python = python_program();
  if (python.empty()) LB_MISSING_PREREQUISITE("python3 (for the packaging cross-check)");
  const char* script = R"PY(
import sys
try:
    from pip._vendor.packaging.version import Version
    from pip._vendor.packaging.specifiers import SpecifierSet
except ImportError:
    from packaging.version import Version
    from packaging.specifiers import SpecifierSet
for line in sys.stdin.read().splitlines():
    kind, a, b = line.split("\t")
    if kind == "V":
        print(Version(a))
    elif kind == "O":
        x, y = Version(a), Version(b)
        print((x > y) - (x < y))
    else:
        s = SpecifierSet(a)
        print("%d%d" % (s.contains(b), s.contains(b, prereleases=True)))
)PY";
  std::ostringstream in;
  std::vector<std::string> expected_mine;
  for (const char* v : kCrossVersions) {
    in << "V\t" << v << "\t\n";
    expected_mine.push_back(V(v).to_string());
  }
  for (const char* a : kCrossVersions)
    for (const char* b : kCrossVersions) {
      in << "O\t" << a << "\t" << b << "\n";
      auto c = V(a) <=> V(b);
      expected_mine.push_back(c < 0 ? "-1" : c > 0 ? "1" : "0");
    }
  for (const char* s : kCrossSpecs)
    for (const char* v : kCrossVersions) {
      in << "C\t" << s << "\t" << v << "\n";
      SpecifierSet set = S(s);
      expected_mine.push_back(std::string(set.contains(V(v)) ? "1" : "0") +
                              (set.contains(V(v), true) ? "1" : "0"));
    }
  lb::ProcessOptions opts;
  opts.stdin_data = in.str();
  auto run = lb::run_process({python, "-c", script}, opts);
  if (!run.ok() || run->exit_code != 0)
    LB_MISSING_PREREQUISITE("packaging is not usable with " << python
                                                            << (run.ok() ? "\n" + run->err : ""));
  std::vector<std::string> theirs = lb::split(std::string(lb::trim(run->out)), '\n');
  REQUIRE(theirs.size() == expected_mine.size());
  std::istringstream lines(in.str());
  std::string line;
  for (size_t k = 0; k < theirs.size() && std::getline(lines, line); ++k) {
    INFO(line);
    CHECK(expected_mine[k] == theirs[k]);
  }
}

TEST_CASE("specifier: PEP 440 exclusive ordered comparisons", "[pep][specifier][exclusive]") {
  struct X {
    const char* spec;
    const char* version;
    bool in;  // Specifier(spec).contains(version), pre-release policy aside
  };
  const X cases[] = {
      // <V.postN admits pre- and dev-releases of V's base; excludes pre-releases of V.postN.
      {"<1.0.post1", "1.0a1", true},
      {"<1.0.post1", "1.0.dev0", true},
      {"<1.0.post1", "1.0rc1.post3", true},
      {"<1.0.post1", "1.0", true},
      {"<1.0.post1", "1.0.post0", true},
      {"<1.0.post1", "1.0.post0.dev3", true},
      {"<1.0.post1", "1.0.post1.dev0", false},
      {"<1.0.post1", "1.0.post1", false},
      {"<1.0.post2", "1.0.post1.dev0", true},
      {"<1.0.post2", "1.0.post2.dev5", false},
      {"<1.0.0.post1", "1.0a1", true},
      // <V excludes pre-releases of V itself unless V is one; its neighbours are unchanged.
      {"<1.0", "1.0a1", false},
      {"<1.0", "1.0.dev0", false},
      {"<1.0", "1.0a1.post1", false},
      {"<1.0", "1.0a1+local", false},
      {"<1.0", "0.9a1", true},
      {"<1.0", "0.9.post1.dev1", true},
      {"<1.0rc1", "1.0a1", true},
      {"<1.0rc1", "1.0.dev0", true},
      {"<1.0.dev5", "1.0.dev1", true},
      {"<1!1.0.post1", "1.0a1", true},  // epoch 0 < epoch 1
      {"<1!1.0.post1", "1!1.0a1", true},
      {"<1!1.0", "1!1.0a1", false},
      // >V with V a pre- or dev-release admits post-releases of the base release.
      {">1.0a1", "1.0.post0", true},
      {">1.0.dev1", "1.0.post0", true},
      {">1.0.dev1", "1.0.post0.dev0", true},
      {">1.0a1.dev1", "1.0a1.post1", true},
      {">1.0a1", "1.0a1.post1", false},  // a post-release of 1.0a1 itself
      {">1.0a1", "1.0a1.post1.dev0", false},
      {">1.0a1", "1.0a2.post1", true},
      {">1.0", "1.0.post1", false},
      {">1.0", "1.0.post1.dev0", false},
      {">1.0", "1.0.0.post1", false},
      {">1.0.post1", "1.0.post2", true},
      // >V excludes local versions of V only.
      {">1.0a1", "1.0a2+local", true},
      {">1.0a1", "1.0a1+local", false},
      {">1.0.post1", "1.0.post2+local", true},
      {">1.0.post1", "1.0.post1+local", false},
      {">1.0", "1.0+local", false},
      {">1.0", "1.0.0+local", false},
      {">1.0", "1.0.1+local", true},
      {">1.0.dev1", "1.0.dev2+local", true},
      {">1.0.dev1", "1.0+local", true},
  };
  for (const X& c : cases) {
    INFO(c.spec << " contains " << c.version);
    auto spec = Specifier::parse(c.spec);
    REQUIRE(spec.ok());
    CHECK(spec->contains(V(c.version)) == c.in);
    CHECK(S(c.spec).contains(V(c.version), true) == c.in);
  }
}

TEST_CASE("specifier: Unicode whitespace is stripped as str.strip() does",
          "[pep][specifier][whitespace]") {
  // U+00A0 no-break space, U+2003 em space, U+3000 ideographic space, U+0085 next line, \x1f
  CHECK(S("\xc2\xa0>=1.0\xe2\x80\x83").contains(V("1.5")));
  CHECK(S(">=\xe3\x80\x80 1.0").contains(V("1.0")));
  CHECK(S(">=1.0,\xc2\x85<2\x1f").to_string() == "<2,>=1.0");
  CHECK(S("==\xe2\x80\xa8"
          "1.*")
            .contains(V("1.4")));
  // inside an arbitrary-equality word it is not whitespace to strip but an error
  CHECK_FALSE(SpecifierSet::parse("===1.0\xc2\xa0x").ok());
  CHECK_FALSE(SpecifierSet::parse("==1.0\xc2\xa0.*").ok());
  // bytes that merely start like a space (U+00A9, U+2030) stay part of the text
  CHECK_FALSE(SpecifierSet::parse(">=1.0\xc2\xa9").ok());
  CHECK_FALSE(SpecifierSet::parse(">=1.0\xe2\x80\xb0").ok());
}
