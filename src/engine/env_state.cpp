#include "engine/env_state.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "env/bytecode.hpp"
#include "env/record.hpp"
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

/// "" when the file at `path` is as listed; else what happened to it.
std::string file_problem(const std::string& path, const std::string& rel, char kind, uint64_t size,
                         int64_t built_ns) {
  auto st = fs::stat_path(path);
  if (!st.exists) return rel + " was deleted";
  if (kind == 'l') return st.is_symlink ? "" : rel + " was replaced";
  if (!st.is_regular) return rel + " was replaced";
  // Stored blobs keep mtime 1 s and the installer's files are older than the stamp: a later
  // mtime is a write since the env was built (through a link, the store's copy changed too).
  if (st.mtime_ns > built_ns) return rel + " was changed";
  if (kind != 'p' && st.size != size) return rel + " has the wrong size";
  return "";
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

std::string render_file_list(const env::Manifest& m, const std::string& site_packages_rel) {
  std::string out = std::string(kFilesFormat) + "\n" + site_packages_rel + "\n";
  auto files = [&](const env::InstalledDist& d) {
    for (const auto& f : d.files) {
      // Bytecode a wheel shipped is Python's to rewrite or remove; what lavabuild compiled
      // beside a listed source is checked like the source.
      if (is_shipped_bytecode(f.path) && !env::is_compiled_pyc(d, f.path)) continue;
      out += "F ";
      out += kind_of(f);
      out += " " + std::to_string(f.size) + " " + f.path + "\n";
    }
  };
  out += "D - -\n";
  env::InstalledDist venv;
  venv.files = m.venv_files;
  files(venv);
  for (const auto& d : m.dists) {
    out += "D " + pep::normalize_name(d.name) + " " + d.dist_info_rel + "\n";
    files(d);
  }
  return out;
}

std::string Drift::describe() const {
  std::vector<std::string> parts = damaged;
  for (const auto& f : foreign) parts.push_back(f + " was added");
  if (venv_damaged) parts.push_back("the venv's own files were changed");
  if (unknown) parts.push_back("its file list is missing");
  return join(parts, "; ");
}

Drift check_drift(const std::string& env_dir, int64_t built_ns) {
  Drift drift;
  auto text = fs::read_file(env_dir + "/" + kFilesRel);
  if (!text.ok() || !starts_with(*text, std::string(kFilesFormat) + "\n")) {
    drift.unknown = true;
    return drift;
  }
  std::string_view rest(*text);
  size_t pos = rest.find('\n') + 1;
  size_t eol = rest.find('\n', pos);
  if (eol == std::string_view::npos) {
    drift.unknown = true;
    return drift;
  }
  std::string site_packages(rest.substr(pos, eol - pos));
  std::set<std::string> dist_infos;
  std::string current;  // the distribution whose files follow; "-": the venv's
  bool current_damaged = false;
  std::string path = env_dir + "/";
  const size_t base = path.size();
  for (pos = eol + 1; pos < rest.size(); pos = eol + 1) {
    eol = rest.find('\n', pos);
    if (eol == std::string_view::npos) eol = rest.size();
    std::string_view line = rest.substr(pos, eol - pos);
    if (line.size() < 4) continue;
    if (line[0] == 'D') {
      auto sp = line.find(' ', 2);
      current = std::string(line.substr(2, sp - 2));
      current_damaged = false;
      if (current != "-") dist_infos.insert(fs::basename(std::string(line.substr(sp + 1))));
      continue;
    }
    if (current_damaged) continue;  // one reason per distribution is enough
    char kind = line[2];
    auto sp = line.find(' ', 4);
    if (sp == std::string_view::npos) continue;
    uint64_t size = std::strtoull(std::string(line.substr(4, sp - 4)).c_str(), nullptr, 10);
    std::string_view rel = line.substr(sp + 1);
    path.resize(base);
    path.append(rel);
    std::string problem = file_problem(path, std::string(rel), kind, size, built_ns);
    if (problem.empty()) continue;
    current_damaged = true;
    if (current == "-")
      drift.venv_damaged = true;
    else
      drift.damaged.push_back(current + " (" + problem + ")");
  }
  auto names = fs::list_dir(env_dir + "/" + site_packages);
  if (names.ok())
    for (const auto& n : *names)
      if (ends_with(n, ".dist-info") && !dist_infos.count(n)) drift.foreign.push_back(n);
  return drift;
}

std::string changed_since_built(const env::InstalledDist& dist, const std::string& env_dir,
                                int64_t built_ns) {
  for (const auto& f : dist.files) {
    if (is_shipped_bytecode(f.path) && !env::is_compiled_pyc(dist, f.path)) continue;
    std::string problem =
        file_problem(env_dir + "/" + f.path, f.path, kind_of(f), f.size, built_ns);
    if (!problem.empty()) return problem;
  }
  return "";
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
