// A generic step graph (fetch/unpack/build/compile/link steps with dependencies), its parallel
// executor and its renderings for `lavabuild plan`. No packaging knowledge lives here.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace lb::graph {

enum class StepKind { fetch, unpack, build, compile, link };
/// "fetch", "unpack", "build", "compile", "link".
std::string_view to_string(StepKind kind);

struct Step {
  int id = -1;  // assigned by Graph::add: the index in steps()
  StepKind kind = StepKind::fetch;
  std::string package;          // e.g. "requests"
  std::string key;              // the step's input hash (cache key)
  std::vector<int> deps;        // ids of steps that must succeed first
  std::string label;            // shown instead of `package` when set, e.g. "requests 2.31.0"
  std::string reason;           // why it runs (or why it is cached), for plan output
  bool needs_run = true;        // false: output already cached; counts as done at once
  std::function<Status()> run;  // empty: nothing to do (succeeds)
};

/// "<kind> <label or package>", e.g. "fetch requests 2.31.0".
std::string describe(const Step& step);

class Graph {
 public:
  /// Add a step; its id is set to its index and returned. Deps may name steps added later;
  /// check() validates them.
  int add(Step s);
  const std::vector<Step>& steps() const { return steps_; }
  Step& step(int id) { return steps_.at(static_cast<size_t>(id)); }
  const Step& step(int id) const { return steps_.at(static_cast<size_t>(id)); }
  /// Error naming the step when a dep id does not exist, or naming the steps of a cycle.
  Status check() const;
  /// Every step after its deps; among ready steps, lowest id first. Steps on a cycle (see
  /// check()) are left out.
  std::vector<int> topological_order() const;

 private:
  std::vector<Step> steps_;
};

struct ExecResult {
  std::vector<int> executed;                     // steps whose run() succeeded, completion order
  std::optional<std::pair<int, Error>> failure;  // the first failure; id -1: check() failed
  std::vector<std::pair<int, Error>> later_failures;  // steps already running that failed too
  bool cancelled = false;  // a signal stopped new work (util/cancel.hpp); steps may be left
  bool ok() const { return !failure && !cancelled; }
};

/// Run the steps with needs_run on max(1, jobs) threads; a step starts once all its deps are
/// done. The first failure, or a signal (cancel::cancelled()), stops new work (running steps
/// finish). `on_progress` (may be
/// empty) is called, one call at a time, when a step starts (true) and finishes (false).
/// An exception escaping run() counts as that step's failure.
ExecResult execute(Graph& g, int jobs,
                   const std::function<void(const Step&, bool started)>& on_progress);

/// Run fn(0) ... fn(n-1) as n independent steps of one graph on execute() (the project's one
/// way to run work in parallel): at most max(1, jobs) at once; the first error stops new work
/// and is returned (naming nothing more: fn's error should say what failed).
Status parallel_for(size_t n, int jobs, const std::function<Status(size_t)>& fn);

/// One line per step in topological order: "[run] fetch requests 2.31.0 — reason" or
/// "[cached] ...".
std::string to_text(const Graph& g);
/// A graphviz digraph: nodes labelled kind + package, steps that run filled; edges dep -> step.
std::string to_dot(const Graph& g);
/// JSON array of {id, kind, package, label, key, deps, run, reason}, in id order.
std::string to_json(const Graph& g);

}  // namespace lb::graph
