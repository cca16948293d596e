// vcs/: pip's VCS URLs.
#include <catch2/catch.hpp>
#include <string>

#include "vcs/vcs.hpp"

using namespace lb;

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
