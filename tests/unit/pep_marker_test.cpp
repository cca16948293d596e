// PEP 508 markers: parsing, canonical text, evaluation (expectations checked with packaging).
#include <catch2/catch.hpp>

#include "pep/marker.hpp"

using lb::pep::Marker;
using lb::pep::MarkerEnv;

namespace {

MarkerEnv linux311() {
  return MarkerEnv{{{"python_version", "3.11"},
                    {"python_full_version", "3.11.7"},
                    {"os_name", "posix"},
                    {"sys_platform", "linux"},
                    {"platform_release", "6.1.0-18-amd64"},
                    {"platform_system", "Linux"},
                    {"platform_version", "#1 SMP"},
                    {"platform_machine", "x86_64"},
                    {"platform_python_implementation", "CPython"},
                    {"implementation_name", "cpython"},
                    {"implementation_version", "3.11.7"}}};
}

Marker M(const char* text) {
  auto m = Marker::parse(text);
  INFO(text);
  if (!m.ok()) INFO(m.error().message);
  REQUIRE(m.ok());
  return *m;
}

}  // namespace

TEST_CASE("marker: canonical text and evaluation", "[pep][marker]") {
  struct Case {
    const char* in;
    const char* canonical;
    bool value;
  };
  const Case cases[] = {
      {"python_version >= '3.8'", R"(python_version >= "3.8")", true},
      {"python_version<'3.8'", R"(python_version < "3.8")", false},
      {"python_version == '3.11.*'", R"(python_version == "3.11.*")", true},
      {"python_full_version >= '3.11.2'", R"(python_full_version >= "3.11.2")", true},
      {"python_version >= '3.10'", R"(python_version >= "3.10")", true},  // not "3.11" < "3.10"
      {"'linux' in sys_platform", R"("linux" in sys_platform)", true},
      {"sys_platform not in 'win32 cygwin'", R"(sys_platform not in "win32 cygwin")", true},
      {"os.name == 'posix'", R"(os_name == "posix")", true},
      {"platform.machine=='x86_64' and python_version>'3'",
       R"(platform_machine == "x86_64" and python_version > "3")", true},
      {"python_implementation == 'CPython'", R"(platform_python_implementation == "CPython")",
       true},
      {"(os_name == 'nt' or os_name == 'posix') and python_version >= '3.6'",
       R"((os_name == "nt" or os_name == "posix") and python_version >= "3.6")", true},
      {"os_name == 'nt' or os_name == 'posix' and python_version < '3'",
       R"(os_name == "nt" or os_name == "posix" and python_version < "3")", false},
      {"os_name == 'nt' and os_name == 'posix' or python_version >= '3'",
       R"(os_name == "nt" and os_name == "posix" or python_version >= "3")", true},
      {"((python_version >= '3'))", R"(python_version >= "3")", true},
      {"python_version > '3' and (os_name=='a' or (os_name=='b'))",
       R"(python_version > "3" and (os_name == "a" or os_name == "b"))", false},
      {"platform_release >= '6'", R"(platform_release >= "6")", true},  // string comparison
      {"implementation_version ~= '3.11.0'", R"(implementation_version ~= "3.11.0")", true},
      {"'3.8' < python_version", R"("3.8" < python_version)", true},
      {"python_version === '3.11'", R"(python_version === "3.11")", true},
      {"platform_version == '#1 SMP'", R"(platform_version == "#1 SMP")", true},
      {"platform_system != 'Windows'", R"(platform_system != "Windows")", true},
      {"python_version < '3.11.0a1'", R"(python_version < "3.11.0a1")", false},
      {"python_full_version < '3.11.7+local'", R"(python_full_version < "3.11.7+local")", true},
      {"python_version == \"2.7\" or python_version == \"3.11\"",
       R"(python_version == "2.7" or python_version == "3.11")", true},
      {"platform_machine >= 'x86'", R"(platform_machine >= "x86")", true},
      {"python_version in '3.10 3.11'", R"(python_version in "3.10 3.11")", true},
      {"python_version not  in\t'x'", R"(python_version not in "x")", true},
      {"'a' == 'b'", R"("a" == "b")", false},
      {"implementation_name == 'cpython' and\tos_name=='posix'",
       R"(implementation_name == "cpython" and os_name == "posix")", true},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    Marker m = M(c.in);
    CHECK(m.to_string() == c.canonical);
    CHECK(m.evaluate(linux311()) == c.value);
    // the canonical text means the same thing
    CHECK(M(c.canonical).to_string() == c.canonical);
  }
}

TEST_CASE("marker: extras", "[pep][marker]") {
  Marker m = M("extra == 'Test_Foo'");
  CHECK(m.to_string() == R"(extra == "test-foo")");
  CHECK(m.mentions_extra());
  CHECK_FALSE(m.evaluate(linux311()));
  CHECK(m.evaluate(linux311(), {"test-foo"}));
  CHECK(m.evaluate(linux311(), {"docs", "test-foo"}));
  CHECK_FALSE(m.evaluate(linux311(), {"docs"}));
  CHECK(M("'test.foo' == extra").evaluate(linux311(), {"test-foo"}));
  CHECK(M("extra != 'docs'").evaluate(linux311(), {"test"}));
  CHECK_FALSE(M("extra != 'docs'").evaluate(linux311(), {"docs"}));
  Marker both = M("extra=='tests'and python_version>='3'");
  CHECK(both.to_string() == R"(extra == "tests" and python_version >= "3")");
  CHECK(both.evaluate(linux311(), {"tests"}));
  CHECK_FALSE(both.evaluate(linux311()));
  // an "extra" in the environment counts when no extras set is given
  MarkerEnv env = linux311();
  env.values["extra"] = "Tests";
  CHECK(both.evaluate(env));
  CHECK_FALSE(M("python_version >= '3'").mentions_extra());
}

TEST_CASE("marker: missing variables read as empty strings", "[pep][marker]") {
  MarkerEnv empty;
  CHECK(M("platform_machine == ''").evaluate(empty));
  CHECK_FALSE(M("python_version >= '3'").evaluate(empty));
  CHECK(M("sys_platform != 'win32'").evaluate(empty));
}

TEST_CASE("marker: syntax errors name the column", "[pep][marker]") {
  const std::pair<const char*, const char*> bad[] = {
      {"python_version", "expected marker operator"},
      {"python_version >= ", "expected a marker variable"},
      {"python_version >> '3'", "expected a marker variable"},
      {"foo == 'x'", "expected a marker variable"},
      {"python_version == '3' and", "expected a marker variable"},
      {"(python_version == '3'", "expected ')'"},
      {"python_version notin 'x'", "expected marker operator"},
      {"python_version=='3' andos_name=='x'", "expected 'and', 'or' or end"},
      {"python_version == '3", "expected closing '"},
      {"", "expected a marker variable"},
  };
  for (const auto& [text, expect] : bad) {
    INFO(text);
    auto m = Marker::parse(text);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message.find(expect) != std::string::npos);
    CHECK(m.error().message.find("at column") != std::string::npos);
  }
  auto m = Marker::parse("python_version >> '3'");
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message.find("at column 17") != std::string::npos);
}

