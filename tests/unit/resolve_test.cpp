#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <random>

#include "resolve/resolver.hpp"

using lb::Result;
using lb::pep::Requirement;
using lb::pep::Version;
using lb::resolve::Options;
using lb::resolve::Resolution;

namespace {

Version V(const std::string& s) {
  return *Version::parse(s);
}
Requirement R(const std::string& s) {
  auto r = Requirement::parse(s);
  REQUIRE(r.ok());
  return *r;
}

/// An in-memory index.
class FakeIndex : public lb::resolve::Provider {
 public:
  FakeIndex& add(const std::string& name, const std::string& version,
                 std::vector<std::string> deps = {}, bool yanked = false) {
    entries_[name].push_back({V(version), yanked, std::move(deps)});
    return *this;
  }
  Result<std::vector<std::pair<Version, bool>>> versions(const std::string& name) override {
    ++version_calls;
    if (name == "broken") return lb::make_error("index unreachable for broken");
    std::vector<std::pair<Version, bool>> out;
    for (const auto& e : entries_[name]) out.push_back({e.version, e.yanked});
    return out;
  }
  Result<std::vector<Requirement>> dependencies(const std::string& name,
                                                const Version& version) override {
    ++dependency_calls;
    for (const auto& e : entries_[name]) {
      if (e.version != version) continue;
      std::vector<Requirement> out;
      for (const auto& d : e.deps) out.push_back(R(d));
      return out;
    }
    return lb::make_error("no metadata for " + name);
  }
  void prefetch(const std::vector<std::pair<std::string, Version>>& wanted) override {
    prefetched += static_cast<int>(wanted.size());
  }
  std::string yanked_reason(const std::string& name, const Version& version) override {
    auto it = reasons.find(name + "==" + version.to_string());
    return it == reasons.end() ? std::string() : it->second;
  }
  int version_calls = 0, dependency_calls = 0, prefetched = 0;
  std::map<std::string, std::string> reasons;  ///< "name==version" -> why it was yanked

 private:
  struct Entry {
    Version version;
    bool yanked;
    std::vector<std::string> deps;
  };
  std::map<std::string, std::vector<Entry>> entries_;
};

Result<Resolution> solve(FakeIndex& index, const std::vector<std::string>& roots,
                         const Options& options = {}) {
  std::vector<Requirement> reqs;
  for (const auto& r : roots) reqs.push_back(R(r));
  return lb::resolve::resolve(reqs, index, options);
}

std::map<std::string, std::string> pins(const Result<Resolution>& r) {
  if (!r.ok()) FAIL(r.error().message);
  std::map<std::string, std::string> out;
  for (const auto& p : r->packages) out[p.name] = p.version.to_string();
  return out;
}

std::string failure(const Result<Resolution>& r) {
  if (r.ok()) FAIL("expected resolution to fail");
  return r.error().message;
}

using Pins = std::map<std::string, std::string>;
using Catch::Matchers::Contains;

}  // namespace

namespace Catch {
template <>
struct StringMaker<Pins> {
  static std::string convert(const Pins& p) {
    std::string s = "{";
    for (const auto& [k, v] : p) s += " " + k + "==" + v;
    return s + " }";
  }
};
}  // namespace Catch

// --- the examples of dart-lang/pub doc/solver.md ("^1.0.0" is ">=1.0.0,<2.0.0") ----------

TEST_CASE("resolve: no conflicts") {
  FakeIndex idx;
  idx.add("foo", "1.0.0", {"bar>=1.0.0,<2.0.0"}).add("bar", "1.0.0").add("bar", "2.0.0");
  CHECK(pins(solve(idx, {"foo>=1.0.0,<2.0.0"})) == Pins{{"bar", "1.0.0"}, {"foo", "1.0.0"}});
}

