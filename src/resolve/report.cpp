#include "resolve/report.hpp"

#include <map>

#include "util/strings.hpp"

namespace lb::resolve {
namespace {

std::string version_at(const PackageInfo& info, size_t i) {
  return info.versions[i].to_string();
}

/// Describes a set of real versions with specifier-like text ("" when it is every version).
std::string spec_text(const Term& t, const PackageInfo& info) {
  if (t.label) return *t.label;
  size_t n = info.versions.size();
  std::vector<std::pair<size_t, size_t>> runs;
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!t.set.test(i)) continue;
    ++count;
    if (!runs.empty() && runs.back().second + 1 == i) {
      runs.back().second = i;
    } else {
      runs.push_back({i, i});
    }
  }
  if (count == 0) return " (none of its versions)";
  if (count == n) return "";
  if (count + 1 == n) {
    for (size_t i = 0; i < n; ++i)
      if (!t.set.test(i)) return "!=" + version_at(info, i);
  }
  std::vector<std::string> parts;
  for (auto [a, b] : runs) {
    if (a == b) {
      parts.push_back("==" + version_at(info, a));
      continue;
    }
    std::vector<std::string> bounds;
    if (a > 0) bounds.push_back(">=" + version_at(info, a));
    if (b + 1 < n) bounds.push_back("<" + version_at(info, b + 1));
    parts.push_back(join(bounds, ","));
  }
  return parts.size() == 1 ? parts[0] : " (" + join(parts, " || ") + ")";
}

std::string available(const PackageInfo& info) {
  std::vector<std::string> shown;
  size_t n = info.versions.size(), first = n > 10 ? n - 10 : 0;
  if (first > 0) shown.push_back("...");
  for (size_t i = first; i < n; ++i)
    shown.push_back(version_at(info, i) + (info.yanked[i] ? " (yanked)" : ""));
  return join(shown, ", ");
}

std::string no_versions_text(const Term& t, const PackageTable& pkgs) {
  const PackageInfo& info = pkgs[t.pkg];
  // Why (no such project, only sdists, other tags, Requires-Python) is the provider's note.
  if (info.versions.empty()) return "no usable release of " + info.name + " is on the indexes";
  std::string head;
  if (!t.label) {
    head = "no version of " + info.display() + " is left to try";
  } else if (t.label->empty()) {
    head = "no usable version of " + info.display() + " exists";
  } else {
    head = "no versions of " + info.display() + " match " + *t.label;
  }
  return head + " (available: " + available(info) + ")";
}

std::string join_terms(const std::vector<const Term*>& ts, const PackageTable& pkgs,
                       const char* sep) {
  std::vector<std::string> parts;
  for (const Term* t : ts) parts.push_back(term_text(*t, pkgs));
  return join(parts, sep);
}

bool is_root_dependency(const Incompatibility& ic, const PackageTable& pkgs) {
  return ic.kind == Kind::dependency && pkgs[ic.terms[0].pkg].is_root();
}

/// Builds the numbered explanation lines.
class Reporter {
 public:
  Reporter(const std::vector<Incompatibility>& ics, const PackageTable& pkgs)
      : ics_(ics), pkgs_(pkgs) {}

  std::string run(int failure) {
    count_edges(failure);
    if (ics_[static_cast<size_t>(failure)].kind != Kind::derived) {
      write("Because " + text(failure) + ", no solution exists.");
    } else {
      visit(failure);
    }
    std::string out;
    for (const auto& [line, number] : lines_) {
      if (!out.empty()) out += "\n";
      if (number > 0) out += "(" + std::to_string(number) + ") ";
      out += line;
    }
    return out;
  }

 private:
  const Incompatibility& ic(int id) const { return ics_[static_cast<size_t>(id)]; }
  bool derived(int id) const { return ic(id).kind == Kind::derived; }
  std::string text(int id) const { return statement(ic(id), pkgs_); }
  /// "A and B" for two external causes; two root dependencies read "you require A and B".
  std::string both(int a, int b) const {
    if (is_root_dependency(ic(a), pkgs_) && is_root_dependency(ic(b), pkgs_))
      return "you require " + term_text(ic(a).terms[1], pkgs_) + " and " +
             term_text(ic(b).terms[1], pkgs_);
    return text(a) + " and " + text(b);
  }
  std::string ref(int id) const { return " (" + std::to_string(line_.at(id)) + ")"; }
  bool has_line(int id) const { return line_.count(id) > 0; }

