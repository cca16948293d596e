#include "cli/commands.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cache_gc_command.hpp"
#include "cli/interrupted.hpp"
#include "cli/options.hpp"
#include "cli/output.hpp"
#include "engine/cache_gc.hpp"
#include "engine/cache_verify.hpp"
#include "engine/context.hpp"
#include "engine/pipeline.hpp"
#include "engine/share.hpp"
#include "env/manifest.hpp"
#include "env/venv.hpp"
#include "graph/thread_pool.hpp"
#include "pep/name.hpp"
#include "util/cancel.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::cli {

using namespace engine;

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

/// Files the installer writes into a dist-info dir rather than linking from the store.
bool written_by_installer(const env::InstalledDist& d, const std::string& path) {
  if (!starts_with(path, d.dist_info_rel + "/")) return false;
  std::string name = path.substr(d.dist_info_rel.size() + 1);
  return name == "RECORD" || name == "INSTALLER" || name == "REQUESTED" ||
         name == "direct_url.json";
}

void flush_or_warn(Context& ctx) {
  if (auto st = ctx.flush_puts(); !st.ok())
    ctx.out->warn("could not update the cache index (" + st.error().message +
                  "); the next run will redo some work");
}

int fail(const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.message.c_str());
  if (!e.hint.empty()) std::fprintf(stderr, "  hint: %s\n", e.hint.c_str());
  return 1;
}

/// "<env>/.lavabuild/stamp": the no-op check reads only this small file.
/// Format (v2): line 1 "lavabuild.stamp.v2", line 2 stamp, line 3 digest, line 4 packages
/// JSON, line 5 the path the env was built for (its scripts name it).
struct Stamp {
  std::string stamp, digest;
  json packages = json::array();
  std::string env_path;
};

std::optional<Stamp> read_stamp(const std::string& env_dir) {
  auto text = fs::read_file(env_dir + "/.lavabuild/stamp");
  if (!text.ok()) return std::nullopt;
  auto lines = split(*text, '\n');
  if (lines.size() < 5 || lines[0] != "lavabuild.stamp.v2") return std::nullopt;
  Stamp s{lines[1], lines[2], json::parse(lines[3], nullptr, false), lines[4]};
  if (s.packages.is_discarded()) return std::nullopt;
  return s;
}

std::string render_stamp(const Stamp& s) {
  return "lavabuild.stamp.v2\n" + s.stamp + "\n" + s.digest + "\n" + s.packages.dump() + "\n" +
         s.env_path + "\n";
}

/// The existing env at `final_dir`, if its files can be reused: made by lavabuild for this
/// interpreter and at this path (its scripts name the path; link keys leave it out). Its pins
/// become the resolver's preferences, so a re-run moves nothing without cause.
std::optional<env::Manifest> load_old_env(Context& ctx, Pipeline& pipe,
                                          const std::string& final_dir,
                                          const std::optional<Stamp>& stamp) {
  if (!stamp || stamp->env_path != final_dir) return std::nullopt;
  auto m = env::read_manifest(final_dir);
  if (!m.ok() || m->interpreter_key != ctx.python.key) return std::nullopt;
  for (const auto& d : m->dists)
    if (auto v = pep::Version::parse(d.version); v.ok())
      pipe.preferences.emplace(pep::normalize_name(d.name), *v);
  return std::move(*m);
}

/// -U drops every preference, -P NAME the one for NAME: those move to the newest allowed
/// versions, the rest keep their pins.
void drop_upgraded_preferences(const Options& o, Pipeline& pipe) {
  if (o.upgrade) pipe.preferences.clear();
  for (const auto& name : o.upgrade_packages) pipe.preferences.erase(pep::normalize_name(name));
}

bool upgrading(const Options& o) {
  return o.upgrade || !o.upgrade_packages.empty();
}

/// What a run changed against the previous env or lock (names normalised, sorted by name).
struct PackageDiff {
  json added = json::array(), removed = json::array(), changed = json::array();
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};

