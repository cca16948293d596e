// Reading config files with toml++ (kept private to this file). See config.hpp.
#include "cli/config.hpp"

#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

#include <toml++/toml.h>

#include "cli/suggest.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::cli {

namespace {

constexpr int kMaxJobs = 1024;

/// Errors name "FILE:LINE: " and, for keys, the key as written.
struct Reader {
  const std::string& path;
  std::string dir;  // relative paths in the file are relative to this

  Error fail(const toml::source_region& where, const std::string& what) const {
    return make_error(path + ":" + std::to_string(where.begin.line) + ": " + what,
                      "see `lavabuild env --help` for the keys a config file may set");
  }
  Error wrong_type(const std::string& key, const toml::node& v, const std::string& want) const {
    return fail(v.source(), "'" + key + "' must be " + want + ", not " + type_name(v));
  }
  static std::string type_name(const toml::node& v) {
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
  /// A path as written in the file, made absolute against the file's directory.
  std::string resolve(const std::string& p) const {
    if (p.empty() || p.front() == '/') return p;
    return fs::join_path(dir, p);
  }

  Result<std::string> string(const std::string& key, const toml::node& v) const {
    auto s = v.value<std::string>();
    if (!v.is_string() || !s) return wrong_type(key, v, "a string");
    if (s->empty()) return fail(v.source(), "'" + key + "' must not be empty");
    return *s;
  }
  /// A path: a string made absolute against the file's directory.
  Result<std::string> path_value(const std::string& key, const toml::node& v) const {
    auto s = string(key, v);
    if (!s.ok()) return s;
    return resolve(*s);
  }
  /// A string that must be one of `choices`.
  Result<std::string> choice(const std::string& key, const toml::node& v,
                             const std::vector<std::string>& choices) const {
    auto s = string(key, v);
    if (!s.ok()) return s;
    for (const auto& c : choices)
      if (*s == c) return s;
    return fail(v.source(),
                "'" + key + "' must be \"" + join(choices, "\", \"") + "\", not \"" + *s + "\"");
  }
  Result<std::vector<std::string>> strings(const std::string& key, const toml::node& v) const {
    const toml::array* arr = v.as_array();
    if (!arr) return wrong_type(key, v, "an array of strings");
    std::vector<std::string> out;
    for (const auto& item : *arr) {
      if (!item.is_string()) return wrong_type(key, item, "an array of strings (each item)");
      auto s = string(key, item);
      if (!s.ok()) return s.error();
      out.push_back(*s);
    }
    return out;
  }
  Result<bool> boolean(const std::string& key, const toml::node& v) const {
    if (!v.is_boolean()) return wrong_type(key, v, "true or false");
    return v.as_boolean()->get();
  }
  /// An integer in [lo, hi]; checked before converting (toml++ does not check ranges).
  Result<int64_t> integer(const std::string& key, const toml::node& v, int64_t lo, int64_t hi,
                          const std::string& what) const {
    if (!v.is_integer()) return wrong_type(key, v, what);
    int64_t n = v.as_integer()->get();
    if (n < lo || n > hi)
      return fail(v.source(), "'" + key + "' must be " + what + ", not " + std::to_string(n));
    return n;
  }
  /// A find-links entry: URLs as written, local paths relative to the file.
  std::string location(const std::string& s) const {
    return s.find("://") != std::string::npos || starts_with(s, "file:") ? s : resolve(s);
  }
  Error unknown(const toml::key& k, const std::string& table,
                const std::vector<std::string>& known) const {
    std::string name = table.empty() ? std::string(k.str()) : table + "." + std::string(k.str());
    std::string near = closest_word(k.str(), known);
    return make_error(path + ":" + std::to_string(k.source().begin.line) + ": unknown key '" +
                          name + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?"),
                      "the keys are: " + join(known, ", ") + " (`lavabuild env --help`)");
  }
};

const std::vector<std::string> kTopKeys = {
    "index-url", "extra-index-url", "find-links", "no-index", "cache-dir",    "link-mode", "python",
    "jobs",      "timeout",         "pre",        "recipes",  "build-timeout"};
const std::vector<std::string> kRemoteKeys = {"cache",   "trusted-keys", "signing-key", "read-only",
                                              "timeout", "headers",      "ca"};

Status parse_remote(const Reader& r, const toml::table& t, engine::RemoteOptions& out) {
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    std::string full = "remote." + key;
    if (key == "cache") {
      LB_ASSIGN(out.cache, r.string(full, v));
    } else if (key == "trusted-keys") {
      LB_ASSIGN(out.trusted_keys, r.strings(full, v));
    } else if (key == "signing-key") {
      LB_ASSIGN(out.signing_key, r.path_value(full, v));
    } else if (key == "read-only") {
      LB_ASSIGN(bool b, r.boolean(full, v));
      out.read_only = b;
    } else if (key == "timeout") {
      LB_ASSIGN(int64_t n, r.integer(full, v, 1, 86400, "a whole number of seconds (1 to 86400)"));
      out.timeout = long(n);
    } else if (key == "headers") {
      const toml::table* h = v.as_table();
      if (!h) return r.wrong_type(full, v, "a table of strings (Name = \"value\")");
      out.headers.clear();
      for (const auto& [hk, hv] : *h) {
        LB_ASSIGN(out.headers[std::string(hk.str())],
                  r.string(full + "." + std::string(hk.str()), hv));
      }
    } else if (key == "ca") {
      LB_ASSIGN(out.ca, r.path_value(full, v));
    } else {
      return r.unknown(k, "remote", kRemoteKeys);
    }
  }
  return {};
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = kTopKeys;
    for (const auto& r : kRemoteKeys) k.push_back("remote." + r);
    return k;
  }();
  return keys;
}

