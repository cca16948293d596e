// Solver: the PubGrub loop (dart-lang/pub doc/solver.md), over finite version sets.
#include "resolve/solver.hpp"

#include <algorithm>

#include "resolve/report.hpp"

namespace lb::resolve {

Result<Resolution> Solver::run() {
  VersionSet only(1 + 1);
  only.set(0);
  solution_.decide(Term{0, true, only, std::string()}, 0);
  LB_TRY(add_dependencies(0, 0));
  int next = 0;
  for (;;) {
    LB_TRY(propagate(next));
    LB_ASSIGN(auto decided, decide());
    if (!decided) return solution();
    next = *decided;
  }
}

Solver::Relation Solver::relation(const Incompatibility& ic) const {
  Relation r{Relation::satisfied};
  for (size_t i = 0; i < ic.terms.size(); ++i) {
    const Term& t = ic.terms[i];
    const Term* have = solution_.term_of(t.pkg);
    if (have && have->subset_of(t)) continue;
    if (have && have->disjoint(t)) return {Relation::contradicted};
    if (r.kind == Relation::almost) return {Relation::inconclusive};
    r = {Relation::almost, static_cast<int>(i)};
  }
  return r;
}

Status Solver::propagate(int start) {
  std::vector<int> changed{start};
  while (!changed.empty()) {
    int pkg = changed.back();
    changed.pop_back();
    // Newest first: learned incompatibilities tend to be the most useful.
    for (size_t k = by_pkg_[static_cast<size_t>(pkg)].size(); k-- > 0;) {
      int id = by_pkg_[static_cast<size_t>(pkg)][k];
      Relation rel = relation(ics_[static_cast<size_t>(id)]);
      if (rel.kind == Relation::satisfied) {
        LB_ASSIGN(int cause, resolve_conflict(id));
        rel = relation(ics_[static_cast<size_t>(cause)]);
        if (rel.kind != Relation::almost)
          return make_error("internal resolver error: learned clause is not unit");
        Term t = ics_[static_cast<size_t>(cause)].terms[static_cast<size_t>(rel.term)];
        changed.assign(1, t.pkg);
        solution_.derive(t.negate(), cause);
        break;
      }
      if (rel.kind == Relation::almost) {
        Term t = ics_[static_cast<size_t>(id)].terms[static_cast<size_t>(rel.term)];
        changed.push_back(t.pkg);
        solution_.derive(t.negate(), id);
      }
    }
  }
  return {};
}

int Solver::satisfier_of(const Term& t, std::optional<Term> start, int before) const {
  const auto& list = solution_.assignments();
  if (start && start->subset_of(t)) return -1;
  for (int idx : solution_.indices_of(t.pkg)) {
    if (idx >= before) break;
    const Term& a = list[static_cast<size_t>(idx)].term;
    start = start ? start->intersect(a) : a;
    if (start->subset_of(t)) return idx;
  }
  return -1;
}

Result<int> Solver::resolve_conflict(int id) {
  const auto& list = solution_.assignments();
  int current = id;
  for (;;) {
    const Incompatibility ic = ics_[static_cast<size_t>(current)];
    if (ic.terms.empty() || (ic.terms.size() == 1 && ic.terms[0].pkg == 0)) {
      std::string text = explain(ics_, packages_, current);
      std::string hint = "relax one of the requirements named above";
      text += exclusion_notes(text, hint);
      return make_error(text, hint);
    }
    // The earliest assignment after which the whole incompatibility holds.
    int sat = -1;
    size_t sat_term = 0;
    std::vector<int> found(ic.terms.size());
    for (size_t i = 0; i < ic.terms.size(); ++i) {
      found[i] = satisfier_of(ic.terms[i], std::nullopt, static_cast<int>(list.size()));
      if (found[i] > sat) sat = found[i], sat_term = i;
    }
    if (sat < 0) return make_error("internal resolver error: conflict without a satisfier");
    const Assignment satisfier = list[static_cast<size_t>(sat)];
    int previous = satisfier_of(ic.terms[sat_term], satisfier.term, sat);
    for (size_t i = 0; i < ic.terms.size(); ++i)
      if (i != sat_term) previous = std::max(previous, found[i]);
    int previous_level = previous >= 0 ? list[static_cast<size_t>(previous)].level : 0;

    if (satisfier.decision() || previous_level != satisfier.level) {
      if (current != id) index(current);
      solution_.backtrack(previous_level);
      return current;
    }
    // Resolve with the satisfier's cause: {q, t1} + {r, t2} -> {q, r, t1 ∪ t2}.
    const Incompatibility& cause = ics_[static_cast<size_t>(satisfier.cause)];
    int pkg = satisfier.term.pkg;
    Incompatibility prior{{}, Kind::derived, current, satisfier.cause, {}};
    std::optional<Term> mine, theirs;
    auto put = [&](const Term& t, std::optional<Term>& same) {
      if (t.pkg == pkg) {
        same = t;
        return;
      }
      auto it = std::find_if(prior.terms.begin(), prior.terms.end(),
                             [&](const Term& p) { return p.pkg == t.pkg; });
      if (it == prior.terms.end()) {
        prior.terms.push_back(t);
      } else {
        *it = it->intersect(t);
      }
    };
    for (const Term& t : ic.terms) put(t, mine);
    for (const Term& t : cause.terms) put(t, theirs);
    if (!mine || !theirs) return make_error("internal resolver error: resolution lost a term");
    Term merged = mine->unite(*theirs);
    if (!merged.is_any()) prior.terms.push_back(std::move(merged));
    ics_.push_back(std::move(prior));  // indexed only if it becomes the learned clause
    current = static_cast<int>(ics_.size()) - 1;
  }
}

int Solver::choose_version(int pkg, const VersionSet& candidates) const {
  const PackageInfo& info = packages_[pkg];
  auto pref = options_.preferences.find(info.name);
  for (size_t i = 0; pref != options_.preferences.end() && i < info.versions.size(); ++i)
    if (candidates.test(i) && info.versions[i] == pref->second) return static_cast<int>(i);
  if (int d = solution_.decision_of(info.base); d >= 0 && candidates.test(static_cast<size_t>(d)))
    return d;
  for (size_t i = info.versions.size(); i-- > 0;)
    if (candidates.test(i)) return static_cast<int>(i);
  return -1;
}

Result<std::optional<int>> Solver::decide() {
  int best = -1;
  size_t best_count = 0;
  for (int pkg = 1; pkg < packages_.size(); ++pkg) {
    const Term* t = solution_.term_of(pkg);
    if (!t || !t->positive || solution_.decision_of(pkg) >= 0) continue;
    size_t count = t->set.count();
    if (best < 0 || count < best_count) best = pkg, best_count = count;
  }
  if (best < 0) return std::optional<int>();
  Term term = *solution_.term_of(best);
  int version = choose_version(best, term.set);
  if (version < 0) {  // only the phantom is left: nothing on the index fits
    add(Incompatibility{{term}, Kind::no_versions, -1, -1, {}});
    return std::optional<int>(best);
  }
  LB_ASSIGN(auto added, add_dependencies(best, static_cast<size_t>(version)));
  // Do not decide a version whose own dependencies already conflict; propagation will
  // derive that it is excluded.
  for (int id : added) {
    const auto& terms = ics_[static_cast<size_t>(id)].terms;
    bool conflict = std::all_of(terms.begin(), terms.end(), [&](const Term& t) {
      if (t.pkg == best) return true;
      const Term* have = solution_.term_of(t.pkg);
      return have && have->subset_of(t);
    });
    if (conflict) return std::optional<int>(best);
  }
  VersionSet only(packages_[best].universe());
  only.set(static_cast<size_t>(version));
  solution_.decide(Term{best, true, only, "==" + packages_[best].versions[version].to_string()},
                   version);
  return std::optional<int>(best);
}

}  // namespace lb::resolve