TEST_CASE("marker: deep nesting is rejected, not a crash", "[pep][marker]") {
  std::string deep(5000, '(');
  deep += "os_name == 'x'";
  deep += std::string(5000, ')');
  CHECK_FALSE(Marker::parse(deep).ok());
  std::string ok = std::string(50, '(') + "os_name == 'posix'" + std::string(50, ')');
  CHECK(M(ok.c_str()).evaluate(linux311()));
}

TEST_CASE("marker: PEP 751 extras and dependency_groups in pylock.toml only",
          "[pep][marker][pylock]") {
  using lb::pep::MarkerSyntax;
  auto lock_marker = [](const char* text) {
    auto m = Marker::parse(text, MarkerSyntax::pylock);
    INFO(text);
    if (!m.ok()) INFO(m.error().message);
    REQUIRE(m.ok());
    return *m;
  };
  MarkerEnv env = linux311();
  env.extras = {"socks", "Test_Utils"};
  env.dependency_groups = {"dev"};
  CHECK(lock_marker("'socks' in extras").evaluate(env));
  CHECK(lock_marker("'test-utils' in extras").evaluate(env));  // names compare normalised
  CHECK(lock_marker("'TEST.UTILS' in extras").evaluate(env));
  CHECK_FALSE(lock_marker("'docs' in extras").evaluate(env));
  CHECK(lock_marker("'docs' not in extras").evaluate(env));
  CHECK(lock_marker("'dev' in dependency_groups").evaluate(env));
  CHECK_FALSE(lock_marker("'dev' not in dependency_groups").evaluate(env));
  CHECK(lock_marker("'dev' in dependency_groups and python_version >= '3.8'").evaluate(env));
  CHECK_FALSE(lock_marker("'lint' in dependency_groups or 'x' in extras").evaluate(env));
  CHECK_FALSE(lock_marker("'socks' in extras").evaluate(linux311()));  // none requested
  CHECK(lock_marker("\"socks\"  in   extras").to_string() == R"("socks" in extras)");
  // ordinary PEP 508 markers read the same in a lock
  CHECK(lock_marker("sys_platform == 'linux'").evaluate(env));

  // Anywhere else the variables are an error naming the column.
  for (const char* text :
       {"'socks' in extras", "python_version > '3' and 'dev' in dependency_groups"}) {
    auto m = Marker::parse(text);
    INFO(text);
    REQUIRE_FALSE(m.ok());
    CHECK_THAT(m.error().message, Catch::Contains("pylock.toml"));
    CHECK_THAT(m.error().message, Catch::Contains("at column"));
  }
  // In a lock only the membership form is meaningful.
  for (const char* text : {"extras == 'socks'", "'socks' == extras", "extras in 'socks'",
                           "dependency_groups != 'dev'", "extras in extras"}) {
    auto m = Marker::parse(text, MarkerSyntax::pylock);
    INFO(text);
    REQUIRE_FALSE(m.ok());
    CHECK_THAT(m.error().message,
               Catch::Contains("in extras") || Catch::Contains("in dependency_groups"));
  }
}

TEST_CASE("marker: ~= between non-version strings is an error, not false",
          "[pep][marker][compatible]") {
  for (const char* text :
       {"os_name ~= 'posix'", "'linux' ~= sys_platform", "python_version ~= '3'",
        "python_version ~= 'foo'", "'foo' ~= '1.0'", "'foo' ~= python_version", "extra ~= 'test'",
        "platform_release ~= '6.1'", "python_version ~= '3.*'"}) {
    auto m = Marker::parse(text);
    INFO(text);
    REQUIRE_FALSE(m.ok());
    CHECK_THAT(m.error().message, Catch::Contains("'~='"));
  }
  // Between versions it is the PEP 440 operator, either way round.
  CHECK(M("python_version ~= '3.8'").evaluate(linux311()));
  CHECK_FALSE(M("python_full_version ~= '3.11.8'").evaluate(linux311()));
  CHECK(M("'3.11.9' ~= python_version").evaluate(linux311()));
  CHECK(M("'1.4.9' ~= '1.4.5'").evaluate(linux311()));
  // And a requirement carrying one is refused when the requirement is parsed.
  CHECK_FALSE(lb::pep::Marker::parse("sys_platform ~= 'linux' or python_version >= '3'").ok());
}
