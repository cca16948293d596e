// The PubGrub partial solution: an ordered list of decisions and derivations.
#pragma once

#include <optional>
#include <vector>

#include "resolve/term.hpp"

namespace lb::resolve {

/// A decision (cause < 0) or a derivation from incompatibility `cause`.
struct Assignment {
  Term term;
  int level = 0;
  int cause = -1;
  bool decision() const { return cause < 0; }
};

/// Assignments in order, with the running intersection per package.
class PartialSolution {
 public:
  /// Records pkg==version (term is that singleton); the first decision (the root) is level 0,
  /// each later one opens a new level.
  void decide(const Term& term, int version);
  void derive(Term term, int cause);
  int level() const { return level_; }
  /// Intersection of every assignment about pkg, or nullptr when there is none.
  const Term* term_of(int pkg) const;
  /// Decided version index of pkg, or -1.
  int decision_of(int pkg) const;
  /// Removes every assignment above `level`.
  void backtrack(int level);
  const std::vector<Assignment>& assignments() const { return list_; }
  /// Indices into assignments() of pkg's assignments, in order.
  const std::vector<int>& indices_of(int pkg) const;

 private:
  void grow(int pkg);
  void push(Assignment a);
  std::vector<Assignment> list_;
  std::vector<std::optional<Term>> acc_;
  std::vector<int> decided_;
  std::vector<std::vector<int>> by_pkg_;
  int level_ = 0;
  bool any_decision_ = false;
};

}  // namespace lb::resolve
