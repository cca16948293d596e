#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <nlohmann/json.hpp>

#include "graph/graph.hpp"
#include "graph/thread_pool.hpp"
#include "util/cancel.hpp"

using lb::Status;
using lb::graph::Graph;
using lb::graph::Step;
using lb::graph::StepKind;

namespace {

Step make(StepKind kind, std::string package, std::vector<int> deps,
          std::function<Status()> run = {}) {
  Step s;
  s.kind = kind;
  s.package = std::move(package);
  s.deps = std::move(deps);
  s.run = std::move(run);
  return s;
}

// A count-down latch whose wait gives up (returns false) after a generous bound, so a broken
// executor fails the test instead of hanging it.
struct Latch {
  std::mutex m;
  std::condition_variable cv;
  int count;
  explicit Latch(int n) : count(n) {}
  bool arrive_and_wait() {
    std::unique_lock<std::mutex> g(m);
    if (--count == 0) cv.notify_all();
    return cv.wait_for(g, std::chrono::seconds(20), [&] { return count <= 0; });
  }
};

std::string testing_join(const std::vector<int>& v) {
  std::string out;
  for (int x : v) out += std::to_string(x) + " ";
  return out;
}

size_t position(const std::vector<int>& v, int x) {
  return static_cast<size_t>(std::find(v.begin(), v.end(), x) - v.begin());
}

}  // namespace

TEST_CASE("graph: diamond runs in dependency order") {
  for (int jobs : {1, 2, 4}) {
    Graph g;
    std::mutex m;
    std::vector<int> ran;
    auto record = [&](int id) {
      return [&, id]() -> Status {
        std::lock_guard<std::mutex> l(m);
        ran.push_back(id);
        return {};
      };
    };
    int a = g.add(make(StepKind::fetch, "a", {}, record(0)));
    int b = g.add(make(StepKind::unpack, "b", {a}, record(1)));
    int c = g.add(make(StepKind::unpack, "c", {a}, record(2)));
    int d = g.add(make(StepKind::link, "d", {b, c}, record(3)));
    CHECK(g.topological_order() == std::vector<int>{a, b, c, d});
    int starts = 0, ends = 0;
    auto res = lb::graph::execute(g, jobs,
                                  [&](const Step&, bool started) { (started ? starts : ends)++; });
    REQUIRE(res.ok());
    INFO("jobs " << jobs << " executed " << testing_join(res.executed) << " ran "
                 << testing_join(ran));
    CHECK(res.executed.size() == 4);
    CHECK(res.executed.back() == d);
    CHECK(res.executed.front() == a);
    REQUIRE(ran.size() == 4);
    CHECK(position(ran, 0) < position(ran, 1));
    CHECK(position(ran, 2) < position(ran, 3));
    CHECK(starts == 4);
    CHECK(ends == 4);
  }
}

TEST_CASE("graph: independent steps overlap with jobs=2") {
  Graph g;
  Latch latch(2);
  auto meet = [&]() -> Status {
    if (!latch.arrive_and_wait()) return lb::make_error("the other step never started");
    return {};
  };
  g.add(make(StepKind::fetch, "x", {}, meet));
  g.add(make(StepKind::fetch, "y", {}, meet));
  auto res = lb::graph::execute(g, 2, {});
  INFO((res.failure ? res.failure->second.message : ""));
  CHECK(res.ok());
  CHECK(res.executed.size() == 2);
}

TEST_CASE("graph: failure stops dependents and new work") {
  Graph g;
  std::atomic<int> runs{0};
  auto ok = [&]() -> Status {
    ++runs;
    return {};
  };
  int bad = g.add(make(StepKind::fetch, "bad", {}, [] { return Status(lb::make_error("boom")); }));
  g.add(make(StepKind::unpack, "after-bad", {bad}, ok));
  int fine = g.add(make(StepKind::fetch, "fine", {}, ok));
  g.add(make(StepKind::unpack, "after-fine", {fine}, ok));
  // jobs=1: FIFO, so "bad" runs first and nothing new starts afterwards.
  auto res = lb::graph::execute(g, 1, {});
  REQUIRE(res.failure);
  CHECK(res.failure->first == bad);
  CHECK(res.failure->second.message == "boom");
  CHECK(runs == 0);
  CHECK(res.executed.empty());
}

