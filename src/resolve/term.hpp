// A PubGrub term: "package P at a version in S" (positive) or its negation, which is also
// satisfied when P is not in the solution at all.
#pragma once

#include <optional>
#include <string>

#include "resolve/version_set.hpp"

namespace lb::resolve {

/// One statement about a package. Sets are subsets of the package's known versions + phantom.
struct Term {
  int pkg = -1;
  bool positive = true;
  VersionSet set;
  /// Specifier text describing `set` when it came from a requirement (">=2", "" = any).
  std::optional<std::string> label;

  /// The term that matches everything (no constraint) for a package with universe `n`.
  static Term any(int pkg, size_t n) { return Term{pkg, false, VersionSet(n), std::string()}; }

  Term negate() const { return Term{pkg, !positive, set, label}; }
  Term intersect(const Term& o) const;
  Term unite(const Term& o) const { return negate().intersect(o.negate()).negate(); }
  /// Every assignment satisfying this also satisfies `o`.
  bool subset_of(const Term& o) const;
  /// No assignment satisfies both.
  bool disjoint(const Term& o) const;
  bool is_any() const { return !positive && set.empty(); }
  bool same_as(const Term& o) const { return positive == o.positive && set == o.set; }
};

}  // namespace lb::resolve