TEST_CASE("resolve: avoiding conflict during decision making") {
  FakeIndex idx;
  idx.add("foo", "1.1.0", {"bar>=2.0.0,<3.0.0"}).add("foo", "1.0.0");
  idx.add("bar", "1.0.0").add("bar", "1.1.0").add("bar", "2.0.0");
  CHECK(pins(solve(idx, {"foo>=1.0.0,<2.0.0", "bar>=1.0.0,<2.0.0"})) ==
        Pins{{"bar", "1.1.0"}, {"foo", "1.0.0"}});
}

TEST_CASE("resolve: performing conflict resolution") {
  FakeIndex idx;
  idx.add("foo", "2.0.0", {"bar>=1.0.0,<2.0.0"}).add("foo", "1.0.0");
  idx.add("bar", "1.0.0", {"foo>=1.0.0,<2.0.0"});
  CHECK(pins(solve(idx, {"foo>=1.0.0"})) == Pins{{"foo", "1.0.0"}});
}

TEST_CASE("resolve: conflict resolution with a partial satisfier") {
  FakeIndex idx;
  idx.add("foo", "1.1.0", {"left>=1.0.0,<2.0.0", "right>=1.0.0,<2.0.0"}).add("foo", "1.0.0");
  idx.add("left", "1.0.0", {"shared>=1.0.0"});
  idx.add("right", "1.0.0", {"shared<2.0.0"});
  idx.add("shared", "2.0.0").add("shared", "1.0.0", {"target>=1.0.0,<2.0.0"});
  idx.add("target", "2.0.0").add("target", "1.0.0");
  CHECK(pins(solve(idx, {"foo>=1.0.0,<2.0.0", "target>=2.0.0,<3.0.0"})) ==
        Pins{{"foo", "1.0.0"}, {"target", "2.0.0"}});
}

TEST_CASE("resolve: linear error reporting") {
  FakeIndex idx;
  idx.add("foo", "1.0.0", {"bar>=2.0.0,<3.0.0"});
  idx.add("bar", "2.0.0", {"baz>=3.0.0,<4.0.0"});
  idx.add("baz", "1.0.0").add("baz", "3.0.0");
  std::string msg = failure(solve(idx, {"foo>=1.0.0,<2.0.0", "baz>=1.0.0,<2.0.0"}));
  INFO(msg);
  CHECK_THAT(msg, Contains("foo==1.0.0 depends on bar<3.0.0,>=2.0.0"));
  CHECK_THAT(msg, Contains("bar==2.0.0 depends on baz<4.0.0,>=3.0.0"));
  CHECK_THAT(msg, Contains("you require"));
  CHECK_THAT(msg, Contains("baz<2.0.0,>=1.0.0"));
  CHECK_THAT(msg, Contains("no solution exists."));
}

TEST_CASE("resolve: branching error reporting") {
  FakeIndex idx;
  idx.add("foo", "1.0.0", {"a>=1.0.0,<2.0.0", "b>=1.0.0,<2.0.0"});
  idx.add("foo", "1.1.0", {"x>=1.0.0,<2.0.0", "y>=1.0.0,<2.0.0"});
  idx.add("a", "1.0.0", {"b>=2.0.0,<3.0.0"}).add("b", "1.0.0").add("b", "2.0.0");
  idx.add("x", "1.0.0", {"y>=2.0.0,<3.0.0"}).add("y", "1.0.0").add("y", "2.0.0");
  std::string msg = failure(solve(idx, {"foo>=1.0.0,<2.0.0"}));
  INFO(msg);
  for (const char* part : {"foo==1.0.0 depends on a<2.0.0,>=1.0.0", "a==1.0.0 depends on b",
                           "foo==1.1.0 depends on x<2.0.0,>=1.0.0", "x==1.0.0 depends on y",
                           "you require foo<2.0.0,>=1.0.0", "(1)", "no solution exists."})
    CHECK_THAT(msg, Contains(part));
}

