// Reading recipes with toml++ (kept private to this file). See recipe.hpp.
#include "source/recipe.hpp"

#include <climits>
#include <cstdlib>

#include <toml++/toml.h>

#include "pep/name.hpp"
#include "pep/requirement.hpp"
#include "pep/specifier.hpp"
#include "pep/version.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"
#include "util/text.hpp"

namespace lb::source {
namespace {

constexpr uint64_t kMaxRecipeSize = uint64_t(1) << 20;
constexpr uint64_t kMaxPatchSize = uint64_t(64) << 20;
constexpr const char* kFormatHint =
    "a recipe may set version, patches, build-requires and [env]; see recipes/README.md";

std::string realpath_of(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

std::string type_name(const toml::node& v) {
  switch (v.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

/// Errors name "FILE:LINE: ".
struct Reader {
  std::string file;  // absolute
  std::string dir;   // the recipe's folder

  Error fail(const toml::source_region& where, const std::string& what,
             const std::string& hint = kFormatHint) const {
    return make_error(file + ":" + std::to_string(where.begin.line) + ": " + what, hint);
  }

  Result<std::string> string(const std::string& key, const toml::node& v) const {
    if (!v.is_string())
      return fail(v.source(), "'" + key + "' must be a string, not " + type_name(v));
    std::string s = v.as_string()->get();
    if (trim(s).empty())
      return fail(v.source(), "'" + key + "' must not be empty (leave the key out instead)");
    return s;
  }

  Result<std::vector<std::pair<std::string, const toml::node*>>> strings(
      const std::string& key, const toml::node& v) const {
    const toml::array* a = v.as_array();
    if (!a)
      return fail(v.source(), "'" + key + "' must be an array of strings, not " + type_name(v));
    std::vector<std::pair<std::string, const toml::node*>> out;
    for (const toml::node& item : *a) {
      LB_ASSIGN(std::string s, string(key + "[" + std::to_string(out.size()) + "]", item));
      out.emplace_back(std::move(s), &item);
    }
    return out;
  }

  /// A patch path as written: relative, inside the recipe's folder (also once symlinks are
  /// resolved), an existing regular file.
  Result<std::string> patch(const std::string& written, const toml::node& at) const {
    auto where = [&](const std::string& what) {
      return fail(at.source(), "patch '" + written + "' " + what,
                  "patches are files in the recipe's folder, named relative to the recipe");
    };
    if (written.front() == '/') return where("is an absolute path");
    std::string path = fs::absolute(fs::join_path(dir, written));
    if (!starts_with(path, dir + "/")) return where("is outside the recipe's folder " + dir);
    fs::FileInfo info = fs::stat_path(path);
    if (!info.exists) return where("does not exist (looked for " + path + ")");
    std::string real = realpath_of(path), real_dir = realpath_of(dir);
    if (real.empty() || real_dir.empty() || !starts_with(real, real_dir + "/"))
      return where("leads outside the recipe's folder " + dir + " (through a symlink)");
    if (!fs::stat_path(real).is_regular) return where("is not a regular file");
    if (fs::stat_path(real).size > kMaxPatchSize) return where("is larger than 64 MiB");
    return path;
  }
};

}  // namespace

bool Recipe::applies_to(const std::string& v) const {
  if (trim(version).empty()) return true;
  auto spec = pep::SpecifierSet::parse(version);
  auto parsed = pep::Version::parse(v);
  if (!spec.ok() || !parsed.ok()) return false;
  return spec->contains(*parsed, /*prereleases=*/true);
}

Result<Recipe> parse_recipe(std::string_view toml_text, const std::string& file) {
  Reader r{fs::absolute(file), ""};
  r.dir = fs::dirname(r.file);
  Recipe out;
  out.file = r.file;
  std::string base = fs::basename(r.file);
  if (!ends_with(base, ".toml"))
    return make_error(r.file + ": a recipe's file name ends in .toml",
                      "name it <project>.toml, with the project's normalised name");
  out.name = base.substr(0, base.size() - 5);
  if (!pep::is_valid_name(out.name) || pep::normalize_name(out.name) != out.name)
    return make_error(r.file + ": a recipe is named after the project's normalised name (PEP 503)",
                      pep::is_valid_name(out.name)
                          ? "rename it to " + pep::normalize_name(out.name) + ".toml"
                          : "name it <project>.toml, lower case, with '-' between words");

  if (size_t line = toml_deep_key_line(toml_text, kMaxTomlKeyParts))
    return make_error(r.file + ":" + std::to_string(line) +
                          ": a dotted key or table name with more than " +
                          std::to_string(kMaxTomlKeyParts) + " parts",
                      "this is a fixed limit (docs/LIMITS.md)");
  toml::table doc;
  try {
    doc = toml::parse(toml_text, r.file);
  } catch (const toml::parse_error& e) {
    return make_error(r.file + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) + ": " +
                          std::string(e.description()),
                      "fix the TOML syntax; see recipes/README.md");
  }

  for (const auto& [key, node] : doc) {
    std::string k(key.str());
    if (k == "version") {
      LB_ASSIGN(out.version, r.string(k, node));
      auto spec = pep::SpecifierSet::parse(out.version);
      if (!spec.ok())
        return r.fail(node.source(),
                      "'version' is not a PEP 440 specifier set: " + spec.error().message,
                      "write specifiers such as \">=1.2,<2\" or \"==1.4.*\"");
    } else if (k == "patches") {
      LB_ASSIGN(auto items, r.strings(k, node));
      for (const auto& [written, at] : items) {
        LB_ASSIGN(std::string path, r.patch(written, *at));
        for (const auto& earlier : out.patches)
          if (earlier == path)
            return r.fail(at->source(), "patch '" + written + "' is listed twice");
        auto content = fs::read_file(path);
        if (!content.ok()) return r.fail(at->source(), content.error().message);
        out.patches.push_back(path);
        out.patch_sha256.push_back(sha256_hex(*content));
      }
    } else if (k == "build-requires") {
      LB_ASSIGN(auto items, r.strings(k, node));
      for (const auto& [written, at] : items) {
        auto req = pep::Requirement::parse(written);
        if (!req.ok())
          return r.fail(at->source(),
                        "build requirement '" + written +
                            "' is not a PEP 508 requirement: " + req.error().message,
                        "write requirements such as \"cython>=3,<4\"");
        out.build_requires.push_back(written);
      }
    } else if (k == "env") {
      const toml::table* t = node.as_table();
      if (!t) return r.fail(node.source(), "'env' must be a table, not " + type_name(node));
      for (const auto& [name, value] : *t) {
        std::string n(name.str());
        if (!is_env_var_name(n))
          return r.fail(name.source(), "'" + n + "' is not an environment variable name",
                        "names are letters, digits and '_', not starting with a digit");
        if (!value.is_string())
          return r.fail(value.source(), "env." + n + " must be a string, not " + type_name(value),
                        "quote the value: " + n + " = \"...\"");
        out.env[n] = value.as_string()->get();
      }
    } else {
      return r.fail(key.source(), "unknown key '" + k + "'");
    }
  }

  KeyHasher h("lavabuild.recipe.v1");
  for (const auto& sha : out.patch_sha256) h.field("patch", sha);
  for (const auto& req : out.build_requires)
    h.field("build-requires", pep::Requirement::parse(req)->to_string());
  for (const auto& [n, v] : out.env) h.field("env", n + "=" + v);
  out.digest = h.hex();
  return out;
}

namespace {

Result<Recipe> read_recipe(const std::string& path) {
  fs::FileInfo info = fs::stat_path(path);
  if (info.size > kMaxRecipeSize)
    return make_error(path + ": larger than 1 MiB, not a recipe", kFormatHint);
  LB_ASSIGN(std::string text, fs::read_file(path));
  return parse_recipe(text, path);
}

Status check_dir(const std::string& dir) {
  if (!fs::is_dir(dir))
    return make_error("recipes folder " + dir + " does not exist or is not a directory",
                      "check --recipes (or `recipes` in the config file)");
  return {};
}

}  // namespace

Result<std::optional<Recipe>> load_recipe(const std::string& dir, const std::string& project_name) {
  LB_TRY(check_dir(dir));
  if (!pep::is_valid_name(project_name))
    return make_error("'" + project_name + "' is not a valid project name (PEP 508)");
  std::string name = pep::normalize_name(project_name);
  std::string path = fs::join_path(dir, name + ".toml");
  if (fs::exists(path)) {
    LB_ASSIGN(Recipe recipe, read_recipe(path));
    return std::optional<Recipe>(std::move(recipe));
  }
  LB_ASSIGN(auto names, fs::list_dir(dir));
  for (const auto& n : names)
    if (ends_with(n, ".toml") && pep::normalize_name(n.substr(0, n.size() - 5)) == name)
      return make_error("recipe " + fs::join_path(dir, n) +
                            " is not used: recipes are named after "
                            "the project's normalised name",
                        "rename it to " + name + ".toml");
  return std::optional<Recipe>();
}

Result<std::vector<Recipe>> load_recipes(const std::string& dir) {
  LB_TRY(check_dir(dir));
  LB_ASSIGN(auto names, fs::list_dir(dir));
  std::vector<Recipe> out;
  for (const auto& n : names) {
    if (!ends_with(n, ".toml")) continue;
    LB_ASSIGN(Recipe recipe, read_recipe(fs::join_path(dir, n)));
    out.push_back(std::move(recipe));
  }
  return out;
}

}  // namespace lb::source
