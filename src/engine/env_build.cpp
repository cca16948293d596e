#include "engine/env_build.hpp"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_set>

#include "engine/bytecode.hpp"
#include "engine/journal.hpp"
#include "engine/share.hpp"
#include "env/venv.hpp"
#include "pep/name.hpp"
#include "util/cancel.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::engine {

namespace {

using json = nlohmann::json;

/// Files the installer writes into a dist-info dir rather than linking from the store.
bool written_by_installer(const env::InstalledDist& d, const std::string& path) {
  if (!starts_with(path, d.dist_info_rel + "/")) return false;
  std::string name = path.substr(d.dist_info_rel.size() + 1);
  return name == "RECORD" || name == "INSTALLER" || name == "REQUESTED" ||
         name == "direct_url.json";
}

/// How the target is built.
enum class Mode {
  fresh,     ///< built whole beside the target, then renamed or exchanged into place
  in_place,  ///< a lavabuild env at this path for this interpreter: changed through a journal
  takeover,  ///< a venv another tool made: changed in place like in_place
};

/// Everything one env run carries from step to step.
struct EnvRun {
  EnvRun(Context& c, Pipeline& p, std::string dir, std::string st)
      : ctx(c), pipe(p), final_dir(std::move(dir)), stamp(std::move(st)) {}
  Context& ctx;
  Pipeline& pipe;
  std::string final_dir, stamp;
  std::optional<Stamp> old_stamp;
  int64_t built_ns = 0;  ///< mtime of the old stamp
  Drift drift;
  Mode mode = Mode::fresh;
  std::optional<env::Manifest> old;         ///< the reusable old env (in_place)
  std::optional<DirList> old_dirs;          ///< its "dirs" list, when it has a readable one
  std::vector<std::string> old_drift;       ///< per old dist: what changed since built
  std::vector<std::string> old_changed;     ///< the directories of old_dirs found changed
  std::vector<env::InstalledDist> foreign;  ///< dists no lavabuild manifest lists
  std::optional<ForeignVenv> foreign_venv;  ///< takeover
  Resolved resolved;
  std::optional<fs::OwnedDir> staging;
  std::vector<env::FileEntry> venv_files;
  graph::Graph g;
  graph::ExecResult result;
  EnvReport report;
};

double seconds_since(const Context& ctx, Context::TimePoint start) {
  return std::chrono::duration<double>(ctx.now() - start).count();
}

std::map<std::string, std::string> versions_of(const std::vector<PackagePin>& pins) {
  std::map<std::string, std::string> m;
  for (const auto& p : pins) m[pep::normalize_name(p.name)] = p.version;
  return m;
}

bool upgrading(const Options& o) {
  return o.upgrade || !o.upgrade_packages.empty();
}

bool reinstalling(const Options& o) {
  return o.reinstall || !o.reinstall_packages.empty();
}

/// What killed runs left: temp envs beside `final_dir` and temp files in the store, each
/// removed only when no live process holds it. Call with the target's lock held: when a run
/// was killed between the two renames of a swap without RENAME_EXCHANGE, the target is
/// missing and a complete env (one with a stamp) is among the leftovers; it is put back.
/// `tmp_only`: of the store, look at tmp/ alone (the no-op path).
void remove_leftovers(Context& ctx, const std::string& final_dir, bool tmp_only) {
  std::vector<std::string> dead;
  for (const auto& path : fs::temp_siblings_of(final_dir))
    if (fs::is_abandoned(path)) dead.push_back(path);
  if (!fs::exists(final_dir)) {
    const std::string* newest = nullptr;
    int64_t newest_ns = 0;
    for (const auto& path : dead) {
      auto st = fs::stat_path(path + "/" + kStampRel);
      if (st.is_regular && (!newest || st.mtime_ns > newest_ns)) {
        newest = &path;
        newest_ns = st.mtime_ns;
      }
    }
    if (newest && fs::rename_path(*newest, final_dir).ok()) {
      ctx.out->info("restored " + final_dir + " from an interrupted run");
      dead.erase(dead.begin() + (newest - dead.data()));
    }
  }
  uint64_t entries = 0, bytes = 0;
  for (const auto& path : dead) {
    uint64_t size = fs::tree_size(path);
    if (fs::remove_if_abandoned(path)) {
      ++entries;
      bytes += size;
    }
  }
  auto [store_entries, store_bytes] = ctx.store->clean_leftovers(false, tmp_only);
  entries += store_entries;
  bytes += store_bytes;
  if (entries > 0) {
    char line[160];
    std::snprintf(line, sizeof line, "removed %llu leftovers of interrupted runs (%.1f MB)",
                  (unsigned long long)entries, double(bytes) / 1e6);
    ctx.out->info(line);
  }
}

/// The no-op: same inputs as the env was built from, and nothing changed behind our back.
bool up_to_date(EnvRun& r) {
  const Options& o = r.ctx.opt;
  if (upgrading(o) || reinstalling(o) || !r.old_stamp || r.old_stamp->stamp != r.stamp)
    return false;
  if (r.old_stamp->env_path != r.final_dir) return false;
  r.drift = check_drift(r.final_dir);
  return r.drift.empty();
}

void report_up_to_date(EnvRun& r, Context::TimePoint start) {
  r.report.up_to_date = true;
  r.report.digest = r.old_stamp->digest;
  r.report.packages = r.old_stamp->packages;
  r.report.seconds = seconds_since(r.ctx, start);
}

/// Names what a non-empty directory that is not a venv holds.
Status refuse_non_venv(const std::string& dir, const std::vector<std::string>& entries) {
  std::vector<std::string> shown(entries.begin(),
                                 entries.begin() + long(std::min<size_t>(entries.size(), 5)));
  std::string what = join(shown, ", ") + (entries.size() > 5 ? ", ..." : "");
  return make_error(dir + " is not empty and is not a venv (it holds " + what + "; " +
                        std::to_string(entries.size()) + " entries)",
                    "choose another -o, or remove it");
}

/// Decide how the target is built, and read the env that is there.
Status inspect_target(EnvRun& r) {
  Context& ctx = r.ctx;
  auto st = fs::stat_path(r.final_dir);
  if (!st.exists) return {};
  if (!st.is_dir)
    return make_error(r.final_dir + " exists and is not a directory", "choose another -o");
  if (fs::exists(r.final_dir + "/.lavabuild")) {
    if (!r.old_stamp || r.old_stamp->env_path != r.final_dir) return {};  // fresh, exchanged
    // Each dist's files stay text until needed: a run that changes a few distributions
    // neither parses nor writes again the file lists of the others.
    auto m = env::read_manifest(r.final_dir, /*lazy_files=*/true);
    if (!m.ok() || m->interpreter_key != ctx.python.key) return {};
    r.old = std::move(*m);
    r.mode = Mode::in_place;
  } else if (fs::exists(r.final_dir + "/pyvenv.cfg")) {
    LB_ASSIGN(r.foreign_venv, inspect_foreign_venv(r.final_dir, ctx.python));
    r.mode = Mode::takeover;
  } else {
    auto entries = fs::list_dir(r.final_dir);
    if (entries.ok() && entries->empty()) return {};
    return refuse_non_venv(r.final_dir, entries.ok() ? *entries : std::vector<std::string>{});
  }
  std::vector<std::string> known;
  if (r.old)
    for (const auto& d : r.old->dists) known.push_back(d.dist_info_rel);
  r.foreign = foreign_dists(r.final_dir, ctx.python.purelib, known);
  // The pins of what is there are the resolver's preferences: a re-run moves nothing
  // without cause.
  auto prefer = [&](const std::string& name, const std::string& version) {
    if (auto v = pep::Version::parse(version); v.ok())
      r.pipe.preferences.emplace(pep::normalize_name(name), *v);
  };
  if (r.old)
    for (const auto& d : r.old->dists) prefer(d.name, d.version);
  for (const auto& d : r.foreign) prefer(d.name, d.version);
  return {};
}

/// What changed behind lavabuild's back in each distribution of the old env: file by file
/// (an edit in place changes no directory, and a run that changes the env must not keep an
/// edited file: issue 7), the directories for the new "dirs" list (env_state.hpp).
void find_old_drift(EnvRun& r) {
  if (!r.old) return;
  r.old_dirs = read_dir_list(r.final_dir);
  if (r.old_dirs) r.old_changed = changed_dirs(r.final_dir, *r.old_dirs);
  r.old_drift = drift_of_dists(r.old->dists, r.final_dir, r.built_ns, std::nullopt, r.ctx.opt.jobs);
}

void drop_upgraded_preferences(const Options& o, Pipeline& pipe) {
  if (o.upgrade) pipe.preferences.clear();
  for (const auto& name : o.upgrade_packages) pipe.preferences.erase(pep::normalize_name(name));
}

PackageDiff diff_against_old(const EnvRun& r) {
  std::map<std::string, std::string> before, after;
  if (r.old_stamp && r.mode != Mode::takeover) before = versions_of(r.old_stamp->packages);
  for (const auto& d : r.foreign) before[pep::normalize_name(d.name)] = d.version;
  for (const auto& d : r.resolved.dists) after[d.name] = d.version;
  return diff_packages(before, after);
}

/// Count the steps that run, say why with -v, and fetch what is missing over parallel
/// connections (the fetch steps then find the wheels in the store).
void announce_steps(EnvRun& r) {
  size_t to_run = 0;
  for (const auto& s : r.g.steps()) {
    if (s.needs_run) {
      ++to_run;
      r.ctx.out->explain(std::string(graph::to_string(s.kind)) + " " + s.label + ": " + s.reason);
    } else {
      ++r.report.cache_hits;
    }
  }
  std::vector<net::IndexFile> to_fetch;
  for (const auto& d : r.resolved.dists) {
    bool fetch_runs = r.g.steps()[size_t(d.fetch_step)].needs_run;
    if (d.fetched_while_resolving && !fetch_runs) --r.report.cache_hits;
    if (d.source && d.source->built_while_resolving) {  // ran already: not a cache hit
      --r.report.cache_hits;
      const auto& b = r.g.steps()[size_t(d.build_step)];
      r.ctx.out->explain("build " + b.label + ": " + b.reason);
    }
    if (fetch_runs) to_fetch.push_back(d.file);
  }
  r.ctx.out->set_total(to_run);
  r.pipe.fetcher().prefetch(to_fetch);
}

/// Ctrl-C / SIGTERM: say what the store keeps; the caller removes the staging dir.
Status interrupted(EnvRun& r) {
  r.ctx.flush_or_warn();
  r.report.interrupted = true;
  r.report.kept_downloaded = size_t(r.pipe.fetcher().downloaded_files());
  for (int id : r.result.executed)
    if (r.g.steps()[size_t(id)].kind == graph::StepKind::unpack) ++r.report.kept_unpacked;
  return {};
}

Status run_graph(EnvRun& r) {
  announce_steps(r);
  r.result = graph::execute(r.g, r.ctx.opt.jobs, [&](const graph::Step& s, bool started) {
    if (started)
      r.ctx.out->step_started(std::string(graph::to_string(s.kind)), s.label);
    else
      r.ctx.out->step_finished(std::string(graph::to_string(s.kind)), s.label);
  });
  if (r.result.cancelled) return interrupted(r);
  if (!r.result.failure) return {};
  r.ctx.out->finish();
  r.ctx.flush_or_warn();  // what was fetched and unpacked stays useful
  const auto& step = r.g.steps()[size_t(r.result.failure->first)];
  Error e = r.result.failure->second;
  e.message = std::string(graph::to_string(step.kind)) + " " + step.label + " failed: " + e.message;
  return e;
}

env::Manifest new_manifest(EnvRun& r) {
  env::Manifest m;
  // Neither the stamp nor the env's path goes into the manifest (the stamp file has them),
  // so envs of the same requirements have byte-identical manifests that can share a blob.
  m.interpreter_executable = r.ctx.python.executable;
  m.interpreter_version = r.ctx.python.version;
  m.interpreter_key = r.ctx.python.key;
  m.dists = std::move(r.pipe.installed);  // the buffer moves: pointers into it stay good
  m.venv_files = r.venv_files;
  for (auto& d : m.dists)  // set by the link step; a kept dist has it from its manifest (v2)
    if (d.digest.empty()) d.digest = env::dist_digest(d);
  return m;
}

/// The manifest at <dir>/.lavabuild/manifest.json. With hard links it is a link to its store
/// blob (envs of the same requirements share one): serialized and hashed in memory, written
/// into the store only when no env had it yet, then linked in under a temp name and renamed.
Status write_manifest_file(store::Store& store, const std::string& dir, const env::Manifest& m,
                           bool hardlink) {
  const std::string path = dir + "/" + env::kManifestRel;
  LB_TRY(fs::create_dirs(fs::dirname(path)));
  const std::string text = env::serialize_manifest(m);
  if (hardlink) {
    auto sha = store.put_blob_hashed(text, false, sha256_hex(text));
    std::string aside = fs::temp_sibling(path);
    if (sha.ok() && fs::hard_link(store.blob_path(*sha, false), aside).ok()) {
      if (fs::rename_path(aside, path).ok()) return {};
      (void)fs::remove_all(aside);
    }
  }
  return fs::write_file_atomic(path, text);  // another filesystem, or a store that refused it
}

/// Write the manifest into `dir`; with hard links, the per-env files
/// that are the same in every env of these requirements become links to store blobs.
Status write_env_metadata(EnvRun& r, const std::string& dir, const env::Manifest& m,
                          const std::vector<const env::InstalledDist*>& fresh_dists,
                          bool fresh_venv_files) {
  r.report.digest = env::manifest_digest(m);
  for (const auto& d : r.resolved.dists) r.report.packages.push_back({d.name, d.version});
  const bool hardlink = r.ctx.opt.link_mode == "hardlink";
  LB_TRY(write_manifest_file(*r.ctx.store, dir, m, hardlink));
  if (hardlink) {
    std::vector<SharedFile> per_env;
    if (fresh_venv_files)
      for (const auto& f : m.venv_files)
        if (f.mode != env::kModeSymlink)
          per_env.push_back({dir + "/" + f.path, f.mode == env::kModeExec});
    for (const auto* d : fresh_dists)
      for (const auto& f : d->files)
        if (f.per_env || written_by_installer(*d, f.path))
          per_env.push_back({dir + "/" + f.path, f.mode == env::kModeExec});
    share_through_store(*r.ctx.store, per_env);
  }
  return {};
}

/// Last: the directory list (after every change, so its mtimes are final) and the stamp.
Status write_dirs_and_stamp(EnvRun& r, const std::string& dir, const std::string& dir_list) {
  LB_TRY(fs::write_file_atomic(dir + "/" + kDirsRel, dir_list));
  return fs::write_file_atomic(
      dir + "/" + kStampRel,
      render_stamp({r.stamp, r.report.digest, r.report.packages, r.final_dir}));
}

Status finish_fresh(EnvRun& r) {
  const std::string& work_dir = r.staging->path();
  env::Manifest m = new_manifest(r);
  std::vector<const env::InstalledDist*> all;
  for (const auto& d : m.dists) all.push_back(&d);
  LB_TRY(write_env_metadata(r, work_dir, m, all, true));
  LB_TRY(write_dirs_and_stamp(r, work_dir, render_dir_list(work_dir, m)));
  if (fs::exists(r.final_dir))
    LB_TRY(fs::exchange_paths(work_dir, r.final_dir));
  else
    LB_TRY(fs::rename_path(work_dir, r.final_dir));
  return {};
}

/// The venv's own directories, never removed when a change empties them.
std::vector<std::string> venv_dirs(const interp::Interpreter& py) {
  std::vector<std::string> dirs;
  for (std::string d : {py.purelib, py.platlib, py.scripts, env::venv_include_dir(py)})
    for (; !d.empty() && d != "."; d = fs::dirname(d)) dirs.push_back(d);
  return dirs;
}

/// Entries of the env's `dist_info_rel` dir that `moved` does not replace, into `deletes`.
void add_strays(const std::string& env_dir, const std::string& dist_info_rel,
                const std::set<std::string, std::less<>>& moved, std::set<std::string>& deletes) {
  auto names = fs::list_dir(env_dir + "/" + dist_info_rel);
  if (!names.ok()) return;
  for (const auto& n : *names)
    if (!moved.count(dist_info_rel + "/" + n)) deletes.insert(dist_info_rel + "/" + n);
}

/// Plan and commit an in-place change: stage the metadata, list what to delete and move,
/// refuse a file two distributions would own, then journal and apply.
Status finish_in_place(EnvRun& r) {
  const std::string& staging = r.staging->path();
  Journal j;
  j.staging = staging;
  j.keep_dirs = venv_dirs(r.ctx.python);
  std::set<std::string, std::less<>> moved;
  std::vector<const env::InstalledDist*> fresh;
  for (size_t i = 0; i < r.resolved.dists.size(); ++i)
    if (r.g.steps()[size_t(r.resolved.dists[i].link_step)].needs_run) {
      fresh.push_back(&r.pipe.installed[i]);
      for (const auto& f : r.pipe.installed[i].files) moved.insert(f.path);
    }
  // The venv's own files: replaced when another tool made them or they were damaged.
  env::InstalledDist old_venv;
  if (r.old) old_venv.files = r.old->venv_files;
  bool venv_fresh = r.mode == Mode::takeover || !r.old || r.old->venv_files != r.venv_files ||
                    !changed_since_built(old_venv, r.final_dir, r.built_ns).empty();
  if (venv_fresh)
    for (const auto& f : r.venv_files) moved.insert(f.path);
  // Files of kept distributions stay; every other file of the old env goes, unless replaced.
  // Only the paths of what changes are indexed; the kept distributions' paths (most of the
  // env, maybe never parsed) are looked up in that index one by one.
  std::set<std::string> kept_names;
  std::vector<const env::InstalledDist*> kept;
  for (size_t i = 0; i < r.resolved.dists.size(); ++i)
    if (!r.g.steps()[size_t(r.resolved.dists[i].link_step)].needs_run) {
      kept_names.insert(r.resolved.dists[i].name);
      kept.push_back(&r.pipe.installed[i]);
    }
  std::vector<env::InstalledDist*> leaving;
  if (r.old)
    for (auto& d : r.old->dists)
      if (!kept_names.count(pep::normalize_name(d.name))) leaving.push_back(&d);
  for (auto& d : r.foreign) leaving.push_back(&d);
  std::unordered_set<std::string_view> changing(moved.begin(), moved.end());
  for (auto* d : leaving) {
    LB_TRY(env::load_files(*d));
    for (const auto& f : d->files) changing.insert(f.path);
  }
  std::unordered_set<std::string_view> kept_paths;  // of `changing`, those a kept dist owns
  for (const auto* d : kept)
    env::for_each_path(*d, [&](std::string_view path) {
      if (auto it = changing.find(path); it != changing.end()) kept_paths.insert(*it);
    });
  for (const auto& path : moved)
    if (kept_paths.count(path))
      for (const auto* d : kept) {
        bool owns = false;
        env::for_each_path(*d, [&](std::string_view p) { owns = owns || p == path; });
        if (owns)
          return make_error(
              "two distributions provide " + path + ": " + d->name + " and one being installed",
              "drop one of them from the requirements");
      }
  std::set<std::string> deletes;
  for (const auto* d : leaving)
    for (const auto& f : d->files)
      if (!moved.count(f.path) && !kept_paths.count(f.path)) deletes.insert(f.path);
  // What another tool wrote into a dist-info dir being replaced (pip's REQUESTED,
  // direct_url.json) goes too: the dir then holds exactly the new install's files.
  for (const auto* d : leaving) add_strays(r.final_dir, d->dist_info_rel, moved, deletes);
  for (const auto* d : fresh) add_strays(r.final_dir, d->dist_info_rel, moved, deletes);
  env::Manifest m = new_manifest(r);
  LB_TRY(write_env_metadata(r, staging, m, fresh, venv_fresh));
  // From here until the new list is written the env's "dirs" list is gone: a run killed in
  // between leaves none, and the next run checks every file (env_state.hpp).
  LB_TRY(fs::remove_all(r.final_dir + "/" + kDirsRel));
  j.deletes.assign(deletes.begin(), deletes.end());
  j.moves = plan_moves(r.final_dir, staging, {moved.begin(), moved.end()});
  j.moves.push_back(env::kManifestRel);
  LB_TRY(commit_journal(r.final_dir, j));
  // The new list from the old one: what the journal created or deleted is stat'ed again.
  if (!r.old_dirs) return write_dirs_and_stamp(r, r.final_dir, render_dir_list(r.final_dir, m));
  std::vector<const std::string*> touched;
  touched.reserve(j.deletes.size() + moved.size());
  for (const auto& p : j.deletes) touched.push_back(&p);
  for (const auto& p : moved) touched.push_back(&p);
  return write_dirs_and_stamp(r, r.final_dir,
                              update_dir_list(r.final_dir, *r.old_dirs, r.old_changed, touched));
}

/// Say what the in-place run does to the env that was there.
void narrate(EnvRun& r) {
  if (r.mode == Mode::takeover)
    r.ctx.out->info("taking over " + r.final_dir + " (a venv made by " + r.foreign_venv->creator +
                    "): distributions not in the requirements are "
                    "removed, the rest reinstalled from the store");
  else
    for (const auto& d : r.foreign)
      r.ctx.out->info("removing " + d.name + " " + d.version +
                      " (installed into the env by another tool)");
  for (const auto& line : r.pipe.repaired) r.ctx.out->info("repairing " + line);
}

Status build(EnvRun& r) {
  Context& ctx = r.ctx;
  LB_TRY(fs::create_dirs(fs::dirname(r.final_dir)));
  // Built (or staged) beside the target under a random name, locked while this run lives:
  // a later run removes it only if this one was killed.
  LB_ASSIGN(auto staging, fs::OwnedDir::create(r.final_dir));
  r.staging.emplace(std::move(staging));
  auto cleanup = [&](Status st) {
    (void)fs::remove_all(r.staging->path());  // after an exchange it holds the old env
    return st;
  };
  find_old_drift(r);
  std::vector<env::InstalledDist>* old_dists = r.old ? &r.old->dists : nullptr;
  if (auto st = r.pipe.build_graph(r.resolved, r.final_dir, r.staging->path(), old_dists,
                                   r.old ? &r.old_drift : nullptr, r.g);
      !st.ok())
    return cleanup(st);
  ctx.end_reads();
  if (auto st = env::create_venv(r.staging->path(), r.final_dir, ctx.python, &r.venv_files);
      !st.ok())
    return cleanup(st);
  if (r.mode != Mode::fresh) narrate(r);
  if (auto st = run_graph(r); !st.ok() || r.report.interrupted) return cleanup(st);
  if (r.pipe.link_report.fell_back_to_copy)
    ctx.out->warn("could not " + ctx.opt.link_mode + " files into " + r.final_dir + " (" +
                  r.pipe.link_report.fallback_reason + "); copied them instead");
  if (cancel::cancelled()) return cleanup(interrupted(r));  // the last point before the swap
  Status st = r.mode == Mode::fresh ? finish_fresh(r) : finish_in_place(r);
  return cleanup(st);
}

void fill_report(EnvRun& r, Context::TimePoint start) {
  for (int id : r.result.executed) {
    const auto& s = r.g.steps()[size_t(id)];
    r.report.executed.push_back({std::string(graph::to_string(s.kind)), s.package});
  }
  for (const auto& d : r.resolved.dists) {
    if (d.fetched_while_resolving) r.report.executed.push_back({"fetch", d.name});
    if (d.source && d.source->built_while_resolving) r.report.executed.push_back({"build", d.name});
  }
  r.report.downloaded_bytes = r.pipe.fetcher().downloaded_bytes();
  r.report.seconds = seconds_since(r.ctx, start);
  if (const auto& s = r.ctx.remote_stats)
    r.report.remote =
        RemoteTotals{s->hits, s->misses, s->uploaded_bytes, s->downloaded_bytes, s->errors};
}

}  // namespace

