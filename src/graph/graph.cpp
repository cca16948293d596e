#include "graph/graph.hpp"

#include <functional>
#include <queue>

namespace lb::graph {

std::string_view to_string(StepKind kind) {
  switch (kind) {
    case StepKind::fetch:
      return "fetch";
    case StepKind::unpack:
      return "unpack";
    case StepKind::build:
      return "build";
    case StepKind::compile:
      return "compile";
    case StepKind::link:
      return "link";
  }
  return "?";
}

std::string describe(const Step& step) {
  return std::string(to_string(step.kind)) + " " + (step.label.empty() ? step.package : step.label);
}

int Graph::add(Step s) {
  s.id = static_cast<int>(steps_.size());
  steps_.push_back(std::move(s));
  return steps_.back().id;
}

Status Graph::check() const {
  int n = static_cast<int>(steps_.size());
  for (const auto& s : steps_)
    for (int d : s.deps)
      if (d < 0 || d >= n || d == s.id)
        return make_error("step graph: " + describe(s) + " (step " + std::to_string(s.id) +
                              ") depends on " +
                              (d == s.id ? "itself" : "unknown step " + std::to_string(d)),
                          "this is a bug in lavabuild's planner; please report it");
  // Iterative DFS colouring; on a back edge, walk the parent links to name the cycle.
  std::vector<int> colour(n, 0), parent(n, -1);  // 0 new, 1 on stack, 2 done
  for (int root = 0; root < n; ++root) {
    if (colour[root]) continue;
    std::vector<std::pair<int, size_t>> stack{{root, 0}};
    colour[root] = 1;
    while (!stack.empty()) {
      auto& [v, next] = stack.back();
      const auto& deps = steps_[v].deps;
      if (next == deps.size()) {
        colour[v] = 2;
        stack.pop_back();
        continue;
      }
      int d = deps[next++];
      if (colour[d] == 0) {
        colour[d] = 1;
        parent[d] = v;
        stack.push_back({d, 0});
      } else if (colour[d] == 1) {
        std::string cycle = describe(steps_[d]);
        for (int u = v; u != d && u >= 0; u = parent[u])
          cycle = describe(steps_[u]) + " -> " + cycle;
        return make_error("step graph has a cycle (each step depends on the next): " +
                              describe(steps_[d]) + " -> " + cycle,
                          "this is a bug in lavabuild's planner; please report it");
      }
    }
  }
  return {};
}

std::vector<int> Graph::topological_order() const {
  size_t n = steps_.size();
  std::vector<int> waiting(n, 0);
  std::vector<std::vector<int>> dependents(n);
  for (const auto& s : steps_)
    for (int d : s.deps)
      if (d >= 0 && static_cast<size_t>(d) < n) {
        ++waiting[s.id];
        dependents[d].push_back(s.id);
      }
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i)
    if (waiting[i] == 0) ready.push(static_cast<int>(i));
  std::vector<int> order;
  while (!ready.empty()) {
    int v = ready.top();
    ready.pop();
    order.push_back(v);
    for (int u : dependents[v])
      if (--waiting[u] == 0) ready.push(u);
  }
  return order;
}

}  // namespace lb::graph
