#include "engine/env_state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_set>

#include "env/bytecode.hpp"
#include "env/record.hpp"
#include "graph/graph.hpp"
#include "pep/name.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::engine {

namespace {

using json = nlohmann::json;

char kind_of(const env::FileEntry& f) {
  if (f.mode == env::kModeSymlink) return 'l';
  if (f.per_env) return 'p';
  return f.mode == env::kModeExec ? 'x' : 'r';
}

/// "" when the file (stat `st`) is as listed; else what happened to it.
std::string file_problem(const fs::FileInfo& st, const std::string& rel, char kind, uint64_t size,
                         int64_t built_ns) {
  if (!st.exists) return rel + " was deleted";
  if (kind == 'l') return st.is_symlink ? "" : rel + " was replaced";
  if (!st.is_regular) return rel + " was replaced";
  // Stored blobs keep mtime 1 s and the installer's files are older than the stamp: a later
  // mtime is a write since the env was built (through a link, the store's copy changed too).
  if (st.mtime_ns > built_ns) return rel + " was changed";
  if (kind != 'p' && st.size != size) return rel + " has the wrong size";
  return "";
}

bool is_pycache(std::string_view d) {
  return d == "__pycache__" || ends_with(d, "/__pycache__");
}

bool is_shipped_bytecode(const std::string& path) {
  return ends_with(path, ".pyc") && path.find("__pycache__/") != std::string::npos;
}

}  // namespace

std::optional<Stamp> read_stamp(const std::string& env_dir) {
  auto text = fs::read_file(env_dir + "/" + kStampRel);
  if (!text.ok()) return std::nullopt;
  auto lines = split(*text, '\n');
  if (lines.size() < 5 || lines[0] != kStampFormat) return std::nullopt;
  auto packages = json::parse(lines[3], nullptr, false);
  if (!packages.is_array()) return std::nullopt;
  Stamp s{lines[1], lines[2], {}, lines[4]};
  for (const auto& p : packages) {
    if (!p.is_object() || !p.contains("name") || !p.contains("version") || !p["name"].is_string() ||
        !p["version"].is_string())
      return std::nullopt;
    s.packages.push_back({p["name"].get<std::string>(), p["version"].get<std::string>()});
  }
  return s;
}

std::string render_stamp(const Stamp& s) {
  json packages = json::array();
  for (const auto& p : s.packages) packages.push_back({{"name", p.name}, {"version", p.version}});
  return std::string(kStampFormat) + "\n" + s.stamp + "\n" + s.digest + "\n" + packages.dump() +
         "\n" + s.env_path + "\n";
}

std::string render_dir_list(const std::string& dir, const env::Manifest& m) {
  std::set<std::string> dirs{"."};
  auto add_parents = [&](const std::string& path) {
    for (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0;
         slash = path.rfind('/', slash - 1))
      if (!dirs.insert(path.substr(0, slash)).second) break;  // its parents are in already
  };
  for (const auto& f : m.venv_files) add_parents(f.path);
  std::string path;
  for (const auto& d : m.dists)
    env::for_each_path(d, [&](std::string_view p) { add_parents(path.assign(p)); });
  std::string out = std::string(kDirsFormat) + "\n";
  for (const auto& d : dirs) {
    // Python writes into __pycache__ at run time (other optimisation levels, modules
    // lavabuild could not compile): not drift. The compiled pycs are checked by the next run
    // that changes the env, and by `verify`.
    if (is_pycache(d)) continue;
    auto st = fs::stat_path(d == "." ? dir : dir + "/" + d);
    if (st.is_dir) out += std::to_string(st.mtime_ns) + " " + d + "\n";
  }
  return out;
}

Drift check_drift(const std::string& env_dir) {
  auto text = fs::read_file(env_dir + "/" + kDirsRel);
  if (!text.ok() || !starts_with(*text, std::string(kDirsFormat) + "\n"))
    return {"its directory list is missing"};
  std::string_view rest(*text);
  std::string path = env_dir + "/";
  const size_t base = path.size();
  for (size_t pos = rest.find('\n') + 1, eol; pos < rest.size(); pos = eol + 1) {
    eol = rest.find('\n', pos);
    if (eol == std::string_view::npos) eol = rest.size();
    std::string_view line = rest.substr(pos, eol - pos);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return {"its directory list is malformed"};
    std::string_view rel = line.substr(sp + 1);
    path.resize(base);
    if (rel != ".") path.append(rel);
    auto st = fs::stat_path(path);
    if (!st.is_dir || std::to_string(st.mtime_ns) != line.substr(0, sp))
      return {std::string(rel) + (st.is_dir ? " was changed" : " was removed")};
  }
  return {};
}