Result<ConfigFile> parse_config(std::string_view text, const std::string& path) {
  if (size_t line = toml_deep_key_line(text, kMaxTomlKeyParts))
    return make_error(path + ":" + std::to_string(line) +
                          ": a dotted key or table name with more than " +
                          std::to_string(kMaxTomlKeyParts) + " parts",
                      "this is a fixed limit (docs/LIMITS.md)");
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return make_error(path + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) +
                          ": invalid TOML: " + std::string(e.description()),
                      "fix the file, or run with --no-config to ignore config files");
  }
  Reader r{path, fs::dirname(fs::absolute(path))};
  ConfigFile c;
  c.files.push_back(path);
  for (const auto& [k, v] : doc) {
    std::string key(k.str());
    if (key == "index-url") {
      LB_ASSIGN(c.index_url, r.string(key, v));
    } else if (key == "extra-index-url") {
      LB_ASSIGN(c.extra_index_urls, r.strings(key, v));
    } else if (key == "find-links") {
      LB_ASSIGN(auto list, r.strings(key, v));
      for (auto& f : list) f = r.location(f);
      c.find_links = std::move(list);
    } else if (key == "no-index") {
      LB_ASSIGN(c.no_index, r.boolean(key, v));
    } else if (key == "pre") {
      LB_ASSIGN(c.pre, r.boolean(key, v));
    } else if (key == "cache-dir") {
      LB_ASSIGN(c.cache_dir, r.path_value(key, v));
    } else if (key == "link-mode") {
      LB_ASSIGN(c.link_mode, r.choice(key, v, {"hardlink", "clone", "copy"}));
    } else if (key == "python") {
      LB_ASSIGN(c.python, r.string(key, v));
    } else if (key == "jobs") {
      LB_ASSIGN(int64_t n,
                r.integer(key, v, 1, kMaxJobs,
                          "a number of parallel steps from 1 to " + std::to_string(kMaxJobs)));
      c.jobs = int(n);
    } else if (key == "timeout") {
      LB_ASSIGN(int64_t n, r.integer(key, v, 1, 86400, "a whole number of seconds (1 to 86400)"));
      c.timeout = long(n);
    } else if (key == "recipes") {
      LB_ASSIGN(c.recipes, r.path_value(key, v));
    } else if (key == "build-timeout") {
      LB_ASSIGN(int64_t n,
                r.integer(key, v, 1, 7 * 86400, "a whole number of seconds (1 to 604800)"));
      c.build_timeout = long(n);
    } else if (key == "remote") {
      const toml::table* t = v.as_table();
      if (!t) return r.wrong_type(key, v, "a table ([remote])");
      LB_TRY(parse_remote(r, *t, c.remote));
    } else {
      std::vector<std::string> known = kTopKeys;
      known.push_back("remote");
      return r.unknown(k, "", known);
    }
  }
  return c;
}

void merge_config(ConfigFile& base, const ConfigFile& over) {
  auto take = [](auto& to, const auto& from) {
    if (from) to = from;
  };
  take(base.index_url, over.index_url);
  take(base.extra_index_urls, over.extra_index_urls);
  take(base.find_links, over.find_links);
  take(base.no_index, over.no_index);
  take(base.pre, over.pre);
  take(base.cache_dir, over.cache_dir);
  take(base.link_mode, over.link_mode);
  take(base.python, over.python);
  take(base.jobs, over.jobs);
  take(base.timeout, over.timeout);
  take(base.recipes, over.recipes);
  take(base.build_timeout, over.build_timeout);
  engine::RemoteOptions& to = base.remote;
  const engine::RemoteOptions& from = over.remote;
  if (!from.cache.empty()) to.cache = from.cache;
  if (!from.trusted_keys.empty()) to.trusted_keys = from.trusted_keys;
  if (!from.signing_key.empty()) to.signing_key = from.signing_key;
  take(to.read_only, from.read_only);
  take(to.timeout, from.timeout);
  if (!from.headers.empty()) to.headers = from.headers;
  if (!from.ca.empty()) to.ca = from.ca;
  base.files.insert(base.files.end(), over.files.begin(), over.files.end());
}

std::string user_config_path() {
  std::string xdg = env("XDG_CONFIG_HOME");
  if (!xdg.empty()) return xdg + "/lavabuild/config.toml";
  std::string home = env("HOME");
  return (home.empty() ? std::string("/tmp") : home) + "/.config/lavabuild/config.toml";
}

Result<ConfigFile> load_config(const std::string& explicit_file, const std::string& project_dir) {
  auto read = [](const std::string& path) -> Result<ConfigFile> {
    auto text = fs::read_file(path);
    if (!text.ok())
      return make_error("cannot read config file " + path + ": " + text.error().message,
                        "fix its permissions, or run with --no-config to ignore config files");
    return parse_config(*text, path);
  };
  if (!explicit_file.empty()) {
    if (!fs::exists(explicit_file))
      return make_error("config file " + explicit_file + " does not exist",
                        "check the path given to --config (or $LAVABUILD_CONFIG)");
    return read(explicit_file);
  }
  ConfigFile merged;
  std::vector<std::string> paths = {user_config_path()};
  if (!project_dir.empty()) paths.push_back(fs::join_path(project_dir, "lavabuild.toml"));
  for (const auto& path : paths) {
    if (!fs::exists(path)) continue;
    LB_ASSIGN(ConfigFile c, read(path));
    merge_config(merged, c);
  }
  return merged;
}

}  // namespace lb::cli
