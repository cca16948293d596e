// vcs/: pip's VCS URLs, and mirrors of real git and brz repositories made by the tests (file://
// URLs only: no network).
#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"
#include "vcs/vcs.hpp"

using namespace lb;
using lb::test::TempDir;

namespace {

vcs::Url parse_ok(std::string_view text) {
  auto url = vcs::parse_url(text);
  INFO(text);
  REQUIRE(url.ok());
  return *url;
}

std::string parse_error(std::string_view text) {
  auto url = vcs::parse_url(text);
  INFO(text);
  REQUIRE_FALSE(url.ok());
  return url.error().to_string();
}

/// Run a shell script as the tests' fixed author, isolated from the user's git config.
std::string sh(const std::string& script) {
  ProcessOptions opt;
  opt.env = {{"GIT_CONFIG_NOSYSTEM", "1"},   {"GIT_CONFIG_GLOBAL", "/dev/null"},
             {"GIT_AUTHOR_NAME", "Jane"},    {"GIT_AUTHOR_EMAIL", "jane@example.org"},
             {"GIT_COMMITTER_NAME", "Jane"}, {"GIT_COMMITTER_EMAIL", "jane@example.org"},
             {"BRZ_EMAIL", "Jane <jane@x>"}, {"BRZ_LOG", "/dev/null"}};
  auto r = run_process({"sh", "-ec", script}, opt);
  REQUIRE(r.ok());
  INFO(script << "\n" << r->err);
  REQUIRE(r->exit_code == 0);
  return std::string(trim(r->out));
}

std::string read(const std::string& path) {
  auto text = fs::read_file(path);
  REQUIRE(text.ok());
  return *text;
}

int64_t mtime_of(const std::string& path) {
  return fs::stat_path(path).mtime_ns / 1000000000;
}

bool have(const char* program) {
  return !find_program(program).empty();
}

/// Nothing named <path>.tmp-* is left beside `path`.
bool no_temp_siblings(const std::string& path) {
  return fs::temp_siblings_of(path).empty();
}

/// A bzr branch with two commits (fixed times) and a tag, made once per process.
struct BzrFixture {
  TempDir dir{"vcs-bzr-fixture"};
  std::string rev1, rev2;
  BzrFixture() {
    std::string src = dir / "src";
    sh("brz init -q " + src + " && cd " + src +
       " && mkdir -p pkg && echo 'print(1)' > pkg/a.py && echo top > top.txt"
       " && printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh && brz add -q"
       " && brz commit -q -m one --commit-time='2023-11-14 22:13:20 +0000'"
       " && brz tag -q v1.0"
       " && echo 2 > top.txt && brz commit -q -m two --commit-time='2023-11-15 01:13:20 +0200'");
    rev1 = sh("brz revision-info -d " + src + " -r 1 | cut -d' ' -f2");
    rev2 = sh("brz revision-info -d " + src + " -r 2 | cut -d' ' -f2");
  }
};
const BzrFixture& bzr_fixture() {
  static const BzrFixture fixture;
  return fixture;
}

}  // namespace