std::optional<DirList> read_dir_list(const std::string& env_dir) {
  auto text = fs::read_file(env_dir + "/" + kDirsRel);
  if (!text.ok() || !starts_with(*text, std::string(kDirsFormat) + "\n")) return std::nullopt;
  std::string_view rest(*text);
  DirList out;
  for (size_t pos = rest.find('\n') + 1, eol; pos < rest.size(); pos = eol + 1) {
    eol = rest.find('\n', pos);
    if (eol == std::string_view::npos) eol = rest.size();
    std::string_view line = rest.substr(pos, eol - pos);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size()) return std::nullopt;
    out.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  return out;
}

std::string update_dir_list(const std::string& dir, const DirList& old,
                            const std::vector<std::string>& changed,
                            const std::vector<const std::string*>& paths) {
  std::map<std::string, std::string, std::less<>> dirs;  // rel -> mtime, in the list's order
  for (const auto& [mtime, rel] : old) dirs.emplace(rel, mtime);
  std::set<std::string, std::less<>> again(changed.begin(), changed.end());
  again.insert(".");
  for (const std::string* p : paths) {
    std::string_view path(*p);
    for (auto slash = path.rfind('/'); slash != std::string_view::npos && slash > 0;
         slash = path.rfind('/', slash - 1))
      again.emplace(path.substr(0, slash));
    // A directory at `path` (or below it) was removed whole.
    for (auto it = dirs.lower_bound(path);
         it != dirs.end() && starts_with(it->first, path) &&
         (it->first.size() == path.size() || it->first[path.size()] == '/');
         ++it)
      again.insert(it->first);
  }
  for (const auto& d : again) {
    if (is_pycache(d)) continue;
    auto st = fs::stat_path(d == "." ? dir : dir + "/" + d);
    if (st.is_dir)
      dirs[d] = std::to_string(st.mtime_ns);
    else
      dirs.erase(d);
  }
  std::string out = std::string(kDirsFormat) + "\n";
  for (const auto& [rel, mtime] : dirs) out += mtime + " " + rel + "\n";
  return out;
}

std::vector<std::string> changed_dirs(const std::string& env_dir, const DirList& list) {
  std::vector<std::string> out;
  std::string path = env_dir + "/";
  const size_t base = path.size();
  for (const auto& [mtime, rel] : list) {
    path.resize(base);
    if (rel != ".") path.append(rel);
    auto st = fs::stat_path(path);
    if (!st.is_dir || std::to_string(st.mtime_ns) != mtime) out.push_back(rel);
  }
  return out;
}

namespace {

/// Whether `dist` has a file directly in one of `dirs` (files are sorted by path, so the
/// files of one directory come together: one lookup per run of them).
bool owns_file_in(const env::InstalledDist& dist,
                  const std::unordered_set<std::string_view>& dirs) {
  std::string last;
  bool have_last = false, found = false;
  env::for_each_path(dist, [&](std::string_view path) {
    if (found) return;
    auto slash = path.rfind('/');
    std::string_view dir = slash == std::string_view::npos ? "." : path.substr(0, slash);
    if (have_last && dir == last) return;
    found = dirs.count(dir) > 0;
    last = dir;
    have_last = true;
  });
  return found;
}

/// lstat of the files of one directory after another, relative to a descriptor of their
/// directory (files are sorted by path, so a directory's files come together): the kernel
/// walks one path component per file instead of the whole path.
class DirStat {
 public:
  explicit DirStat(const std::string& root) : root_(root) {}
  ~DirStat() {
    if (fd_ >= 0) ::close(fd_);
  }
  DirStat(const DirStat&) = delete;
  DirStat& operator=(const DirStat&) = delete;

