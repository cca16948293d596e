#include "cli/commands.hpp"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli/cache_gc_command.hpp"
#include "cli/instance_command.hpp"
#include "cli/interrupted.hpp"
#include "cli/options.hpp"
#include "cli/output.hpp"
#include "engine/cache_gc.hpp"
#include "engine/cache_verify.hpp"
#include "engine/context.hpp"
#include "engine/env_build.hpp"
#include "engine/lock_build.hpp"
#include "engine/pipeline.hpp"
#include "env/manifest.hpp"
#include "graph/graph.hpp"
#include "instance/supervisor.hpp"
#include "pep/name.hpp"
#include "remote/layer.hpp"
#include "remote/sign.hpp"
#include "util/cancel.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::cli {

namespace {

using json = nlohmann::json;
using engine::Context;
using engine::Options;
using engine::Pipeline;

int fail(Reporter& out, const Error& e) {
  out.error(e);
  return 1;
}

json pins_json(const std::vector<engine::PackagePin>& pins) {
  json j = json::array();
  for (const auto& p : pins) j.push_back({{"name", p.name}, {"version", p.version}});
  return j;
}

/// {"added": [{name, version}], "removed": [{name, version}], "changed": [{name, from, to}]}
void add_diff(json& j, const engine::PackageDiff& d) {
  j["added"] = j["removed"] = j["changed"] = json::array();
  for (const auto& c : d.added) j["added"].push_back({{"name", c.name}, {"version", c.to}});
  for (const auto& c : d.removed) j["removed"].push_back({{"name", c.name}, {"version", c.from}});
  for (const auto& c : d.changed)
    j["changed"].push_back({{"name", c.name}, {"from", c.from}, {"to", c.to}});
}

/// uv's lines on stderr: "- name 1.0", "~ name 1.0 -> 1.1", "+ name 2.0", by name.
void report_diff(Reporter& out, const engine::PackageDiff& d) {
  std::map<std::string, std::string> lines;
  for (const auto& c : d.removed) lines[c.name] = "- " + c.name + " " + c.from;
  for (const auto& c : d.changed) lines[c.name] = "~ " + c.name + " " + c.from + " -> " + c.to;
  for (const auto& c : d.added) lines[c.name] = "+ " + c.name + " " + c.to;
  for (const auto& [name, line] : lines) out.info(line);
}

void render_env(Reporter& out, const Options& o, const engine::EnvReport& r) {
  if (!r.up_to_date && r.had_env) report_diff(out, r.diff);  // a fresh env lists nothing
  if (o.json) {
    json j = {{"env", r.env_dir},
              {"digest", r.digest},
              {"packages", pins_json(r.packages)},
              {"executed", json::array()},
              {"cache_hits", r.cache_hits},
              {"downloaded_bytes", r.downloaded_bytes},
              {"seconds", r.seconds}};
    for (const auto& s : r.executed)
      j["executed"].push_back({{"kind", s.kind}, {"package", s.package}});
    if (r.remote)
      j["remote"] = {{"hits", r.remote->hits},
                     {"misses", r.remote->misses},
                     {"uploaded_bytes", r.remote->uploaded_bytes},
                     {"downloaded_bytes", r.remote->downloaded_bytes},
                     {"errors", r.remote->errors}};
    add_diff(j, r.diff);
    std::printf("%s\n", j.dump().c_str());
  } else if (r.up_to_date) {
    out.summary(r.env_dir + " is up to date (" + std::to_string(r.packages.size()) + " packages)");
  } else {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%zu packages in %s: %zu steps run, %zu cached, %.1f MB downloaded, %.2fs",
                  r.packages.size(), r.env_dir.c_str(), r.executed.size(), r.cache_hits,
                  double(r.downloaded_bytes) / 1e6, r.seconds);
    std::string summary = line;
    if (r.remote && r.remote->hits + r.remote->misses + r.remote->uploaded_bytes > 0) {
      std::snprintf(line, sizeof line, "; remote: %llu hits, %llu misses, %.1f MB down, %.1f MB up",
                    (unsigned long long)r.remote->hits, (unsigned long long)r.remote->misses,
                    double(r.remote->downloaded_bytes) / 1e6,
                    double(r.remote->uploaded_bytes) / 1e6);
      summary += line;
    }
    out.summary(summary);
  }
}

