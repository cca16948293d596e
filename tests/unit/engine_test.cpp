// The engine against fakes: an in-memory store (fake_store.hpp), a hand-made interpreter (no
// Python runs: --no-compile), wheels written by the test into a find-links directory (no
// network), a recording Output and an injected clock. Each run is a new Context, as each
// command is a new process; the store's index persists between them.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>

#include "engine/context.hpp"
#include "engine/env_build.hpp"
#include "engine/journal.hpp"
#include "engine/lock_build.hpp"
#include "engine/output.hpp"
#include "engine/pipeline.hpp"
#include "env/manifest.hpp"
#include "fake_interpreter.hpp"
#include "fake_store.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"
#include "wheel_test_support.hpp"

using namespace lb;
using lb::test::FakeStore;
using lb::test::TempDir;

namespace {

/// Captures the narrative: info and warn lines, in order.
class RecordingOutput : public engine::Output {
 public:
  void step_started(const std::string&, const std::string&) override {}
  void step_finished(const std::string&, const std::string&) override {}
  void set_total(size_t) override {}
  void explain(const std::string&) override {}
  void warn(const std::string& line) override { add("warn: " + line); }
  void info(const std::string& line) override { add("info: " + line); }
  void finish() override {}
  bool verbose() const override { return false; }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  bool saw(const std::string& needle) {
    for (const auto& l : lines())
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }

 private:
  void add(std::string line) {
    std::lock_guard lock(mu_);
    lines_.push_back(std::move(line));
  }
  std::mutex mu_;
  std::vector<std::string> lines_;
};

/// CPython 3.11 (fake_interpreter.hpp); the venv's bin/python links name an existing binary.
interp::Interpreter fake_python() {
  interp::Interpreter in = test::fake_cpython311();
  in.executable = "/usr/bin/python3";
  return in;
}

struct Engine {
  TempDir t{"engine-test"};
  std::string wheels = t / "wheels", env = t / "env", req = t / "req.txt";
  std::shared_ptr<FakeStore::Index> index = std::make_shared<FakeStore::Index>();
  RecordingOutput out;
  std::chrono::steady_clock::time_point clock{};  // advanced by the injected clock

  Engine() { REQUIRE(fs::create_dirs(wheels).ok()); }

  void add_wheel(const std::string& name, const std::string& version,
                 const std::vector<std::pair<std::string, std::string>>& files) {
    std::string file = wheels + "/" + name + "-" + version + "-py3-none-any.whl";
    REQUIRE(fs::write_file(file, test::simple_wheel(name, version, files).build()).ok());
  }
  void require(const std::string& lines) { REQUIRE(fs::write_file_atomic(req, lines).ok()); }

  engine::Options options() const {
    engine::Options o;
    o.command = "env";
    o.inputs = {req};
    o.output = env;
    o.no_index = true;
    o.find_links = {wheels};
    o.no_compile = true;
    o.cache_dir = t / "store";
    o.jobs = 2;
    return o;
  }

  /// One run of `env` in a fresh Context; every call of the clock is 1.5 s after the last.
  Result<engine::EnvReport> build_env() {
    engine::Context ctx;
    ctx.init_with(options(), out, std::make_unique<FakeStore>(t / "store", index), fake_python());
    ctx.now = [this] { return clock += std::chrono::milliseconds(1500); };
    engine::Pipeline pipe(ctx);
    LB_TRY(pipe.load_inputs());
    return engine::build_env(ctx, pipe);
  }
  engine::EnvReport build_ok() {
    auto r = build_env();
    INFO((r.ok() ? "" : r.error().to_string()));
    REQUIRE(r.ok());
    return *r;
  }

  std::string site(const std::string& rel) const {
    return env + "/lib/python3.11/site-packages/" + rel;
  }
  std::vector<std::string> keys_with_prefix(const std::string& prefix) const {
    std::vector<std::string> keys;
    std::lock_guard lock(index->mu);
    for (const auto& k : index->put_keys)
      if (starts_with(k, prefix)) keys.push_back(k);
    return keys;
  }
};

uint64_t inode(const std::string& path) {
  return fs::stat_path(path).inode;
}

/// A file's content, or "<missing>".
std::string text(const std::string& path) {
  auto r = fs::read_file(path);
  return r.ok() ? *r : "<missing>";
}

}  // namespace

