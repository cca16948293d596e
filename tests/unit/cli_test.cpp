// cli: option parsing, the Reporter's plain (non-terminal) output, and run()'s exit codes for
// usage errors. The end-to-end pipeline tests are in cli_pipeline_test.cpp.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/options.hpp"
#include "cli/output.hpp"
#include "cli_test_support.hpp"
#include "lavabuild/version.hpp"
#include "util/fs.hpp"

using namespace lb;
using namespace lb::cli;
using lb::test::Capture;
using lb::test::run_cli;

namespace {

/// Unsets every variable parse_options reads; restores them all afterwards.
struct CleanEnv {
  std::map<std::string, std::optional<std::string>> saved;
  CleanEnv() {
    for (const char* n :
         {"LAVABUILD_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "LAVABUILD_PYTHON",
          "LAVABUILD_INDEX_URL", "LAVABUILD_LINK_MODE", "LAVABUILD_OFFLINE", "LAVABUILD_NO_INDEX",
          "LAVABUILD_JOBS", "LAVABUILD_OUTPUT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
          "PIP_FIND_LINKS", "XDG_CONFIG_HOME", "LAVABUILD_CONFIG", "LAVABUILD_NO_CONFIG",
          "LAVABUILD_HTTP_TIMEOUT"}) {
      const char* v = std::getenv(n);
      saved[n] = v ? std::optional<std::string>(v) : std::nullopt;
      ::unsetenv(n);
    }
    ::setenv("HOME", "/home/tester", 1);
  }
  ~CleanEnv() {
    for (const auto& [n, v] : saved) {
      if (v)
        ::setenv(n.c_str(), v->c_str(), 1);
      else
        ::unsetenv(n.c_str());
    }
  }
};

Result<Options> parse(std::vector<std::string> args, std::string* help = nullptr) {
  args.insert(args.begin(), "lavabuild");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string h;
  auto r = parse_options(int(args.size()), argv.data(), h);
  if (help) *help = h;
  return r;
}

}  // namespace

TEST_CASE("cli options: command, inputs and output", "[cli]") {
  CleanEnv env;
  auto o = parse({"env", "req.txt", "-o", "myenv"});
  REQUIRE(o.ok());
  CHECK(o->command == "env");
  CHECK(o->inputs == std::vector<std::string>{"req.txt"});
  CHECK(o->output == "myenv");
  CHECK(o->cache_action.empty());
}

TEST_CASE("cli options: defaults", "[cli]") {
  CleanEnv env;
  auto o = parse({"env", "req.txt"});
  REQUIRE(o.ok());
  CHECK(o->output == ".venv");
  CHECK(o->link_mode == "hardlink");
  CHECK(o->format == "text");
  CHECK(o->jobs >= 1);
  CHECK(o->verbose == 0);
  CHECK_FALSE(o->json);
  CHECK_FALSE(o->no_index);
  CHECK_FALSE(o->offline);
  CHECK_FALSE(o->index_url.has_value());
  CHECK(o->python.empty());
  CHECK(o->cache_dir == "/home/tester/.cache/lavabuild");
}

TEST_CASE("cli options: the cache dir comes from the environment unless given", "[cli]") {
  CleanEnv env;
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  CHECK(default_cache_dir() == "/xdg/lavabuild");
  CHECK(parse({"env", "r.txt"})->cache_dir == "/xdg/lavabuild");
  ::setenv("LAVABUILD_CACHE_DIR", "/lbcache", 1);
  CHECK(default_cache_dir() == "/lbcache");
  CHECK(parse({"env", "r.txt"})->cache_dir == "/lbcache");
  CHECK(parse({"env", "r.txt", "--cache-dir", "/given"})->cache_dir == "/given");
  ::setenv("LAVABUILD_CACHE_DIR", "", 1);  // empty counts as unset
  CHECK(default_cache_dir() == "/xdg/lavabuild");
}

