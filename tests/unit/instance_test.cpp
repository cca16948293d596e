// Unit tests of src/instance: names, recipes, the environment file, units, generations and
// the `current` switch, the supervisor's log tail.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "instance/database.hpp"
#include "instance/envfile.hpp"
#include "instance/layout.hpp"
#include "instance/recipe.hpp"
#include "instance/sums.hpp"
#include "instance/supervisor.hpp"
#include "instance/systemd.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

using namespace lb;
using namespace lb::instance;

namespace {
std::string read_or_empty(const std::string& path) {
  auto text = fs::read_file(path);
  return text.ok() ? *text : std::string();
}
int live_or_zero(const Paths& p) {
  auto g = live_generation(p);
  return g.ok() ? *g : 0;
}
}  // namespace

TEST_CASE("instance names are what users, units and databases accept") {
  CHECK(check_name("prod").ok());
  CHECK(check_name("branch-42").ok());
  CHECK(check_name("0day").ok());
  for (const char* bad :
       {"", "-x", "Prod", "a_b", "a.b", "../x", "a/b", "0123456789012345678901234567890123"})
    CHECK_FALSE(check_name(bad).ok());
}

TEST_CASE("a recipe has processes, environment and hooks, and nothing else") {
  auto r = parse_recipe(R"(
[processes]
web = "webserve --port ${PORT}"
worker = "celery worker"
[environment]
PORT = "8001"
[hooks]
setup = "echo setup"
post-upgrade = "echo done"
)",
                        "r.toml");
  REQUIRE(r.ok());
  REQUIRE(r->processes.size() == 2);
  CHECK(r->processes[0].first == "web");
  CHECK(r->processes[0].second == "webserve --port ${PORT}");
  REQUIRE(r->environment.size() == 1);
  CHECK(r->environment[0].second == "8001");
  CHECK(r->hooks.at("setup") == "echo setup");
  CHECK(r->hooks.count("post-upgrade"));

  auto unknown_table = parse_recipe("[service]\nx = \"y\"\n", "r.toml");
  REQUIRE_FALSE(unknown_table.ok());
  CHECK(unknown_table.error().message.find("r.toml:1") != std::string::npos);
  CHECK(unknown_table.error().message.find("'service'") != std::string::npos);
  auto unknown_hook = parse_recipe("[hooks]\npre-deploy = \"x\"\n", "r.toml");
  REQUIRE_FALSE(unknown_hook.ok());
  CHECK(unknown_hook.error().message.find("hooks.pre-deploy") != std::string::npos);
  CHECK_FALSE(parse_recipe("[processes]\nweb = 3\n", "r.toml").ok());
  CHECK_FALSE(parse_recipe("[processes]\nWeb = \"x\"\n", "r.toml").ok());
  // No '-' (units are lavabuild-INSTANCE-PROCESS), and one line (a unit's ExecStart=).
  CHECK_FALSE(parse_recipe("[processes]\nweb-2 = \"x\"\n", "r.toml").ok());
  CHECK_FALSE(parse_recipe("[processes]\nweb = \"\"\"\nx\nUser=root\"\"\"\n", "r.toml").ok());
  CHECK_FALSE(parse_recipe("[environment]\n\"1X\" = \"x\"\n", "r.toml").ok());
  CHECK_FALSE(parse_recipe("[processes\n", "r.toml").ok());
}

TEST_CASE("the environment file round-trips values systemd would read the same way") {
  Variables v = {{"A", "plain"}, {"B", "with \"quotes\" and \\ and $HOME"}, {"C", ""}};
  std::string text = render_env_file(v);
  CHECK(text.find("B=\"with \\\"quotes\\\" and \\\\ and \\$HOME\"") != std::string::npos);
  auto back = parse_env_file(text, "environment");
  REQUIRE(back.ok());
  CHECK(*back == v);
  auto other = parse_env_file("# c\n; c\nX=bare value\nY='single $x'\n\n", "e");
  REQUIRE(other.ok());
  CHECK(*other == Variables{{"X", "bare value"}, {"Y", "single $x"}});
  CHECK_FALSE(parse_env_file("no equals sign\n", "e").ok());
  CHECK_FALSE(parse_env_file("X=\"open\n", "e").ok());
  Variables s = {{"A", "1"}};
  set_variable(s, "A", "2");
  set_variable(s, "B", "3");
  CHECK(s == Variables{{"A", "2"}, {"B", "3"}});
}