/// `before` and `after`: normalised name -> version.
PackageDiff diff_packages(const std::map<std::string, std::string>& before,
                          const std::map<std::string, std::string>& after) {
  PackageDiff d;
  for (const auto& [name, version] : before) {
    auto it = after.find(name);
    if (it == after.end())
      d.removed.push_back({{"name", name}, {"version", version}});
    else if (it->second != version)
      d.changed.push_back({{"name", name}, {"from", version}, {"to", it->second}});
  }
  for (const auto& [name, version] : after)
    if (!before.count(name)) d.added.push_back({{"name", name}, {"version", version}});
  return d;
}

/// uv's lines on stderr: "- name 1.0", "~ name 1.0 -> 1.1", "+ name 2.0", by name.
void report_diff(Context& ctx, const PackageDiff& d) {
  std::map<std::string, std::string> lines;
  for (const auto& p : d.removed)
    lines[p["name"].get<std::string>()] =
        "- " + p["name"].get<std::string>() + " " + p["version"].get<std::string>();
  for (const auto& p : d.changed)
    lines[p["name"].get<std::string>()] = "~ " + p["name"].get<std::string>() + " " +
                                          p["from"].get<std::string>() + " -> " +
                                          p["to"].get<std::string>();
  for (const auto& p : d.added)
    lines[p["name"].get<std::string>()] =
        "+ " + p["name"].get<std::string>() + " " + p["version"].get<std::string>();
  for (const auto& [name, line] : lines) ctx.out->info(line);
}

std::map<std::string, std::string> versions_of(const json& packages) {
  std::map<std::string, std::string> m;
  for (const auto& p : packages)
    if (p.is_object() && p.contains("name") && p.contains("version") && p["name"].is_string() &&
        p["version"].is_string())
      m[pep::normalize_name(p["name"].get<std::string>())] = p["version"].get<std::string>();
  return m;
}

void print_json_result(const std::string& env_dir, const std::string& digest, const json& packages,
                       const json& executed, size_t hits, uint64_t bytes, double seconds,
                       const PackageDiff& diff) {
  json j = {{"env", env_dir},         {"digest", digest},    {"packages", packages},
            {"executed", executed},   {"cache_hits", hits},  {"downloaded_bytes", bytes},
            {"seconds", seconds},     {"added", diff.added}, {"removed", diff.removed},
            {"changed", diff.changed}};
  std::printf("%s\n", j.dump().c_str());
}

