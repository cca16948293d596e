// PEP 508 dependency specifiers: `name[extra1, extra2] (>=1,<2) ; marker` and
// `name[extras] @ url ; marker`.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "pep/marker.hpp"
#include "pep/specifier.hpp"
#include "util/result.hpp"

namespace lb::pep {

/// One parsed requirement line (PEP 508).
struct Requirement {
  std::string name;              ///< as written
  std::set<std::string> extras;  ///< normalised (PEP 503)
  SpecifierSet specifier;
  std::string url;  ///< for "name @ url", else empty
  std::optional<Marker> marker;

  /// Parses the full PEP 508 grammar. Whitespace may appear between all parts, but a URL
  /// must be followed by whitespace before ';'. Errors say what was expected where:
  /// "expected version specifier at column 6 in 'foo >>1'".
  static Result<Requirement> parse(std::string_view text);
  /// normalize_name(name).
  std::string normalized_name() const;
  /// Canonical text: name[a,b]<specifiers> or name[a,b] @ url, then "; marker".
  std::string to_string() const;
};

}  // namespace lb::pep