TEST_CASE("resolve: two roots that need different versions of a shared dependency") {
  FakeIndex idx;
  idx.add("pkgx", "1.0", {"pkgz>=2"}).add("pkgy", "1.0", {"pkgz<2"});
  idx.add("pkgz", "1.0").add("pkgz", "2.0");
  std::string msg = failure(solve(idx, {"pkgx==1.0", "pkgy==1.0"}));
  INFO(msg);
  CHECK_THAT(msg, Contains("pkgx==1.0 depends on pkgz>=2"));
  CHECK_THAT(msg, Contains("pkgy==1.0 depends on pkgz<2"));
  CHECK_THAT(msg, Contains("pkgx==1.0 and pkgy==1.0 are incompatible."));
  CHECK_THAT(msg, Contains("And because you require pkgx==1.0 and pkgy==1.0, no solution exists."));
}

TEST_CASE("resolve: missing packages and versions are explained") {
  FakeIndex idx;
  idx.add("foo", "1.0").add("foo", "2.0").add("app", "1.0", {"nothere>=1"});
  CHECK_THAT(failure(solve(idx, {"foo>=3"})),
             Contains("no versions of foo match >=3 (available: 1.0, 2.0)"));
  CHECK_THAT(failure(solve(idx, {"nothere"})),
             Contains("no usable release of nothere is on the indexes"));
  std::string msg = failure(solve(idx, {"app"}));
  CHECK_THAT(msg, Contains("app==1.0 depends on nothere>=1"));
  CHECK_THAT(msg, Contains("no usable release of nothere is on the indexes"));
  CHECK_THAT(failure(solve(idx, {"broken"})), Contains("index unreachable for broken"));
}

TEST_CASE("resolve: backtracks over versions whose dependencies cannot be met") {
  FakeIndex idx;
  idx.add("web", "3.0", {"core>=3"}).add("web", "2.0", {"core>=2"}).add("web", "1.0", {"core"});
  idx.add("core", "1.0").add("core", "2.0").add("core", "3.0", {"rare>=9"});
  idx.add("rare", "1.0");
  CHECK(pins(solve(idx, {"web"})) == Pins{{"core", "2.0"}, {"web", "2.0"}});
}

TEST_CASE("resolve: dependency names in the solution") {
  FakeIndex idx;
  idx.add("app", "1.0", {"lib>=1", "tool; sys_platform == 'win32'"}).add("lib", "1.0");
  idx.add("tool", "1.0");
  Options opt;
  opt.env.values = {{"sys_platform", "linux"}, {"python_version", "3.11"}};
  auto r = solve(idx, {"app"}, opt);
  REQUIRE(r.ok());
  REQUIRE(r->packages.size() == 2);
  CHECK(r->packages[0].name == "app");
  CHECK(r->packages[0].dependencies == std::vector<std::string>{"lib"});
  CHECK(r->packages[1].dependencies.empty());
  CHECK(idx.prefetched > 0);
}

TEST_CASE("resolve: markers are evaluated against the target environment") {
  FakeIndex idx;
  idx.add("app", "1.0",
          {"winonly; sys_platform == 'win32'", "modern; python_version >= '3.8'",
           "old; python_version < '3'"});
  idx.add("modern", "1.0").add("linuxtool", "1.0");
  Options opt;
  opt.env.values = {{"sys_platform", "linux"}, {"python_version", "3.11"}};
  CHECK(pins(solve(idx, {"app", "linuxtool; sys_platform == 'linux'", "winroot; os_name == 'nt'"},
                   opt)) == Pins{{"app", "1.0"}, {"linuxtool", "1.0"}, {"modern", "1.0"}});
}

