// Reading and validating pylock.toml with toml++ (kept private to this file).
#include <algorithm>
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

bool is_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && is_hex(s);
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

/// `size`: absent (nullopt), or a non-negative TOML integer. The node's type is checked before
/// converting: toml++'s conversion of a float (or an out-of-range value) is not checked.
Result<std::optional<uint64_t>> opt_size(const toml::table& t, const std::string& what,
                                         const Where& w) {
  const toml::node* size = t.get("size");
  if (!size) return std::optional<uint64_t>();
  if (!size->is_integer())
    return w.fail(what + ": 'size' must be a whole number of bytes, not a " +
                  std::string(size->is_floating_point() ? "float" : "non-integer"));
  int64_t bytes = size->as_integer()->get();
  if (bytes < 0) return w.fail(what + ": 'size' " + std::to_string(bytes) + " is negative");
  return std::optional<uint64_t>(static_cast<uint64_t>(bytes));
}

/// `upload-time`: absent (""), or a TOML datetime written back in toml++'s RFC 3339 form.
Result<std::string> opt_upload_time(const toml::table& t, const std::string& what, const Where& w) {
  const toml::node* up = t.get("upload-time");
  if (!up) return std::string();
  const auto* dt = up->as_date_time();
  if (!dt) return w.fail(what + ": upload-time must be a TOML datetime");
  std::ostringstream os;
  os << *dt;
  return os.str();
}

/// `hashes.sha256`, required, lower-cased.
Result<std::string> sha256_of(const toml::table& t, const std::string& what, const Where& w) {
  const toml::table* hashes = t["hashes"].as_table();
  auto sha = hashes ? (*hashes)["sha256"].value<std::string>() : std::nullopt;
  if (!sha || !is_hex64(*sha)) return w.fail(what + " has no valid hashes.sha256 (64 hex digits)");
  return to_lower(*sha);
}

/// `url` and `path` (relative to the lock file, or absolute); at least one.
Status url_or_path(const toml::table& t, const std::string& what, const Where& w, std::string& url,
                   std::string& path) {
  LB_ASSIGN(url, opt_string(t, "url", w));
  LB_ASSIGN(path, opt_string(t, "path", w));
  if (url.empty() && path.empty()) return w.fail(what + " has neither url nor path");
  if (has_control(url) || has_control(path))
    return w.fail(what + ": url and path must not contain control characters");
  return {};
}

/// `subdirectory`: optional, relative to the source tree's root and inside it.
Result<std::string> opt_subdirectory(const toml::table& t, const std::string& what,
                                     const Where& w) {
  LB_ASSIGN(auto sub, opt_string(t, "subdirectory", w));
  bool escapes = starts_with(sub, "/") || sub.find('\\') != std::string::npos || has_control(sub);
  for (const auto& part : split(sub, '/')) escapes = escapes || part == "..";
  if (escapes)
    return w.fail(what + ": subdirectory " + quoted(sub) +
                  " must be a relative path inside the source tree ('/' separators, no '..')");
  return sub;
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
  LB_ASSIGN(auto size, opt_size(t, what, w));
  if (!size) return w.fail(what + " has no size");
  f.size = *size;
  LB_ASSIGN(f.upload_time, opt_upload_time(t, what, w));
  LB_ASSIGN(f.sha256, sha256_of(t, what, w));
  return f;
}

/// PEP 610's registered VCS names (the values `packages.vcs.type` may take).
bool is_registered_vcs(const std::string& type) {
  return type == "git" || type == "hg" || type == "bzr" || type == "svn";
}

/// ASCII space or a control character: never inside a URL or a revision.
bool is_blank(char c) {
  return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
}

/// A VCS URL reaches a VCS client's command line: it must be `scheme:rest` (RFC 3986; so it
/// cannot start with '-'), without blanks, and not git's `transport::address` remote-helper
/// form (`ext::` runs a command).
bool is_safe_vcs_url(const std::string& url) {
  size_t colon = url.find(':');
  if (colon == 0 || colon == std::string::npos || !std::isalpha(static_cast<unsigned char>(url[0])))
    return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = url[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
      return false;
  }
  return url.compare(colon, 2, "::") != 0 && std::none_of(url.begin(), url.end(), is_blank);
}

Result<VcsRef> parse_vcs(const toml::table& t, const Where& w) {
  VcsRef v;
  LB_ASSIGN(v.type, opt_string(t, "type", w));
  if (v.type.empty()) return w.fail("vcs has no type (git, hg, bzr or svn)");
  if (!is_registered_vcs(v.type))
    return w.fail("vcs type " + quoted(v.type) + " is not one of git, hg, bzr or svn");
  std::string what = v.type;
  LB_TRY(url_or_path(t, what, w, v.url, v.path));
  if (!v.url.empty() && !v.path.empty())
    return w.fail(what + " has both url and path; a vcs source is one repository");
  if (!v.url.empty() && !is_safe_vcs_url(v.url))
    return w.fail(what + " url " + quoted(v.url) +
                  " is not a URL (scheme://...; no spaces, no git 'transport::' form)");
  LB_ASSIGN(v.requested_revision, opt_string(t, "requested-revision", w));
  LB_ASSIGN(v.commit_id, opt_string(t, "commit-id", w));
  if (v.commit_id.empty()) return w.fail(what + " has no commit-id (the revision to check out)");
  if (v.type == "git") {
    if (!is_hex(v.commit_id) || (v.commit_id.size() != 40 && v.commit_id.size() != 64))
      return w.fail("git commit-id " + quoted(v.commit_id) +
                    " is not a full commit hash (40 or 64 hex digits)");
    v.commit_id = to_lower(v.commit_id);
  } else if (v.commit_id.front() == '-' ||
             std::any_of(v.commit_id.begin(), v.commit_id.end(), is_blank)) {
    return w.fail(what + " commit-id " + quoted(v.commit_id) +
                  " must not start with '-' or contain spaces or control characters");
  }
  LB_ASSIGN(v.subdirectory, opt_subdirectory(t, what, w));
  return v;
}