int cmd_env(Context& ctx, Pipeline& pipe, Reporter& out) {
  pipe.reinstall_all = ctx.opt.reinstall;
  for (const auto& n : ctx.opt.reinstall_packages) pipe.reinstall.insert(pep::normalize_name(n));
  auto report = engine::build_env(ctx, pipe);
  if (!report.ok()) return fail(out, report.error());
  if (report->interrupted)
    return report_interrupted(out, {report->kept_downloaded, report->kept_unpacked},
                              report->env_dir);
  render_env(out, ctx.opt, *report);
  return 0;
}

int cmd_plan(Context& ctx, Pipeline& pipe, Reporter& out) {
  auto plan = engine::plan_env(ctx, pipe);
  if (!plan.ok()) return fail(out, plan.error());
  out.finish();  // the plan goes to stdout, which may be the same terminal
  const graph::Graph& g = (*plan)->graph;
  std::string text = ctx.opt.format == "dot"    ? graph::to_dot(g)
                     : ctx.opt.format == "json" ? graph::to_json(g)
                                                : graph::to_text(g);
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  return 0;
}

int cmd_lock(Context& ctx, Pipeline& pipe, Reporter& out) {
  auto rep = engine::build_lock(ctx, pipe);
  if (!rep.ok()) return fail(out, rep.error());
  out.finish();
  if (rep->path == "-") {  // the lock alone on stdout (every message goes to stderr)
    if (std::fwrite(rep->text.data(), 1, rep->text.size(), stdout) != rep->text.size() ||
        std::fflush(stdout) != 0)
      return fail(out, make_error("cannot write the lock to stdout"));
  }
  if (rep->had_lock) report_diff(out, rep->diff);  // a new lock does not list every package
  if (ctx.opt.json) {
    json j = {{"lock", rep->path}, {"packages", pins_json(rep->packages)}};
    add_diff(j, rep->diff);
    std::printf("%s\n", j.dump().c_str());
  } else {
    out.summary("locked " + std::to_string(rep->packages.size()) + " packages into " +
                (rep->path == "-" ? std::string("stdout") : ctx.opt.output));
  }
  return 0;
}