TEST_CASE("vcs: pip's git URL spellings") {
  auto u =
      parse_ok("git+https://git.example.com/MyProject.git@v1.0#egg=MyProject&subdirectory=pkg");
  CHECK(u.kind == vcs::Kind::git);
  CHECK(u.repo == "https://git.example.com/MyProject.git");
  CHECK(u.rev == "v1.0");
  CHECK(u.egg == "MyProject");
  CHECK(u.subdirectory == "pkg");
  CHECK(u.url_without_rev() == "git+https://git.example.com/MyProject.git");
  CHECK(u.direct_url() == "https://git.example.com/MyProject.git");
  CHECK_FALSE(u.rev_is_immutable());

  u = parse_ok("git+ssh://git@git.example.com/MyProject");
  CHECK(u.repo == "ssh://git@git.example.com/MyProject");
  CHECK(u.rev.empty());
  CHECK(u.direct_url() == "ssh://git@git.example.com/MyProject");  // "git@" is PEP 610-safe

  u = parse_ok("git+file:///srv/repos/app@0123456789abcdef0123456789abcdef01234567");
  CHECK(u.repo == "file:///srv/repos/app");
  CHECK(u.rev == "0123456789abcdef0123456789abcdef01234567");
  CHECK(u.rev_is_immutable());
  CHECK(u.url_without_rev() == "git+file:///srv/repos/app");

  // The '@' of the user info is not a revision; the last '@' of the path is.
  u = parse_ok("git+https://user@host/r.git@v1");
  CHECK(u.repo == "https://user@host/r.git");
  CHECK(u.rev == "v1");
  CHECK(u.direct_url() == "https://host/r.git");  // credentials are not recorded
  u = parse_ok("git+https://user:secret@host/r.git");
  CHECK(u.rev.empty());
  CHECK(u.repo == "https://user:secret@host/r.git");
  CHECK(u.direct_url() == "https://host/r.git");
  CHECK(parse_ok("git+https://${USER}:${TOKEN}@host/r.git").direct_url() ==
        "https://${USER}:${TOKEN}@host/r.git");

  // scp-like, as pip's test_git__get_url_rev__idempotent.
  u = parse_ok("git+git@git.example.com:MyProject#egg=MyProject");
  CHECK(u.repo == "git@git.example.com:MyProject");
  CHECK(u.rev.empty());
  CHECK(u.egg == "MyProject");
  u = parse_ok("git+git@github.com:pypa/pip.git@22.0");
  CHECK(u.repo == "git@github.com:pypa/pip.git");
  CHECK(u.rev == "22.0");
  CHECK(u.url_without_rev() == "git+git@github.com:pypa/pip.git");

  // Percent-decoding: the revision (pip unquotes it) and a git+file path (pip's url2pathname).
  u = parse_ok("git+https://h/r.git@dev%401%232");
  CHECK(u.rev == "dev@1#2");
  u = parse_ok("git+file:///srv/my%20repo@main");
  CHECK(u.repo == "file:///srv/my repo");
  CHECK(u.url_without_rev() == "git+file:///srv/my%20repo");
  CHECK(u.direct_url() == "file:///srv/my%20repo");

  // refs and a query stay; the scheme is case-insensitive.
  CHECK(parse_ok("git+https://h/r.git@refs/pull/123/head").rev == "refs/pull/123/head");
  CHECK(parse_ok("git+https://h/r?x=1@v1").repo == "https://h/r?x=1@v1");
  CHECK(parse_ok("git+https://h/r@v1?x=1").repo == "https://h/r?x=1");
  CHECK(parse_ok("GIT+HTTPS://h/r").repo == "https://h/r");
  CHECK(parse_ok("git+git://h/r").repo == "git://h/r");
  CHECK(parse_ok("git+http://h/r").repo == "http://h/r");

  // Fragments: subdirectory normalised; empty items skipped.
  CHECK(parse_ok("git+https://h/r#subdirectory=a/./b//c/").subdirectory == "a/b/c");
  CHECK(parse_ok("git+https://h/r#subdirectory=.").subdirectory.empty());
  CHECK(parse_ok("git+https://h/r#egg=a-b.c_d&").egg == "a-b.c_d");

  CHECK(vcs::is_vcs_url("git+https://h/r"));
  CHECK(vcs::is_vcs_url("BZR+lp:x"));
  CHECK_FALSE(vcs::is_vcs_url("https://h/r"));
  CHECK_FALSE(vcs::is_vcs_url("hg+https://h/r"));
  CHECK_FALSE(vcs::is_vcs_url("git"));
}

