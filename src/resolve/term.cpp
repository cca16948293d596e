#include "resolve/term.hpp"

namespace lb::resolve {

Term Term::intersect(const Term& o) const {
  Term r{pkg, true, {}, std::nullopt};
  if (positive && o.positive) {
    r.set = set & o.set;
  } else if (positive) {
    r.set = set.minus(o.set);
  } else if (o.positive) {
    r.set = o.set.minus(set);
  } else {
    r.positive = false;
    r.set = set | o.set;
  }
  if (r.same_as(*this)) {
    r.label = label;
  } else if (r.same_as(o)) {
    r.label = o.label;
  }
  return r;
}

bool Term::subset_of(const Term& o) const {
  if (positive) return o.positive ? set.subset_of(o.set) : !set.intersects(o.set);
  return !o.positive && o.set.subset_of(set);
}

bool Term::disjoint(const Term& o) const {
  if (positive && o.positive) return !set.intersects(o.set);
  if (positive) return set.subset_of(o.set);
  if (o.positive) return o.set.subset_of(set);
  return false;
}

}  // namespace lb::resolve
