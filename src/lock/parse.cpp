// Reading and validating pylock.toml with toml++ (kept private to this file).
#include <cctype>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "lock/pylock.hpp"
#include "pep/marker.hpp"
#include "pep/name.hpp"
#include "pep/tags.hpp"
#include "pep/version.hpp"
#include "util/strings.hpp"

namespace lb::lock {
namespace {

const char* kHint = "regenerate the lock file with `lavabuild lock`, or fix the entry by hand";

/// Errors while reading one file of one package carry "FILE: package 'x' 1.0: " in front.
struct Where {
  const std::string& file;
  std::string package;
  Error fail(const std::string& what) const {
    return make_error(file + ": " + (package.empty() ? "" : package + ": ") + what, kHint);
  }
};

Result<std::string> opt_string(const toml::table& t, std::string_view key, const Where& w) {
  const toml::node* n = t.get(key);
  if (!n) return std::string();
  if (auto s = n->value<std::string>()) return *s;
  return w.fail("'" + std::string(key) + "' must be a string");
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

Result<FileRef> parse_file(const toml::table& t, const std::string& kind, const Where& w) {
  FileRef f;
  LB_ASSIGN(f.name, opt_string(t, "name", w));
  LB_ASSIGN(f.url, opt_string(t, "url", w));
  LB_ASSIGN(f.path, opt_string(t, "path", w));
  if (f.name.empty()) {  // may be left out when the URL or path ends with it
    const std::string& where = f.url.empty() ? f.path : f.url;
    f.name = where.substr(
        where.find_last_of('/') == std::string::npos ? 0 : where.find_last_of('/') + 1);
  }
  std::string what = kind + " '" + f.name + "'";
  if (f.url.empty() && f.path.empty()) return w.fail(what + " has neither url nor path");
  if (f.name.empty() || f.name == "." || f.name == ".." ||
      f.name.find_first_of("/\\") != std::string::npos)
    return w.fail(what + ": the file name must be a plain file name");
  // Check the node's type before converting: toml++'s conversion of a float (or of an
  // out-of-range value) to an integer is not checked.
  const toml::node* size = t.get("size");
  if (!size) return w.fail(what + " has no size");
  if (!size->is_integer())
    return w.fail(what + ": 'size' must be a whole number of bytes, not a " +
                  std::string(size->is_floating_point() ? "float" : "non-integer"));
  int64_t bytes = size->as_integer()->get();
  if (bytes < 0) return w.fail(what + ": 'size' " + std::to_string(bytes) + " is negative");
  f.size = static_cast<uint64_t>(bytes);
  if (const toml::node* up = t.get("upload-time")) {
    const auto* dt = up->as_date_time();
    if (!dt) return w.fail(what + ": upload-time must be a TOML datetime");
    std::ostringstream os;
    os << *dt;
    f.upload_time = os.str();
  }
  const toml::table* hashes = t["hashes"].as_table();
  auto sha = hashes ? (*hashes)["sha256"].value<std::string>() : std::nullopt;
  if (!sha || !is_hex64(*sha)) return w.fail(what + " has no valid hashes.sha256 (64 hex digits)");
  for (char c : *sha) f.sha256 += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return f;
}

Result<Package> parse_package(const toml::table& t, size_t index, const std::string& file) {
  Where w{file, "package #" + std::to_string(index + 1)};
  Package p;
  LB_ASSIGN(p.name, opt_string(t, "name", w));
  if (p.name.empty()) return w.fail("has no name");
  if (!pep::is_valid_name(p.name))
    return w.fail("name " + quoted(p.name) +
                  " is not a valid package name (letters, digits, and '-', '_', '.' inside)");
  w.package = "package '" + p.name + "'";
  LB_ASSIGN(p.version, opt_string(t, "version", w));
  if (p.version.empty()) return w.fail("has no version");
  w.package += " " + p.version;
  LB_ASSIGN(p.marker, opt_string(t, "marker", w));
  if (!p.marker.empty())
    if (auto m = pep::Marker::parse(p.marker, pep::MarkerSyntax::pylock); !m.ok())
      return w.fail("'marker' is not a valid marker: " + m.error().message);
  LB_ASSIGN(p.requires_python, opt_string(t, "requires-python", w));
  LB_ASSIGN(p.index, opt_string(t, "index", w));
  if (const toml::node* deps = t.get("dependencies")) {
    const toml::array* arr = deps->as_array();
    if (!arr) return w.fail("'dependencies' must be an array of tables");
    for (const auto& d : *arr) {
      const toml::table* dt = d.as_table();
      if (!dt) return w.fail("'dependencies' must be an array of tables");
      if (auto name = (*dt)["name"].value<std::string>()) p.dependencies.push_back(*name);
    }
  }
  if (const toml::node* wheels = t.get("wheels")) {
    const toml::array* arr = wheels->as_array();
    if (!arr) return w.fail("'wheels' must be an array of tables");
    for (const auto& wheel : *arr) {
      const toml::table* wt = wheel.as_table();
      if (!wt) return w.fail("'wheels' must be an array of tables");
      LB_ASSIGN(auto f, parse_file(*wt, "wheel", w));
      auto wf = pep::WheelFilename::parse(f.name);
      if (!wf.ok())
        return w.fail("wheel '" + f.name +
                      "' is not a valid wheel file name: " + wf.error().message);
      if (wf->normalized_name() != pep::normalize_name(p.name))
        return w.fail("wheel '" + f.name + "' is a file of " + wf->name + ", not of " + p.name);
      auto wv = pep::Version::parse(wf->version), pv = pep::Version::parse(p.version);
      if (wv.ok() && pv.ok() && !(*wv == *pv))
        return w.fail("wheel '" + f.name + "' is version " + wf->version + ", not " + p.version);
      p.wheels.push_back(std::move(f));
    }
  }
  if (const toml::node* sdist = t.get("sdist")) {
    const toml::table* st = sdist->as_table();
    if (!st) return w.fail("'sdist' must be a table");
    LB_ASSIGN(auto f, parse_file(*st, "sdist", w));
    p.sdist = std::move(f);
  }
  if (p.wheels.empty() && !p.sdist) {
    for (const char* other : {"vcs", "directory", "archive"})
      if (t.contains(other))
        return w.fail(std::string("is locked as a '") + other +
                      "' source, which lavabuild cannot install from a lock yet");
    return w.fail("has no wheels and no sdist");
  }
  return p;
}

std::string key_of(const Package& p) {
  auto v = pep::Version::parse(p.version);
  return pep::normalize_name(p.name) + "==" + (v.ok() ? v->to_string() : p.version);
}

}  // namespace

Result<Lock> parse_pylock(std::string_view text, const std::string& filename) {
  toml::table doc;
  try {
    doc = toml::parse(text, filename);
  } catch (const toml::parse_error& e) {
    return make_error(filename + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) +
                          ": invalid TOML: " + std::string(e.description()),
                      kHint);
  }
  Where w{filename, ""};
  Lock lock;
  auto version = doc["lock-version"].value<std::string>();
  if (!version) return w.fail("missing lock-version (is this a pylock.toml?)");
  lock.lock_version = *version;
  if (version->substr(0, version->find('.')) != "1")
    return make_error(
        "unsupported lock-version " + *version + " in " + filename + "; this lavabuild reads 1.x",
        "upgrade lavabuild, or regenerate the lock with this version");
  LB_ASSIGN(lock.created_by, opt_string(doc, "created-by", w));
  LB_ASSIGN(lock.requires_python, opt_string(doc, "requires-python", w));
  if (const toml::node* envs = doc.get("environments")) {
    const toml::array* arr = envs->as_array();
    if (!arr) return w.fail("'environments' must be an array of strings");
    for (const auto& e : *arr) {
      auto s = e.value<std::string>();
      if (!s) return w.fail("'environments' must be an array of strings");
      if (auto m = pep::Marker::parse(*s); !m.ok())
        return w.fail("'environments' entry " + quoted(*s) +
                      " is not a valid marker: " + m.error().message);
      lock.environments.push_back(*s);
    }
  }
  if (const toml::node* groups = doc.get("default-groups")) {
    const toml::array* arr = groups->as_array();
    if (!arr) return w.fail("'default-groups' must be an array of strings");
    for (const auto& g : *arr) {
      auto s = g.value<std::string>();
      if (!s) return w.fail("'default-groups' must be an array of strings");
      lock.default_groups.push_back(*s);
    }
  }
  const toml::node* packages = doc.get("packages");
  const toml::array* arr = packages ? packages->as_array() : nullptr;
  if (packages && !arr) return w.fail("'packages' must be an array of tables");
  std::set<std::string> seen;
  for (size_t i = 0; arr && i < arr->size(); ++i) {
    const toml::table* t = (*arr)[i].as_table();
    if (!t) return w.fail("'packages' must be an array of tables");
    LB_ASSIGN(auto p, parse_package(*t, i, filename));
    if (!seen.insert(key_of(p)).second)
      return w.fail("package '" + p.name + "' " + p.version + " is listed twice");
    lock.packages.push_back(std::move(p));
  }
  return lock;
}

bool selected(const Lock& lock, const Package& p, const pep::MarkerEnv& env,
              const std::set<std::string>& extras) {
  if (p.marker.empty()) return true;
  auto m = pep::Marker::parse(p.marker, pep::MarkerSyntax::pylock);
  if (!m.ok()) return true;  // parse_pylock refuses it; a hand-built Lock installs it
  pep::MarkerEnv with_sets = env;
  with_sets.extras = extras;
  with_sets.dependency_groups.insert(lock.default_groups.begin(), lock.default_groups.end());
  return m->evaluate(with_sets);
}

}  // namespace lb::lock