TEST_CASE("resolve: extras") {
  FakeIndex idx;
  idx.add("foo", "1.0",
          {"bar>=1; extra == 'fast'", "qux; extra == 'all'", "foo[fast]; extra == 'all'", "base"});
  idx.add("foo", "2.0", {"bar>=2; extra == 'fast'", "base"});
  idx.add("bar", "1.0").add("bar", "2.0").add("qux", "1.0").add("base", "1.0");
  SECTION("plain install ignores extra dependencies") {
    auto r = solve(idx, {"foo"});
    CHECK(pins(r) == Pins{{"base", "1.0"}, {"foo", "2.0"}});
    CHECK(r->packages[1].extras.empty());
  }
  SECTION("an extra pulls in its dependencies, same version as the base") {
    auto r = solve(idx, {"foo[fast]", "foo<2"});
    CHECK(pins(r) == Pins{{"bar", "2.0"}, {"base", "1.0"}, {"foo", "1.0"}});
    CHECK(r->packages[2].extras == std::set<std::string>{"fast"});
    CHECK(r->packages[2].dependencies == std::vector<std::string>{"bar", "base"});
  }
  SECTION("an extra that requires another extra of itself") {
    auto r = solve(idx, {"foo[all]<2"});
    CHECK(pins(r) == Pins{{"bar", "2.0"}, {"base", "1.0"}, {"foo", "1.0"}, {"qux", "1.0"}});
    CHECK(r->packages[2].extras == std::set<std::string>{"all", "fast"});
  }
  SECTION("conflicts through an extra are explained") {
    std::string msg = failure(solve(idx, {"foo[fast]==2.0", "bar<2"}));
    CHECK_THAT(msg, Contains("foo[fast]==2.0 depends on bar>=2"));
  }
}

TEST_CASE("resolve: pre-releases") {
  FakeIndex idx;
  idx.add("foo", "1.0").add("foo", "2.0b1").add("only", "1.0a1").add("only", "1.0a2");
  CHECK(pins(solve(idx, {"foo"})) == Pins{{"foo", "1.0"}});
  Options pre;
  pre.allow_pre = true;
  CHECK(pins(solve(idx, {"foo"}, pre)) == Pins{{"foo", "2.0b1"}});
  CHECK(pins(solve(idx, {"foo>=2.0a1"})) == Pins{{"foo", "2.0b1"}});  // mentioned
  CHECK(pins(solve(idx, {"foo>1.0"})) == Pins{{"foo", "2.0b1"}});     // only match
  CHECK(pins(solve(idx, {"only"})) == Pins{{"only", "1.0a2"}});
}

TEST_CASE("resolve: yanked versions only when pinned exactly") {
  FakeIndex idx;
  idx.add("foo", "1.0").add("foo", "2.0", {}, /*yanked=*/true);
  CHECK(pins(solve(idx, {"foo"})) == Pins{{"foo", "1.0"}});
  CHECK(pins(solve(idx, {"foo==2.0"})) == Pins{{"foo", "2.0"}});
  CHECK(pins(solve(idx, {"foo===2.0"})) == Pins{{"foo", "2.0"}});
  CHECK_THAT(failure(solve(idx, {"foo>=2"})), Contains("2.0 (yanked)"));
}

TEST_CASE("resolve: a yanked pin holds for every requirement on the package (PEP 592)",
          "[yanked]") {
  FakeIndex idx;
  idx.add("a", "1.0.0", {"b>0.1"}).add("b", "0.1.0").add("b", "1.0.0", {}, /*yanked=*/true);
  idx.reasons["b==1.0.0"] = "broken build";
  auto r = solve(idx, {"b==1.0.0", "a"});
  CHECK(pins(r) == Pins{{"a", "1.0.0"}, {"b", "1.0.0"}});
  REQUIRE(r->warnings.size() == 1);
  CHECK_THAT(r->warnings[0], Contains("b 1.0.0 is yanked"));
  CHECK_THAT(r->warnings[0], Contains("broken build"));
  CHECK_THAT(r->warnings[0], Contains("b==1.0.0"));
  // Order of the requirements does not matter, nor does === or a constraint as the pin.
  CHECK(pins(solve(idx, {"a", "b===1.0.0"})) == Pins{{"a", "1.0.0"}, {"b", "1.0.0"}});
  Options opt;
  opt.constraints = {R("b==1.0.0")};
  CHECK(pins(solve(idx, {"a"}, opt)) == Pins{{"a", "1.0.0"}, {"b", "1.0.0"}});
  // A dependency's exact pin is not the user's: the yanked release stays out.
  idx.add("c", "1.0", {"b==1.0.0"});
  std::string msg = failure(solve(idx, {"c"}));
  CHECK_THAT(msg, Contains("note: b 1.0.0 (yanked: \"broken build\") would match b==1.0.0 "
                           "(required by c==1.0), but it was left out"));
  CHECK_THAT(msg, Contains("pin it exactly (e.g. b==1.0.0)"));
  // A wildcard is not an exact pin; nor is a range.
  CHECK_THAT(failure(solve(idx, {"b==1.0.*"})), Contains("yanked release is used only when"));
  CHECK(pins(solve(idx, {"b>=0.1"})) == Pins{{"b", "0.1.0"}});
  // Without a yanked release chosen there is no warning.
  CHECK(solve(idx, {"b>=0.1"})->warnings.empty());
}

