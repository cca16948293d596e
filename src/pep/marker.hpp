// PEP 508 environment markers: `python_version >= "3.8" and (sys_platform == "linux" or
// extra == "test")`, evaluated against a target interpreter's environment.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace lb::pep {

namespace detail {
struct Cursor;
}

/// Marker variable values of the target interpreter, keyed by their PEP 508 names
/// (python_version, python_full_version, os_name, sys_platform, platform_release,
/// platform_system, platform_version, platform_machine, platform_python_implementation,
/// implementation_name, implementation_version). A missing key reads as "".
struct MarkerEnv {
  std::map<std::string, std::string> values;
  /// PEP 751 (pylock.toml) set-valued variables: the extras and dependency groups being
  /// installed. Compared by normalised name.
  std::set<std::string> extras = {}, dependency_groups = {};
};

/// Where a marker is written. PEP 751 lock files may also test the set-valued `extras` and
/// `dependency_groups` variables (`"name" in extras`); anywhere else they are an error.
enum class MarkerSyntax { pep508, pylock };

struct MarkerNode;  // the parsed expression, defined in marker.cpp

/// A parsed marker expression; cheap to copy (the tree is shared and immutable).
class Marker {
 public:
  /// Parses a marker; errors name the column ("expected marker operator at column 16 in ...").
  /// `~=` needs a version on both sides (a quoted version or python_version,
  /// python_full_version, implementation_version); between other strings it is undefined,
  /// and an error here.
  static Result<Marker> parse(std::string_view text, MarkerSyntax syntax = MarkerSyntax::pep508);
  /// Parses a marker that starts at `c.pos` and stops before anything it cannot use (used by
  /// Requirement::parse, whose error columns count from the start of the requirement).
  static Result<Marker> parse_prefix(detail::Cursor& c, MarkerSyntax syntax = MarkerSyntax::pep508);

  /// Version operators compare as PEP 440 versions when both sides are versions, as strings
  /// otherwise. `"x" in extras` / `"x" in dependency_groups` test env.extras /
  /// env.dependency_groups. `extra == "x"` is true iff normalize_name(x) is in `extras` (already
  /// normalised); with no extras an `env.values["extra"]`, if present, is used instead.
  bool evaluate(const MarkerEnv& env, const std::set<std::string>& extras = {}) const;
  /// Canonical text: variables by their PEP 508 names, values in double quotes, extras
  /// normalised, parentheses only where needed for grouping.
  std::string to_string() const;
  /// True if the expression reads the `extra` variable.
  bool mentions_extra() const;

 private:
  std::shared_ptr<const MarkerNode> root_;
};

}  // namespace lb::pep