/// A directory we may replace: absent, empty, or made by lavabuild.
Status check_replaceable(const std::string& dir) {
  auto st = fs::stat_path(dir);
  if (!st.exists) return {};
  if (!st.is_dir) return make_error(dir + " exists and is not a directory", "choose another -o");
  if (fs::exists(dir + "/.lavabuild")) return {};
  auto entries = fs::list_dir(dir);
  if (entries.ok() && entries->empty()) return {};
  return make_error(dir + " exists and was not made by lavabuild",
                    "remove it, or choose another -o");
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
      auto st = fs::stat_path(path + "/.lavabuild/stamp");
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

/// Says so and returns true when the env at `final_dir` was built from these very inputs.
bool report_if_up_to_date(Context& ctx, const std::string& final_dir,
                          const std::optional<Stamp>& old, const std::string& stamp,
                          Clock::time_point start) {
  if (!old || old->stamp != stamp) return false;
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (ctx.opt.json)
    print_json_result(final_dir, old->digest, old->packages, json::array(), 0, 0, secs, {});
  else
    ctx.out->info(final_dir + " is up to date (" + std::to_string(old->packages.size()) +
                  " packages)");
  return true;
}

/// The lock that serialises runs on one target: a lock file in the store, or in a read-only
/// store (nothing there to write) the target's parent directory itself.
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

int cmd_env(Context& ctx, Pipeline& pipe) {
  auto start = Clock::now();
  const Options& o = ctx.opt;
  std::string final_dir = fs::absolute(o.output);
  std::string stamp = pipe.compute_stamp();

  // One run at a time per target (runs on other targets go on): a second run waits, then
  // finds the env the first one built. An flock: no cost worth counting on the no-op path.
  auto target_lock = lock_target(ctx, final_dir);
  if (!target_lock.ok()) return fail(target_lock.error());
  remove_leftovers(ctx, final_dir, /*tmp_only=*/true);  // two small directory reads

  // No-op: same inputs as the env was built from; nothing is resolved or opened.
  // -U/-P: resolve again even with the same inputs (the index may have newer versions).
  std::optional<Stamp> old_stamp = read_stamp(final_dir);
  if (!upgrading(o) && report_if_up_to_date(ctx, final_dir, old_stamp, stamp, start)) return 0;
  (void)ctx.store->clean_leftovers();  // and journal/, locks/ when there is work to do
  if (auto st = check_replaceable(final_dir); !st.ok()) return fail(st.error());
  if (auto st = ctx.init_index(); !st.ok()) return fail(st.error());

  ctx.begin_reads();
  std::optional<env::Manifest> old_manifest = load_old_env(ctx, pipe, final_dir, old_stamp);
  drop_upgraded_preferences(o, pipe);

  auto resolved = pipe.resolve();
  if (!resolved.ok()) {
    flush_or_warn(ctx);  // index pages and metadata fetched so far stay useful
    if (cancel::cancelled())
      return report_interrupted(*ctx.out, {size_t(pipe.fetcher().downloaded_files()), 0},
                                final_dir);
    return fail(resolved.error());
  }
  std::map<std::string, std::string> new_versions;
  for (const auto& d : resolved->dists) new_versions[d.name] = d.version;
  PackageDiff diff = diff_packages(
      old_stamp ? versions_of(old_stamp->packages) : std::map<std::string, std::string>{},
      new_versions);
  // An upgrade that found nothing newer leaves the env as it is.
  if (old_manifest && diff.empty() &&
      report_if_up_to_date(ctx, final_dir, old_stamp, stamp, start)) {
    flush_or_warn(ctx);
    return 0;
  }

  if (auto st = fs::create_dirs(fs::dirname(final_dir)); !st.ok()) return fail(st.error());
  // Built beside the target under a random name, locked while this run lives: a later run
  // removes it only if this one was killed.
  auto owned_work_dir = fs::OwnedDir::create(final_dir);
  if (!owned_work_dir.ok()) return fail(owned_work_dir.error());
  std::string work_dir = owned_work_dir->path();
  graph::Graph g;
  auto built = pipe.build_graph(*resolved, final_dir, work_dir,
                                old_manifest ? &old_manifest->dists : nullptr, g);
  if (!built.ok()) {
    (void)fs::remove_all(work_dir);
    return fail(built.error());
  }
  ctx.end_reads();

  auto cleanup = [&] { (void)fs::remove_all(work_dir); };
  // Ctrl-C / SIGTERM: keep what was fetched and unpacked, drop the temp env, leave the target.
  auto interrupted = [&](const graph::ExecResult* r) {
    flush_or_warn(ctx);
    cleanup();
    Kept kept{size_t(pipe.fetcher().downloaded_files()), 0};
    for (int id : r ? r->executed : std::vector<int>{})
      if (g.steps()[size_t(id)].kind == graph::StepKind::unpack) ++kept.unpacked;
    return report_interrupted(*ctx.out, kept, final_dir);
  };
  std::vector<env::FileEntry> venv_files;
  if (auto st = env::create_venv(work_dir, final_dir, ctx.python, &venv_files); !st.ok()) {
    cleanup();
    return fail(st.error());
  }

  if (old_manifest) {
    const int64_t built_ns = fs::stat_path(final_dir + "/.lavabuild/stamp").mtime_ns;
    // The venv's own files (pyvenv.cfg, activate scripts) are usually unchanged: keep the old
    // env's inodes, so an incremental run touches only the distributions that differ.
    std::map<std::string, const env::FileEntry*> old_files;
    for (const auto& f : old_manifest->venv_files) old_files[f.path] = &f;
    for (const auto& f : venv_files) {
      auto it = old_files.find(f.path);
      if (f.mode == env::kModeSymlink || it == old_files.end() || it->second->sha256 != f.sha256 ||
          it->second->mode != f.mode)
        continue;
      std::string fresh = work_dir + "/" + f.path, old = final_dir + "/" + f.path;
      auto old_info = fs::stat_path(old);  // edited since it was built: keep the fresh file
      if (!old_info.is_regular || old_info.mtime_ns > built_ns) continue;
      std::string aside = fs::temp_sibling(fresh);
      if (fs::hard_link(old, aside).ok() && !fs::rename_path(aside, fresh).ok())
        (void)fs::remove_all(aside);
    }
  }

  for (const auto& r : pipe.repaired) ctx.out->info("repairing " + r);
  size_t to_run = 0, hits = 0;
  for (const auto& s : g.steps()) {
    if (s.needs_run) {
      ++to_run;
      ctx.out->explain(std::string(graph::to_string(s.kind)) + " " + s.label + ": " + s.reason);
    } else {
      ++hits;
    }
  }
  for (const auto& d : resolved->dists)
    if (d.fetched_while_resolving && !g.steps()[size_t(d.fetch_step)].needs_run) --hits;
  ctx.out->set_total(to_run);
  {
    // Downloads are I/O: fetch them all at once over parallel connections instead of
    // two at a time on the step pool; the fetch steps then find them in the store.
    std::vector<net::IndexFile> to_fetch;
    for (const auto& d : resolved->dists)
      if (g.steps()[size_t(d.fetch_step)].needs_run) to_fetch.push_back(d.file);
    pipe.fetcher().prefetch(to_fetch);
  }
  auto result = graph::execute(g, o.jobs, [&](const graph::Step& s, bool started) {
    if (started)
      ctx.out->step_started(std::string(graph::to_string(s.kind)), s.label);
    else
      ctx.out->step_finished(std::string(graph::to_string(s.kind)), s.label);
  });
  if (result.cancelled) return interrupted(&result);
  if (result.failure) {
    ctx.out->finish();
    flush_or_warn(ctx);  // what was fetched and unpacked stays useful
    cleanup();
    const auto& step = g.steps()[size_t(result.failure->first)];
    Error e = result.failure->second;
    e.message =
        std::string(graph::to_string(step.kind)) + " " + step.label + " failed: " + e.message;
    return fail(e);
  }

  // Unchanged distributions: hard-link their files from the old env, in parallel.
  env::LinkReport relinks;
  {
    size_t n = resolved->dists.size();
    std::vector<env::LinkReport> reports(n);
    std::vector<std::optional<Error>> errors(n);
    graph::ThreadPool pool(o.jobs);
    for (size_t i = 0; i < n; ++i) {
      if (g.steps()[size_t(resolved->dists[i].link_step)].needs_run) continue;
      pool.submit([&, i] {
        auto st = env::relink_dist(final_dir, work_dir, pipe.installed[i], reports[i]);
        if (!st.ok()) errors[i] = st.error();
      });
    }
    pool.wait();
    for (size_t i = 0; i < n; ++i) {
      if (errors[i]) {
        cleanup();
        return fail(*errors[i]);
      }
      relinks.linked += reports[i].linked;
      relinks.copied += reports[i].copied;
      if (reports[i].fell_back_to_copy && !relinks.fell_back_to_copy) {
        relinks.fell_back_to_copy = true;
        relinks.fallback_reason = reports[i].fallback_reason;
      }
    }
  }
  if (pipe.link_report.fell_back_to_copy || relinks.fell_back_to_copy)
    ctx.out->warn("could not " + o.link_mode + " files into " + final_dir + " (" +
                  (pipe.link_report.fell_back_to_copy ? pipe.link_report.fallback_reason
                                                      : relinks.fallback_reason) +
                  "); copied them instead");

  if (cancel::cancelled()) return interrupted(&result);  // the last point before the swap
  env::Manifest manifest;
  // Neither the stamp nor the env's path goes into the manifest (the stamp file has them),
  // so envs of the same requirements have byte-identical manifests that can share a blob.
  manifest.interpreter_executable = ctx.python.executable;
  manifest.interpreter_version = ctx.python.version;
  manifest.interpreter_key = ctx.python.key;
  manifest.dists = pipe.installed;
  manifest.venv_files = std::move(venv_files);
  std::string digest = env::manifest_digest(manifest);
  json packages = json::array();
  for (const auto& d : resolved->dists)
    packages.push_back({{"name", d.name}, {"version", d.version}});
  Status st = env::write_manifest(work_dir, manifest);
  if (st.ok() && o.link_mode == "hardlink") {
    std::vector<SharedFile> per_env{{work_dir + "/" + env::kManifestRel, false}};
    for (const auto& f : manifest.venv_files)
      if (f.mode != env::kModeSymlink)
        per_env.push_back({work_dir + "/" + f.path, f.mode == env::kModeExec});
    for (const auto& d : manifest.dists)
      for (const auto& f : d.files)
        if (f.per_env || written_by_installer(d, f.path))
          per_env.push_back({work_dir + "/" + f.path, f.mode == env::kModeExec});
    share_through_store(*ctx.store, per_env);
  }
  if (st.ok())
    st = fs::write_file(work_dir + "/.lavabuild/stamp",
                        render_stamp({stamp, digest, packages, final_dir}));
  if (st.ok()) {
    if (fs::exists(final_dir)) {
      st = fs::exchange_paths(work_dir, final_dir);
    } else {
      st = fs::rename_path(work_dir, final_dir);
    }
  }
  cleanup();  // after an exchange, work_dir holds the old env
  if (!st.ok()) return fail(st.error());
  // Which envs use which stored outputs ("env/<path>" -> JSON), for a future `cache gc`.
  json refs = {{"digest", digest},
               {"unpack", json::array()},
               {"wheels", json::array()},
               {"used", int64_t(std::time(nullptr))}};
  for (const auto& d : resolved->dists) {
    refs["unpack"].push_back(d.unpack_key);
    if (!d.sha256.empty()) refs["wheels"].push_back(d.sha256);
  }
  ctx.defer_put("env/" + final_dir, refs.dump());
  flush_or_warn(ctx);

  ctx.out->finish();
  if (old_stamp) report_diff(ctx, diff);  // a fresh env does not list every package
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  json executed = json::array();
  for (int id : result.executed) {
    const auto& s = g.steps()[size_t(id)];
    executed.push_back({{"kind", std::string(graph::to_string(s.kind))}, {"package", s.package}});
  }
  for (const auto& d : resolved->dists)
    if (d.fetched_while_resolving) executed.push_back({{"kind", "fetch"}, {"package", d.name}});
  uint64_t bytes = pipe.fetcher().downloaded_bytes();
  if (o.json) {
    print_json_result(final_dir, digest, packages, executed, hits, bytes, secs, diff);
  } else {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%zu packages in %s: %zu steps run, %zu cached, %.1f MB downloaded, %.2fs",
                  resolved->dists.size(), final_dir.c_str(), size_t(executed.size()), hits,
                  double(bytes) / 1e6, secs);
    ctx.out->info(line);
  }
  return 0;
}