  fs::FileInfo lstat(const std::string& rel) {
    auto slash = rel.rfind('/');
    std::string_view dir(rel.data(), slash == std::string::npos ? 0 : slash);
    if (dir != dir_ || fd_ < 0) {
      if (fd_ >= 0) ::close(fd_);
      dir_ = std::string(dir);
      std::string full = dir_.empty() ? root_ : root_ + "/" + dir_;
      fd_ = ::open(full.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd_ < 0) return fs::stat_path(root_ + "/" + rel);  // says what is wrong on its own
    return fs::stat_at(fd_, rel.c_str() + (slash == std::string::npos ? 0 : slash + 1));
  }

 private:
  std::string root_, dir_;
  int fd_ = -1;
};

}  // namespace

std::string changed_since_built(const env::InstalledDist& dist, const std::string& env_dir,
                                int64_t built_ns) {
  DirStat stat(env_dir);
  std::string problem;
  env::for_each_file(dist, [&](const env::FileEntry& f) {
    if (!problem.empty()) return;
    // Python may rewrite a shipped pyc of another cache tag than the one lavabuild compiled
    // for; those of that tag are lavabuild's (checked-hash: Python never rewrites them).
    if (is_shipped_bytecode(f.path) && env::pyc_source(f.path, dist.bytecode_tag).empty()) return;
    problem = file_problem(stat.lstat(f.path), f.path, kind_of(f), f.size, built_ns);
  });
  return problem;
}

std::vector<std::string> drift_of_dists(const std::vector<env::InstalledDist>& dists,
                                        const std::string& env_dir, int64_t built_ns,
                                        const std::optional<std::vector<std::string>>& changed,
                                        int jobs) {
  std::vector<std::string> out(dists.size());
  if (changed && changed->empty()) return out;
  std::unordered_set<std::string_view> dirs;
  if (changed) dirs.insert(changed->begin(), changed->end());
  (void)graph::parallel_for(dists.size(), jobs, [&](size_t k) -> Status {
    if (changed && !owns_file_in(dists[k], dirs)) return {};
    out[k] = changed_since_built(dists[k], env_dir, built_ns);
    return {};
  });
  return out;
}

std::vector<env::InstalledDist> foreign_dists(const std::string& env_dir,
                                              const std::string& site_packages_rel,
                                              const std::vector<std::string>& known) {
  std::set<std::string> known_set(known.begin(), known.end());
  std::vector<env::InstalledDist> out;
  auto names = fs::list_dir(env_dir + "/" + site_packages_rel);
  if (!names.ok()) return out;
  for (const auto& n : *names) {
    if (!ends_with(n, ".dist-info")) continue;
    std::string rel = site_packages_rel + "/" + n;
    if (known_set.count(rel)) continue;
    env::InstalledDist d;
    d.dist_info_rel = rel;
    std::string stem = n.substr(0, n.size() - 10);
    auto dash = stem.find('-');
    d.name = stem.substr(0, dash);
    d.version = dash == std::string::npos ? "" : stem.substr(dash + 1);
    std::set<std::string> paths;
    if (auto record = fs::read_file(env_dir + "/" + rel + "/RECORD"); record.ok())
      for (const auto& row : env::parse_record(*record)) {
        // RECORD paths are relative to site-packages; one that leaves the env is ignored.
        std::string p = env::normalize_rel(site_packages_rel + "/" + row.path);
        if (!p.empty() && !starts_with(p, ".lavabuild/") && p != ".lavabuild") paths.insert(p);
      }
    if (auto files = fs::list_dir(env_dir + "/" + rel); files.ok())
      for (const auto& f : *files) paths.insert(rel + "/" + f);
    for (const auto& p : paths) {
      env::FileEntry f;
      f.path = p;
      d.files.push_back(std::move(f));
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<ForeignVenv> inspect_foreign_venv(const std::string& dir,
                                         const interp::Interpreter& python) {
  auto cfg = fs::read_file(dir + "/pyvenv.cfg");
  if (!cfg.ok()) return make_error("cannot read " + dir + "/pyvenv.cfg");
  ForeignVenv v{"python -m venv", ""};
  for (const auto& raw : split(*cfg, '\n')) {
    auto eq = raw.find('=');
    if (eq == std::string::npos) continue;
    std::string key(trim(raw.substr(0, eq))), value(trim(raw.substr(eq + 1)));
    if (key == "uv") v.creator = "uv";
    if (key == "virtualenv") v.creator = "virtualenv";
    if (key == "version" || key == "version_info") v.version = value;
  }
  std::string want = std::to_string(python.major) + "." + std::to_string(python.minor);
  if (v.version != want && !starts_with(v.version, want + "."))
    return make_error(dir + " is a venv for Python " + (v.version.empty() ? "?" : v.version) +
                          " (its pyvenv.cfg says so), not " + python.version + " (" +
                          python.executable + ")",
                      "pass --python for that version, or remove " + dir);
  return v;
}

}  // namespace lb::engine