  void count_edges(int id) {
    if (!derived(id)) return;
    for (int c : {ic(id).cause1, ic(id).cause2}) {
      if (++edges_[c] == 1) count_edges(c);
    }
  }
  void write(std::string s) { lines_.push_back({std::move(s), 0}); }
  int number_last() {
    if (lines_.back().second == 0) lines_.back().second = ++next_;
    return lines_.back().second;
  }

  void visit(int id) {
    int c1 = ic(id).cause1, c2 = ic(id).cause2;
    std::string conclusion = text(id) + ".";
    if (derived(c1) && derived(c2)) {
      if (has_line(c1) && has_line(c2)) {
        write("Because " + text(c1) + ref(c1) + " and " + text(c2) + ref(c2) + ", " + conclusion);
      } else if (has_line(c1) || has_line(c2)) {
        int with = has_line(c1) ? c1 : c2, without = has_line(c1) ? c2 : c1;
        visit(without);
        write("And because " + text(with) + ref(with) + ", " + conclusion);
      } else if (simple(c1) || simple(c2)) {
        int s = simple(c1) ? c1 : c2, complex = s == c1 ? c2 : c1;
        visit(complex);
        visit(s);
        write("Thus, " + conclusion);
      } else {
        visit(c1);
        line_[c1] = number_last();
        write("");
        visit(c2);
        line_[c2] = number_last();
        write("And because " + text(c1) + ref(c1) + ", " + conclusion);
      }
    } else if (derived(c1) || derived(c2)) {
      int d = derived(c1) ? c1 : c2, ext = d == c1 ? c2 : c1;
      const Incompatibility& dic = ic(d);
      bool one_derived = derived(dic.cause1) != derived(dic.cause2);
      if (has_line(d)) {
        write("Because " + text(ext) + " and " + text(d) + ref(d) + ", " + conclusion);
      } else if (one_derived && !has_line(derived(dic.cause1) ? dic.cause1 : dic.cause2)) {
        int prior = derived(dic.cause1) ? dic.cause1 : dic.cause2;
        int prior_ext = prior == dic.cause1 ? dic.cause2 : dic.cause1;
        visit(prior);
        write("And because " + both(prior_ext, ext) + ", " + conclusion);
      } else {
        visit(d);
        write("And because " + text(ext) + ", " + conclusion);
      }
    } else {
      write("Because " + both(c1, c2) + ", " + conclusion);
    }
    if (edges_[id] >= 2) line_[id] = number_last();
  }

  /// Caused by two external incompatibilities: fits on one line.
  bool simple(int id) const { return !derived(ic(id).cause1) && !derived(ic(id).cause2); }

  const std::vector<Incompatibility>& ics_;
  const PackageTable& pkgs_;
  std::map<int, int> edges_, line_;
  std::vector<std::pair<std::string, int>> lines_;
  int next_ = 0;
};

}  // namespace

std::string term_text(const Term& t, const PackageTable& pkgs) {
  const PackageInfo& info = pkgs[t.pkg];
  if (info.is_root()) return "the root requirements";
  return info.display() + spec_text(t, info);
}

std::string statement(const Incompatibility& ic, const PackageTable& pkgs) {
  switch (ic.kind) {
    case Kind::dependency:
      if (pkgs[ic.terms[0].pkg].is_root()) return "you require " + term_text(ic.terms[1], pkgs);
      return term_text(ic.terms[0], pkgs) + " depends on " + term_text(ic.terms[1], pkgs);
    case Kind::no_versions:
      return no_versions_text(ic.terms[0], pkgs);
    case Kind::constraint:
      return "the constraint " + ic.constraint + " forbids " + term_text(ic.terms[0], pkgs);
    case Kind::derived:
      break;
  }
  bool root = false;
  std::vector<const Term*> pos, neg;
  for (const Term& t : ic.terms) {
    if (pkgs[t.pkg].is_root()) {
      root = true;
    } else {
      (t.positive ? pos : neg).push_back(&t);
    }
  }
  if (pos.empty() && neg.empty()) return "no solution exists";
  if (neg.empty()) {
    if (pos.size() == 1) return term_text(*pos[0], pkgs) + " cannot be used";
    return join_terms(pos, pkgs, " and ") + " are incompatible";
  }
  if (pos.empty())
    return (root ? "you require " : "one of these is required: ") + join_terms(neg, pkgs, " or ");
  return join_terms(pos, pkgs, " and ") +
         (pos.size() == 1 ? " depends on " : " together depend on ") +
         join_terms(neg, pkgs, " or ");
}

std::string explain(const std::vector<Incompatibility>& ics, const PackageTable& pkgs,
                    int failure) {
  return Reporter(ics, pkgs).run(failure);
}

}  // namespace lb::resolve
