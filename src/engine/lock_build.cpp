#include "engine/lock_build.hpp"

#include <map>
#include <set>

#include "engine/cache_gc.hpp"
#include "engine/lock_files.hpp"
#include "graph/graph.hpp"
#include "pep/name.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::engine {

namespace {

/// The existing lock's pins (none when there is no readable lock): re-locking moves nothing
/// without cause, so they become the resolver's preferences.
std::optional<std::map<std::string, std::string>> read_old_pins(Context& ctx, Pipeline& pipe,
                                                                bool to_stdout) {
  if (to_stdout) return std::nullopt;
  auto text = fs::read_file(ctx.opt.output);
  if (!text.ok()) return std::nullopt;
  auto old = lock::parse_pylock(*text, ctx.opt.output);
  if (!old.ok()) return std::nullopt;
  std::map<std::string, std::string> pins;
  for (const auto& p : old->packages) {
    if (p.version.empty()) continue;  // a source locked without a version
    pins[pep::normalize_name(p.name)] = p.version;
    if (auto v = pep::Version::parse(p.version); v.ok())
      pipe.preferences.emplace(pep::normalize_name(p.name), *v);
  }
  return pins;
}

lock::Lock lock_header(const Context& ctx) {
  lock::Lock l;
  l.created_by = "lavabuild";
  l.requires_python =
      ">=" + std::to_string(ctx.python.major) + "." + std::to_string(ctx.python.minor);
  // The lock was resolved for this interpreter's markers; say so (PEP 751 `environments`).
  const auto& mk = ctx.python.markers.values;
  auto marker = [&](const char* key) {
    auto it = mk.find(key);
    return std::string(key) + " == \"" + (it == mk.end() ? "" : it->second) + "\"";
  };
  l.environments.push_back(marker("implementation_name") + " and " + marker("python_version") +
                           " and " + marker("sys_platform") + " and " + marker("platform_machine"));
  return l;
}

lock::Package locked_package(Context& ctx, const Planned& d, const LockedDigest& digest,
                             bool to_stdout) {
  lock::Package p;
  p.name = d.name;
  p.version = d.version;
  p.dependencies = d.dependencies;
  std::string out_dir = fs::dirname(fs::absolute(ctx.opt.output));
  // Paths inside the lock's directory are written relative to it (portable checkouts).
  // On stdout the lock's directory is unknown: paths stay absolute.
  auto lock_path = [&](const std::string& local) {
    return !to_stdout && starts_with(local, out_dir + "/") ? local.substr(out_dir.size() + 1)
                                                           : local;
  };
  lock::FileRef f;
  f.name = d.file.filename;
  std::string local = local_path_of(d.file.url);
  if (local.empty())
    f.url = d.file.url;
  else
    f.path = lock_path(local);
  f.sha256 = digest.sha256;
  f.size = digest.size;
  if (!d.source) {
    p.wheels.push_back(f);
    return p;
  }
  // Built from source: the lock names the source (a wheel built here is not portable).
  const SourceBuild& s = *d.source;
  switch (s.ref.kind) {
    case SourceRef::Kind::directory: {
      lock::DirectoryRef dir;
      dir.path = lock_path(s.ref.location);
      dir.editable = s.ref.editable;
      p.directory = dir;
      break;
    }
    case SourceRef::Kind::vcs: {
      lock::VcsRef v;
      v.type = s.vcs_kind;
      v.url = s.vcs_url;
      v.requested_revision = s.vcs_requested;
      v.commit_id = s.vcs_commit;
      v.subdirectory = s.vcs_subdirectory;
      p.vcs = v;
      break;
    }
    case SourceRef::Kind::archive:
      if (d.direct_url.url.empty()) {  // an sdist from an index or find-links
        p.sdist = f;
      } else {
        lock::ArchiveRef a;
        a.url = f.url;
        a.path = f.path;
        a.size = f.size;
        a.sha256 = f.sha256;
        p.archive = a;
      }
      break;
  }
  return p;
}

}  // namespace

