// Turns the derivation graph of a failed resolution into sentences a person can follow
// (the error-reporting algorithm of the PubGrub description, dart-lang/pub doc/solver.md).
#pragma once

#include <string>
#include <vector>

#include "resolve/incompatibility.hpp"
#include "resolve/packages.hpp"

namespace lb::resolve {

/// "foo>=2", "foo==1.0", "foo[x]" (any version): the set of `t`, ignoring its polarity.
std::string term_text(const Term& t, const PackageTable& pkgs);
/// One sentence for an incompatibility ("foo==1.0 depends on bar>=2").
std::string statement(const Incompatibility& ic, const PackageTable& pkgs);
/// The explanation chain for the failure incompatibility `failure`; one line per sentence,
/// numbered "(n)" where a later line refers back to it.
std::string explain(const std::vector<Incompatibility>& ics, const PackageTable& pkgs, int failure);

}  // namespace lb::resolve