TEST_CASE("vcs: pip's bzr URL spellings") {
  auto u = parse_ok("bzr+file:///b@42");
  CHECK(u.kind == vcs::Kind::bzr);
  CHECK(u.repo == "file:///b");
  CHECK(u.rev == "42");
  CHECK(u.url_without_rev() == "bzr+file:///b");
  CHECK(u.direct_url() == "file:///b");
  // brz's own scheme keeps its prefix (pip's bazaar.py).
  u = parse_ok("bzr+ssh://user@example.com/MyProject/trunk@v1.0");
  CHECK(u.repo == "bzr+ssh://user@example.com/MyProject/trunk");
  CHECK(u.rev == "v1.0");
  CHECK(u.url_without_rev() == "bzr+ssh://user@example.com/MyProject/trunk");
  CHECK(u.direct_url() == "bzr+ssh://example.com/MyProject/trunk");
  u = parse_ok("bzr+https://bzr.example.com/MyProject/trunk@2019");
  CHECK(u.repo == "https://bzr.example.com/MyProject/trunk");
  CHECK(u.rev == "2019");
  CHECK(parse_ok("bzr+lp:MyProject").repo == "lp:MyProject");
  CHECK(parse_ok("bzr+sftp://user@example.com/MyProject/trunk").repo ==
        "sftp://user@example.com/MyProject/trunk");
  CHECK(parse_ok("bzr+ftp://example.com/p").repo == "ftp://example.com/p");
  // Immutable: a revision id, spelled revid: or (with its '@') bare.
  CHECK(parse_ok("bzr+file:///b@revid:jane%40x-2024-abc").rev_is_immutable());
  CHECK(parse_ok("bzr+file:///b@jane%40x-2024-abc").rev_is_immutable());
  CHECK_FALSE(parse_ok("bzr+file:///b@tag:v1").rev_is_immutable());
  CHECK_FALSE(parse_ok("bzr+file:///b@1.2.3").rev_is_immutable());
}

TEST_CASE("vcs: bad URLs say what is wrong") {
  CHECK_THAT(parse_error("git+ftp://h/r"),
             Catch::Contains("unknown scheme git+ftp") && Catch::Contains("git+https"));
  CHECK_THAT(parse_error("hg+https://h/r"), Catch::Contains("not a VCS URL"));
  CHECK_THAT(parse_error("bzr+git://h/r"), Catch::Contains("unknown scheme bzr+git"));
  CHECK_THAT(parse_error("git+https://"), Catch::Contains("names no repository"));
  CHECK_THAT(parse_error("git+https://h/r.git@#egg=x"), Catch::Contains("empty revision"));
  CHECK_THAT(parse_error("git+https://h/r#egg=x&subdir=pkg"),
             Catch::Contains("unknown fragment key \"subdir\""));
  CHECK_THAT(parse_error("git+https://h/r#egg"), Catch::Contains("bad fragment"));
  CHECK_THAT(parse_error("git+https://h/r#egg=a[b]"), Catch::Contains("not a project name"));
  CHECK_THAT(parse_error("git+https://h/r#egg=a&egg=b"), Catch::Contains("egg= twice"));
  CHECK_THAT(parse_error("git+https://h/r#subdirectory=a/../../x"), Catch::Contains("'..'"));
  CHECK_THAT(parse_error("git+https://h/r#subdirectory=/etc"), Catch::Contains("absolute"));
  CHECK_THAT(parse_error("git+https://h/r@-oProxyCommand=x"), Catch::Contains("starts with '-'"));
  CHECK_THAT(parse_error("git+ssh://-oProxyCommand=x/r"), Catch::Contains("host starts with"));
  CHECK_THAT(parse_error("git+-oProxyCommand=x:r"), Catch::Contains("scp-like"));
  CHECK_THAT(parse_error("git+file:/srv/x"), Catch::Contains("expected git+file://"));
  CHECK_THAT(parse_error("git+https://h/r x"), Catch::Contains("space"));
  CHECK_THAT(parse_error("bzr+file:///b@branch:/etc"), Catch::Contains("not one lavabuild"));
  CHECK_THAT(parse_error("bzr+host/path"), Catch::Contains("has no scheme"));
  // A password never reaches a message.
  std::string e = parse_error("git+https://user:hunter2@h/r#bad");
  CHECK_THAT(e, Catch::Contains("user:****@h"));
  CHECK(e.find("hunter2") == std::string::npos);
}

TEST_CASE("process: a timeout kills the command's process group") {
  ProcessOptions opt;
  opt.timeout = std::chrono::milliseconds(300);
  opt.own_process_group = true;
  auto start = std::chrono::steady_clock::now();
  auto r = run_process({"sh", "-c", "sleep 30 & sleep 30; echo never"}, opt);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK(r->out.empty());
  CHECK(took < std::chrono::seconds(5));
  auto quick = run_process({"sh", "-c", "echo hi"}, opt);
  REQUIRE(quick.ok());
  CHECK_FALSE(quick->timed_out);
  CHECK(quick->out == "hi\n");
}