TEST_CASE("engine: a fresh env, then a no-op re-run", "[engine]") {
  Engine e;
  e.add_wheel("alpha", "1.0", {{"alpha/__init__.py", "A = 1\n"}, {"alpha/data.txt", "x\n"}});
  e.require("alpha==1.0\n");

  auto first = e.build_ok();
  CHECK_FALSE(first.up_to_date);
  CHECK_FALSE(first.had_env);
  REQUIRE(first.packages.size() == 1);
  CHECK(first.packages[0].name == "alpha");
  CHECK(first.packages[0].version == "1.0");
  // The clock is read at the start and at the end of the run: 1.5 s apart.
  CHECK(first.seconds == Approx(1.5));

  auto m = env::read_manifest(e.env);
  REQUIRE(m.ok());
  REQUIRE(m->dists.size() == 1);
  std::set<std::string> paths;
  for (const auto& f : m->dists[0].files) paths.insert(f.path);
  CHECK(paths.count("lib/python3.11/site-packages/alpha/__init__.py"));
  CHECK(paths.count("lib/python3.11/site-packages/alpha/data.txt"));
  CHECK(paths.count("lib/python3.11/site-packages/alpha-1.0.dist-info/METADATA"));
  CHECK(text(e.site("alpha/__init__.py")) == "A = 1\n");

  // The store saw the unpack output and the env's references.
  CHECK(e.keys_with_prefix("ac/").size() == 1);
  CHECK(e.keys_with_prefix("env/" + e.env) == std::vector<std::string>{"env/" + e.env});

  auto again = e.build_ok();
  CHECK(again.up_to_date);
  CHECK(again.executed.empty());
  CHECK(again.seconds == Approx(1.5));
  CHECK(e.keys_with_prefix("ac/").size() == 1);  // nothing unpacked again
}

TEST_CASE("engine: a changed requirement changes only that distribution, in place", "[engine]") {
  Engine e;
  e.add_wheel("alpha", "1.0", {{"alpha/__init__.py", "A = 1\n"}});
  e.add_wheel("beta", "1.0", {{"beta/__init__.py", "B = 1\n"}});
  e.add_wheel("beta", "1.1", {{"beta/__init__.py", "B = 11\n"}});
  e.require("alpha==1.0\nbeta==1.0\n");
  e.build_ok();
  uint64_t env_inode = inode(e.env), alpha_inode = inode(e.site("alpha/__init__.py"));

  e.require("alpha==1.0\nbeta==1.1\n");
  auto r = e.build_ok();
  CHECK(r.had_env);
  REQUIRE(r.diff.changed.size() == 1);
  CHECK(r.diff.changed[0].name == "beta");
  CHECK(r.diff.changed[0].from == "1.0");
  CHECK(r.diff.changed[0].to == "1.1");
  CHECK(r.diff.added.empty());
  CHECK(r.diff.removed.empty());
  CHECK(inode(e.env) == env_inode);                          // the env dir stays
  CHECK(inode(e.site("alpha/__init__.py")) == alpha_inode);  // untouched files stay
  CHECK(text(e.site("beta/__init__.py")) == "B = 11\n");
  CHECK_FALSE(fs::exists(e.site("beta-1.0.dist-info")));
  CHECK(fs::exists(e.site("beta-1.1.dist-info/METADATA")));
}

TEST_CASE("engine: a damaged file is repaired and the repair reported", "[engine]") {
  Engine e;
  e.add_wheel("alpha", "1.0", {{"alpha/__init__.py", "A = 1\n"}});
  e.require("alpha==1.0\n");
  e.build_ok();
  REQUIRE(fs::remove_all(e.site("alpha/__init__.py")).ok());

  auto r = e.build_ok();
  CHECK_FALSE(r.up_to_date);
  CHECK(text(e.site("alpha/__init__.py")) == "A = 1\n");
  INFO(join(e.out.lines(), "\n"));
  CHECK(e.out.saw("info: repairing alpha"));
}

TEST_CASE("engine: a journal a killed run left is finished by the next run", "[engine]") {
  Engine e;
  e.add_wheel("alpha", "1.0", {{"alpha/__init__.py", "A = 1\n"}});
  e.require("alpha==1.0\n");
  e.build_ok();

  // A killed run had decided to move one file into the env and delete another.
  std::string staging = fs::temp_sibling(e.env);  // where runs stage: "<env>.tmp-<hex>"
  REQUIRE(fs::create_dirs(staging + "/extra").ok());
  REQUIRE(fs::write_file(staging + "/extra/moved.txt", "moved\n").ok());
  REQUIRE(fs::write_file(e.env + "/stale.txt", "stale\n").ok());
  engine::Journal j;
  j.staging = staging;
  j.deletes = {"stale.txt"};
  j.moves = {"extra/moved.txt"};
  REQUIRE(fs::write_file(e.env + "/" + engine::kJournalRel, engine::render_journal(j)).ok());

  auto r = e.build_env();
  INFO((r.ok() ? "" : r.error().to_string()));
  REQUIRE(r.ok());
  CHECK_FALSE(fs::exists(e.env + "/" + engine::kJournalRel));
  CHECK_FALSE(fs::exists(e.env + "/stale.txt"));
  CHECK(text(e.env + "/extra/moved.txt") == "moved\n");
  CHECK_FALSE(fs::exists(staging));
  INFO(join(e.out.lines(), "\n"));
  CHECK(e.out.saw("info: finished an interrupted change"));
}