PackageDiff diff_packages(const std::map<std::string, std::string>& before,
                          const std::map<std::string, std::string>& after) {
  PackageDiff d;
  for (const auto& [name, version] : before) {
    auto it = after.find(name);
    if (it == after.end())
      d.removed.push_back({name, version, ""});
    else if (it->second != version)
      d.changed.push_back({name, version, it->second});
  }
  for (const auto& [name, version] : after)
    if (!before.count(name)) d.added.push_back({name, "", version});
  return d;
}

Result<std::unique_ptr<Plan>> plan_env(Context& ctx, Pipeline& pipe) {
  ctx.begin_reads();
  EnvRun r{ctx, pipe, fs::absolute(ctx.opt.output.empty() ? ".venv" : ctx.opt.output), ""};
  r.old_stamp = read_stamp(r.final_dir);
  r.built_ns = fs::stat_path(r.final_dir + "/" + kStampRel).mtime_ns;
  LB_TRY(inspect_target(r));
  drop_upgraded_preferences(ctx.opt, pipe);
  auto plan = std::make_unique<Plan>();
  LB_ASSIGN(plan->resolved, pipe.resolve());
  find_old_drift(r);
  LB_TRY(pipe.build_graph(plan->resolved, r.final_dir, r.final_dir + ".plan",
                          r.old ? &r.old->dists : nullptr, r.old ? &r.old_drift : nullptr,
                          plan->graph));
  ctx.flush_or_warn();
  return plan;
}