TEST_CASE("resolve: pre-release opt-in is decided per package (PEP 440)", "[pre]") {
  FakeIndex idx;
  idx.add("a", "1.0", {"c>=1.0,<=3.0"}).add("c", "1.0.0").add("c", "2.0.0b1");
  // The user's own requirement mentions a pre-release (any operator): allowed everywhere.
  CHECK(pins(solve(idx, {"c>=0.0.0a1", "a"})) == Pins{{"a", "1.0"}, {"c", "2.0.0b1"}});
  CHECK(pins(solve(idx, {"a", "c>0.0.0a1"})) == Pins{{"a", "1.0"}, {"c", "2.0.0b1"}});
  CHECK(pins(solve(idx, {"a", "c!=3.0a1"})) == Pins{{"a", "1.0"}, {"c", "2.0.0b1"}});
  CHECK(pins(solve(idx, {"a", "c==2.0.0b1"})) == Pins{{"a", "1.0"}, {"c", "2.0.0b1"}});
  // Nobody asked: the final release.
  CHECK(pins(solve(idx, {"a", "c"})) == Pins{{"a", "1.0"}, {"c", "1.0.0"}});
  CHECK(pins(solve(idx, {"a"})) == Pins{{"a", "1.0"}, {"c", "1.0.0"}});
  // --pre allows them everywhere.
  Options pre;
  pre.allow_pre = true;
  CHECK(pins(solve(idx, {"a"}, pre)) == Pins{{"a", "1.0"}, {"c", "2.0.0b1"}});
  // A dependency mentioning a pre-release opts in for its own requirement only.
  idx.add("d", "1.0", {"c>=2.0.0a1"});
  CHECK(pins(solve(idx, {"d"})) == Pins{{"c", "2.0.0b1"}, {"d", "1.0"}});
  // ... so another dependency's plain range still leaves the pre-release out (the user did
  // not opt in), and the explanation says so.
  idx.add("e", "1.0", {"c>=2.0.0a1"}).add("f", "1.0", {"c<3"});
  std::string msg = failure(solve(idx, {"e", "f"}));
  CHECK_THAT(
      msg,
      Contains("note: c 2.0.0b1 would match c<3 (required by f==1.0), but it is a pre-release"));
  CHECK(pins(solve(idx, {"e", "f", "c>=2.0.0a1"})) ==
        Pins{{"c", "2.0.0b1"}, {"e", "1.0"}, {"f", "1.0"}});
  // The user's opt-in on one package says nothing about another.
  idx.add("g", "1.0").add("g", "2.0rc1");
  CHECK(pins(solve(idx, {"c>=2.0.0b1", "g"})) == Pins{{"c", "2.0.0b1"}, {"g", "1.0"}});
  // The user's pre-release mention behind a false marker does not count.
  CHECK(pins(solve(idx, {"a", "c>=0.0.0a1; sys_platform == 'nowhere'"})) ==
        Pins{{"a", "1.0"}, {"c", "1.0.0"}});
}

