#include "resolve/partial_solution.hpp"

namespace lb::resolve {

void PartialSolution::grow(int pkg) {
  auto n = static_cast<size_t>(pkg) + 1;
  if (acc_.size() < n) {
    acc_.resize(n);
    decided_.resize(n, -1);
    by_pkg_.resize(n);
  }
}

void PartialSolution::push(Assignment a) {
  int pkg = a.term.pkg;
  grow(pkg);
  auto& acc = acc_[static_cast<size_t>(pkg)];
  acc = acc ? acc->intersect(a.term) : a.term;
  by_pkg_[static_cast<size_t>(pkg)].push_back(static_cast<int>(list_.size()));
  list_.push_back(std::move(a));
}

void PartialSolution::decide(const Term& term, int version) {
  if (any_decision_) ++level_;
  any_decision_ = true;
  push(Assignment{term, level_, -1});
  decided_[static_cast<size_t>(term.pkg)] = version;
}

void PartialSolution::derive(Term term, int cause) {
  push(Assignment{std::move(term), level_, cause});
}

const Term* PartialSolution::term_of(int pkg) const {
  auto i = static_cast<size_t>(pkg);
  return i < acc_.size() && acc_[i] ? &*acc_[i] : nullptr;
}

int PartialSolution::decision_of(int pkg) const {
  auto i = static_cast<size_t>(pkg);
  return i < decided_.size() ? decided_[i] : -1;
}

const std::vector<int>& PartialSolution::indices_of(int pkg) const {
  static const std::vector<int> none;
  auto i = static_cast<size_t>(pkg);
  return i < by_pkg_.size() ? by_pkg_[i] : none;
}

void PartialSolution::backtrack(int level) {
  std::vector<int> dirty;
  while (!list_.empty() && list_.back().level > level) {
    auto pkg = static_cast<size_t>(list_.back().term.pkg);
    if (list_.back().decision()) decided_[pkg] = -1;
    by_pkg_[pkg].pop_back();
    dirty.push_back(static_cast<int>(pkg));
    list_.pop_back();
  }
  for (int pkg : dirty) {
    auto& acc = acc_[static_cast<size_t>(pkg)];
    acc.reset();
    for (int idx : by_pkg_[static_cast<size_t>(pkg)]) {
      const Term& t = list_[static_cast<size_t>(idx)].term;
      acc = acc ? acc->intersect(t) : t;
    }
  }
  level_ = level;
}

}  // namespace lb::resolve
