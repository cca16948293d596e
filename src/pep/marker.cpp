#include "pep/marker.hpp"

#include <algorithm>
#include <vector>

#include "pep/name.hpp"
#include "pep/parse_cursor.hpp"
#include "pep/specifier.hpp"

namespace lb::pep {

/// A comparison (leaf) or a flat and/or chain of sub-expressions, as written.
struct MarkerNode {
  struct Operand {
    bool variable = false;
    std::string text;  // variable name (canonical) or literal value
  };
  bool leaf = true;
  Operand lhs, rhs;
  std::string op;
  std::vector<MarkerNode> items;
  std::vector<bool> is_and;  // is_and[k] joins items[k] and items[k + 1]
};

namespace {

using detail::Cursor;
using Node = MarkerNode;

/// PEP 508 variables and their legacy spellings, mapped to canonical names.
const std::pair<std::string_view, std::string_view> kVariables[] = {
    {"python_version", "python_version"},
    {"python_full_version", "python_full_version"},
    {"os_name", "os_name"},
    {"os.name", "os_name"},
    {"sys_platform", "sys_platform"},
    {"sys.platform", "sys_platform"},
    {"platform_release", "platform_release"},
    {"platform_system", "platform_system"},
    {"platform_version", "platform_version"},
    {"platform.version", "platform_version"},
    {"platform_machine", "platform_machine"},
    {"platform.machine", "platform_machine"},
    {"platform_python_implementation", "platform_python_implementation"},
    {"platform.python_implementation", "platform_python_implementation"},
    {"python_implementation", "platform_python_implementation"},
    {"implementation_name", "implementation_name"},
    {"implementation_version", "implementation_version"},
    {"extra", "extra"},
    {"extras", "extras"},                        // PEP 751, pylock.toml only
    {"dependency_groups", "dependency_groups"},  // PEP 751, pylock.toml only
};

bool is_set_variable(const MarkerNode::Operand& o) {
  return o.variable && (o.text == "extras" || o.text == "dependency_groups");
}

/// Variables whose value is always a PEP 440 version.
bool is_version_variable(const MarkerNode::Operand& o) {
  return o.variable && (o.text == "python_version" || o.text == "python_full_version" ||
                        o.text == "implementation_version");
}

bool is_word(char c) {
  return detail::is_alnum(c) || c == '_';
}

/// A keyword such as "and" at the cursor, delimited like regex \bword\b.
bool at_word(const Cursor& c, std::string_view word) {
  if (c.text.substr(c.pos, word.size()) != word) return false;
  if (c.pos > 0 && is_word(c.text[c.pos - 1])) return false;
  return !is_word(c.peek(word.size()));
}

Result<Node::Operand> parse_operand(Cursor& c) {
  char q = c.peek();
  if (q == '\'' || q == '"') {
    size_t close = c.text.find(q, c.pos + 1);
    if (close == std::string_view::npos)
      return c.expected(std::string("closing ") + q + " for the string", c.pos);
    Node::Operand o{false, std::string(c.text.substr(c.pos + 1, close - c.pos - 1))};
    c.pos = close + 1;
    return o;
  }
  size_t end = c.pos;
  while (end < c.text.size() && (is_word(c.text[end]) || c.text[end] == '.')) ++end;
  std::string_view word = c.text.substr(c.pos, end - c.pos);
  for (const auto& [spelling, name] : kVariables) {
    if (word == spelling) {
      c.pos = end;
      return Node::Operand{true, std::string(name)};
    }
  }
  return c.expected(
      "a marker variable (python_version, sys_platform, extra, ...) or a quoted "
      "string");
}

Result<std::string> parse_op(Cursor& c) {
  if (at_word(c, "in")) {
    c.pos += 2;
    return std::string("in");
  }
  if (at_word(c, "not")) {
    c.pos += 3;
    if (!c.skip_ws()) return c.expected("whitespace after 'not'");
    if (!at_word(c, "in")) return c.expected("'in' after 'not'");
    c.pos += 2;
    return std::string("not in");
  }
  for (std::string_view op : {"===", "==", "~=", "!=", "<=", ">=", "<", ">"})
    if (c.eat(op)) return std::string(op);
  return c.expected("marker operator (one of <=, <, !=, ==, >=, >, ~=, ===, in, not in)");
}

/// PEP 751's set variables: only `"name" in VAR` / `"name" not in VAR`, only in pylock.toml.
Status check_set_variables(const Cursor& c, const Node& n, size_t start, MarkerSyntax syntax) {
  const Node::Operand* set = is_set_variable(n.rhs)   ? &n.rhs
                             : is_set_variable(n.lhs) ? &n.lhs
                                                      : nullptr;
  if (!set) return {};
  if (syntax != MarkerSyntax::pylock)
    return c.expected("a marker variable other than '" + set->text +
                          "' (it is defined only in pylock.toml files, PEP 751)",
                      start);
  if (set != &n.rhs || n.lhs.variable || (n.op != "in" && n.op != "not in"))
    return c.expected("'\"name\" in " + set->text + "' or '\"name\" not in " + set->text + "' (" +
                          set->text + " is a set of names)",
                      start);
  return {};
}

/// `~=` is defined between versions only (packaging raises UndefinedComparison otherwise).
Status check_compatible_release(const Cursor& c, const Node& n, size_t start) {
  if (n.op != "~=") return {};
  auto is_version = [](const Node::Operand& o, bool rhs) {
    if (o.variable) return is_version_variable(o);
    return rhs ? Specifier::parse("~=" + o.text).ok() : Version::parse(o.text).ok();
  };
  for (bool rhs : {false, true}) {
    const Node::Operand& o = rhs ? n.rhs : n.lhs;
    if (!is_version(o, rhs))
      return c.expected(std::string("a version on the ") + (rhs ? "right" : "left") + " of '~=' (" +
                            (o.variable ? o.text : "\"" + o.text + "\"") +
                            " is not one; '~=' is undefined between other strings)",
                        start);
  }
  return {};
}

Result<Node> parse_item(Cursor& c, MarkerSyntax syntax) {
  Node n;
  size_t start = c.pos;
  LB_ASSIGN(n.lhs, parse_operand(c));
  c.skip_ws();
  LB_ASSIGN(n.op, parse_op(c));
  c.skip_ws();
  LB_ASSIGN(n.rhs, parse_operand(c));
  LB_TRY(check_set_variables(c, n, start, syntax));
  LB_TRY(check_compatible_release(c, n, start));
  if (is_set_variable(n.rhs)) n.lhs.text = normalize_name(n.lhs.text);
  // packaging normalises the extra name at parse time
  if (n.lhs.variable && n.lhs.text == "extra" && !n.rhs.variable)
    n.rhs.text = normalize_name(n.rhs.text);
  if (n.rhs.variable && n.rhs.text == "extra" && !n.lhs.variable)
    n.lhs.text = normalize_name(n.lhs.text);
  return n;
}

Result<Node> parse_chain(Cursor& c, int depth, MarkerSyntax syntax);

Result<Node> parse_atom(Cursor& c, int depth, MarkerSyntax syntax) {
  c.skip_ws();
  size_t open = c.pos;
  Node n;
  if (c.eat('(')) {
    if (depth > 200) return c.expected("less deeply nested parentheses", open);
    c.skip_ws();
    LB_ASSIGN(n, parse_chain(c, depth + 1, syntax));
    c.skip_ws();
    if (!c.eat(')'))
      return c.expected("')' to close the '(' at column " + std::to_string(open + 1));
  } else {
    LB_ASSIGN(n, parse_item(c, syntax));
  }
  c.skip_ws();
  return n;
}

Result<Node> parse_chain(Cursor& c, int depth, MarkerSyntax syntax) {
  Node chain;
  chain.leaf = false;
  LB_ASSIGN(Node first, parse_atom(c, depth, syntax));
  chain.items.push_back(std::move(first));
  while (at_word(c, "and") || at_word(c, "or")) {
    bool is_and = c.peek() == 'a';
    c.pos += is_and ? 3 : 2;
    LB_ASSIGN(Node next, parse_atom(c, depth, syntax));
    chain.is_and.push_back(is_and);
    chain.items.push_back(std::move(next));
  }
  if (chain.items.size() == 1) return std::move(chain.items.front());
  return chain;
}

bool compare_strings(const std::string& l, const std::string& op, const std::string& r) {
  if (op == "==" || op == "===") return l == r;
  if (op == "!=") return l != r;
  if (op == "<") return l < r;
  if (op == "<=") return l <= r;
  if (op == ">") return l > r;
  if (op == ">=") return l >= r;
  return false;  // "~=" between strings is refused by the parser
}

bool eval_op(const std::string& l, const std::string& op, const std::string& r) {
  if (op == "in") return r.find(l) != std::string::npos;
  if (op == "not in") return r.find(l) == std::string::npos;
  auto spec = Specifier::parse(op + r);
  if (spec.ok()) {
    auto version = Version::parse(l);
    if (version.ok()) return spec->contains(*version);
  }
  return compare_strings(l, op, r);
}

bool eval_leaf(const Node& n, const MarkerEnv& env, const std::set<std::string>& extras) {
  if (is_set_variable(n.rhs)) {  // "name" in extras (the parser allows no other form)
    const auto& names = n.rhs.text == "extras" ? env.extras : env.dependency_groups;
    bool found = std::any_of(names.begin(), names.end(),
                             [&](const std::string& x) { return normalize_name(x) == n.lhs.text; });
    return (n.op == "in") == found;
  }
  auto value = [&](const Node::Operand& o) -> std::string {
    if (!o.variable) return o.text;
    auto it = env.values.find(o.text);
    return it == env.values.end() ? std::string() : it->second;
  };
  bool lhs_extra = n.lhs.variable && n.lhs.text == "extra";
  bool rhs_extra = n.rhs.variable && n.rhs.text == "extra";
  if (lhs_extra == rhs_extra) return eval_op(value(n.lhs), n.op, value(n.rhs));

  std::set<std::string> active = extras;
  if (active.empty()) {
    std::string from_env = normalize_name(value(lhs_extra ? n.lhs : n.rhs));
    if (!from_env.empty()) active.insert(from_env);
  }
  const std::string& literal = lhs_extra ? n.rhs.text : n.lhs.text;
  if (n.op == "==" || n.op == "===") return active.count(literal) > 0;
  if (n.op == "!=") return active.count(literal) == 0;
  if (active.empty()) active.insert("");
  for (const std::string& extra : active)
    if (lhs_extra ? eval_op(extra, n.op, literal) : eval_op(literal, n.op, extra)) return true;
  return false;
}

bool eval(const Node& n, const MarkerEnv& env, const std::set<std::string>& extras) {
  if (n.leaf) return eval_leaf(n, env, extras);
  // "and" binds tighter than "or"
  bool any = false, run = eval(n.items[0], env, extras);
  for (size_t k = 1; k < n.items.size(); ++k) {
    if (n.is_and[k - 1]) {
      run = eval(n.items[k], env, extras) && run;
    } else {
      any = any || run;
      run = eval(n.items[k], env, extras);
    }
  }
  return any || run;
}

std::string format_operand(const Node::Operand& o) {
  if (o.variable) return o.text;
  char q = o.text.find('"') == std::string::npos ? '"' : '\'';
  return q + o.text + q;
}

std::string format(const Node& n, bool top) {
  if (n.leaf) return format_operand(n.lhs) + " " + n.op + " " + format_operand(n.rhs);
  std::string out = top ? "" : "(";
  for (size_t k = 0; k < n.items.size(); ++k) {
    if (k) out += n.is_and[k - 1] ? " and " : " or ";
    out += format(n.items[k], false);
  }
  return top ? out : out + ")";
}

bool reads_extra(const Node& n) {
  if (n.leaf)
    return (n.lhs.variable && n.lhs.text == "extra") || (n.rhs.variable && n.rhs.text == "extra");
  for (const Node& item : n.items)
    if (reads_extra(item)) return true;
  return false;
}

}  // namespace

Result<Marker> Marker::parse_prefix(detail::Cursor& c, MarkerSyntax syntax) {
  LB_ASSIGN(Node root, parse_chain(c, 0, syntax));
  Marker m;
  m.root_ = std::make_shared<const Node>(std::move(root));
  return m;
}

Result<Marker> Marker::parse(std::string_view text, MarkerSyntax syntax) {
  Cursor c{text, 0};
  LB_ASSIGN(Marker m, parse_prefix(c, syntax));
  if (!c.at_end()) return c.expected("'and', 'or' or end of marker expression");
  return m;
}

bool Marker::evaluate(const MarkerEnv& env, const std::set<std::string>& extras) const {
  return root_ && eval(*root_, env, extras);
}

std::string Marker::to_string() const {
  return root_ ? format(*root_, true) : std::string();
}

bool Marker::mentions_extra() const {
  return root_ && reads_extra(*root_);
}

}  // namespace lb::pep