TEST_CASE("resolve: explanations name the releases the rules left out", "[pre][yanked]") {
  FakeIndex idx;
  idx.add("a", "1.0", {"c>=1.5"}).add("c", "1.0").add("c", "2.0.0b1").add("c", "2.1rc2");
  // a needs c>=1.5: only pre-releases match, so they are allowed for it; the user's c<=3
  // has a final release, so its pre-releases are left out. Without the note the two
  // sentences look compatible.
  std::string msg = failure(solve(idx, {"a", "c<=3"}));
  INFO(msg);
  CHECK_THAT(msg, Contains("you require c<=3"));
  CHECK_THAT(msg, Contains("note: c 2.0.0b1, 2.1rc2 would match c<=3 (your requirement), but "
                           "they are pre-releases"));
  CHECK_THAT(msg, Contains("--pre"));
  auto r = solve(idx, {"a", "c<=3"});
  CHECK_THAT(r.error().hint, Contains("--pre"));
  CHECK(pins(solve(idx, {"a", "c<=3.0a1"})) == Pins{{"a", "1.0"}, {"c", "2.1rc2"}});
  // The example: a root pin on a final that a dependency's range excludes, with the
  // pre-release the range would take left out.
  FakeIndex idx2;
  idx2.add("x", "1.0", {"c>=1.0,<=3.0"}).add("c", "0.5").add("c", "2.0.0b1").add("c", "4.0");
  std::string m2 = failure(solve(idx2, {"c==4.0", "x"}));
  INFO(m2);
  CHECK_THAT(m2, Contains("x==1.0 depends on c"));
  CHECK_THAT(m2, !Contains("note: c 2.0.0b1"));  // it matches, but c==4.0 excludes it anyway
  // Yanked releases that would match are named with their reason, and the fix.
  FakeIndex idx3;
  idx3.add("y", "1.0", {}, true).add("y", "0.5");
  idx3.reasons["y==1.0"] = "security hole";
  std::string m3 = failure(solve(idx3, {"y>=1"}));
  INFO(m3);
  CHECK_THAT(
      m3, Contains("note: y 1.0 (yanked: \"security hole\") would match y>=1 (your requirement)"));
  CHECK_THAT(m3, Contains("pin it exactly (e.g. y==1.0)"));
  CHECK_THAT(solve(idx3, {"y>=1"}).error().hint, Contains("pin the yanked release"));
  // No note when nothing was left out.
  CHECK_THAT(failure(solve(idx3, {"y>=2"})), !Contains("note:"));
}

TEST_CASE("resolve: constraints restrict but never add") {
  FakeIndex idx;
  idx.add("foo", "1.0").add("foo", "2.0").add("bar", "1.0");
  Options opt;
  opt.constraints = {R("foo<2"), R("bar>=1"), R("foo!=1.5; sys_platform == 'nowhere'")};
  CHECK(pins(solve(idx, {"foo"}, opt)) == Pins{{"foo", "1.0"}});
  std::string msg = failure(solve(idx, {"foo>=2"}, opt));
  CHECK_THAT(msg, Contains("the constraint foo<2 forbids"));
  CHECK_THAT(msg, Contains("you require foo>=2"));
}

TEST_CASE("resolve: preferences are tried first") {
  FakeIndex idx;
  idx.add("foo", "1.0").add("foo", "2.0").add("foo", "3.0");
  Options opt;
  opt.preferences = {{"foo", V("2.0")}};
  CHECK(pins(solve(idx, {"foo"}, opt)) == Pins{{"foo", "2.0"}});
  CHECK(pins(solve(idx, {"foo>=3"}, opt)) == Pins{{"foo", "3.0"}});
}

TEST_CASE("resolve: direct URL requirements") {
  FakeIndex idx;
  idx.add("foo", "1.0");
  CHECK(pins(solve(idx, {"foo @ https://example.invalid/foo-1.0-py3-none-any.whl"})) ==
        Pins{{"foo", "1.0"}});
}

// --- brute-force cross-check ---------------------------------------------------------------

