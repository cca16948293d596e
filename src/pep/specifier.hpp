// PEP 440 version specifiers ("==1.2.*", ">=1,<2", "~=1.4.5", "===foo") with the semantics of
// packaging.specifiers, including its pre-release rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pep/version.hpp"
#include "util/result.hpp"

namespace lb::pep {

/// One clause such as ">=1.0". Build it with Specifier::parse (contains() relies on the
/// pre-parsed fields; a hand-filled Specifier is parsed lazily on every call).
struct Specifier {
  std::string op;         ///< "==", "!=", "<=", ">=", "<", ">", "~=", "==="
  std::string version;    ///< as written, without surrounding whitespace ("1.2.*", "2.0")
  Version parsed;         ///< `version` parsed (wildcard stripped); unset for unparseable "==="
  bool wildcard = false;  ///< "==1.2.*" / "!=1.2.*"
  bool ready = false;     ///< set by parse()

  /// Parses one clause; errors say what is wrong ("'.*' is only allowed with == and !=").
  static Result<Specifier> parse(std::string_view text);

  /// Does `v` satisfy the operator? Pure PEP 440 operator semantics (local-version and
  /// exclusive-ordering rules included) with no pre-release policy: SpecifierSet applies that.
  bool contains(const Version& v) const;
  /// True for ==, <=, >=, ~=, === whose version is a pre-release (packaging's `prereleases`).
  bool mentions_prerelease() const;
  /// op + version ("~=1.4").
  std::string to_string() const { return op + version; }
};

/// A comma-separated conjunction of specifiers; the empty set matches every final version.
class SpecifierSet {
 public:
  /// "" / ">=1,<2" / "==1.2.*". Duplicates (">=1.0,>=1") collapse to one.
  static Result<SpecifierSet> parse(std::string_view text);

  /// PEP 440 membership. prereleases: nullopt = default rule (allowed only if a specifier
  /// mentions a pre-release), true = allowed, false = never.
  bool contains(const Version& v, std::optional<bool> prereleases = std::nullopt) const;
  /// Filter candidates with the PEP 440 rule: pre-releases only if allowed, or if they are
  /// the only matches. Order preserved.
  std::vector<Version> filter(const std::vector<Version>& candidates,
                              std::optional<bool> prereleases = std::nullopt) const;

  bool empty() const { return specs_.empty(); }
  const std::vector<Specifier>& specifiers() const { return specs_; }
  /// True if some specifier mentions a pre-release (then pre-releases are allowed).
  bool mentions_prerelease() const;
  /// Canonical: sorted, ","-joined (">=1.0,<2" -> "<2,>=1.0").
  std::string to_string() const;
  /// Adds a clause (as `a & b` in packaging); duplicates are ignored.
  void add(Specifier spec);

 private:
  std::vector<Specifier> specs_;
};

}  // namespace lb::pep