TEST_CASE("graph: an exception is a failure") {
  Graph g;
  g.add(make(StepKind::build, "thrower", {}, []() -> Status { throw std::runtime_error("oops"); }));
  auto res = lb::graph::execute(g, 2, {});
  REQUIRE(res.failure);
  CHECK(res.failure->second.message.find("oops") != std::string::npos);
}

TEST_CASE("graph: cycles and bad deps are detected") {
  Graph g;
  int a = g.add(make(StepKind::fetch, "a", {}));
  int b = g.add(make(StepKind::unpack, "b", {a}));
  CHECK(g.check().ok());
  g.step(a).deps.push_back(b);
  auto st = g.check();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("cycle") != std::string::npos);
  CHECK(st.error().message.find("unpack b") != std::string::npos);
  CHECK(g.topological_order().empty());
  auto res = lb::graph::execute(g, 2, {});
  REQUIRE(res.failure);
  CHECK(res.failure->first == -1);

  Graph g2;
  g2.add(make(StepKind::fetch, "a", {7}));
  CHECK_FALSE(g2.check().ok());
}

TEST_CASE("graph: needs_run=false steps are skipped and count as done") {
  Graph g;
  bool cached_ran = false, link_ran = false;
  Step cached = make(StepKind::fetch, "c", {}, [&]() -> Status {
    cached_ran = true;
    return {};
  });
  cached.needs_run = false;
  int c = g.add(cached);
  int l = g.add(make(StepKind::link, "l", {c}, [&]() -> Status {
    link_ran = true;
    return {};
  }));
  auto res = lb::graph::execute(g, 2, {});
  REQUIRE(res.ok());
  CHECK_FALSE(cached_ran);
  CHECK(link_ran);
  CHECK(res.executed == std::vector<int>{l});
}

TEST_CASE("graph: renderers") {
  Graph g;
  Step f = make(StepKind::fetch, "requests", {});
  f.label = "requests 2.31.0";
  f.key = "abc123";
  f.reason = "not in cache";
  int a = g.add(f);
  Step u = make(StepKind::unpack, "requests", {a});
  u.needs_run = false;
  u.reason = "cached \"q\"";
  g.add(u);

  std::string text = lb::graph::to_text(g);
  CHECK(text ==
        "[run] fetch requests 2.31.0 \u2014 not in cache\n"
        "[cached] unpack requests \u2014 cached \"q\"\n");

  std::string dot = lb::graph::to_dot(g);
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(dot.find("n0 -> n1;") != std::string::npos);
  CHECK(dot.find("label=\"fetch\\nrequests 2.31.0\", style=filled") != std::string::npos);
  CHECK(dot.find("cached \\\"q\\\"") != std::string::npos);

  auto j = nlohmann::json::parse(lb::graph::to_json(g));
  REQUIRE(j.size() == 2);
  CHECK(j[0]["kind"] == "fetch");
  CHECK(j[0]["key"] == "abc123");
  CHECK(j[0]["run"] == true);
  CHECK(j[1]["deps"] == nlohmann::json::array({0}));
  CHECK(j[1]["run"] == false);
  CHECK(j[1]["reason"] == "cached \"q\"");
}

TEST_CASE("thread pool: tasks submitted by tasks are waited for") {
  lb::graph::ThreadPool pool(2);
  std::atomic<int> n{0};
  for (int i = 0; i < 10; ++i)
    pool.submit([&] {
      ++n;
      pool.submit([&] { ++n; });
    });
  pool.wait();
  CHECK(n == 20);
  CHECK(pool.size() == 2);
}

TEST_CASE("a signal stops new steps; running ones finish", "[graph][cancel]") {
  Graph g;
  std::atomic<int> ran{0};
  int a = g.add(make(StepKind::fetch, "a", {}, [&]() -> Status {
    ++ran;
    lb::cancel::request(SIGINT);  // as if Ctrl-C arrived while this step ran
    return {};
  }));
  g.add(make(StepKind::unpack, "a", {a}, [&]() -> Status {
    ++ran;
    return {};
  }));
  auto res = lb::graph::execute(g, 1, {});
  lb::cancel::reset();
  CHECK(ran == 1);
  CHECK(res.cancelled);
  CHECK_FALSE(res.ok());
  CHECK_FALSE(res.failure);
  CHECK(lb::cancel::exit_code() == 1);
}
