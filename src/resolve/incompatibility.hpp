// PubGrub incompatibilities: sets of terms that must not all be true at once.
#pragma once

#include <string>
#include <vector>

#include "resolve/term.hpp"

namespace lb::resolve {

/// Why an incompatibility holds.
enum class Kind {
  dependency,   ///< {depender==V, not dependee S}: "depender==V depends on dependee S"
  no_versions,  ///< {p S}: no version of p on the index matches S
  constraint,   ///< {p S}: a -c constraint forbids S
  derived,      ///< resolution of cause1 and cause2
};

/// A set of terms (at most one per package) that cannot all hold.
struct Incompatibility {
  std::vector<Term> terms;
  Kind kind = Kind::derived;
  int cause1 = -1, cause2 = -1;  ///< for Kind::derived
  std::string constraint;        ///< for Kind::constraint: the constraint as written
};

}  // namespace lb::resolve