Result<LockReport> build_lock(Context& ctx, Pipeline& pipe) {
  LockReport rep;
  const bool to_stdout = ctx.opt.output == "-";  // no lock file to read, clean or write
  rep.path = to_stdout ? "-" : fs::absolute(ctx.opt.output);
  // What killed runs left in the store, and beside the lock file (its temp files).
  (void)ctx.store->clean_leftovers();
  if (!to_stdout)
    for (const auto& path : fs::temp_siblings_of(rep.path)) (void)fs::remove_if_abandoned(path);
  ctx.begin_reads();
  auto old_pins = read_old_pins(ctx, pipe, to_stdout);
  rep.had_lock = old_pins.has_value();
  if (ctx.opt.upgrade) pipe.preferences.clear();
  for (const auto& n : ctx.opt.upgrade_packages) pipe.preferences.erase(pep::normalize_name(n));
  auto resolved = pipe.resolve();
  if (!resolved.ok()) {
    ctx.flush_or_warn();
    return resolved.error();
  }
  // Every locked file must carry its size and hash: from the store, the index, or the bytes.
  auto digests = lock_digests(ctx, pipe.fetcher(), resolved->dists);
  if (!digests.ok()) {
    ctx.flush_or_warn();  // what was downloaded stays useful
    return digests.error();
  }
  lock::Lock l = lock_header(ctx);
  std::map<std::string, std::string> new_pins;
  for (size_t i = 0; i < resolved->dists.size(); ++i) {
    const auto& d = resolved->dists[i];
    l.packages.push_back(locked_package(ctx, d, (*digests)[i], to_stdout));
    rep.packages.push_back({d.name, d.version});
    new_pins[d.name] = d.version;
  }
  ctx.flush_or_warn();
  rep.text = lock::write_pylock(l);
  if (!to_stdout) {
    LB_TRY(fs::create_dirs(fs::dirname(fs::absolute(ctx.opt.output))));  // as env's -o does
    LB_TRY(fs::write_file_atomic(ctx.opt.output, rep.text));
    record_lock_root(*ctx.store, rep.path, l, *ctx.out);  // a gc root while the file names them
  }
  rep.diff = diff_packages(old_pins.value_or(std::map<std::string, std::string>{}), new_pins);
  return rep;
}

Status check_locked(Context& ctx, const std::string& lock_path) {
  auto text = fs::read_file(lock_path);
  if (!text.ok()) return make_error("cannot read lock file " + lock_path);
  LB_ASSIGN(auto l, lock::parse_pylock(*text, lock_path));
  std::map<std::string, std::string> pins;
  for (const auto& p : l.packages) pins[pep::normalize_name(p.name)] = p.version;
  std::vector<std::string> problems;
  for (const auto& e : ctx.reqs.requirements) {
    if (e.req.marker && !e.req.marker->evaluate(ctx.python.markers)) continue;
    std::string where = e.loc.to_string() + ": " + e.text;
    if (e.req.name.empty()) {
      problems.push_back(where + " has no name to look up in the lock");
      continue;
    }
    std::string name = pep::normalize_name(e.req.name);
    auto it = pins.find(name);
    if (it == pins.end()) {
      problems.push_back(where + " is not in the lock");
      continue;
    }
    auto v = pep::Version::parse(it->second);
    if (!v.ok() || !e.req.specifier.contains(*v, true))
      problems.push_back(where + " does not allow the locked " + name + " " + it->second);
  }
  for (const auto& p : l.packages)
    for (const auto& dep : p.dependencies)
      if (!pins.count(pep::normalize_name(dep)))
        problems.push_back("the lock's " + p.name + " depends on " + dep +
                           ", which it does not pin");
  // A lock lavabuild wrote lists every package's dependencies: what the requirements do not
  // reach through them is left over (as `uv sync --locked`, a lock that would change fails).
  if (l.created_by == "lavabuild") {
    std::map<std::string, const lock::Package*> by_name;
    for (const auto& p : l.packages)
      if (lock::selected(l, p, ctx.python.markers)) by_name[pep::normalize_name(p.name)] = &p;
    std::set<std::string> reached;
    std::vector<std::string> pending;  // names reached, not yet followed
    for (const auto& e : ctx.reqs.requirements)
      if (!e.req.name.empty() && (!e.req.marker || e.req.marker->evaluate(ctx.python.markers)))
        pending.push_back(pep::normalize_name(e.req.name));
    while (!pending.empty()) {
      std::string name = std::move(pending.back());
      pending.pop_back();
      auto it = by_name.find(name);
      if (!reached.insert(name).second || it == by_name.end()) continue;
      for (const auto& dep : it->second->dependencies) pending.push_back(pep::normalize_name(dep));
    }
    for (const auto& [name, p] : by_name)
      if (!reached.count(name))
        problems.push_back("the lock pins " + p->name + " " + p->version +
                           ", which the requirements no longer need");
  }
  if (!problems.empty())
    return make_error(
        "the requirements no longer match " + lock_path + ":\n  " + join(problems, "\n  "),
        "run `lavabuild lock` again, or drop --locked");
  return {};
}

}  // namespace lb::engine