TEST_CASE("cli options: -r, -f, --extra-index-url repeat in order", "[cli]") {
  CleanEnv env;
  auto o = parse({"env", "a.txt", "-r", "b.txt", "--requirement", "c.txt", "-f", "/w1", "-f", "/w2",
                  "--extra-index-url", "http://x/simple", "--extra-index-url", "http://y/simple"});
  REQUIRE(o.ok());
  CHECK(o->inputs == std::vector<std::string>{"a.txt", "b.txt", "c.txt"});
  CHECK(o->find_links == std::vector<std::string>{"/w1", "/w2"});
  CHECK(o->extra_index_urls == std::vector<std::string>{"http://x/simple", "http://y/simple"});
}

TEST_CASE("cli options: -c constraint files are kept apart from requirements", "[cli]") {
  CleanEnv env;
  auto o = parse({"env", "a.txt", "-c", "c1.txt", "--constraint", "c2.txt"});
  REQUIRE(o.ok());
  CHECK(o->inputs == std::vector<std::string>{"a.txt"});
  CHECK(o->constraints == std::vector<std::string>{"c1.txt", "c2.txt"});
}

TEST_CASE("cli options: -i and LAVABUILD_INDEX_URL", "[cli]") {
  CleanEnv env;
  auto o = parse({"plan", "r.txt", "-i", "http://127.0.0.1:1/simple"});
  REQUIRE(o.ok());
  CHECK(o->index_url == std::optional<std::string>("http://127.0.0.1:1/simple"));
  ::setenv("LAVABUILD_INDEX_URL", "http://env/simple", 1);
  CHECK(parse({"plan", "r.txt"})->index_url == std::optional<std::string>("http://env/simple"));
  CHECK(parse({"plan", "r.txt", "--index-url", "http://cli/simple"})->index_url ==
        std::optional<std::string>("http://cli/simple"));
}

TEST_CASE("cli options: flags, -j and -v", "[cli]") {
  CleanEnv env;
  auto o = parse({"env", "r.txt", "--json", "--no-index", "--offline", "--pre", "--seed",
                  "--require-hashes", "-j", "3", "-v", "--python", "/usr/bin/python3"});
  REQUIRE(o.ok());
  CHECK(o->json);
  CHECK(o->no_index);
  CHECK(o->offline);
  CHECK(o->pre);
  CHECK(o->seed);
  CHECK(o->require_hashes);
  CHECK(o->jobs == 3);
  CHECK(o->verbose == 1);
  CHECK(o->python == "/usr/bin/python3");
  ::setenv("LAVABUILD_JOBS", "5", 1);
  ::setenv("LAVABUILD_NO_INDEX", "1", 1);
  auto e = parse({"env", "r.txt"});
  CHECK(e->jobs == 5);
  CHECK(e->no_index);
  CHECK(parse({"env", "r.txt", "-j", "2"})->jobs == 2);
}