TEST_CASE("vcs: git mirror, resolve and export") {
  if (!have("git")) LB_MISSING_PREREQUISITE("git is not installed");
  TempDir tmp("vcs-git");
  std::string src = tmp / "src";
  sh("git init -q -b main " + src + " && cd " + src +
     " && mkdir -p pkg/sub && echo 'print(1)' > pkg/a.py && echo b > pkg/sub/b.txt"
     " && echo top > top.txt && printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh"
     " && ln -s pkg/a.py link.py && git add -A"
     " && GIT_COMMITTER_DATE=@1700000000 git commit -qm one && git tag v1"
     " && git checkout -qb dev && echo d > dev.txt && git add dev.txt"
     " && GIT_COMMITTER_DATE=@1700000050 git commit -qm dev && git checkout -q main");
  std::string one = sh("git -C " + src + " rev-parse main");
  std::string dev = sh("git -C " + src + " rev-parse dev");
  vcs::Options opt;
  opt.cache_dir = tmp / "cache";
  std::string base = "git+file://" + src;

  auto r = vcs::resolve(parse_ok(base + "@main"), opt);
  REQUIRE(r.ok());
  CHECK(r->commit_id == one);
  CHECK(r->revno.empty());
  CHECK(r->commit_time == 1700000000);
  CHECK(r->fetched);  // cloned
  std::string mirror = vcs::mirror_dir(parse_ok(base), opt.cache_dir);
  CHECK(fs::is_dir(mirror));
  CHECK_FALSE(fs::exists(mirror + "/hooks"));
  CHECK(no_temp_siblings(mirror));

  SECTION("tags, branches, short and full shas, the default branch") {
    auto tag = vcs::resolve(parse_ok(base + "@v1"), opt);
    REQUIRE(tag.ok());
    CHECK(tag->commit_id == one);
    CHECK(tag->fetched);  // a tag may move: fetched
    auto full = vcs::resolve(parse_ok(base + "@" + dev), opt);
    REQUIRE(full.ok());
    CHECK(full->commit_id == dev);
    CHECK_FALSE(full->fetched);  // in the mirror already: no fetch
    CHECK(full->commit_time == 1700000050);
    auto shortsha = vcs::resolve(parse_ok(base + "@" + dev.substr(0, 10)), opt);
    REQUIRE(shortsha.ok());
    CHECK(shortsha->commit_id == dev);
    auto head = vcs::resolve(parse_ok(base), opt);
    REQUIRE(head.ok());
    CHECK(head->commit_id == one);
    auto missing = vcs::resolve(parse_ok(base + "@nosuch"), opt);
    REQUIRE_FALSE(missing.ok());
    CHECK_THAT(missing.error().to_string(), Catch::Contains("no branch, tag or commit \"nosuch\""));
  }

  SECTION("a moved branch is fetched; offline sees the mirror as it is") {
    sh("cd " + src + " && echo 2 > top.txt && GIT_COMMITTER_DATE=@1700000100 git commit -qam two");
    std::string two = sh("git -C " + src + " rev-parse main");
    vcs::Options off = opt;
    off.offline = true;
    auto stale = vcs::resolve(parse_ok(base + "@main"), off);
    REQUIRE(stale.ok());
    CHECK(stale->commit_id == one);
    CHECK_FALSE(stale->fetched);
    auto moved = vcs::resolve(parse_ok(base + "@main"), opt);
    REQUIRE(moved.ok());
    CHECK(moved->commit_id == two);
    CHECK(moved->fetched);
    CHECK(moved->commit_time == 1700000100);
    auto now_offline = vcs::resolve(parse_ok(base + "@main"), off);
    REQUIRE(now_offline.ok());
    CHECK(now_offline->commit_id == two);
    // A commit the mirror lacks, offline: say so.
    sh("cd " + src + " && echo 3 > top.txt && git commit -qam three");
    std::string three = sh("git -C " + src + " rev-parse main");
    auto lacking = vcs::resolve(parse_ok(base + "@" + three), off);
    REQUIRE_FALSE(lacking.ok());
    CHECK_THAT(lacking.error().to_string(),
               Catch::Contains("offline") && Catch::Contains("run once online"));
    auto fetched = vcs::resolve(parse_ok(base + "@" + three), opt);
    REQUIRE(fetched.ok());
    CHECK(fetched->fetched);
    CHECK(fetched->commit_id == three);
  }

  SECTION("a renamed default branch is followed") {
    sh("cd " + src +
       " && git branch -m main trunk && echo t > t.txt && git add t.txt"
       " && git commit -qm trunk");
    std::string trunk = sh("git -C " + src + " rev-parse trunk");
    auto head = vcs::resolve(parse_ok(base), opt);
    REQUIRE(head.ok());
    CHECK(head->commit_id == trunk);
    CHECK(trim(read(mirror + "/HEAD")) == "ref: refs/heads/trunk");
  }

  SECTION("offline without a mirror") {
    vcs::Options off;
    off.cache_dir = tmp / "other-cache";
    off.offline = true;
    auto none = vcs::resolve(parse_ok(base + "@main"), off);
    REQUIRE_FALSE(none.ok());
    CHECK_THAT(none.error().to_string(), Catch::Contains(base + "@main") &&
                                             Catch::Contains("offline") &&
                                             Catch::Contains("run once online"));
  }

  SECTION("export: the tree, no .git, fixed mtimes and modes") {
    std::string out = tmp / "out/tree";
    REQUIRE(vcs::export_tree(parse_ok(base + "@main"), *r, out, opt).ok());
    CHECK(read(out + "/top.txt") == "top\n");
    CHECK(read(out + "/pkg/a.py") == "print(1)\n");
    CHECK(read(out + "/pkg/sub/b.txt") == "b\n");
    CHECK_FALSE(fs::exists(out + "/dev.txt"));
    CHECK_FALSE(fs::exists(out + "/.git"));
    CHECK(fs::stat_path(out + "/link.py").is_symlink);
    CHECK(fs::stat_path(out + "/run.sh").mode == 0755);
    CHECK(fs::stat_path(out + "/top.txt").mode == 0644);
    CHECK(fs::stat_path(out + "/pkg").mode == 0755);
    for (const char* p : {"", "/top.txt", "/pkg", "/pkg/sub/b.txt", "/link.py"})
      CHECK(mtime_of(out + p) == 1700000000);
    CHECK(no_temp_siblings(out));
    auto again = vcs::export_tree(parse_ok(base + "@main"), *r, out, opt);
    REQUIRE_FALSE(again.ok());
    CHECK_THAT(again.error().to_string(), Catch::Contains("exists already"));
  }

  SECTION("export a subdirectory; a missing one is an error that leaves nothing") {
    std::string out = tmp / "sub";
    vcs::Revision no_time = *r;
    no_time.commit_time = 0;  // looked up
    REQUIRE(vcs::export_tree(parse_ok(base + "@main#subdirectory=pkg"), no_time, out, opt).ok());
    CHECK(read(out + "/a.py") == "print(1)\n");
    CHECK(read(out + "/sub/b.txt") == "b\n");
    CHECK_FALSE(fs::exists(out + "/top.txt"));
    CHECK(mtime_of(out + "/a.py") == 1700000000);
    for (const char* bad : {"nosuch", "top.txt", "link.py"}) {
      std::string dest = tmp / (std::string("bad-") + bad);
      auto st = vcs::export_tree(parse_ok(base + "@main#subdirectory=" + bad), *r, dest, opt);
      REQUIRE_FALSE(st.ok());
      CHECK_THAT(st.error().to_string(), Catch::Contains("has no directory"));
      CHECK_FALSE(fs::exists(dest));
      CHECK(no_temp_siblings(dest));
    }
  }
}