namespace {

struct Universe {
  int packages = 0, versions = 0;
  std::vector<std::string> roots;
  // deps[p][v] = list of (target package, requirement text)
  std::vector<std::vector<std::vector<std::pair<int, std::string>>>> deps;
};

std::string name_of(int p) {
  return "p" + std::to_string(p);
}
std::string version_of(int v) {
  return std::to_string(v + 1) + ".0";
}

std::string random_spec(std::mt19937& rng, int versions) {
  std::uniform_int_distribution<int> ver(1, versions), kind(0, 5);
  int a = ver(rng), b = ver(rng);
  switch (kind(rng)) {
    case 0:
      return ">=" + std::to_string(a);
    case 1:
      return "<" + std::to_string(a);
    case 2:
      return "==" + std::to_string(a);
    case 3:
      return "!=" + std::to_string(a);
    case 4:
      return ">=" + std::to_string(std::min(a, b)) + ",<" + std::to_string(std::max(a, b) + 1);
    default:
      return "";
  }
}

Universe random_universe(std::mt19937& rng) {
  Universe u;
  u.packages = std::uniform_int_distribution<int>(5, 8)(rng);
  u.versions = std::uniform_int_distribution<int>(3, 4)(rng);
  std::uniform_int_distribution<int> pick(0, u.packages - 1);
  std::bernoulli_distribution edge(0.25);
  u.deps.resize(static_cast<size_t>(u.packages));
  for (int p = 0; p < u.packages; ++p) {
    u.deps[static_cast<size_t>(p)].resize(static_cast<size_t>(u.versions));
    for (int v = 0; v < u.versions; ++v)
      for (int q = 0; q < u.packages; ++q)
        if (q != p && edge(rng))
          u.deps[static_cast<size_t>(p)][static_cast<size_t>(v)].push_back(
              {q, name_of(q) + random_spec(rng, u.versions)});
  }
  int nroots = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int i = 0; i < nroots; ++i)
    u.roots.push_back(name_of(pick(rng)) + random_spec(rng, u.versions));
  return u;
}

bool satisfies(const Requirement& r, int chosen) {
  return chosen >= 0 && r.specifier.contains(V(version_of(chosen)));
}

/// Exhaustive search: choice[p] = -1 (absent) or a version index.
bool brute_force(const Universe& u) {
  std::vector<Requirement> roots;
  for (const auto& r : u.roots) roots.push_back(R(r));
  std::vector<std::vector<std::vector<std::pair<int, Requirement>>>> deps(u.deps.size());
  for (size_t p = 0; p < u.deps.size(); ++p)
    for (const auto& list : u.deps[p]) {
      deps[p].emplace_back();
      for (const auto& [q, text] : list) deps[p].back().push_back({q, R(text)});
    }
  std::vector<int> choice(static_cast<size_t>(u.packages), -1);
  auto valid_upto = [&](int n) {  // constraints among packages < n
    for (const auto& r : roots) {
      int p = std::stoi(r.name.substr(1));
      if (p < n && !satisfies(r, choice[static_cast<size_t>(p)])) return false;
    }
    for (int p = 0; p < n; ++p) {
      int v = choice[static_cast<size_t>(p)];
      if (v < 0) continue;
      for (const auto& [q, r] : deps[static_cast<size_t>(p)][static_cast<size_t>(v)])
        if (q < n && !satisfies(r, choice[static_cast<size_t>(q)])) return false;
    }
    return true;
  };
  std::function<bool(int)> search = [&](int p) {
    if (p == u.packages) return true;
    for (int v = -1; v < u.versions; ++v) {
      choice[static_cast<size_t>(p)] = v;
      if (valid_upto(p + 1) && search(p + 1)) return true;
    }
    choice[static_cast<size_t>(p)] = -1;
    return false;
  };
  return search(0);
}

}  // namespace

