// Solver: turning the Provider's data into packages, version sets and incompatibilities.
#include <algorithm>
#include <cctype>
#include <set>

#include "util/strings.hpp"

#include "pep/name.hpp"
#include "resolve/solver.hpp"

namespace lb::resolve {
namespace {

/// == (without wildcard) or === matching `v`: the user asked for exactly this version.
bool pins_exactly(const pep::SpecifierSet& spec, const pep::Version& v) {
  return std::any_of(spec.specifiers().begin(), spec.specifiers().end(), [&](const auto& s) {
    return (s.op == "===" || (s.op == "==" && !s.wildcard)) && s.contains(v);
  });
}

}  // namespace

Solver::Solver(const std::vector<pep::Requirement>& roots, Provider& provider,
               const Options& options)
    : roots_(roots), provider_(provider), options_(options) {
  PackageInfo root;
  root.versions.push_back(pep::Version{});
  root.yanked.push_back(false);
  packages_.add(std::move(root));
  by_pkg_.resize(1);
  for (const auto& c : options_.constraints) {
    if (!c.marker || c.marker->evaluate(options_.env)) {
      constraints_.emplace(c.normalized_name(), &c);
      user_.emplace(c.normalized_name(), &c);
    }
  }
  for (const auto& r : roots_)
    if (!r.marker || r.marker->evaluate(options_.env)) user_.emplace(r.normalized_name(), &r);
}

bool Solver::user_pins(const std::string& name, const pep::Version& v) const {
  auto [from, to] = user_.equal_range(name);
  for (auto it = from; it != to; ++it)
    if (pins_exactly(it->second->specifier, v)) return true;
  return false;
}

bool Solver::user_wants_pre(const std::string& name) const {
  // Asked once per requirement on `name`: remembered, or many requirements on one name would
  // take quadratic time.
  if (auto known = wants_pre_.find(name); known != wants_pre_.end()) return known->second;
  bool wants = false;
  auto [from, to] = user_.equal_range(name);
  for (auto it = from; it != to && !wants; ++it)
    for (const auto& s : it->second->specifier.specifiers())
      if (s.ready && !s.wildcard && s.parsed.is_prerelease() &&
          (s.op != "===" || pep::Version::parse(s.version).ok()))
        wants = true;
  wants_pre_.emplace(name, wants);
  return wants;
}

Status Solver::load_versions(const std::string& name) {
  auto listed = provider_.versions(name);
  if (!listed.ok()) return listed.error().context("while listing the versions of " + name);
  auto& list = *listed;
  std::sort(list.begin(), list.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  PackageInfo info;
  info.name = name;
  for (auto& [version, yanked] : list) {
    if (!info.versions.empty() && info.versions.back() == version) {
      info.yanked.back() = info.yanked.back() && yanked;
      continue;
    }
    info.versions.push_back(version);
    info.yanked.push_back(yanked);
  }
  int id = packages_.add(std::move(info));
  by_pkg_.resize(static_cast<size_t>(packages_.size()));
  // A constraint forbids every version it does not match; it never requires the package.
  auto [from, to] = constraints_.equal_range(name);
  for (auto it = from; it != to; ++it) {
    const PackageInfo& p = packages_[id];
    VersionSet forbidden(p.universe());
    for (size_t i = 0; i < p.versions.size(); ++i)
      if (!it->second->specifier.contains(p.versions[i], true)) forbidden.set(i);
    if (forbidden.empty()) continue;
    add(Incompatibility{{Term{id, true, forbidden, std::nullopt}},
                        Kind::constraint,
                        -1,
                        -1,
                        it->second->to_string()});
  }
  return {};
}

Result<int> Solver::package(const std::string& name, const std::string& extra) {
  if (int id = packages_.find(name, extra); id >= 0) return id;
  if (packages_.find(name, "") < 0) LB_TRY(load_versions(name));
  int base = packages_.find(name, "");
  if (extra.empty()) return base;
  PackageInfo info = packages_[base];
  info.extra = extra;
  info.base = base;
  int id = packages_.add(std::move(info));
  by_pkg_.resize(static_cast<size_t>(packages_.size()));
  return id;
}

VersionSet Solver::allowed(int pkg, const pep::Requirement& req, const std::string& from) {
  const PackageInfo& info = packages_[pkg];
  VersionSet set(info.universe());
  std::vector<size_t> matched;
  std::vector<Excluded> left_out;
  bool any_final = false;
  std::string text = info.display() + req.specifier.to_string() + " (" + from + ")";
  for (size_t i = 0; i < info.versions.size(); ++i) {
    const pep::Version& v = info.versions[i];
    if (!req.specifier.contains(v, true)) continue;
    if (info.yanked[i] && !user_pins(info.name, v)) {
      left_out.push_back({i, true, text});
      continue;
    }
    matched.push_back(i);
    any_final = any_final || !v.is_prerelease();
  }
  // PEP 440: pre-releases only when asked for (--pre, or the user's requirements on this
  // package mention one), mentioned by this requirement, or the only matches.
  bool pre_ok = options_.allow_pre || user_wants_pre(info.name) ||
                req.specifier.mentions_prerelease() || !any_final;
  for (size_t i : matched) {
    if (pre_ok || !info.versions[i].is_prerelease())
      set.set(i);
    else
      left_out.push_back({i, false, text});
  }
  if (set.empty()) set.set(info.phantom());
  auto& list = excluded_[info.base];
  for (auto& e : left_out) {
    bool seen = std::any_of(list.begin(), list.end(), [&](const Excluded& x) {
      return x.version == e.version && x.yanked == e.yanked && x.requirement == e.requirement;
    });
    if (!seen && list.size() < 64) list.push_back(std::move(e));
  }
  return set;
}

std::string Solver::exclusion_notes(const std::string& explanation, std::string& hint) {
  std::string out;
  bool any_pre = false, any_yanked = false;
  for (const auto& [id, list] : excluded_) {
    const PackageInfo& info = packages_[id];
    // Only packages the explanation talks about (as a whole word; names are normalised).
    auto word = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    };
    bool named = false;
    for (size_t at = explanation.find(info.name); at != std::string::npos && !named;
         at = explanation.find(info.name, at + 1)) {
      size_t end = at + info.name.size();
      named = (at == 0 || !word(explanation[at - 1])) &&
              (end == explanation.size() || !word(explanation[end]));
    }
    if (!named) continue;
    for (bool yanked : {true, false}) {
      std::set<size_t> versions;
      std::vector<std::string> reqs;
      for (const auto& e : list) {
        if (e.yanked != yanked) continue;
        versions.insert(e.version);
        if (std::find(reqs.begin(), reqs.end(), e.requirement) == reqs.end() && reqs.size() < 3)
          reqs.push_back(e.requirement);
      }
      if (versions.empty()) continue;
      std::vector<std::string> names;
      for (size_t v : versions) {
        std::string n = info.versions[v].to_string();
        if (yanked) {
          std::string why = provider_.yanked_reason(info.name, info.versions[v]);
          n += why.empty() ? " (yanked, no reason given)" : " (yanked: \"" + why + "\")";
        }
        names.push_back(n);
      }
      if (names.size() > 5) names.erase(names.begin(), names.end() - 5);
      std::string latest = info.versions[*versions.rbegin()].to_string();
      out += "\n  note: " + info.name + " " + join(names, ", ") + " would match " +
             join(reqs, "; ") + ", but ";
      if (yanked) {
        any_yanked = true;
        out += std::string(versions.size() > 1 ? "they were" : "it was") +
               " left out: a yanked release is used only when your requirements pin it "
               "exactly (e.g. " +
               info.name + "==" + latest + ")";
      } else {
        any_pre = true;
        out += std::string(versions.size() > 1 ? "they are pre-releases" : "it is a pre-release") +
               ", left out: pre-releases of a package are used only when your own "
               "requirements on it mention one (e.g. " +
               info.name + "==" + latest + "), when they are the only matches, or with --pre";
      }
    }
  }
  if (any_pre || any_yanked) {
    std::vector<std::string> ways;
    if (any_pre) ways.push_back("pass --pre or require the pre-release yourself");
    if (any_yanked) ways.push_back("pin the yanked release exactly with ==");
    hint =
        "relax one of the requirements named above, or " + join(ways, "; or ") + " (see the notes)";
  }
  return out;
}

int Solver::add(Incompatibility ic) {
  ics_.push_back(std::move(ic));
  int id = static_cast<int>(ics_.size()) - 1;
  index(id);
  return id;
}

void Solver::index(int id) {
  for (const Term& t : ics_[static_cast<size_t>(id)].terms)
    by_pkg_[static_cast<size_t>(t.pkg)].push_back(id);
}

Result<std::vector<pep::Requirement>> Solver::requirements_of(int pkg, size_t version) {
  std::vector<pep::Requirement> out;
  const PackageInfo& info = packages_[pkg];
  if (info.is_root()) {
    for (const auto& r : roots_)
      if (!r.marker || r.marker->evaluate(options_.env)) out.push_back(r);
    return out;
  }
  pep::Version v = info.versions[version];
  auto deps = provider_.dependencies(info.name, v);
  if (!deps.ok())
    return deps.error().context("while reading the dependencies of " + info.name +
                                "==" + v.to_string());
  std::set<std::string> extras;
  if (!info.extra.empty()) extras.insert(info.extra);
  for (auto& r : *deps) {
    bool base = !r.marker || r.marker->evaluate(options_.env);
    bool with_extra = r.marker && r.marker->evaluate(options_.env, extras);
    if (info.extra.empty() ? base : (with_extra && !base)) out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<int>> Solver::add_dependencies(int pkg, size_t version) {
  auto key = std::make_pair(pkg, version);
  if (dependency_names_.count(key)) return std::vector<int>{};
  LB_ASSIGN(auto reqs, requirements_of(pkg, version));
  const PackageInfo info = packages_[pkg];
  std::string exact = "==" + info.versions[version].to_string();
  VersionSet only(info.universe());
  only.set(version);
  Term depender{pkg, true, only, exact};
  std::string from =
      info.is_root() ? std::string("your requirement") : "required by " + info.display() + exact;
  std::vector<int> added;
  std::vector<std::string> names;
  std::vector<std::pair<std::string, pep::Version>> soon;
  auto depend = [&](int target, VersionSet set, std::string label) {
    added.push_back(
        add(Incompatibility{{depender, Term{target, false, std::move(set), std::move(label)}},
                            Kind::dependency,
                            -1,
                            -1,
                            {}}));
  };
  if (!info.extra.empty()) {  // name[extra]==V depends on name==V
    VersionSet same(info.universe());
    same.set(version);
    depend(info.base, same, exact);
  }
  for (const auto& r : reqs) {
    std::string name = r.normalized_name();
    std::vector<std::string> targets;
    if (name != info.name) targets.push_back("");
    for (const auto& e : r.extras)
      if (name != info.name || e != info.extra) targets.push_back(e);
    for (const auto& extra : targets) {
      LB_ASSIGN(int target, package(name, extra));
      VersionSet set = allowed(target, r, from);
      const PackageInfo& t = packages_[target];
      if (extra.empty() && solution_.decision_of(target) < 0 && !set.test(t.phantom()))
        soon.push_back({name, t.versions[static_cast<size_t>(choose_version(target, set))]});
      depend(target, std::move(set), r.specifier.to_string());
    }
    if (name != info.name) names.push_back(name);
  }
  dependency_names_[key] = std::move(names);
  if (!soon.empty()) provider_.prefetch(soon);
  return added;
}

Resolution Solver::solution() const {
  std::map<std::string, Pinned> pinned;
  std::map<std::string, std::set<std::string>> deps;
  for (int id = 1; id < packages_.size(); ++id) {
    int v = solution_.decision_of(id);
    if (v < 0) continue;
    const PackageInfo& info = packages_[id];
    Pinned& p = pinned[info.name];
    p.name = info.name;
    p.version = info.versions[static_cast<size_t>(v)];
    if (!info.extra.empty()) p.extras.insert(info.extra);
    auto it = dependency_names_.find({id, static_cast<size_t>(v)});
    if (it != dependency_names_.end()) deps[info.name].insert(it->second.begin(), it->second.end());
  }
  Resolution out;
  for (int id = 1; id < packages_.size(); ++id) {
    const PackageInfo& info = packages_[id];
    int v = solution_.decision_of(id);
    if (v < 0 || !info.extra.empty() || !info.yanked[static_cast<size_t>(v)]) continue;
    const pep::Version& version = info.versions[static_cast<size_t>(v)];
    std::string why = provider_.yanked_reason(info.name, version);
    out.warnings.push_back(info.name + " " + version.to_string() + " is yanked (" +
                           (why.empty() ? "no reason given" : "reason: \"" + why + "\"") +
                           "); using it because your requirements pin " + info.name +
                           "==" + version.to_string());
  }
  for (auto& [name, p] : pinned) {
    p.dependencies.assign(deps[name].begin(), deps[name].end());
    out.packages.push_back(std::move(p));
  }
  return out;
}

}  // namespace lb::resolve