TEST_CASE("units quote the command for systemd and keep ${VAR} for the shell") {
  Paths p = paths_of("/srv/lb", "prod");
  std::string u = render_unit(p, "prod", "web", "webserve --port ${PORT} --x \"a\" 100%", "");
  // The shell opens the log as User= (systemd would open it as root): the command follows.
  CHECK(u.find("ExecStart=/bin/sh -c \"exec >>\\\"$${INSTANCE_LOG}/web.log\\\" 2>&1 </dev/null; "
               "webserve --port $${PORT} --x \\\"a\\\" 100%%\"") != std::string::npos);
  CHECK(u.find("EnvironmentFile=/srv/lb/instances/prod/etc/environment") != std::string::npos);
  CHECK(u.find("WorkingDirectory=/srv/lb/instances/prod/var") != std::string::npos);
  CHECK(u.find("Restart=on-failure") != std::string::npos);
  CHECK(u.find("User=") == std::string::npos);
  CHECK(render_unit(p, "prod", "web", "x", "lb-prod").find("User=lb-prod\n") != std::string::npos);
  auto unit_section = u.substr(0, u.find("[Service]"));
  CHECK(unit_section.find("StartLimitIntervalSec=") != std::string::npos);
  CHECK(unit_name("prod", "web") == "lavabuild-prod-web.service");
}

TEST_CASE("generations: finished ones are listed, current switches, unfinished ones go") {
  test::TempDir t;
  std::string root = t.path + "/root";
  REQUIRE(ensure_root(root).ok());
  CHECK(read_or_empty(root + "/LAYOUT") == std::string(kLayoutFormat) + "\n");
  Paths p = paths_of(root, "prod");
  for (int g : {1, 2, 3}) REQUIRE(fs::create_dirs(p.generation(g)).ok());
  REQUIRE(fs::create_dirs(p.etc).ok());
  REQUIRE(fs::write_file_atomic(p.generation(1) + "/generation.json", "{}").ok());
  REQUIRE(fs::write_file_atomic(p.generation(2) + "/generation.json", "{}").ok());
  CHECK(list_generations(p) == std::vector<int>{1, 2});
  CHECK_FALSE(live_generation(p).ok());
  REQUIRE(switch_current(p, 2).ok());
  CHECK(live_or_zero(p) == 2);
  REQUIRE(switch_current(p, 1).ok());
  CHECK(live_or_zero(p) == 1);
  remove_unfinished_generations(p);
  CHECK_FALSE(fs::exists(p.generation(3)));
  CHECK(fs::exists(p.generation(2)));
  CHECK(list_instances(root) == std::vector<std::string>{"prod"});
  REQUIRE(fs::write_file_atomic(root + "/LAYOUT", "lavabuild-instances 9\n").ok());
  CHECK_FALSE(ensure_root(root).ok());
}

TEST_CASE("an administrator connection with a password is told apart") {
  using lb::instance::conninfo_has_password;
  CHECK(conninfo_has_password("postgresql://admin:s3cret@db.example:5432/postgres"));
  CHECK(conninfo_has_password("postgres://admin:@localhost/postgres"));
  CHECK(conninfo_has_password("POSTGRESQL://admin@localhost/postgres?password=x"));
  CHECK(conninfo_has_password("host=/run/postgresql user=admin password=x"));
  CHECK(conninfo_has_password("password = x host=db"));
  CHECK_FALSE(conninfo_has_password(""));
  CHECK_FALSE(conninfo_has_password("postgresql://admin@localhost:5432/postgres"));
  CHECK_FALSE(conninfo_has_password("postgresql:///postgres?host=/tmp/sock&port=5433"));
  CHECK_FALSE(conninfo_has_password("postgresql://[::1]:5432/postgres"));
  CHECK_FALSE(conninfo_has_password("host=/run/postgresql user=admin dbname=postgres"));
  CHECK_FALSE(conninfo_has_password("host=db passfile=/root/.pgpass"));
}

TEST_CASE("the log tail gives the last lines") {
  test::TempDir t;
  std::string log = t.path + "/web.log";
  REQUIRE(fs::write_file_atomic(log, "one\ntwo\nthree\n").ok());
  CHECK(tail_log(log, 2) == std::vector<std::string>{"two", "three"});
  CHECK(tail_log(log, 10).size() == 3);
  CHECK(tail_log(t.path + "/missing.log", 3).empty());
}

TEST_CASE("a backup's SHA256SUMS names plain files once") {
  std::string sha(64, 'a');
  auto ok = parse_sha256sums(sha + "  pylock.toml\n" + sha + "  var.tar.zst\n\n", "S");
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 2);
  CHECK((*ok)[1].file == "var.tar.zst");
  for (const std::string& bad : {sha + "  ../etc/passwd\n", sha + "  a/b\n", sha + "  ..\n",
                                 sha + " one-space\n", std::string(63, 'a') + "  x\n",
                                 std::string(64, 'A') + "  x\n", sha + "  x\n" + sha + "  x\n"})
    CHECK_FALSE(parse_sha256sums(bad, "S").ok());
}