TEST_CASE("resolve: agrees with brute force on random universes") {
  std::mt19937 rng(20240611);
  int solvable = 0, unsolvable = 0;
  for (int round = 0; round < 400; ++round) {
    Universe u = random_universe(rng);
    FakeIndex idx;
    for (int p = 0; p < u.packages; ++p)
      for (int v = 0; v < u.versions; ++v) {
        std::vector<std::string> deps;
        for (const auto& d : u.deps[static_cast<size_t>(p)][static_cast<size_t>(v)])
          deps.push_back(d.second);
        idx.add(name_of(p), version_of(v), deps);
      }
    auto result = solve(idx, u.roots);
    bool expected = brute_force(u);
    INFO("round " << round << ": " << (result.ok() ? "solved" : result.error().message));
    REQUIRE(result.ok() == expected);
    if (!result.ok()) {
      ++unsolvable;
      continue;
    }
    ++solvable;
    std::map<std::string, int> chosen;
    for (const auto& p : result->packages)
      chosen[p.name] = static_cast<int>(p.version.release()[0]) - 1;
    auto get = [&](const std::string& n) { return chosen.count(n) ? chosen[n] : -1; };
    for (const auto& r : u.roots) CHECK(satisfies(R(r), get(R(r).name)));
    for (const auto& [name, v] : chosen)
      for (const auto& [q, text] :
           u.deps[static_cast<size_t>(std::stoi(name.substr(1)))][static_cast<size_t>(v)])
        CHECK(satisfies(R(text), get(name_of(q))));
  }
  CHECK(solvable > 50);
  CHECK(unsolvable > 50);
}

TEST_CASE("resolve: forty packages with cached metadata") {
  // A layered graph: each package depends on a few of the next layer with ranges that force
  // some backtracking. No timing assertion; the duration is reported for humans.
  FakeIndex idx;
  std::mt19937 rng(7);
  const int n = 40;
  for (int p = 0; p < n; ++p)
    for (int v = 1; v <= 20; ++v) {
      std::vector<std::string> deps;
      for (int q = p + 1; q < std::min(n, p + 4); ++q)
        deps.push_back("q" + std::to_string(q) + ">=" + std::to_string(v % 7 + 1) + ",<" +
                       std::to_string(v % 7 + 12));
      idx.add("q" + std::to_string(p), std::to_string(v) + ".0", deps);
    }
  auto start = std::chrono::steady_clock::now();
  auto r = solve(idx, {"q0", "q39<10"});
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  REQUIRE(r.ok());
  CHECK(r->packages.size() == n);
  WARN("resolved " << n << " packages in " << ms.count() << " ms");
}
TEST_CASE("resolve: print explanations", "[.print]") {
  FakeIndex idx;
  idx.add("foo", "1.0.0", {"a>=1.0.0,<2.0.0", "b>=1.0.0,<2.0.0"});
  idx.add("foo", "1.1.0", {"x>=1.0.0,<2.0.0", "y>=1.0.0,<2.0.0"});
  idx.add("a", "1.0.0", {"b>=2.0.0,<3.0.0"}).add("b", "1.0.0").add("b", "2.0.0");
  idx.add("x", "1.0.0", {"y>=2.0.0,<3.0.0"}).add("y", "1.0.0").add("y", "2.0.0");
  WARN(failure(solve(idx, {"foo>=1.0.0,<2.0.0"})));
  FakeIndex i2;
  i2.add("foo", "1.0.0", {"bar>=2.0.0,<3.0.0"});
  i2.add("bar", "2.0.0", {"baz>=3.0.0,<4.0.0"});
  i2.add("baz", "1.0.0").add("baz", "3.0.0");
  WARN(failure(solve(i2, {"foo>=1.0.0,<2.0.0", "baz>=1.0.0,<2.0.0"})));
  FakeIndex i4;
  i4.add("pkgx", "1.0", {"pkgz>=2"}).add("pkgy", "1.0", {"pkgz<2"});
  i4.add("pkgz", "1.0").add("pkgz", "2.0");
  WARN(failure(solve(i4, {"pkgx==1.0", "pkgy==1.0"})));
}
