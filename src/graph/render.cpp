// Renderings of a step graph for `lavabuild plan --format text|dot|json`.
#include <nlohmann/json.hpp>

#include "graph/graph.hpp"

namespace lb::graph {

std::string to_text(const Graph& g) {
  std::string out;
  for (int id : g.topological_order()) {
    const Step& s = g.step(id);
    out += s.needs_run ? "[run] " : "[cached] ";
    out += describe(s);
    if (!s.reason.empty()) out += " \u2014 " + s.reason;
    out += "\n";
  }
  return out;
}

namespace {

std::string dot_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string to_dot(const Graph& g) {
  std::string out = "digraph lavabuild {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans\"];\n";
  for (const auto& s : g.steps()) {
    std::string label =
        std::string(to_string(s.kind)) + "\n" + (s.label.empty() ? s.package : s.label);
    out += "  n" + std::to_string(s.id) + " [label=" + dot_quote(label);
    if (s.needs_run)
      out += ", style=filled, fillcolor=\"#ffd27f\"";
    else
      out += ", color=\"#999999\", fontcolor=\"#666666\"";
    if (!s.reason.empty()) out += ", tooltip=" + dot_quote(s.reason);
    out += "];\n";
  }
  for (const auto& s : g.steps())
    for (int d : s.deps) out += "  n" + std::to_string(d) + " -> n" + std::to_string(s.id) + ";\n";
  return out + "}\n";
}

std::string to_json(const Graph& g) {
  auto arr = nlohmann::json::array();
  for (const auto& s : g.steps()) {
    arr.push_back({{"id", s.id},
                   {"kind", std::string(to_string(s.kind))},
                   {"package", s.package},
                   {"label", s.label},
                   {"key", s.key},
                   {"deps", s.deps},
                   {"run", s.needs_run},
                   {"reason", s.reason}});
  }
  return arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace lb::graph