TEST_CASE("vcs: resolves of one repository at once take turns on its lock") {
  if (!have("git")) LB_MISSING_PREREQUISITE("git is not installed");
  TempDir tmp("vcs-lock");
  std::string src = tmp / "src";
  sh("git init -q -b main " + src + " && cd " + src +
     " && echo a > a && git add a && git commit -qm one");
  std::string head = sh("git -C " + src + " rev-parse main");
  vcs::Options opt;
  opt.cache_dir = tmp / "cache";
  auto url = parse_ok("git+file://" + src + "@main");
  std::vector<Result<vcs::Revision>> results(4, make_error("not run"));
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&] { r = vcs::resolve(url, opt); });
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    REQUIRE(r.ok());
    CHECK(r->commit_id == head);
  }
  std::string mirror = vcs::mirror_dir(url, opt.cache_dir);
  CHECK(fs::is_dir(mirror));
  CHECK(no_temp_siblings(mirror));
  CHECK(fs::exists(vcs::lock_path(url, opt.cache_dir)));
}

TEST_CASE("vcs: a clone that fails or is killed leaves no mirror") {
  if (!have("git")) LB_MISSING_PREREQUISITE("git is not installed");
  TempDir tmp("vcs-fail");
  vcs::Options opt;
  opt.cache_dir = tmp / "cache";
  auto url = parse_ok("git+file://" + tmp / "nosuch" + "@main");
  auto r = vcs::resolve(url, opt);
  REQUIRE_FALSE(r.ok());
  std::string msg = r.error().to_string();
  CHECK_THAT(msg, Catch::Contains(url.text) && Catch::Contains("git") && Catch::Contains("clone") &&
                      Catch::Contains("failed (exit") && Catch::Contains("hint:"));
  std::string mirror = vcs::mirror_dir(url, opt.cache_dir);
  CHECK_FALSE(fs::exists(mirror));
  CHECK(no_temp_siblings(mirror));

  // A clone that hangs: a fake git that never ends is stopped at the timeout.
  tmp.write("bin/git", "#!/bin/sh\nsleep 30 &\nwait\n");
  REQUIRE(fs::set_mode(tmp / "bin/git", 0755).ok());
  std::string old_path = ::getenv("PATH");
  ::setenv("PATH", (tmp / "bin:" + old_path).c_str(), 1);
  opt.timeout = std::chrono::seconds(1);
  auto start = std::chrono::steady_clock::now();
  auto hung = vcs::resolve(url, opt);
  auto took = std::chrono::steady_clock::now() - start;
  ::setenv("PATH", old_path.c_str(), 1);
  REQUIRE_FALSE(hung.ok());
  CHECK_THAT(hung.error().to_string(), Catch::Contains("took longer than 1 s"));
  CHECK(took < std::chrono::seconds(10));
  CHECK_FALSE(fs::exists(mirror));
  CHECK(no_temp_siblings(mirror));
}