Result<fs::FileLock> lock_target(Context& ctx, const std::string& final_dir) {
  auto on_wait = [&] {
    ctx.out->warn("waiting for another lavabuild run that is building " + final_dir);
  };
  auto l = fs::FileLock::acquire_or_wait(
      ctx.store->lock_path("env-" + sha256_hex(final_dir).substr(0, 32)), on_wait);
  if (l.ok()) l->touch();  // its mtime: when the env was last used (cache gc --max-size)
  if (l.ok()) return l;
  std::string parent = fs::dirname(final_dir);
  LB_TRY(fs::create_dirs(parent));
  return fs::FileLock::acquire_existing_or_wait(parent, on_wait);
}

Result<EnvReport> build_env(Context& ctx, Pipeline& pipe) {
  auto start = ctx.now();
  const Options& o = ctx.opt;
  EnvRun r{ctx, pipe, fs::absolute(o.output), pipe.compute_stamp()};
  r.report.env_dir = r.final_dir;
  // One run at a time per target (runs on other targets go on): a second run waits, then
  // finds the env the first one built. An flock: no cost worth counting on the no-op path.
  LB_ASSIGN(auto target_lock, lock_target(ctx, r.final_dir));
  LB_ASSIGN(auto recovered, recover_journal(r.final_dir));
  if (!recovered.empty()) ctx.out->info(recovered);
  remove_leftovers(ctx, r.final_dir, /*tmp_only=*/true);  // two small directory reads
  r.old_stamp = read_stamp(r.final_dir);
  r.built_ns = fs::stat_path(r.final_dir + "/" + kStampRel).mtime_ns;
  r.report.had_env = r.old_stamp.has_value() || fs::exists(r.final_dir + "/pyvenv.cfg");
  if (up_to_date(r)) {
    report_up_to_date(r, start);
    return r.report;
  }
  (void)ctx.store->clean_leftovers();  // and journal/, locks/ when there is work to do
  LB_TRY(inspect_target(r));
  LB_TRY(ctx.init_index());
  ctx.begin_reads();
  drop_upgraded_preferences(o, pipe);
  auto resolved = pipe.resolve();
  if (!resolved.ok()) {
    ctx.flush_or_warn();  // index pages and metadata fetched so far stay useful
    if (cancel::cancelled()) {
      (void)interrupted(r);
      return r.report;
    }
    return resolved.error();
  }
  r.resolved = std::move(*resolved);
  r.report.diff = diff_against_old(r);
  // An upgrade that found nothing newer, in an env nothing happened to, stays as it is.
  if (r.old && r.report.diff.empty() && r.foreign.empty() && !reinstalling(o) &&
      r.old_stamp->stamp == r.stamp && (r.drift = check_drift(r.final_dir)).empty()) {
    ctx.flush_or_warn();
    report_up_to_date(r, start);
    return r.report;
  }
  LB_TRY(build(r));
  if (r.report.interrupted) return r.report;
  // Which envs use which stored outputs ("env/<path>" -> JSON), for `cache gc`
  // (engine/cache_gc.hpp documents the value).
  json refs = {{"digest", r.report.digest},
               {"unpack", json::array()},
               {"wheels", json::array()},
               {"used", int64_t(std::time(nullptr))}};
  refs["bytecode"] = json::array();
  const BytecodeTarget bytecode = bytecode_target(ctx);
  for (const auto& d : r.resolved.dists) {
    refs["unpack"].push_back(d.unpack_key);
    if (!d.sha256.empty()) refs["wheels"].push_back(d.sha256);
    if (bytecode.enabled()) refs["bytecode"].push_back(bytecode_key(d.unpack_key, bytecode));
  }
  ctx.defer_put("env/" + r.final_dir, refs.dump());
  ctx.flush_or_warn();
  if (auto* layer = remote::layer_of(*ctx.store)) layer->drain();  // uploads, index not held
  record_remote_stats(ctx);
  ctx.flush_or_warn();
  ctx.out->finish();
  fill_report(r, start);
  return r.report;
}

}  // namespace lb::engine