Result<DirectoryRef> parse_directory(const toml::table& t, const Where& w) {
  DirectoryRef d;
  LB_ASSIGN(d.path, opt_string(t, "path", w));
  if (d.path.empty()) return w.fail("directory has no path");
  if (has_control(d.path)) return w.fail("directory path must not contain control characters");
  if (const toml::node* e = t.get("editable")) {
    if (!e->is_boolean()) return w.fail("directory 'editable' must be true or false");
    d.editable = e->as_boolean()->get();
  }
  LB_ASSIGN(d.subdirectory, opt_subdirectory(t, "directory", w));
  return d;
}

Result<ArchiveRef> parse_archive(const toml::table& t, const Where& w) {
  ArchiveRef a;
  const std::string what = "archive";
  LB_TRY(url_or_path(t, what, w, a.url, a.path));
  LB_ASSIGN(auto size, opt_size(t, what, w));
  a.size = size.value_or(0);
  LB_ASSIGN(a.upload_time, opt_upload_time(t, what, w));
  LB_ASSIGN(a.sha256, sha256_of(t, what, w));
  LB_ASSIGN(a.subdirectory, opt_subdirectory(t, what, w));
  return a;
}

/// The `[packages.NAME]` table, or an error when NAME is there but not a table.
Result<const toml::table*> opt_table(const toml::table& t, const char* name, const Where& w) {
  const toml::node* n = t.get(name);
  if (!n) return static_cast<const toml::table*>(nullptr);
  if (!n->is_table()) return w.fail(std::string("'") + name + "' must be a table");
  return n->as_table();
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
  if (!p.version.empty()) w.package += " " + p.version;
  // PEP 751: exactly one source, where sdist and wheels together are one.
  std::vector<std::string> keys;
  for (const char* key : {"vcs", "directory", "archive", "sdist", "wheels"})
    if (t.contains(key)) keys.push_back(key);
  const bool from_index = t.contains("sdist") || t.contains("wheels");
  const size_t sources = keys.size() - (t.contains("sdist") && t.contains("wheels") ? 1 : 0);
  if (sources == 0) return w.fail("has no source (vcs, directory, archive, sdist or wheels)");
  if (sources > 1)
    return w.fail("has more than one source ('" + join(keys, "', '") +
                  "'); a package comes from exactly one");
  // The version may be left out of a source tree, whose version can change (PEP 751); an
  // sdist or wheel has one, and each wheel's file name is checked against it.
  if (from_index && p.version.empty()) return w.fail("has no version");
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
  LB_ASSIGN(const toml::table* vcs, opt_table(t, "vcs", w));
  if (vcs) {
    LB_ASSIGN(p.vcs, parse_vcs(*vcs, w));
  }
  LB_ASSIGN(const toml::table* directory, opt_table(t, "directory", w));
  if (directory) {
    LB_ASSIGN(p.directory, parse_directory(*directory, w));
  }
  LB_ASSIGN(const toml::table* archive, opt_table(t, "archive", w));
  if (archive) {
    LB_ASSIGN(p.archive, parse_archive(*archive, w));
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
  LB_ASSIGN(const toml::table* sdist, opt_table(t, "sdist", w));
  if (sdist) {
    LB_ASSIGN(p.sdist, parse_file(*sdist, "sdist", w));
  }
  if (from_index && p.wheels.empty() && !p.sdist) return w.fail("has no wheels and no sdist");
  return p;
}

/// Two entries for one package: the same name and version, or (for a source without a
/// version) the same name and source.
std::string key_of(const Package& p) {
  if (p.version.empty()) return pep::normalize_name(p.name) + " @ " + describe_source(p);
  auto v = pep::Version::parse(p.version);
  return pep::normalize_name(p.name) + "==" + (v.ok() ? v->to_string() : p.version);
}

}  // namespace

Result<Lock> parse_pylock(std::string_view text, const std::string& filename) {
  if (size_t line = toml_deep_key_line(text, kMaxTomlKeyParts))
    return make_error(filename + ":" + std::to_string(line) +
                          ": a dotted key or table name with more than " +
                          std::to_string(kMaxTomlKeyParts) + " parts",
                      "this is a fixed limit (docs/LIMITS.md)");
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
      return w.fail("package '" + p.name + "' " +
                    (p.version.empty() ? "(" + describe_source(p) + ")" : p.version) +
                    " is listed twice");
    lock.packages.push_back(std::move(p));
  }
  return lock;
}

std::string describe_source(const Package& p) {
  auto with_sub = [](std::string what, const std::string& sub) {
    return sub.empty() ? what : what + "#subdirectory=" + sub;
  };
  if (p.vcs)
    return with_sub(p.vcs->type + " " + (p.vcs->url.empty() ? p.vcs->path : p.vcs->url) + "@" +
                        p.vcs->commit_id,
                    p.vcs->subdirectory);
  if (p.directory) return with_sub("directory " + p.directory->path, p.directory->subdirectory);
  if (p.archive)
    return with_sub("archive " + (p.archive->url.empty() ? p.archive->path : p.archive->url),
                    p.archive->subdirectory);
  return "index";
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
