// The parallel executor: a step is submitted to the pool when its last dep finishes.
#include <exception>
#include <mutex>

#include "graph/graph.hpp"
#include "graph/thread_pool.hpp"
#include "util/cancel.hpp"

namespace lb::graph {

namespace {

Status run_step(Step& s) {
  if (!s.run) return {};
  try {
    return s.run();
  } catch (const std::exception& e) {
    return make_error(describe(s) + ": unexpected exception: " + e.what());
  } catch (...) {
    return make_error(describe(s) + ": unexpected exception");
  }
}

}  // namespace

ExecResult execute(Graph& g, int jobs,
                   const std::function<void(const Step&, bool started)>& on_progress) {
  ExecResult res;
  if (Status st = g.check(); !st) {
    res.failure = {-1, st.error()};
    return res;
  }
  size_t n = g.steps().size();
  // Only deps that still have to run are waited for: cached steps count as done.
  std::vector<int> waiting(n, 0);
  std::vector<std::vector<int>> dependents(n);
  for (const auto& s : g.steps())
    for (int d : s.deps)
      if (g.step(d).needs_run) {
        ++waiting[s.id];
        dependents[d].push_back(s.id);
      }

  std::mutex mutex;           // guards waiting, res, stopped
  std::mutex progress_mutex;  // serialises on_progress
  bool stopped = false;
  auto progress = [&](const Step& s, bool started) {
    if (!on_progress) return;
    std::lock_guard<std::mutex> g2(progress_mutex);
    on_progress(s, started);
  };

  ThreadPool pool(jobs);
  std::function<void(int)> launch = [&](int id) {
    pool.submit([&, id] {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!stopped && cancel::cancelled()) stopped = res.cancelled = true;  // Ctrl-C, SIGTERM
        if (stopped) return;  // a failure or a signal came while this step was queued
      }
      Step& s = g.step(id);
      progress(s, true);
      Status st = run_step(s);
      progress(s, false);
      std::vector<int> ready;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!st) {
          if (!res.failure)
            res.failure = {id, st.error()};
          else
            res.later_failures.push_back({id, st.error()});
          stopped = true;
        } else {
          res.executed.push_back(id);
          if (!stopped)
            for (int u : dependents[id])
              if (--waiting[u] == 0) ready.push_back(u);
        }
      }
      for (int u : ready) launch(u);
    });
  };
  std::vector<int> roots;  // collected first: workers start changing `waiting` at once
  for (const auto& s : g.steps())
    if (s.needs_run && waiting[s.id] == 0) roots.push_back(s.id);
  for (int id : roots) launch(id);
  pool.wait();
  if (cancel::cancelled()) res.cancelled = true;
  return res;
}

Status parallel_for(size_t n, int jobs, const std::function<Status(size_t)>& fn) {
  if (n == 0) return {};
  Graph g;
  for (size_t i = 0; i < n; ++i) {
    Step s;
    s.kind = StepKind::fetch;
    s.package = std::to_string(i);
    s.run = [&fn, i] { return fn(i); };
    g.add(std::move(s));
  }
  auto res = execute(g, jobs, {});
  if (res.failure) return res.failure->second;
  return {};
}

}  // namespace lb::graph
