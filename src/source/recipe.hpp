// Recipes: how to build one project from source, kept in the project (recipes/<name>.toml).
//
// Format (documented for users in recipes/README.md). A recipe is a TOML file named after the
// project's PEP 503 normalised name ("my-project.toml" for My_Project). Every key is optional;
// any other key is an error:
//   version = ">=1.2,<2"               # PEP 440 specifiers: the versions it applies to
//                                      # (pre-releases included); absent: every version
//   patches = ["my-project/fix.patch"] # unified diffs applied in order with `patch -p1`,
//                                      # relative to the recipe file, inside its folder
//   build-requires = ["cython<3"]      # extra PEP 508 build requirements
//   [env]                              # build environment variables, strings only
//   CFLAGS = "-O2 -g0"                 # names: [A-Za-z_][A-Za-z0-9_]*
//
// Recipe digest "lavabuild.recipe.v1" (Recipe::digest), a KeyHasher over, in this order:
// "patch" = SHA-256 of each patch's content (in order), "build-requires" = each requirement's
// canonical PEP 508 text (in order), "env" = "NAME=value" per variable (sorted by name). Not
// the file names (renaming a patch changes no build) nor `version` (it selects the builds a
// recipe applies to; it does not change them).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::source {

struct Recipe {
  std::string name;     ///< normalised project name (the file stem)
  std::string file;     ///< absolute path of the .toml
  std::string version;  ///< PEP 440 specifier set as written; empty: every version
  /// Absolute paths, resolved relative to the recipe file; each exists, is a regular file and
  /// lies inside the recipe's folder (symlinks resolved).
  std::vector<std::string> patches;
  std::vector<std::string> patch_sha256;    ///< of each patch's content (what the digest saw)
  std::vector<std::string> build_requires;  ///< extra PEP 508 build requirements, as written
  std::map<std::string, std::string> env;   ///< build environment variables
  std::string digest;  ///< "lavabuild.recipe.v1" (top of this file): part of the build key
  /// Does the recipe apply to this version? Empty `version`: always; a version that is not
  /// PEP 440: only when `version` is empty.
  bool applies_to(const std::string& version) const;
};

/// Parse one recipe. `file` is its path (the file name gives the project name and must be
/// normalised; patches are resolved against its folder). Errors name the file and line:
/// TOML syntax, an unknown key, a wrong type, a bad specifier or requirement, a bad variable
/// name, a patch that is missing or outside the recipe's folder.
Result<Recipe> parse_recipe(std::string_view toml_text, const std::string& file);

/// The recipe of `project_name` in `dir`: only `<dir>/<normalised name>.toml` is read. A
/// recipe file whose name is the project's under another spelling ("My_Project.toml") is an
/// error saying to rename it, rather than a recipe silently ignored. nullopt when there is
/// none; an error when `dir` is not a directory.
Result<std::optional<Recipe>> load_recipe(const std::string& dir, const std::string& project_name);

/// Every recipe in `dir` (its *.toml files), sorted by name; the first error stops it.
Result<std::vector<Recipe>> load_recipes(const std::string& dir);

}  // namespace lb::source
