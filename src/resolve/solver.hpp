// The PubGrub solver loop: unit propagation, conflict resolution, decision making.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "resolve/incompatibility.hpp"
#include "resolve/packages.hpp"
#include "resolve/partial_solution.hpp"
#include "resolve/resolver.hpp"

namespace lb::resolve {

/// One resolution run; create, call run() once.
class Solver {
 public:
  Solver(const std::vector<pep::Requirement>& roots, Provider& provider, const Options& options);
  Result<Resolution> run();

 private:
  /// How the partial solution relates to an incompatibility.
  struct Relation {
    enum Kind { satisfied, contradicted, almost, inconclusive } kind;
    int term = -1;  ///< for almost: the one term not yet satisfied
  };

  Result<int> package(const std::string& name, const std::string& extra);
  Status load_versions(const std::string& name);
  /// The versions of `pkg` that `req` admits under the yanked and pre-release rules; the
  /// matching versions those rules leave out are remembered for the failure explanation
  /// (`from` says whose requirement it is).
  VersionSet allowed(int pkg, const pep::Requirement& req, const std::string& from);
  /// Does a requirement of the user's (root or constraint) pin name==v exactly?
  bool user_pins(const std::string& name, const pep::Version& v) const;
  /// Do the user's requirements on `name` mention a pre-release (any operator)?
  bool user_wants_pre(const std::string& name) const;
  /// "note: ..." lines for the releases left out of packages named in `explanation`.
  std::string exclusion_notes(const std::string& explanation, std::string& hint);
  int add(Incompatibility ic);
  /// Makes incompatibility `id` visible to unit propagation.
  void index(int id);
  Result<std::vector<pep::Requirement>> requirements_of(int pkg, size_t version);
  Result<std::vector<int>> add_dependencies(int pkg, size_t version);
  Relation relation(const Incompatibility& ic) const;
  Status propagate(int pkg);
  Result<int> resolve_conflict(int id);
  Result<std::optional<int>> decide();
  int choose_version(int pkg, const VersionSet& candidates) const;
  int satisfier_of(const Term& t, std::optional<Term> start, int before) const;
  Resolution solution() const;

  const std::vector<pep::Requirement>& roots_;
  Provider& provider_;
  const Options& options_;
  PackageTable packages_;
  std::vector<Incompatibility> ics_;
  std::vector<std::vector<int>> by_pkg_;  ///< incompatibilities mentioning each package
  PartialSolution solution_;
  std::map<std::pair<int, size_t>, std::vector<std::string>> dependency_names_;
  std::multimap<std::string, const pep::Requirement*> constraints_;
  /// The user's requirements (roots whose markers hold, and constraints), by normalised name.
  std::multimap<std::string, const pep::Requirement*> user_;
  mutable std::map<std::string, bool> wants_pre_;  ///< user_wants_pre, by name
  /// A release that matched a requirement's specifier but was left out by a rule.
  struct Excluded {
    size_t version;
    bool yanked;              ///< else: a pre-release
    std::string requirement;  ///< "c>=1.0 (required by b==1.0)", "c>=1 (your requirement)"
  };
  std::map<int, std::vector<Excluded>> excluded_;  ///< by plain package id
};

}  // namespace lb::resolve
