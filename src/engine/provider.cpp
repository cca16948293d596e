#include "engine/provider.hpp"

#include <algorithm>
#include <thread>

#include "graph/graph.hpp"
#include "net/url.hpp"
#include "pep/name.hpp"
#include "pep/specifier.hpp"
#include "pep/tags.hpp"
#include "util/fs.hpp"
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
    ctx_.out->resolving("fetching index page of " + name);
    LB_ASSIGN(auto files, ctx_.index->project_files(name));
    auto py_version = pep::Version::parse(python_full_version());
    std::set<std::string> allowed;
    if (auto h = hashes_.find(name); h != hashes_.end()) allowed = h->second;
    bool sha256_pins = std::any_of(allowed.begin(), allowed.end(),
                                   [](const std::string& h) { return starts_with(h, "sha256:"); });
    Diagnosis diag;
    diag.files = files.size();
    std::map<pep::Version, size_t> slot;  // version -> index in `out`: linear in the files
    // Files whose index hash matches no --hash pin, by version: kept for a version that has no
    // other file, so that its download fails with "hash mismatch" naming expected and got.
    std::map<pep::Version, std::vector<std::pair<size_t, net::IndexFile>>> unpinned;
    const bool sources = ctx_.source_allowed(name), binaries = ctx_.binary_allowed(name);
    for (auto& f : files) {
      std::string file_version;
      std::optional<size_t> rank;
      if (!ends_with(f.filename, ".whl")) {
        auto sd = pep::SdistFilename::parse(f.filename);
        if (!sd.ok() || pep::normalize_name(sd->name) != name) continue;
        if (!sources) {
          diag.excluded.push_back({Excluded::Why::sdist, sd->version, f.filename});
          continue;
        }
        file_version = sd->version;
        rank = kSdistRank;  // after every wheel of the same version
      } else {
        auto wf = pep::WheelFilename::parse(f.filename);
        if (!wf.ok() || pep::normalize_name(wf->name) != name) continue;
        if (!binaries) {
          diag.excluded.push_back({Excluded::Why::no_binary, wf->version, f.filename});
          continue;
        }
        rank = ctx_.tags_rank(wf->tags);
        if (!rank) {
          for (const auto& t : wf->tags)
            diag.excluded.push_back({Excluded::Why::tags, wf->version, t.to_string()});
          continue;
        }
        file_version = wf->version;
      }
      if (!f.requires_python.empty() && py_version.ok()) {
        auto spec = pep::SpecifierSet::parse(f.requires_python);
        if (spec.ok() && !spec->contains(*py_version, true)) {
          diag.excluded.push_back(
              {Excluded::Why::requires_python, file_version, f.requires_python});
          continue;
        }
      }
      auto v = pep::Version::parse(file_version);
      if (!v.ok()) continue;
      if (sha256_pins && !f.sha256.empty() && !allowed.count("sha256:" + f.sha256)) {
        unpinned[*v].emplace_back(*rank, std::move(f));
        continue;
      }
      auto [at, fresh] = slot.emplace(*v, out.size());
      if (fresh) out.push_back(Candidate{*v, true, {}});
      auto it = out.begin() + std::ptrdiff_t(at->second);
      if (!f.yanked) it->yanked = false;
      it->files.emplace_back(*rank, std::move(f));  // handed over by project_files
    }
    for (auto& [v, fs] : unpinned)
      if (!slot.count(v)) {
        Candidate c{v, std::none_of(fs.begin(), fs.end(), [](auto& f) { return !f.second.yanked; }),
                    std::move(fs)};
        out.push_back(std::move(c));
      }
    for (auto& c : out)
      std::stable_sort(c.files.begin(), c.files.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    // No usable version is not an error here: the resolver explains the conflict (and may
    // find a solution without this package); unavailable() and notes_for() say why.
    std::lock_guard lock(mutex_);
    diagnoses_[name] = std::move(diag);
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

Result<std::shared_ptr<SourceBuild>> IndexProvider::source_of(const std::string& name,
                                                              const pep::Version& version) {
  if (auto d = direct(name); d && d->source) return d->source;
  LB_ASSIGN(auto file, best_file(name, version));
  if (ends_with(file.filename, ".whl") || !builder_) return std::shared_ptr<SourceBuild>();
  SourceRef ref;
  ref.kind = SourceRef::Kind::archive;
  ref.archive = file;
  ref.location = file.url;
  ref.name = name;
  ref.config_settings = ctx_.opt.config_settings;
  ref.origin = name + " " + version.to_string() + " (" + file.filename + ")";
  if (auto h = hashes_.find(name); h != hashes_.end())  // --hash pins: before it is unpacked
    ref.hashes.assign(h->second.begin(), h->second.end());
  return builder_->prepare(ref);
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
  ctx_.out->resolving("reading metadata of " + name + " " + version.to_string());
  std::string text;
  if (auto d = direct(name); d && !d->metadata.empty()) {
    text = d->metadata;
  } else if (!ends_with(file.filename, ".whl")) {
    LB_ASSIGN(auto src, source_of(name, version));
    LB_ASSIGN(text, builder_->metadata(*src));
  } else {
    LB_ASSIGN(text, fetcher_.metadata(file, fetched));
  }
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
  provided_extras_[key] = meta->provides_extra;
  return reqs;
}

Result<std::vector<pep::Requirement>> IndexProvider::seed_requirements(
    const std::set<std::string>& already) {
  std::vector<std::string> names = ctx_.python.seed_packages;
  if (names.empty()) {  // an interpreter probed without ensurepip's answer
    names = {"pip"};
    if (ctx_.python.major == 3 && ctx_.python.minor < 12) names.push_back("setuptools");
  }
  std::vector<pep::Requirement> out;
  for (const auto& name : names) {
    if (already.count(name)) continue;
    auto cands = candidates(name);
    bool on_index = cands.ok() && !(*cands)->empty();
    if (!on_index) {
      // ensurepip's wheel, newest first; the index's error stands when there is none.
      const std::string* best = nullptr;
      std::optional<pep::Version> best_version;
      for (const auto& path : ctx_.python.bundled_wheels) {
        auto wf = pep::WheelFilename::parse(fs::basename(path));
        if (!wf.ok() || pep::normalize_name(wf->name) != name || !ctx_.tags_rank(wf->tags))
          continue;
        auto v = pep::Version::parse(wf->version);
        if (v.ok() && (!best_version || *best_version < *v)) best = &path, best_version = *v;
      }
      if (best) {
        DirectDist d;
        d.name = name;
        d.version = *best_version;
        d.file.filename = fs::basename(*best);
        d.file.url = net::path_to_file_url(*best);
        d.file.origin = fs::dirname(*best);
        add_direct(std::move(d));
        std::lock_guard lock(mutex_);
        candidates_.erase(name);  // asked above: now the direct file answers
      } else if (!cands.ok()) {
        return cands.error().context("--seed " + name);
      } else {
        return make_error(
            "--seed: " + name + " is not on " + asked(name) + " and the interpreter (" +
                ctx_.python.executable + ") has no bundled wheel of it",
            "add an index or -f/--find-links that has " + name + ", or leave out --seed");
      }
    }
    auto r = pep::Requirement::parse(name);
    if (!r.ok()) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

std::string IndexProvider::asked(const std::string& name) const {
  auto where = ctx_.index->locations(name);
  return where.empty() ? std::string("no index or find-links (--no-index without -f)")
                       : join(where, ", ");
}

namespace {
/// How close a tag the interpreter does not take is to those it takes: same platform first
/// (another Python is one --python away), then same interpreter, then same ABI.
int closeness(const pep::Tag& t, const std::vector<pep::Tag>& ours) {
  bool platform = false, interpreter = false, abi = false;
  for (const auto& o : ours) {
    platform = platform || o.platform == t.platform;
    interpreter = interpreter || o.interpreter == t.interpreter;
    abi = abi || o.abi == t.abi;
  }
  return (platform ? 4 : 0) + (interpreter ? 2 : 0) + (abi ? 1 : 0);
}
}  // namespace

std::string IndexProvider::why_unusable(const std::string& name, const pep::SpecifierSet* spec,
                                        std::string& hint) const {
  auto d = diagnoses_.find(name);
  if (d == diagnoses_.end()) return "";
  // Per version, newest first: what each kind of file offers and why it cannot be used.
  struct Why {
    std::set<std::string> requires_python, tags;
    bool sdist = false, no_binary = false;
  };
  std::map<pep::Version, Why, std::greater<>> by_version;
  bool any_tags = false, any_python = false, any_sdist = false, any_no_binary = false;
  for (const auto& e : d->second.excluded) {
    auto v = pep::Version::parse(e.version);
    if (!v.ok() || (spec && !spec->contains(*v, true))) continue;
    Why& w = by_version[*v];
    switch (e.why) {
      case Excluded::Why::requires_python:
        w.requires_python.insert(e.detail), any_python = true;
        break;
      case Excluded::Why::tags:
        w.tags.insert(e.detail), any_tags = true;
        break;
      case Excluded::Why::sdist:
        w.sdist = any_sdist = true;
        break;
      case Excluded::Why::no_binary:
        w.no_binary = any_no_binary = true;
        break;
    }
  }
  if (by_version.empty()) return "";
  const auto& ours = ctx_.python.tags;
  std::string out;
  size_t shown = 0;
  for (const auto& [v, w] : by_version) {
    if (++shown > 5) {
      out += "\n  ... and " + std::to_string(by_version.size() - 5) + " older releases";
      break;
    }
    std::vector<std::string> why;
    if (!w.requires_python.empty())
      why.push_back("requires Python " +
                    join({w.requires_python.begin(), w.requires_python.end()}, " or "));
    if (!w.tags.empty()) {
      std::vector<pep::Tag> tags;
      for (const auto& t : w.tags)
        if (auto parts = split(t, '-'); parts.size() == 3)
          tags.push_back({parts[0], parts[1], parts[2]});
      std::stable_sort(tags.begin(), tags.end(), [&](const auto& a, const auto& b) {
        return closeness(a, ours) > closeness(b, ours);
      });
      std::vector<std::string> names;
      for (size_t i = 0; i < tags.size() && i < 4; ++i) names.push_back(tags[i].to_string());
      if (tags.size() > 4) names.push_back("... (" + std::to_string(tags.size()) + " in all)");
      why.push_back("has wheels only for other tags: " + join(names, ", "));
    }
    if (w.sdist)
      why.push_back(std::string(why.empty() ? "is only a source archive" : "a source archive") +
                    " (not built: " +
                    (ctx_.opt.no_build ? "build requirements come as wheels" : "--only-binary") +
                    ")");
    if (w.no_binary) why.push_back("has wheels, which --no-binary excludes");
    out += "\n  " + name + " " + v.to_string() + " " + join(why, "; ");
  }
  std::vector<std::string> hints;
  if (any_tags && !ours.empty()) {
    // The most and the least specific tag it takes (py3-none-any rather than py30-none-any).
    std::string generic = ours.back().to_string();
    std::string py = "py" + std::to_string(ctx_.python.major);
    for (const auto& t : ours)
      if (t.interpreter == py && t.abi == "none" && t.platform == "any") generic = t.to_string();
    out += "\n  this interpreter takes " + ours.front().to_string() + " ... " + generic + " (" +
           std::to_string(ours.size()) + " tags)";
    hints.push_back(
        "pass --python with an interpreter those wheels are for, or require a "
        "release of " +
        name + " with a wheel for this platform");
  }
  if (any_python) {
    out +=
        "\n  this interpreter (" + ctx_.python.executable + ") is Python " + python_full_version();
    hints.push_back(
        "pass --python with a Python those releases support, or require a release "
        "of " +
        name + " that supports Python " + python_full_version());
  }
  if (any_sdist)
    hints.push_back(ctx_.opt.no_build
                        ? "put a wheel of " + name + " on the index or in -f/--find-links"
                        : "allow building " + name + " from source (drop it from --only-binary)");
  if (any_no_binary)
    hints.push_back("publish a source archive of " + name + ", or drop it from --no-binary");
  hint = join(hints, "; or ");
  return out;
}

std::optional<Error> IndexProvider::unavailable(const pep::Requirement& req,
                                                const std::string& where) const {
  std::string name = pep::normalize_name(req.name);
  std::lock_guard lock(mutex_);
  auto c = candidates_.find(name);
  auto d = diagnoses_.find(name);
  if (c == candidates_.end() || d == diagnoses_.end()) return std::nullopt;
  // A usable release matches: a conflict, a yanked release or a pre-release left out, which
  // the resolver's explanation names.
  for (const auto& cand : c->second)
    if (req.specifier.contains(cand.version, true)) return std::nullopt;
  std::string head = (where.empty() ? "" : where + ": ") + req.to_string() + ": ";
  if (d->second.files == 0)
    return make_error(head + "no project named '" + req.name + "' on " + asked(name),
                      "check the spelling; to look elsewhere pass -i/--index-url, "
                      "--extra-index-url or -f/--find-links");
  std::string hint;
  std::string why = why_unusable(name, &req.specifier, hint);
  if (why.empty()) return std::nullopt;  // no release matches: the resolver lists those there are
  return make_error(head + "nothing on " + asked(name) + " can be installed here:" + why, hint);
}

std::string IndexProvider::notes_for(const std::string& message,
                                     const std::vector<pep::Requirement>& roots) const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& r : roots) {
    std::string name = pep::normalize_name(r.name);
    auto c = candidates_.find(name);
    if (c == candidates_.end() || direct(name) || message.find(name) == std::string::npos) continue;
    bool matched = false, only_left_out = true;
    for (const auto& cand : c->second)
      if (r.specifier.contains(cand.version, true)) {
        matched = true;
        only_left_out = only_left_out && (cand.yanked || cand.version.is_prerelease());
      }
    if (matched && only_left_out) out += "\n  note: " + name + " was looked up on " + asked(name);
  }
  for (const auto& [name, cands] : candidates_) {
    if (!cands.empty() || message.find(name) == std::string::npos) continue;
    auto d = diagnoses_.find(name);
    if (d == diagnoses_.end()) continue;
    if (d->second.files == 0) {
      out += "\n  note: no project named '" + name + "' on " + asked(name);
      continue;
    }
    std::string hint;
    std::string why = why_unusable(name, nullptr, hint);
    if (!why.empty())
      out += "\n  note: nothing on " + asked(name) +
             " can be installed here:" + replace_all(why, "\n  ", "\n    ");
  }
  return out;
}

std::vector<std::string> IndexProvider::unknown_extras(
    const resolve::Resolution& resolution) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& p : resolution.packages) {
    if (p.extras.empty()) continue;
    auto it = provided_extras_.find(p.name + "==" + p.version.to_string());
    if (it == provided_extras_.end()) continue;
    for (const auto& extra : p.extras) {
      bool provided = std::any_of(it->second.begin(), it->second.end(), [&](const std::string& e) {
        return pep::normalize_name(e) == extra;
      });
      if (!provided)
        out.push_back(p.name + " " + p.version.to_string() + " does not provide the extra '" +
                      extra + "'");
    }
  }
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