int cmd_verify(const Options& o, Reporter& out) {
  // Through symlinks (an instance's current/env): the env is where it was built.
  std::string dir = fs::absolute(o.inputs[0]);
  if (char* real = ::realpath(dir.c_str(), nullptr)) {
    dir = real;
    std::free(real);
  }
  auto diffs = env::verify_env(dir);
  if (!diffs.ok()) return fail(out, diffs.error());
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

int cmd_cache_verify(store::Store& store, const Options& o, Reporter& out) {
  auto problems = engine::check_cache(store);
  if (!problems.ok()) return fail(out, problems.error());
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
  if (auto st = engine::repair_cache(store, *problems); !st.ok()) return fail(out, st.error());
  std::fprintf(stderr, "%s: removed %s; the next run fetches or unpacks them again\n",
               o.cache_dir.c_str(), what.c_str());
  return 0;
}

/// `cache stats`: every byte under the cache dir, by area, and what killed runs left.
int cmd_cache_stats(store::Store& store, const Options& o, Reporter& out) {
  auto st = store.stats();
  if (!st.ok()) return fail(out, st.error());
  // Temp envs that killed runs left beside the envs this cache built.
  uint64_t left = st->leftover_entries, left_bytes = st->leftover_bytes;
  (void)store.scan("env/", [&](std::string_view key, std::string_view) {
    for (const auto& p : fs::temp_siblings_of(std::string(key.substr(4))))
      if (fs::is_abandoned(p)) {
        ++left;
        left_bytes += fs::tree_size(p);
      }
    return true;
  });
  auto areas = engine::bytes_by_area(store.dir());
  engine::RemoteTotals remote = engine::read_remote_totals(store);
  uint64_t lookups = remote.hits + remote.misses;
  uint64_t total = 0;
  for (const auto& [area, bytes] : areas) total += bytes;
  if (o.json) {
    json j = {{"dir", o.cache_dir},   {"blobs", st->blobs},
              {"bytes", st->bytes},   {"index_entries", st->index_entries},
              {"leftovers", left},    {"leftover_bytes", left_bytes},
              {"total_bytes", total}, {"bytes_by_area", areas}};
    j["remote"] = {{"hits", remote.hits},
                   {"misses", remote.misses},
                   {"hit_rate", lookups ? double(remote.hits) / double(lookups) : 0.0},
                   {"uploaded_bytes", remote.uploaded_bytes},
                   {"downloaded_bytes", remote.downloaded_bytes},
                   {"errors", remote.errors}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("%s: %llu files, %.1f MB, %llu index entries; %.1f MB on disk in all\n",
              o.cache_dir.c_str(), (unsigned long long)st->blobs, double(st->bytes) / 1e6,
              (unsigned long long)st->index_entries, double(total) / 1e6);
  if (lookups + remote.uploaded_bytes + remote.errors > 0)
    std::printf(
        "remote cache: %llu hits, %llu misses (hit rate %.0f%%), %.1f MB downloaded, %.1f MB "
        "uploaded, %llu errors\n",
        (unsigned long long)remote.hits, (unsigned long long)remote.misses,
        lookups ? 100.0 * double(remote.hits) / double(lookups) : 0.0,
        double(remote.downloaded_bytes) / 1e6, double(remote.uploaded_bytes) / 1e6,
        (unsigned long long)remote.errors);
  if (left > 0)
    std::printf("%llu leftovers of interrupted runs, %.1f MB (the next run removes them)\n",
                (unsigned long long)left, double(left_bytes) / 1e6);
  return 0;
}

/// `cache push|pull pylock.toml`: the env of the lock, built into a scratch directory with the
/// remote attached (pull: what it needs lands in the store; push: every shared entry it uses
/// is published too), then removed.
int cache_lock_through_remote(Context& ctx, Reporter& out, const std::string& lock_path) {
  remote::Layer* layer = remote::layer_of(*ctx.store);
  bool push = ctx.opt.cache_action == "push";
  if (push) layer->set_push_on_hit(true);
  std::string scratch = fs::join_path(ctx.store->tmp_dir(), "cache-" + ctx.opt.cache_action);
  ctx.opt.command = "env";
  ctx.opt.output = scratch;
  ctx.opt.inputs = {lock_path};
  Pipeline pipe(ctx);
  if (auto st = pipe.load_inputs(); !st.ok()) return fail(out, st.error());
  auto report = engine::build_env(ctx, pipe);
  (void)fs::remove_all(scratch);
  (void)ctx.store->erase("env/" + scratch);
  if (!report.ok()) return fail(out, report.error());
  if (!layer->usable()) return 1;  // the warning said why
  const auto& r = *ctx.remote_stats;
  char line[256];
  if (push)
    std::snprintf(line, sizeof line, "pushed %llu entries (%.1f MB) for %s",
                  (unsigned long long)layer->published(), double(r.uploaded_bytes) / 1e6,
                  lock_path.c_str());
  else
    std::snprintf(line, sizeof line,
                  "pulled %llu entries (%.1f MB) for %s; %zu steps ran here, %zu were cached",
                  (unsigned long long)r.hits.load(), double(r.downloaded_bytes) / 1e6,
                  lock_path.c_str(), report->executed.size(), report->cache_hits);
  out.summary(line);
  return 0;
}

/// `cache push ENV|pylock.toml`, `cache pull pylock.toml`.
int cmd_cache_remote(const Options& o, Reporter& out) {
  if (o.remote.cache.empty())
    return fail(out, make_error("lavabuild cache " + o.cache_action + " needs a remote cache",
                                "give --remote-cache URL (or remote.cache in a config file)"));
  Context ctx;
  if (auto st = ctx.init(o, out); !st.ok()) return fail(out, st.error());
  remote::Layer* layer = remote::layer_of(*ctx.store);
  if (!layer) return 1;  // attach_remote warned why the remote is not usable
  const std::string& target = o.inputs.front();
  bool is_env = fs::is_dir(target) && fs::exists(fs::join_path(target, ".lavabuild"));
  if (o.cache_action == "push" && !layer->writable())
    return fail(out, make_error("cannot push: the remote cache is not writable",
                                "give --signing-key FILE (and not --remote-read-only)"));
  if (!is_env) return cache_lock_through_remote(ctx, out, target);
  if (o.cache_action == "pull")
    return fail(out,
                make_error("lavabuild cache pull takes a pylock.toml, not an env (" + target + ")",
                           "lock the env's requirements with `lavabuild lock`"));
  auto n = engine::push_env_entries(ctx, target);
  ctx.flush_or_warn();
  if (!n.ok()) return fail(out, n.error());
  char line[256];
  std::snprintf(line, sizeof line, "pushed %llu entries (%.1f MB) for %s", (unsigned long long)*n,
                double(ctx.remote_stats->uploaded_bytes) / 1e6, target.c_str());
  out.summary(line);
  return 0;
}

/// `cache keygen`: needs no store; the public key line goes to stdout, to be pasted into the
/// clients' remote.trusted-keys.
int cmd_cache_keygen(const Options& o, Reporter& out) {
  auto pk = remote::write_key_pair(o.key_name, o.secret_key_file, o.public_key_file);
  if (!pk.ok()) return fail(out, pk.error());
  std::printf("%s\n", remote::format_public_key(*pk).c_str());
  std::fprintf(stderr,
               "wrote the secret key to %s (mode 0600: remote.signing-key on the host that "
               "uploads) and the public key to %s (remote.trusted-keys on clients)\n",
               o.secret_key_file.c_str(), o.public_key_file.c_str());
  return 0;
}

int cmd_cache(const Options& o, Reporter& out) {
  if (o.cache_action == "push" || o.cache_action == "pull") return cmd_cache_remote(o, out);
  if (o.cache_action == "keygen") return cmd_cache_keygen(o, out);
  store::StoreOptions so;
  so.warn = [&](const std::string& w) { out.warn(w); };
  so.use = o.cache_action == "gc" ? store::StoreUse::gc : store::StoreUse::run;
  auto s = store::Store::open(o.cache_dir, so);
  if (!s.ok()) return fail(out, s.error());
  if (o.cache_action == "stats") return cmd_cache_stats(**s, o, out);
  if (o.cache_action == "verify") return cmd_cache_verify(**s, o, out);
  if (o.cache_action == "gc") return cmd_cache_gc(**s, o);
  std::fprintf(stderr, "error: unknown cache action '%s' (stats, gc, verify, keygen)\n",
               o.cache_action.c_str());
  return 2;
}

}  // namespace

int run(int argc, char** argv) {
  // The supervisor `instance start` launches: not a user command (instance/supervisor.hpp).
  if ((argc == 4 || argc == 5) && std::string(argv[1]) == instance::kSuperviseCommand)
    return instance::supervise_main(argv[2], argv[3], argc == 5 ? argv[4] : "");
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
  Reporter out(o.json, o.quiet     ? Verbosity::quiet
                       : o.verbose ? Verbosity::verbose
                                   : Verbosity::normal);
  if (o.command == "verify") return cmd_verify(o, out);
  if (o.command == "cache") return cmd_cache(o, out);
  if (o.command == "instance") return cmd_instance(o, out);

  Context ctx;
  if (auto st = ctx.init(o, out); !st.ok()) return fail(out, st.error());
  Pipeline pipe(ctx);
  if (auto st = pipe.load_inputs(); !st.ok()) return fail(out, st.error());
  if (o.command != "env")  // env sets up the network only after its no-op check
    if (auto st = ctx.init_index(); !st.ok()) return fail(out, st.error());
  if (!o.locked.empty()) {
    if (auto st = engine::check_locked(ctx, o.locked); !st.ok()) return fail(out, st.error());
    if (o.command == "env" || o.command == "plan")
      if (auto st = pipe.use_lock(o.locked); !st.ok()) return fail(out, st.error());
  }

  int rc = o.command == "env"    ? cmd_env(ctx, pipe, out)
           : o.command == "plan" ? cmd_plan(ctx, pipe, out)
           : o.command == "lock" ? cmd_lock(ctx, pipe, out)
                                 : 2;
  return rc != 0 && cancel::cancelled() ? cancel::exit_code() : rc;
}

}  // namespace lb::cli
