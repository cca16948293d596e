#include "engine/provider.hpp"

#include <algorithm>
#include <thread>

#include "graph/graph.hpp"
#include "pep/name.hpp"
#include "pep/specifier.hpp"
#include "pep/tags.hpp"
#include "util/strings.hpp"
#include "wheel/metadata.hpp"

namespace lb::engine {

void IndexProvider::add_direct(DirectDist d) {
  std::string name = d.name;
  direct_[name] = std::move(d);
}

const DirectDist* IndexProvider::direct(const std::string& name) const {
  auto it = direct_.find(name);
  return it == direct_.end() ? nullptr : &it->second;
}

std::map<std::string, std::string> IndexProvider::fetched_during_resolution() const {
  std::lock_guard lock(mutex_);
  return fetched_;
}

Result<std::vector<IndexProvider::Candidate>*> IndexProvider::candidates(const std::string& name) {
  {
    std::lock_guard lock(mutex_);
    auto it = candidates_.find(name);
    if (it != candidates_.end()) return &it->second;
  }
  std::vector<Candidate> out;
  if (name == kPythonPackage) {
    // The interpreter as a package: Requires-Python from metadata becomes a dependency on it.
    auto v = pep::Version::parse(python_full_version());
    if (v.ok()) out.push_back(Candidate{*v, false, {}});
  } else if (auto d = direct(name)) {
    Candidate c{d->version, false, {{0, d->file}}};
    out.push_back(std::move(c));
  } else {
    LB_ASSIGN(auto files, ctx_.index->project_files(name));
    auto py_version = pep::Version::parse(python_full_version());
    std::set<std::string> allowed;
    if (auto h = hashes_.find(name); h != hashes_.end()) allowed = h->second;
    size_t sdists = 0, incompatible = 0, wrong_python = 0;
    std::map<pep::Version, size_t> slot;  // version -> index in `out`: linear in the files
    std::set<std::string> other_platforms;
    for (auto& f : files) {
      if (!ends_with(f.filename, ".whl")) {
        ++sdists;
        continue;
      }
      auto wf = pep::WheelFilename::parse(f.filename);
      if (!wf.ok() || pep::normalize_name(wf->name) != name) continue;
      auto rank = ctx_.tags_rank(wf->tags);
      if (!rank) {
        ++incompatible;
        for (const auto& t : wf->tags) other_platforms.insert(t.to_string());
        continue;
      }
      if (!f.requires_python.empty() && py_version.ok()) {
        auto spec = pep::SpecifierSet::parse(f.requires_python);
        if (spec.ok() && !spec->contains(*py_version, true)) {
          ++wrong_python;
          continue;
        }
      }
      bool sha256_pins = std::any_of(allowed.begin(), allowed.end(), [](const std::string& h) {
        return starts_with(h, "sha256:");
      });
      if (sha256_pins && !f.sha256.empty() && !allowed.count("sha256:" + f.sha256)) continue;
      auto v = pep::Version::parse(wf->version);
      if (!v.ok()) continue;
      auto [at, fresh] = slot.emplace(*v, out.size());
      if (fresh) out.push_back(Candidate{*v, true, {}});
      auto it = out.begin() + std::ptrdiff_t(at->second);
      if (!f.yanked) it->yanked = false;
      it->files.emplace_back(*rank, std::move(f));  // handed over by project_files
    }
    for (auto& c : out)
      std::stable_sort(c.files.begin(), c.files.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    // No usable version is not an error here: the resolver explains the conflict (and may
    // find a solution without this package); the note says why when it cannot.
    if (out.empty() && files.empty()) {
      std::lock_guard lock(mutex_);
      notes_.emplace(name, make_error("no distribution named '" + name +
                                          "' was found on the indexes or find-links",
                                      "check the name, -i/--index-url and -f/--find-links"));
    } else if (out.empty()) {
      std::string tags;
      for (size_t i = 0; i < ctx_.python.tags.size() && i < 3; ++i)
        tags += (i ? ", " : "") + ctx_.python.tags[i].to_string();
      std::vector<std::string> others(other_platforms.begin(), other_platforms.end());
      if (others.size() > 6) others.resize(6);
      std::string msg = "no compatible wheel for '" + name + "' among its " +
                        std::to_string(files.size()) + " files";
      if (incompatible) msg += "; wheels exist only for other tags: " + join(others, ", ");
      if (wrong_python) msg += "; " + std::to_string(wrong_python) + " need another Python";
      if (sdists)
        msg += "; " + std::to_string(sdists) +
               " source archives (building from source is not supported yet)";
      std::lock_guard lock(mutex_);
      notes_.emplace(name, make_error(msg, "looked for tags " + tags + ", ... (" +
                                               std::to_string(ctx_.python.tags.size()) +
                                               " in all) and Python " + python_full_version()));
    }
  }
  std::lock_guard lock(mutex_);
  auto [it, inserted] = candidates_.emplace(name, std::move(out));
  return &it->second;
}

Result<std::vector<std::pair<pep::Version, bool>>> IndexProvider::versions(
    const std::string& name) {
  LB_ASSIGN(auto* cands, candidates(name));
  std::vector<std::pair<pep::Version, bool>> out;
  for (const auto& c : *cands) out.emplace_back(c.version, c.yanked);
  return out;
}

std::string IndexProvider::yanked_reason(const std::string& name, const pep::Version& version) {
  auto cands = candidates(name);
  if (!cands.ok()) return {};
  for (const auto& c : **cands)
    if (c.version == version)
      for (const auto& [rank, f] : c.files)
        if (f.yanked && !f.yanked_reason.empty()) return f.yanked_reason;
  return {};
}

Result<net::IndexFile> IndexProvider::best_file(const std::string& name,
                                                const pep::Version& version) {
  LB_ASSIGN(auto* cands, candidates(name));
  for (const auto& c : *cands)
    if (c.version == version && !c.files.empty()) {
      // Prefer a file that is not yanked.
      for (const auto& [rank, f] : c.files)
        if (!f.yanked) return f;
      return c.files.front().second;
    }
  return make_error("no file for " + name + "==" + version.to_string());
}

Result<std::vector<pep::Requirement>> IndexProvider::dependencies(const std::string& name,
                                                                  const pep::Version& version) {
  std::string key = name + "==" + version.to_string();
  {
    std::lock_guard lock(mutex_);
    auto it = deps_.find(key);
    if (it != deps_.end()) return it->second;
  }
  LB_ASSIGN(auto file, best_file(name, version));
  bool fetched = false;
  LB_ASSIGN(std::string text, fetcher_.metadata(file, fetched));
  auto meta = wheel::parse_core_metadata(text);
  if (!meta.ok()) return meta.error().context(file.filename + " METADATA");
  std::vector<pep::Requirement> reqs;
  if (!meta->requires_python.empty()) {
    // Requires-Python from METADATA (find-links have no data-requires-python): a dependency
    // on the interpreter, so the resolver backtracks past versions that cannot run here.
    auto spec = pep::SpecifierSet::parse(meta->requires_python);
    auto py = pep::Version::parse(python_full_version());
    if (spec.ok() && py.ok() && !spec->contains(*py, true)) {
      pep::Requirement r;
      r.name = kPythonPackage;
      r.specifier = *spec;
      reqs.push_back(std::move(r));
    }
  }
  for (const auto& line : meta->requires_dist) {
    auto r = pep::Requirement::parse(line);
    if (!r.ok())
      return make_error(file.filename + ": bad Requires-Dist '" + line + "': " + r.error().message,
                        "the package's metadata is malformed; pin another version");
    reqs.push_back(std::move(*r));
  }
  std::lock_guard lock(mutex_);
  if (fetched) fetched_.emplace(file.url, name);
  deps_[key] = reqs;
  return reqs;
}

std::string IndexProvider::notes_for(const std::string& message) const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, err] : notes_)
    if (message.find(name) != std::string::npos)
      out += "\n  note: " + err.message + (err.hint.empty() ? "" : " (" + err.hint + ")");
  return out;
}

std::string IndexProvider::python_full_version() const {
  auto it = ctx_.python.markers.values.find("python_full_version");
  return it != ctx_.python.markers.values.end() ? it->second : ctx_.python.version;
}

void IndexProvider::prefetch(const std::vector<std::pair<std::string, pep::Version>>& items) {
  // Fetch metadata of several candidates at once; results land in deps_.
  std::vector<std::pair<std::string, pep::Version>> pending;
  {
    std::lock_guard lock(mutex_);
    for (const auto& it : items)
      if (!deps_.count(it.first + "==" + it.second.to_string())) pending.push_back(it);
  }
  if (pending.size() < 2) return;
  // Network-bound: up to 8 at once whatever -j says.
  (void)graph::parallel_for(pending.size(), 8, [&](size_t i) -> Status {
    (void)dependencies(pending[i].first, pending[i].second);
    return {};
  });
}

}  // namespace lb::engine