TEST_CASE("cli options: --link-mode is validated", "[cli]") {
  CleanEnv env;
  for (const char* m : {"hardlink", "clone", "copy"}) {
    auto o = parse({"env", "r.txt", "--link-mode", m});
    REQUIRE(o.ok());
    CHECK(o->link_mode == m);
  }
  auto bad = parse({"env", "r.txt", "--link-mode", "symlink"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("--link-mode") && Catch::Contains("symlink"));
  ::setenv("LAVABUILD_LINK_MODE", "copy", 1);
  CHECK(parse({"env", "r.txt"})->link_mode == "copy");
  CHECK(parse({"env", "r.txt", "--link-mode", "clone"})->link_mode == "clone");
  ::setenv("LAVABUILD_LINK_MODE", "bogus", 1);
  CHECK_FALSE(parse({"env", "r.txt"}).ok());
}

TEST_CASE("cli options: --format is validated", "[cli]") {
  CleanEnv env;
  for (const char* f : {"text", "dot", "json"}) CHECK(parse({"plan", "r.txt", "--format", f}).ok());
  auto bad = parse({"plan", "r.txt", "--format", "xml"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("--format"));
}

TEST_CASE("cli options: per-command requirements", "[cli]") {
  CleanEnv env;
  auto lock = parse({"lock", "r.txt"});
  REQUIRE_FALSE(lock.ok());
  CHECK_THAT(lock.error().message, Catch::Contains("-o"));
  CHECK(parse({"lock", "r.txt", "-o", "pylock.toml"}).ok());
  CHECK(parse({"lock", "r.txt", "-o", "pylock.toml"})->output == "pylock.toml");
  CHECK_FALSE(parse({"plan"}).ok());
  CHECK_FALSE(parse({"lock", "-o", "pylock.toml"}).ok());
  CHECK_FALSE(parse({"verify"}).ok());
  CHECK_FALSE(parse({"verify", "a", "b"}).ok());
  auto v = parse({"verify", "myenv"});
  REQUIRE(v.ok());
  CHECK(v->inputs == std::vector<std::string>{"myenv"});
  auto c = parse({"cache", "stats"});
  REQUIRE(c.ok());
  CHECK(c->command == "cache");
  CHECK(c->cache_action == "stats");
  CHECK(c->inputs.empty());
  CHECK_FALSE(parse({"cache"}).ok());
}

TEST_CASE("cli options: an option another command takes is a usage error", "[cli]") {
  CleanEnv env;
  auto repair = parse({"verify", "myenv", "--repair"});
  REQUIRE_FALSE(repair.ok());
  CHECK_THAT(repair.error().message, Catch::Contains("--repair does not apply"));
  auto json = parse({"plan", "r.txt", "--json"});
  REQUIRE_FALSE(json.ok());
  CHECK_THAT(json.error().hint, Catch::Contains("--format json"));
  CHECK_FALSE(parse({"env", "r.txt", "--format", "dot"}).ok());
  CHECK_FALSE(parse({"env", "r.txt", "--max-size", "1"}).ok());
  CHECK_FALSE(parse({"cache", "stats", "extra"}).ok());
  CHECK_FALSE(parse({"cache", "keygen", "--name", "n", "--secret-key", "s", "--public-key", "p",
                     "--repair"})
                  .ok());
  // What every command takes, and env's options for an instance's generation.
  CHECK(parse({"verify", "myenv", "-q", "--cache-dir", "c", "--no-config"}).ok());
  CHECK(parse({"cache", "keygen", "--name", "n", "--secret-key", "s", "--public-key", "p",
               "--cache-dir", "c"})
            .ok());
  CHECK(parse({"instance", "create", "web", "-r", "r.txt", "--pre", "--link-mode", "copy"}).ok());
  CHECK(parse({"instance", "backup", "web", "--verify"}).ok());
  CHECK(parse({"cache", "verify", "--repair"}).ok());
}

TEST_CASE("cli options: cache keygen takes its three options", "[cli]") {
  CleanEnv env;
  auto k = parse(
      {"cache", "keygen", "--name", "ci-1", "--secret-key", "ci.sec", "--public-key", "ci.pub"});
  REQUIRE(k.ok());
  CHECK(k->cache_action == "keygen");
  CHECK(k->key_name == "ci-1");
  CHECK(k->secret_key_file == "ci.sec");
  CHECK(k->public_key_file == "ci.pub");
  auto missing = parse({"cache", "keygen", "--name", "ci-1", "--secret-key", "ci.sec"});
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("--public-key"));
  auto typo = parse({"cache", "kegen"});
  REQUIRE_FALSE(typo.ok());
  CHECK_THAT(typo.error().message, Catch::Contains("did you mean 'keygen'?"));
  std::string help;
  REQUIRE(parse({"cache", "keygen", "--help"}, &help).ok());
  CHECK_THAT(help, Catch::StartsWith("usage: lavabuild cache keygen") &&
                       Catch::Contains("--secret-key") && !Catch::Contains("--repair"));
}

TEST_CASE("cli options: unknown command and option", "[cli]") {
  CleanEnv env;
  auto o = parse({"instal", "r.txt"});
  REQUIRE_FALSE(o.ok());
  CHECK_THAT(o.error().message, Catch::Contains("unknown command") && Catch::Contains("instal"));
  CHECK_FALSE(parse({"env", "r.txt", "--no-such-option"}).ok());
  CHECK_FALSE(parse({"env", "r.txt", "-j", "many"}).ok());
  CHECK_FALSE(parse({"--json"}).ok());  // options but no command
}

TEST_CASE("cli options: --help gives the overview, no arguments the usage as an error", "[cli]") {
  CleanEnv env;
  std::string help;
  auto o = parse({"--help"}, &help);
  REQUIRE(o.ok());
  CHECK(o->command.empty());
  CHECK_THAT(help, Catch::Contains("usage: lavabuild") && Catch::Contains("--link-mode") &&
                       Catch::Contains("verify ENV"));
  help.clear();
  auto none = parse({}, &help);
  REQUIRE_FALSE(none.ok());
  CHECK(help.empty());
  CHECK_THAT(none.error().message, Catch::Contains("usage: lavabuild COMMAND"));
}

TEST_CASE("cli options: COMMAND --help lists that command's options and variables", "[cli]") {
  CleanEnv env;
  std::string help;
  auto e = parse({"env", "-h"}, &help);
  REQUIRE(e.ok());
  CHECK(e->command == "env");
  CHECK_THAT(help, Catch::StartsWith("usage: lavabuild env") && Catch::Contains("--link-mode") &&
                       Catch::Contains("--seed") && Catch::Contains("LAVABUILD_OUTPUT") &&
                       Catch::Contains("PIP_INDEX_URL") &&
                       Catch::Contains("LAVABUILD_MAX_WHEEL_SIZE"));
  CHECK_THAT(help, !Catch::Contains("--format") && !Catch::Contains("--repair"));
  help.clear();
  REQUIRE(parse({"lock", "--help"}, &help).ok());
  CHECK_THAT(help, Catch::StartsWith("usage: lavabuild lock") && Catch::Contains("`-o -`") &&
                       Catch::Contains("LAVABUILD_HTTP_TIMEOUT"));
  CHECK_THAT(help, !Catch::Contains("--link-mode") && !Catch::Contains("LAVABUILD_OUTPUT"));
  help.clear();
  REQUIRE(parse({"cache", "--help"}, &help).ok());
  CHECK_THAT(help, Catch::Contains("--repair") && Catch::Contains("LAVABUILD_CACHE_DIR"));
  // push/pull of a lock build its env: they take the remote and index options too.
  CHECK_THAT(help, Catch::Contains("--remote-cache") && Catch::Contains("--index-url") &&
                       Catch::Contains("LAVABUILD_REMOTE_HEADER"));
  CHECK_THAT(help, !Catch::Contains("--link-mode") && !Catch::Contains("LAVABUILD_MAX_"));
  help.clear();
  REQUIRE(parse({"verify", "--help"}, &help).ok());
  CHECK_THAT(help, Catch::StartsWith("usage: lavabuild verify ENV") &&
                       !Catch::Contains("--cache-dir") && !Catch::Contains("LAVABUILD_"));
  // Help is given before the command's own checks (verify needs ENV, lock needs -o).
  help.clear();
  REQUIRE(parse({"plan", "--help"}, &help).ok());
  CHECK_THAT(help, Catch::Contains("--format") && !Catch::Contains("--upgrade"));
}

TEST_CASE("cli options: --version comes from CMake's project version", "[cli]") {
  CleanEnv env;
  std::string help;
  REQUIRE(parse({"--version"}, &help).ok());
  CHECK(help == version_text());
  CHECK(help == std::string("lavabuild ") + LAVABUILD_VERSION + "\n");
  CHECK_THAT(help, Catch::Matches("lavabuild [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST_CASE("cli options: a mistyped command gets a suggestion", "[cli]") {
  CleanEnv env;
  CHECK(edit_distance("evn", "env") == 1);  // adjacent swap
  CHECK(edit_distance("", "env") == 3);
  CHECK(edit_distance("plna", "plan") == 1);
  CHECK(edit_distance("verfy", "verify") == 1);
  CHECK(suggest_command("evn") == "env");
  CHECK(suggest_command("lokc") == "lock");
  CHECK(suggest_command("cach") == "cache");
  CHECK(suggest_command("verifyy") == "verify");
  CHECK(suggest_command("install").empty());
  CHECK(suggest_command("xyz").empty());
  auto o = parse({"evn", "r.txt"});
  REQUIRE_FALSE(o.ok());
  CHECK(o.error().message == "usage: unknown command 'evn'; did you mean 'env'?");
  auto far = parse({"frobnicate"});
  REQUIRE_FALSE(far.ok());
  CHECK_THAT(far.error().message, !Catch::Contains("did you mean"));
}

TEST_CASE("cli options: -j and LAVABUILD_JOBS must be 1 to 1024", "[cli]") {
  CleanEnv env;
  CHECK(parse({"env", "r.txt", "-j", "1"})->jobs == 1);
  CHECK(parse({"env", "r.txt", "-j", "1024"})->jobs == 1024);
  CHECK(parse({"env", "r.txt"})->jobs >= 1);
  for (const char* bad : {"0", "-1", "many", "1025", "99999999999", "4x", " 2"}) {
    auto o = parse({"env", "r.txt", std::string("--jobs=") + bad});
    REQUIRE_FALSE(o.ok());
    CHECK_THAT(o.error().message, Catch::Contains("-j/--jobs") && Catch::Contains("usage:"));
  }
  for (const char* bad : {"0", "-2", "lots", "5000"}) {
    ::setenv("LAVABUILD_JOBS", bad, 1);
    auto o = parse({"env", "r.txt"});
    REQUIRE_FALSE(o.ok());
    CHECK_THAT(o.error().message, Catch::Contains("LAVABUILD_JOBS") && Catch::Contains(bad));
    CHECK(parse({"env", "r.txt", "-j", "3"})->jobs == 3);  // the command line wins
  }
}

TEST_CASE("cli options: PIP_* variables fill what lavabuild's own leave unset", "[cli]") {
  CleanEnv env;
  ::setenv("PIP_INDEX_URL", "http://pip/simple", 1);
  ::setenv("PIP_EXTRA_INDEX_URL", "http://x1/simple  http://x2/simple", 1);
  ::setenv("PIP_FIND_LINKS", "/wheels", 1);
  auto o = parse({"env", "r.txt"});
  REQUIRE(o.ok());
  CHECK_FALSE(o->index_url);
  CHECK(o->default_index_url == std::optional<std::string>("http://pip/simple"));
  CHECK(o->extra_index_urls == std::vector<std::string>{"http://x1/simple", "http://x2/simple"});
  CHECK(o->find_links == std::vector<std::string>{"/wheels"});
  auto cli = parse(
      {"env", "r.txt", "-i", "http://cli/simple", "--extra-index-url", "http://e/s", "-f", "/w2"});
  REQUIRE(cli.ok());
  CHECK(cli->index_url == std::optional<std::string>("http://cli/simple"));
  CHECK_FALSE(cli->default_index_url);
  CHECK(cli->extra_index_urls == std::vector<std::string>{"http://e/s"});
  CHECK(cli->find_links == std::vector<std::string>{"/w2"});
  ::setenv("LAVABUILD_INDEX_URL", "http://lb/simple", 1);
  auto lbv = parse({"env", "r.txt"});
  CHECK(lbv->index_url == std::optional<std::string>("http://lb/simple"));
  CHECK_FALSE(lbv->default_index_url);
}

TEST_CASE("cli options: lock -o - is stdout, without --json", "[cli]") {
  CleanEnv env;
  CHECK(parse({"lock", "r.txt", "-o", "-"})->output == "-");
  auto both = parse({"lock", "r.txt", "-o", "-", "--json"});
  REQUIRE_FALSE(both.ok());
  CHECK_THAT(both.error().message, Catch::Contains("--json"));
}

TEST_CASE("cli Reporter: plain lines when stderr is not a terminal", "[cli]") {
  Capture err(2);
  {
    Reporter r(false, Verbosity::normal, Style{});
    r.set_total(2);
    r.step_started("fetch", "alpha 1.0");
    r.step_finished("fetch", "alpha 1.0");
    r.explain("not shown without -v");
    r.warn("careful");
    r.warn("careful");
    r.warn("other");
    r.info("done");
    r.finish();
    CHECK_FALSE(r.verbose());
  }
  std::string text = err.text();
  CHECK(text == "fetch alpha 1.0\nwarning: careful\nwarning: other\ndone\n");
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text.find('\033') == std::string::npos);
}

TEST_CASE("cli Reporter: --json keeps step lines off unless -v; -v explains", "[cli]") {
  std::string quiet, loud;
  {
    Capture err(2);
    Reporter r(true, Verbosity::normal, Style{});
    r.step_finished("link", "beta 1.1");
    r.explain("why not");
    quiet = err.text();
  }
  {
    Capture err(2);
    Reporter r(true, Verbosity::verbose, Style{});
    CHECK(r.verbose());
    r.explain("link beta 1.1: not in the existing env");
    r.step_finished("link", "beta 1.1");
    loud = err.text();
  }
  CHECK(quiet.empty());
  CHECK(loud == "  why: link beta 1.1: not in the existing env\nlink beta 1.1\n");
}

TEST_CASE("cli Reporter: plain lines say when resolution starts and each download ends", "[cli]") {
  Capture err(2);
  {
    Reporter r(false, Verbosity::normal, Style{});
    r.resolve_started("2 requirements from http://i/simple");
    r.resolving("not shown: only on a terminal");
    uint64_t a = r.download_started("a-1.0-py3-none-any.whl", 131072);
    uint64_t b = r.download_started("b-1.0-py3-none-any.whl", 0);
    r.download_progress(a, 4096, 131072);
    r.download_finished(a, 128000, true);
    r.download_finished(b, 0, false);  // its error comes later
    r.set_total(1);
    r.step_finished("fetch", "a 1.0");
    r.summary("1 packages in /e");
  }
  CHECK(err.text() ==
        "resolving 2 requirements from http://i/simple\n"
        "fetched a-1.0-py3-none-any.whl (128 kB)\n"
        "fetch a 1.0\n"
        "1 packages in /e\n");
}

TEST_CASE("cli Reporter: -q prints warnings and errors only", "[cli]") {
  Capture err(2);
  {
    Reporter r(false, Verbosity::quiet, Style{true, false});  // no status line even on a tty
    r.resolve_started("1 requirement from http://i/simple");
    r.download_finished(r.download_started("a.whl", 10), 10, true);
    r.set_total(1);
    r.step_started("fetch", "a 1.0");
    r.step_finished("fetch", "a 1.0");
    r.info("+ a 1.0");
    r.summary("1 packages in /e");
    r.warn("careful");
    r.error(make_error("it broke", "fix it"));
    r.notice("interrupted: kept 1 downloaded wheel");
  }
  CHECK(err.text() ==
        "warning: careful\nerror: it broke\n  hint: fix it\n"
        "interrupted: kept 1 downloaded wheel\n");
}

TEST_CASE("cli Reporter: a terminal gets one line redrawn in place, and colour", "[cli]") {
  Capture err(2);
  {
    Reporter r(false, Verbosity::normal, Style{true, true});
    r.resolve_started("1 requirement from http://i/simple");
    r.resolving("reading metadata of a 1.0");
    uint64_t id = r.download_started("a.whl", 2000000);
    r.download_progress(id, 500000, 2000000);
    std::this_thread::sleep_for(std::chrono::milliseconds(350));  // the ticker redraws
    r.download_progress(id, 1000000, 2000000);
    r.download_finished(id, 2000000, true);
    r.warn("careful");
    r.set_total(1);
    r.step_finished("fetch", "a 1.0");
    r.summary("1 packages in /e");
  }
  std::string text = err.text();
  CHECK_THAT(text, Catch::Contains("\r\033[Kresolving 1 requirement from http://i/simple"));
  CHECK_THAT(text,
             Catch::Matches(
                 R"([\s\S]*downloading 1 file: \d\.\d/2\.0 MB, [\d.]+ [kM]B/s, \d+s left[\s\S]*)"));
  CHECK_THAT(text, Catch::Contains("\033[1;33mwarning:\033[0m careful\n"));
  CHECK_THAT(text, Catch::Contains("\033[1;32m1 packages in /e\033[0m\n"));
  CHECK(text.find("fetched") == std::string::npos);  // the status line showed it
  CHECK(text.back() == '\n');
}

TEST_CASE("cli Reporter: bytes and sizes read as uv shows them", "[cli]") {
  CHECK(human_bytes(512) == "512 B");
  CHECK(human_bytes(128000) == "128 kB");
  CHECK(human_bytes(1500) == "1.5 kB");
  CHECK(human_bytes(12400000) == "12.4 MB");
  CHECK(human_bytes(3000000000) == "3.0 GB");
}

TEST_CASE("cli run: exit codes of usage errors and --help", "[cli]") {
  CleanEnv env;
  auto help = run_cli({"--help"});
  CHECK(help.rc == 0);
  CHECK_THAT(help.out, Catch::Contains("usage: lavabuild"));
  auto none = run_cli({});
  CHECK(none.rc == 2);
  CHECK(none.out.empty());
  CHECK_THAT(none.err, Catch::Contains("usage: lavabuild COMMAND"));
  auto version = run_cli({"--version"});
  CHECK(version.rc == 0);
  CHECK(version.out == version_text());
  auto typo = run_cli({"evn"});
  CHECK(typo.rc == 2);
  CHECK_THAT(typo.err, Catch::Contains("did you mean 'env'?"));
  CHECK(run_cli({"env", "r.txt", "-j", "0"}).rc == 2);
  auto unknown = run_cli({"frobnicate"});
  CHECK(unknown.rc == 2);
  CHECK_THAT(unknown.err, Catch::Contains("frobnicate"));
  CHECK(run_cli({"env", "r.txt", "--link-mode", "bogus"}).rc == 2);
  CHECK(run_cli({"plan", "r.txt", "--format", "svg"}).rc == 2);
  CHECK(run_cli({"lock", "r.txt"}).rc == 2);
}

TEST_CASE("cli run: verify of a directory that is not an env fails with 1", "[cli]") {
  char tmpl[] = "/tmp/lb-cli-verify-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto r = run_cli({"verify", dir});
  CHECK(r.rc == 1);
  CHECK_THAT(r.err, Catch::Contains("error"));
  (void)fs::remove_all(dir);
}

TEST_CASE("cli run: cache with an unknown action is a usage error", "[cli]") {
  CleanEnv env;
  char tmpl[] = "/tmp/lb-cli-cache-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto r = run_cli({"cache", "explode", "--cache-dir", dir + "/c"});
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("explode"));
  auto stats = run_cli({"cache", "stats", "--cache-dir", dir + "/c", "--json"});
  CHECK(stats.rc == 0);
  CHECK_THAT(stats.out, Catch::Contains("\"blobs\""));
  (void)fs::remove_all(dir);
}

TEST_CASE("cli config: keys, relative paths, merge order, errors with file:line", "[cli]") {
  auto user = parse_config(
      "index-url = \"http://user/simple\"\nfind-links = [\"wheels\", \"http://x/links\"]\n"
      "jobs = 3\n[remote]\ncache = \"https://c/\"\nsigning-key = \"k.sec\"\n",
      "/home/u/.config/lavabuild/config.toml");
  REQUIRE(user.ok());
  CHECK(*user->find_links ==
        std::vector<std::string>{"/home/u/.config/lavabuild/wheels", "http://x/links"});
  CHECK(user->remote.signing_key == "/home/u/.config/lavabuild/k.sec");
  auto project = parse_config("index-url = \"http://proj/simple\"\n", "/p/lavabuild.toml");
  REQUIRE(project.ok());
  ConfigFile merged = *user;
  merge_config(merged, *project);
  CHECK(*merged.index_url == "http://proj/simple");
  CHECK(*merged.jobs == 3);
  CHECK(merged.remote.cache == "https://c/");
  CHECK(merged.files.size() == 2);

  auto unknown = parse_config("pre = true\nextra-index-urls = []\n", "/p/lavabuild.toml");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message,
             Catch::Contains("/p/lavabuild.toml:2: unknown key 'extra-index-urls'") &&
                 Catch::Contains("did you mean 'extra-index-url'"));
  auto wrong = parse_config("[remote]\nread-only = \"yes\"\n", "/p/lavabuild.toml");
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.error().message, Catch::Contains("/p/lavabuild.toml:2: 'remote.read-only'"));
  auto toml = parse_config("jobs = [\n", "/p/lavabuild.toml");
  REQUIRE_FALSE(toml.ok());
  CHECK_THAT(toml.error().message, Catch::Contains("invalid TOML"));
}