TEST_CASE("vcs: bzr mirror, resolve and export") {
  if (!have("brz")) LB_MISSING_PREREQUISITE("brz is not installed (Debian: apt-get install brz)");
  // brz starts slowly (~0.15 s a command): the branch is made once and copied for each section.
  const BzrFixture& fixture = bzr_fixture();
  TempDir tmp("vcs-bzr");
  std::string src = tmp / "src";
  sh("cp -a " + fixture.dir.path + "/src " + src);
  const std::string& rev1 = fixture.rev1;
  const std::string& rev2 = fixture.rev2;
  vcs::Options opt;
  opt.cache_dir = tmp / "cache";
  std::string base = "bzr+file://" + src;

  auto tip = vcs::resolve(parse_ok(base), opt);
  REQUIRE(tip.ok());
  CHECK(tip->commit_id == rev2);
  CHECK(tip->revno == "2");
  CHECK(tip->commit_time == 1700003600);  // 01:13:20 +0200 is 23:13:20 UTC
  CHECK(tip->fetched);
  std::string mirror = vcs::mirror_dir(parse_ok(base), opt.cache_dir);
  CHECK(fs::is_dir(mirror + "/.bzr"));
  CHECK(no_temp_siblings(mirror));

  SECTION("revno, tag and revid") {
    auto one = vcs::resolve(parse_ok(base + "@1"), opt);
    REQUIRE(one.ok());
    CHECK(one->commit_id == rev1);
    CHECK(one->revno == "1");
    CHECK(one->commit_time == 1700000000);
    auto tag = vcs::resolve(parse_ok(base + "@v1.0"), opt);
    REQUIRE(tag.ok());
    CHECK(tag->commit_id == rev1);
    auto revid = vcs::resolve(parse_ok(base + "@revid:" + replace_all(rev1, "@", "%40")), opt);
    REQUIRE(revid.ok());
    CHECK(revid->commit_id == rev1);
    CHECK(revid->revno == "1");
    CHECK_FALSE(revid->fetched);
    auto missing = vcs::resolve(parse_ok(base + "@nosuch"), opt);
    REQUIRE_FALSE(missing.ok());
    CHECK_THAT(missing.error().to_string(), Catch::Contains("no revision \"nosuch\""));
  }

  SECTION("a moved branch is pulled; offline sees the mirror as it is") {
    sh("cd " + src + " && echo 3 > top.txt && brz commit -q -m three");
    vcs::Options off = opt;
    off.offline = true;
    auto stale = vcs::resolve(parse_ok(base), off);
    REQUIRE(stale.ok());
    CHECK(stale->commit_id == rev2);
    CHECK_FALSE(stale->fetched);
    auto moved = vcs::resolve(parse_ok(base), opt);
    REQUIRE(moved.ok());
    CHECK(moved->revno == "3");
    CHECK(moved->fetched);
    CHECK(moved->commit_id != rev2);
    // Rewritten history (uncommit + commit, pulled with --overwrite): the old tip's revid is
    // still in the mirror's repository, without a revno.
    sh("cd " + src + " && brz uncommit -q --force && echo 4 > top.txt && brz commit -q -m four");
    auto rewritten = vcs::resolve(parse_ok(base), opt);
    REQUIRE(rewritten.ok());
    CHECK(rewritten->revno == "3");
    CHECK(rewritten->commit_id != moved->commit_id);
    auto old =
        vcs::resolve(parse_ok(base + "@revid:" + replace_all(moved->commit_id, "@", "%40")), off);
    REQUIRE(old.ok());
    CHECK(old->commit_id == moved->commit_id);
    CHECK(old->revno.empty());
    std::string out = tmp / "old";
    REQUIRE(vcs::export_tree(parse_ok(base), *old, out, opt).ok());
    CHECK(read(out + "/top.txt") == "3\n");
  }

  SECTION("offline without a mirror") {
    vcs::Options off;
    off.cache_dir = tmp / "other-cache";
    off.offline = true;
    auto none = vcs::resolve(parse_ok(base), off);
    REQUIRE_FALSE(none.ok());
    CHECK_THAT(none.error().to_string(),
               Catch::Contains(base) && Catch::Contains("run once online"));
  }

  SECTION("export: the tree, no .bzr, fixed mtimes; a subdirectory") {
    std::string out = tmp / "out";
    REQUIRE(vcs::export_tree(parse_ok(base), *tip, out, opt).ok());
    CHECK(read(out + "/top.txt") == "2\n");
    CHECK(read(out + "/pkg/a.py") == "print(1)\n");
    CHECK_FALSE(fs::exists(out + "/.bzr"));
    CHECK(fs::stat_path(out + "/run.sh").mode == 0755);
    for (const char* p : {"", "/top.txt", "/pkg", "/pkg/a.py"})
      CHECK(mtime_of(out + p) == tip->commit_time);
    std::string sub = tmp / "sub";
    vcs::Revision no_time = *tip;
    no_time.commit_time = 0;
    REQUIRE(vcs::export_tree(parse_ok(base + "#subdirectory=pkg"), no_time, sub, opt).ok());
    CHECK(read(sub + "/a.py") == "print(1)\n");
    CHECK(mtime_of(sub + "/a.py") == tip->commit_time);
    std::string bad = tmp / "bad";
    auto st = vcs::export_tree(parse_ok(base + "#subdirectory=nosuch"), *tip, bad, opt);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.error().to_string(), Catch::Contains("has no directory"));
    CHECK_FALSE(fs::exists(bad));
    CHECK(no_temp_siblings(bad));
  }
}
