// pep: PEP 503 names and PEP 508 requirements (expectations checked with packaging 24).
#include <catch2/catch.hpp>

#include "pep/name.hpp"
#include "pep/requirement.hpp"

using lb::pep::Requirement;

namespace {

Requirement R(const char* text) {
  auto r = Requirement::parse(text);
  INFO(text);
  if (!r.ok()) INFO(r.error().message);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("names: PEP 503 normalisation and validity", "[pep][name]") {
  using lb::pep::is_valid_name;
  using lb::pep::normalize_name;
  CHECK(normalize_name("Foo.Bar_baz") == "foo-bar-baz");
  CHECK(normalize_name("foo__-._bar") == "foo-bar");
  CHECK(normalize_name("Django") == "django");
  CHECK(normalize_name("zope.interface") == "zope-interface");
  CHECK(normalize_name("a") == "a");
  CHECK(is_valid_name("a"));
  CHECK(is_valid_name("3foo"));
  CHECK(is_valid_name("Foo.Bar_baz-2"));
  CHECK_FALSE(is_valid_name(""));
  CHECK_FALSE(is_valid_name("_foo"));
  CHECK_FALSE(is_valid_name("foo-"));
  CHECK_FALSE(is_valid_name("foo bar"));
  CHECK_FALSE(is_valid_name("föo"));
}

TEST_CASE("requirement: the PEP 508 grammar", "[pep][requirement]") {
  Requirement r = R("requests[security,socks]>=2.8.1,==2.8.*;python_version<'2.7'");
  CHECK(r.name == "requests");
  CHECK(r.extras == std::set<std::string>{"security", "socks"});
  CHECK(r.specifier.to_string() == "==2.8.*,>=2.8.1");
  CHECK(r.url.empty());
  REQUIRE(r.marker);
  CHECK(r.marker->to_string() == R"(python_version < "2.7")");
  CHECK(r.to_string() == R"(requests[security,socks]==2.8.*,>=2.8.1; python_version < "2.7")");

  Requirement u = R("name [fred,bar] @ http://foo.com ; python_version=='2.7'");
  CHECK(u.url == "http://foo.com");
  CHECK(u.extras == std::set<std::string>{"bar", "fred"});
  CHECK(u.specifier.empty());
  CHECK(u.to_string() == R"(name[bar,fred] @ http://foo.com ; python_version == "2.7")");
  // the canonical text parses back to the same thing
  CHECK(R(u.to_string().c_str()).to_string() == u.to_string());

  CHECK(R("name@http://foo.com").url == "http://foo.com");
  // without a space, ';' is part of the URL (as in packaging)
  CHECK(R("name @ http://x.com/a.whl;python_version>'3'").url ==
        "http://x.com/a.whl;python_version>'3'");

  Requirement p = R("Foo.Bar_baz (>=1.0, <2)");
  CHECK(p.name == "Foo.Bar_baz");
  CHECK(p.normalized_name() == "foo-bar-baz");
  CHECK(p.to_string() == "Foo.Bar_baz<2,>=1.0");

  Requirement ws = R(" name [ a , b ] ( >= 1 , < 2 ) ; os_name == 'posix' ");
  CHECK(ws.to_string() == R"(name[a,b]<2,>=1; os_name == "posix")");

  CHECK(R("name[]").extras.empty());
  CHECK(R("name[Foo_Bar]").extras == std::set<std::string>{"foo-bar"});
  CHECK(R("name==1.0.*").specifier.to_string() == "==1.0.*");
  CHECK(R("name (==1.0)").to_string() == "name==1.0");
  CHECK(R("name; extra=='X_y'").to_string() == R"(name; extra == "x-y")");
  CHECK(R("name===arbitrary").specifier.to_string() == "===arbitrary");
  CHECK(R("name>=1.0,").to_string() == "name>=1.0");
  CHECK(R("foo==1.0+local").to_string() == "foo==1.0+local");
  CHECK(R("3foo").name == "3foo");
  CHECK(R("requests").to_string() == "requests");
}

TEST_CASE("requirement: errors say what was expected where", "[pep][requirement]") {
  const std::pair<const char*, const char*> bad[] = {
      {"foo >>1", "expected version specifier at column 6 in 'foo >>1'"},
      {"foo =>1", "expected version specifier (==, !=, <=, >=, <, >, ~=, ===) at column 5"},
      {"foo ==", "expected version specifier at column 7"},
      {"foo-", "expected end or ';' (after name, no valid version) at column 4"},
      {"foo[bar", "expected ',' or ']' to close the '[' at column 4"},
      {"foo[bar baz]", "expected comma between extra names at column 9"},
      {"foo @", "expected URL after '@' at column 6"},
      {"foo (>=1", "expected ',' or ')' to close the '(' at column 5"},
      {"foo >=1.0.*", "'.*' is only allowed with == and !="},
      {"foo>=1.0+local", "local version label"},
      {"foo;", "expected a marker variable"},
      {"foo>=1 ;", "expected a marker variable"},
      {"foo bar", "expected end or ';'"},
      {"_foo", "expected package name at the start of the requirement at column 1"},
      {"", "expected package name"},
      {"foo @ https://x ;", "expected a marker variable"},
      {"foo[a,]", "expected extra name after comma"},
      {"foo>=1.0 or", "expected end or ';' (after version specifier) at column 10"},
      {"foo; os_name == 'a' xor", "expected 'and', 'or' or end of marker at column 21"},
  };
  for (const auto& [text, expect] : bad) {
    INFO(text);
    auto r = Requirement::parse(text);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message);
    CHECK(r.error().message.find(expect) != std::string::npos);
    CHECK_FALSE(r.error().hint.empty());
  }
}
