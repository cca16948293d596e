// PubGrub dependency resolution over PEP 440 versions.
//
// The resolver asks a Provider (the CLI implements it over the package index; tests use an
// in-memory fake) for the versions of a project and the Requires-Dist of one version, and
// returns one pinned version per needed project, or an error whose message explains, as a
// chain of "Because ..." sentences, why no solution exists.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pep/marker.hpp"
#include "pep/requirement.hpp"
#include "pep/version.hpp"
#include "util/result.hpp"

namespace lb::resolve {

/// What the resolver asks the outside world.
class Provider {
 public:
  virtual ~Provider() = default;
  /// Versions available for `name` (normalised), already filtered to those with a compatible
  /// file and matching Requires-Python; order irrelevant. Yanked ones included, flagged true.
  /// An empty list means "not on the index"; an error aborts the resolution.
  virtual Result<std::vector<std::pair<pep::Version, bool /*yanked*/>>> versions(
      const std::string& name) = 0;
  /// Requires-Dist of name==version (markers unevaluated).
  virtual Result<std::vector<pep::Requirement>> dependencies(const std::string& name,
                                                             const pep::Version& version) = 0;
  /// Hint: these (name, version) pairs will be needed soon (fetch metadata in parallel).
  virtual void prefetch(const std::vector<std::pair<std::string, pep::Version>>& /*wanted*/) {}
  /// Why name==version was yanked (PEP 592 reason), "" when none was given.
  virtual std::string yanked_reason(const std::string& /*name*/, const pep::Version& /*version*/) {
    return {};
  }
};

/// How to resolve.
///
/// Candidate rules, decided per package from the user's own requirements (the roots and the
/// constraints; a dependency's requirements never widen them):
/// - a yanked release (PEP 592) is a candidate only when the user's requirements pin it
///   exactly (== without wildcard, or ===); then it is one for every requirement on the
///   package, and the resolution carries a warning saying why it was yanked;
/// - pre-releases of a package are candidates for every requirement on it when the user's
///   requirements on it mention a pre-release (any operator, e.g. c>=2.0b1), with allow_pre,
///   for a requirement that itself mentions one (PEP 440 ==, >=, <=, ~=, ===), or when they
///   are the only versions matching a requirement (PEP 440).
/// A failure explanation names the releases these rules left out that would have matched.
struct Options {
  pep::MarkerEnv env;                               ///< target interpreter for markers
  bool allow_pre = false;                           ///< --pre: pre-releases always allowed
  std::map<std::string, pep::Version> preferences;  ///< pins of an existing env/lock: tried first
  std::vector<pep::Requirement> constraints;        ///< pip -c: restrict, never add
};

/// One package of the solution.
struct Pinned {
  std::string name;  ///< normalised
  pep::Version version;
  std::set<std::string> extras;           ///< extras of this package that are needed
  std::vector<std::string> dependencies;  ///< normalised names it requires in the solution, sorted
};

/// A complete solution.
struct Resolution {
  std::vector<Pinned> packages;       ///< sorted by name
  std::vector<std::string> warnings;  ///< e.g. a yanked release chosen because it was pinned
};

/// Resolve `roots` (markers evaluated against options.env). On failure the error message is
/// the human explanation chain, naming every package and specifier involved.
Result<Resolution> resolve(const std::vector<pep::Requirement>& roots, Provider& provider,
                           const Options& options);

}  // namespace lb::resolve