int cmd_plan(Context& ctx, Pipeline& pipe) {
  ctx.begin_reads();
  std::string final_dir = fs::absolute(ctx.opt.output.empty() ? ".venv" : ctx.opt.output);
  std::optional<env::Manifest> old = load_old_env(ctx, pipe, final_dir, read_stamp(final_dir));
  drop_upgraded_preferences(ctx.opt, pipe);
  auto resolved = pipe.resolve();
  if (!resolved.ok()) return fail(resolved.error());
  graph::Graph g;
  auto built =
      pipe.build_graph(*resolved, final_dir, final_dir + ".plan", old ? &old->dists : nullptr, g);
  if (!built.ok()) return fail(built.error());
  flush_or_warn(ctx);
  std::string text = ctx.opt.format == "dot"    ? graph::to_dot(g)
                     : ctx.opt.format == "json" ? graph::to_json(g)
                                                : graph::to_text(g);
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  return 0;
}

/// `lock -o -`: the lock alone on stdout (every message goes to stderr).
Status write_stdout(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
    return make_error("cannot write the lock to stdout");
  return {};
}

int cmd_lock(Context& ctx, Pipeline& pipe) {
  const bool to_stdout = ctx.opt.output == "-";  // -o -: no lock file to read, clean or write
  // What killed runs left in the store, and beside the lock file (its temp files).
  (void)ctx.store->clean_leftovers();
  if (!to_stdout)
    for (const auto& path : fs::temp_siblings_of(fs::absolute(ctx.opt.output)))
      (void)fs::remove_if_abandoned(path);
  ctx.begin_reads();
  // Re-locking moves nothing without cause: the existing lock's pins are preferences
  // (but for what -U/-P upgrade).
  std::optional<std::map<std::string, std::string>> old_pins;
  if (auto text = fs::read_file(to_stdout ? std::string() : ctx.opt.output); text.ok()) {
    auto old = lock::parse_pylock(*text, ctx.opt.output);
    if (old.ok()) {
      old_pins.emplace();
      for (const auto& p : old->packages) {
        (*old_pins)[pep::normalize_name(p.name)] = p.version;
        if (auto v = pep::Version::parse(p.version); v.ok())
          pipe.preferences.emplace(pep::normalize_name(p.name), *v);
      }
    }
  }
  drop_upgraded_preferences(ctx.opt, pipe);
  auto resolved = pipe.resolve();
  if (!resolved.ok()) {
    flush_or_warn(ctx);
    return fail(resolved.error());
  }
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
  std::string out_dir = fs::dirname(fs::absolute(ctx.opt.output));
  // Every locked file must carry its size and hash: fetch what the store lacks, in parallel,
  // without holding the store's index (other processes may need it meanwhile).
  std::vector<net::IndexFile> missing;
  for (const auto& d : resolved->dists)
    if (pipe.fetcher().cached_sha(d.file).empty()) missing.push_back(d.file);
  flush_or_warn(ctx);
  pipe.fetcher().prefetch(missing);
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  std::vector<std::optional<Error>> errors(resolved->dists.size());
  for (int t = 0; t < std::max(1, ctx.opt.jobs); ++t)
    threads.emplace_back([&] {
      for (size_t i; (i = next++) < resolved->dists.size();) {
        bool ran = false;
        auto& d = resolved->dists[i];
        auto sha = pipe.fetcher().fetch(d.file, ran);
        if (!sha.ok()) {
          errors[i] = sha.error();
          continue;
        }
        d.sha256 = *sha;
        if (auto st = check_pinned(d, *ctx.store); !st.ok()) errors[i] = st.error();
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) {
      flush_or_warn(ctx);  // what was downloaded stays useful
      return fail(*e);
    }
  for (const auto& d : resolved->dists) {
    lock::Package p;
    p.name = d.name;
    p.version = d.version;
    p.dependencies = d.dependencies;
    lock::FileRef f;
    f.name = d.file.filename;
    std::string local = local_path_of(d.file.url);
    if (local.empty()) {
      f.url = d.file.url;
    } else {
      f.path = local;
      // Paths inside the lock's directory are written relative to it (portable checkouts).
      // On stdout the lock's directory is unknown: paths stay absolute.
      if (!to_stdout && starts_with(local, out_dir + "/"))
        f.path = local.substr(out_dir.size() + 1);
    }
    f.sha256 = d.sha256;
    f.size = fs::stat_path(ctx.store->blob_path(d.sha256, false)).size;
    p.wheels.push_back(f);
    l.packages.push_back(std::move(p));
  }
  flush_or_warn(ctx);
  if (auto st = to_stdout ? write_stdout(lock::write_pylock(l))
                          : fs::write_file_atomic(ctx.opt.output, lock::write_pylock(l));
      !st.ok())
    return fail(st.error());
  if (!to_stdout) record_lock_root(*ctx.store, fs::absolute(ctx.opt.output), l, *ctx.out);
  std::map<std::string, std::string> new_pins;
  for (const auto& p : l.packages) new_pins[pep::normalize_name(p.name)] = p.version;
  PackageDiff diff =
      diff_packages(old_pins.value_or(std::map<std::string, std::string>{}), new_pins);
  if (old_pins) report_diff(ctx, diff);  // a new lock does not list every package
  if (ctx.opt.json) {
    json j = {{"lock", fs::absolute(ctx.opt.output)},
              {"packages", json::array()},
              {"added", diff.added},
              {"removed", diff.removed},
              {"changed", diff.changed}};
    for (const auto& p : l.packages)
      j["packages"].push_back({{"name", p.name}, {"version", p.version}});
    std::printf("%s\n", j.dump().c_str());
  } else {
    ctx.out->info("locked " + std::to_string(l.packages.size()) + " packages into " +
                  (to_stdout ? std::string("stdout") : ctx.opt.output));
  }
  return 0;
}

/// --locked: the requirements must be satisfied by the lock, and the lock must be complete
/// (every dependency it names is in it); the env is then installed from the lock itself.
Status check_locked(Context& ctx, const std::string& lock_path) {
  auto text = fs::read_file(lock_path);
  if (!text.ok()) return make_error("cannot read lock file " + lock_path);
  LB_ASSIGN(auto l, lock::parse_pylock(*text, lock_path));
  std::map<std::string, std::string> pins;
  for (const auto& p : l.packages) pins[pep::normalize_name(p.name)] = p.version;
  std::vector<std::string> problems;
  for (const auto& e : ctx.reqs.requirements) {
    if (e.req.marker && !e.req.marker->evaluate(ctx.python.markers)) continue;
    if (e.req.name.empty()) {
      problems.push_back(e.loc.to_string() + ": " + e.text + " has no name to look up in the lock");
      continue;
    }
    std::string name = pep::normalize_name(e.req.name);
    auto it = pins.find(name);
    if (it == pins.end()) {
      problems.push_back(e.loc.to_string() + ": " + e.text + " is not in the lock");
      continue;
    }
    auto v = pep::Version::parse(it->second);
    if (!v.ok() || !e.req.specifier.contains(*v, true))
      problems.push_back(e.loc.to_string() + ": " + e.text + " does not allow the locked " + name +
                         " " + it->second);
  }
  for (const auto& p : l.packages)
    for (const auto& dep : p.dependencies)
      if (!pins.count(pep::normalize_name(dep)))
        problems.push_back("the lock's " + p.name + " depends on " + dep +
                           ", which it does not pin");
  if (!problems.empty())
    return make_error(
        "the requirements no longer match " + lock_path + ":\n  " + join(problems, "\n  "),
        "run `lavabuild lock` again, or drop --locked");
  return {};
}

int cmd_verify(const Options& o) {
  std::string dir = fs::absolute(o.inputs[0]);
  auto diffs = env::verify_env(dir);
  if (!diffs.ok()) return fail(diffs.error());
  if (o.json) {
    json j = {{"env", dir}, {"ok", diffs->empty()}, {"differences", json::array()}};
    for (const auto& d : *diffs)
      j["differences"].push_back(
          {{"kind", env::difference_kind_name(d.kind)}, {"path", d.path}, {"detail", d.detail}});
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (const auto& d : *diffs)
      std::printf("%-12s %s%s\n", env::difference_kind_name(d.kind), d.path.c_str(),
                  d.detail.empty() ? "" : ("  (" + d.detail + ")").c_str());
    if (diffs->empty())
      std::fprintf(stderr, "%s matches its manifest\n", dir.c_str());
    else
      std::fprintf(stderr, "%s differs from its manifest in %zu files\n", dir.c_str(),
                   diffs->size());
  }
  return diffs->empty() ? 0 : 1;
}

int cmd_cache_verify(store::Store& store, const Options& o) {
  auto problems = check_cache(store);
  if (!problems.ok()) return fail(problems.error());
  for (const auto& f : problems->bad_files) std::printf("corrupt %s\n", f.c_str());
  for (size_t i = 0; i < problems->bad_entries.size(); ++i)
    std::printf("dangling %s: %s\n", problems->bad_entries[i].c_str(),
                problems->entry_detail[i].c_str());
  size_t files = problems->bad_files.size(), entries = problems->bad_entries.size();
  if (problems->empty()) {
    std::fprintf(stderr, "%s: all files verified\n", o.cache_dir.c_str());
    return 0;
  }
  std::string what = std::to_string(files) + " corrupt files, " + std::to_string(entries) +
                     " index entries that need them";
  if (!o.repair) {
    std::fprintf(stderr,
                 "%s: %s\n  hint: `lavabuild cache verify --repair` removes them; the "
                 "next run fetches or unpacks them again\n",
                 o.cache_dir.c_str(), what.c_str());
    return 1;
  }
  if (auto st = repair_cache(store, *problems); !st.ok()) return fail(st.error());
  std::fprintf(stderr, "%s: removed %s; the next run fetches or unpacks them again\n",
               o.cache_dir.c_str(), what.c_str());
  return 0;
}

int cmd_cache(const Options& o, Reporter& out) {
  store::StoreOptions so;
  so.warn = [&](const std::string& w) { out.warn(w); };
  so.use = o.cache_action == "gc" ? store::StoreUse::gc : store::StoreUse::run;
  auto s = store::Store::open(o.cache_dir, so);
  if (!s.ok()) return fail(s.error());
  if (o.cache_action == "stats") {
    auto st = (*s)->stats();
    if (!st.ok()) return fail(st.error());
    // Temp envs that killed runs left beside the envs this cache built.
    uint64_t env_left = 0, env_left_bytes = 0;
    (void)(*s)->scan("env/", [&](std::string_view key, std::string_view) {
      for (const auto& p : fs::temp_siblings_of(std::string(key.substr(4))))
        if (fs::is_abandoned(p)) {
          ++env_left;
          env_left_bytes += fs::tree_size(p);
        }
      return true;
    });
    auto areas = bytes_by_area((*s)->dir());  // every byte under the cache dir
    uint64_t total = 0;
    for (const auto& [area, bytes] : areas) total += bytes;
    uint64_t left = st->leftover_entries + env_left;
    uint64_t left_bytes = st->leftover_bytes + env_left_bytes;
    if (o.json) {
      std::printf("%s\n", json({{"dir", o.cache_dir},
                                {"blobs", st->blobs},
                                {"bytes", st->bytes},
                                {"index_entries", st->index_entries},
                                {"leftovers", left},
                                {"leftover_bytes", left_bytes},
                                {"total_bytes", total},
                                {"bytes_by_area", areas}})
                              .dump()
                              .c_str());
    } else {
      std::printf("%s: %llu files, %.1f MB, %llu index entries; %.1f MB on disk in all\n",
                  o.cache_dir.c_str(), (unsigned long long)st->blobs, double(st->bytes) / 1e6,
                  (unsigned long long)st->index_entries, double(total) / 1e6);
      if (left > 0)
        std::printf("%llu leftovers of interrupted runs, %.1f MB (the next run removes them)\n",
                    (unsigned long long)left, double(left_bytes) / 1e6);
    }
    return 0;
  }
  if (o.cache_action == "verify") return cmd_cache_verify(**s, o);
  if (o.cache_action == "gc") return cmd_cache_gc(**s, o);
  std::fprintf(stderr, "error: unknown cache action '%s' (stats, verify)\n",
               o.cache_action.c_str());
  return 2;
}

}  // namespace

int run(int argc, char** argv) {
  std::string help;
  auto parsed = parse_options(argc, argv, help);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n", parsed.error().to_string().c_str());
    return 2;
  }
  if (!help.empty()) {
    std::fputs(help.c_str(), stdout);
    return 0;
  }
  const Options& o = *parsed;
  Reporter out(o.json, o.verbose);
  if (o.command == "verify") return cmd_verify(o);
  if (o.command == "cache") return cmd_cache(o, out);

  Context ctx;
  if (auto st = ctx.init(o, out); !st.ok()) return fail(st.error());
  Pipeline pipe(ctx);
  if (auto st = pipe.load_inputs(); !st.ok()) return fail(st.error());
  if (o.command != "env")  // env sets up the network only after its no-op check
    if (auto st = ctx.init_index(); !st.ok()) return fail(st.error());
  if (!o.locked.empty()) {
    if (auto st = check_locked(ctx, o.locked); !st.ok()) return fail(st.error());
    if (o.command == "env" || o.command == "plan")
      if (auto st = pipe.use_lock(o.locked); !st.ok()) return fail(st.error());
  }

  int rc = o.command == "env"    ? cmd_env(ctx, pipe)
           : o.command == "plan" ? cmd_plan(ctx, pipe)
           : o.command == "lock" ? cmd_lock(ctx, pipe)
                                 : 2;
  return rc != 0 && cancel::cancelled() ? cancel::exit_code() : rc;
}

}  // namespace lb::cli