TEST_CASE("engine: a journal naming a staging dir that is not the env's is not replayed",
          "[engine]") {
  Engine e;
  e.add_wheel("alpha", "1.0", {{"alpha/__init__.py", "A = 1\n"}});
  e.require("alpha==1.0\n");
  e.build_ok();
  // A planted journal (a repository shipping .venv/): its "staging" is someone's directory.
  std::string victim = e.t / "victim";
  REQUIRE(fs::create_dirs(victim + "/pub").ok());
  REQUIRE(fs::write_file(victim + "/pub/secret.txt", "mine\n").ok());
  engine::Journal j;
  j.staging = victim;
  j.moves = {"pub/secret.txt"};
  REQUIRE(fs::write_file(e.env + "/" + engine::kJournalRel, engine::render_journal(j)).ok());
  auto r = e.build_env();
  INFO((r.ok() ? "" : r.error().to_string()));
  REQUIRE(r.ok());
  CHECK(text(victim + "/pub/secret.txt") == "mine\n");  // neither moved nor removed
  CHECK_FALSE(fs::exists(e.env + "/pub"));
  CHECK(text(e.site("alpha/__init__.py")) == "A = 1\n");
  INFO(join(e.out.lines(), "\n"));
  CHECK(e.out.saw("could not be finished; rebuilding it"));
}

TEST_CASE("engine: a new package directory moves in one rename, shared ones file by file",
          "[engine]") {
  TempDir t{"plan-moves"};
  std::string env = t / "env", staging = t / "staging";
  for (const char* d :
       {"env/site/old", "staging/site/new/sub", "staging/site/old", "staging/site/mixed"})
    REQUIRE(fs::create_dirs(t / d).ok());
  for (const char* f : {"site/new/a.py", "site/new/sub/b.py", "site/old/c.py", "site/mixed/d.py",
                        "site/mixed/stray.txt"})
    REQUIRE(fs::write_file(staging + "/" + f, "x").ok());
  // site/new: new to the env, all staged files listed -> one move. site/old: the env has it
  // -> per file. site/mixed: new, but holds a file not listed -> per file.
  auto moves = engine::plan_moves(
      env, staging, {"site/mixed/d.py", "site/new/a.py", "site/new/sub/b.py", "site/old/c.py"});
  CHECK(moves == std::vector<std::string>{"site/mixed/d.py", "site/new", "site/old/c.py"});
}

TEST_CASE("engine: a lock from find-links, without a network or an interpreter", "[engine]") {
  Engine e;
  e.add_wheel("alpha", "1.0", {{"alpha/__init__.py", "A = 1\n"}});
  e.require("alpha\n");
  engine::Context ctx;
  auto o = e.options();
  o.command = "lock";
  o.output = e.t / "pylock.toml";
  ctx.init_with(o, e.out, std::make_unique<FakeStore>(e.t / "store", e.index), fake_python());
  engine::Pipeline pipe(ctx);
  REQUIRE(pipe.load_inputs().ok());
  REQUIRE(ctx.init_index().ok());
  auto r = engine::build_lock(ctx, pipe);
  INFO((r.ok() ? "" : r.error().to_string()));
  REQUIRE(r.ok());
  REQUIRE(r->packages.size() == 1);
  CHECK(r->packages[0].name == "alpha");
  CHECK(text(o.output).find("name = \"alpha\"") != std::string::npos);
}

TEST_CASE("engine: --no-binary and --only-binary follow pip's precedence", "[engine][source]") {
  lb::engine::Context ctx;
  auto& o = ctx.opt;
  CHECK(ctx.source_allowed("app"));
  CHECK(ctx.binary_allowed("app"));
  o.only_binary = {":all:"};
  CHECK_FALSE(ctx.source_allowed("app"));
  o.no_binary = {"app"};  // a name beats :all: of the other option
  CHECK(ctx.source_allowed("app"));
  CHECK_FALSE(ctx.binary_allowed("app"));
  CHECK(ctx.binary_allowed("other"));
  CHECK_FALSE(ctx.source_allowed("other"));
  o = {};
  ctx.reqs.options.no_binary = {":all:"};  // a requirement file's options count too
  CHECK_FALSE(ctx.binary_allowed("app"));
  CHECK(ctx.source_allowed("app"));
  o.no_build = true;  // a build env: wheels only, whatever else says
  CHECK_FALSE(ctx.source_allowed("app"));
}

TEST_CASE("engine: a source's identity covers its location, kind, editability and settings",
          "[engine][source]") {
  lb::engine::SourceRef a;
  a.kind = lb::engine::SourceRef::Kind::directory;
  a.location = "/srv/app";
  auto b = a;
  CHECK(a.id() == b.id());
  b.editable = true;
  CHECK(a.id() != b.id());
  b = a;
  b.config_settings = {{"k", "v"}};
  CHECK(a.id() != b.id());
  b = a;
  b.kind = lb::engine::SourceRef::Kind::archive;
  CHECK(a.id() != b.id());
  CHECK(lb::engine::is_source_archive("app-1.0.tar.gz"));
  CHECK(lb::engine::is_source_archive("APP-1.0.ZIP"));
  CHECK_FALSE(lb::engine::is_source_archive("app-1.0-py3-none-any.whl"));
}
