#include "instance/instance.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "engine/context.hpp"
#include "engine/env_build.hpp"
#include "engine/lock_build.hpp"
#include "engine/pipeline.hpp"
#include "instance/config.hpp"
#include "instance/database.hpp"
#include "instance/recipe.hpp"
#include "instance/sums.hpp"
#include "instance/systemd.hpp"
#include "instance/users.hpp"
#include "pep/name.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace lb::instance {
namespace {

using json = nlohmann::json;
constexpr const char* kGenerationFormat = "lavabuild.generation.v1";
constexpr std::chrono::seconds kHookTimeout{3600};
/// How long `start` watches new processes for an exit right away.
constexpr std::chrono::milliseconds kStartWatch{1000};
constexpr const char* kSystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string read_or_empty(const std::string& path) {
  auto text = fs::read_file(path);
  return text.ok() ? *text : std::string();
}

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

/// ROOT/instances/.NAME.lock: not an instance name (list_instances skips it).
std::string lock_path(const std::string& root, const std::string& name) {
  return fs::absolute(root) + "/instances/." + name + ".lock";
}

}  // namespace

Result<fs::FileLock> lock_instance(const std::string& root, const std::string& name,
                                   engine::Output& out) {
  return fs::FileLock::acquire_or_wait(lock_path(root, name), [&] {
    out.warn("waiting for another lavabuild command on instance " + name);
  });
}

namespace {

Recipe recipe_or_empty(const std::string& path) {
  auto r = read_recipe(path);
  return r.ok() ? *r : Recipe{};
}

/// What processes and hooks get: the instance's paths (and DATABASE_URL), then the recipe's
/// [environment], then the instance's --env overrides. `env_dir`: the env they run in.
Variables variables_for(const Paths& p, const InstanceConfig& cfg, const Recipe& recipe,
                        int generation, const std::string& env_dir) {
  Variables v = {{"INSTANCE_NAME", cfg.name}, {"INSTANCE_DIR", p.dir},
                 {"INSTANCE_VAR", p.var},     {"INSTANCE_RUN", p.run},
                 {"INSTANCE_LOG", p.log},     {"INSTANCE_GENERATION", std::to_string(generation)},
                 {"VIRTUAL_ENV", env_dir},    {"PATH", env_dir + "/bin:" + kSystemPath}};
  if (!cfg.user.empty()) v.emplace_back("HOME", p.var);
  if (!cfg.database.engine.empty()) v.emplace_back("DATABASE_URL", database_url(cfg.database));
  for (const auto& [k, val] : recipe.environment) set_variable(v, k, val);
  for (const auto& [k, val] : cfg.env) set_variable(v, k, val);
  return v;
}

/// A file only root and the instance's user may read (it may hold the database password):
/// 0600 root's without --user; 0640 root:the user's group with it (with --user alone that
/// group is the user's own; etc/ stays root's, so the user cannot replace the file).
Status write_private(const InstanceConfig& cfg, const std::string& path, const std::string& text) {
  if (cfg.user.empty()) return fs::write_file_atomic(path, text, 0600);
  LB_ASSIGN(User u, find_user(cfg.user));
  std::string tmp = fs::temp_sibling(path);
  LB_TRY(fs::write_file_atomic(tmp, text, 0640));
  if (::chown(tmp.c_str(), 0, u.gid) != 0) {
    (void)fs::remove_all(tmp);
    return make_error("cannot give " + path + " to the group of " + cfg.user + ": " +
                      std::strerror(errno));
  }
  return fs::rename_path(tmp, path);
}

/// etc/environment and etc/systemd/ for the live generation `live` (installing the units
/// where systemd runs).
Status write_live_files(const Paths& p, const InstanceConfig& cfg, int live) {
  Recipe r = recipe_or_empty(p.generation(live) + "/recipe.toml");
  // The live generation's own env, not current/: a process started before a switch and one
  // started after see one generation each, never a mix.
  LB_TRY(
      write_private(cfg, p.env_file(),
                    render_env_file(variables_for(p, cfg, r, live, p.generation(live) + "/env"))));
  std::string units = p.etc + "/systemd";
  LB_TRY(fs::create_dirs(units));
  std::set<std::string> now;
  for (const auto& [proc, cmd] : r.processes) now.insert(unit_name(cfg.name, proc));
  if (auto old = fs::list_dir(units); old.ok())
    for (const auto& f : *old) {
      (void)fs::remove_all(units + "/" + f);
      // A process the live recipe no longer has: its unit stopped and uninstalled.
      if (systemd_running() && !now.count(f)) {
        (void)run_process({"systemctl", "disable", "--now", f});
        (void)fs::remove_all("/etc/systemd/system/" + f);
      }
    }
  for (const auto& [proc, cmd] : r.processes) {
    std::string text = render_unit(p, cfg.name, proc, cmd, cfg.user);
    LB_TRY(fs::write_file_atomic(units + "/" + unit_name(cfg.name, proc), text));
    if (systemd_running())
      LB_TRY(fs::write_file_atomic("/etc/systemd/system/" + unit_name(cfg.name, proc), text));
  }
  if (systemd_running()) (void)run_process({"systemctl", "daemon-reload"});
  return {};
}

/// Run a hook with exactly `vars` (and HOME, LANG), in var/, its output appended to
/// log/hooks.log; a failure quotes the hook's last lines.
Status run_hook(const Paths& p, const InstanceConfig& cfg, const std::string& hook,
                const std::string& command, const Variables& vars) {
  std::string log_path = p.log + "/hooks.log";
  std::string head = "==> lavabuild: " + hook + " hook (" + iso_now() + "): " + command;
  ProcessOptions po;
  po.cwd = p.var;
  po.timeout = kHookTimeout;
  po.own_process_group = true;
  std::set<std::string> keep = {"HOME", "LANG"};
  for (const auto& [k, v] : vars) {
    po.env[k] = v;
    keep.insert(k);
  }
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string k = kv.substr(0, kv.find('='));
    if (!keep.count(k)) po.unset_env.push_back(k);
  }
  std::vector<std::string> argv;
  if (cfg.user.empty()) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
      (void)!::write(fd, (head + "\n").data(), head.size() + 1);
      ::close(fd);
    }
    po.output_path = log_path;
    argv = {"/bin/sh", "-c", command};
  } else {
    // As the instance's user, which owns log/: it opens hooks.log itself (root never writes
    // through a path that user controls). setpriv keeps the environment as it is.
    LB_ASSIGN(User u, find_user(cfg.user));
    argv = as_user(u);
    argv.insert(argv.end(), {"/bin/sh", "-c",
                             "printf '%s\\n' \"$2\" >>\"$1\" && exec >>\"$1\" 2>&1 </dev/null && "
                             "exec /bin/sh -c \"$3\"",
                             "sh", log_path, head, command});
  }
  LB_ASSIGN(ProcessResult r, run_process(argv, po));
  if (r.exit_code == 0 && !r.timed_out && !r.cancelled) return {};
  std::string why = r.timed_out   ? "ran longer than " + std::to_string(kHookTimeout.count()) + " s"
                    : r.cancelled ? "was interrupted"
                                  : "exited with status " + std::to_string(r.exit_code);
  std::string tail;
  for (const auto& l : tail_log(log_path, 10)) tail += "\n  " + l;
  return make_error("the " + hook + " hook (" + command + ") " + why + "; its last lines in " +
                        log_path + ":" + tail,
                    "fix the hook in the recipe, then run the command again");
}

Status copy_text(const std::string& from, const std::string& to) {
  LB_ASSIGN(std::string text, fs::read_file(from));
  return fs::write_file_atomic(to, text);
}

/// Step one of a generation: its directory, requirements, recipe and lock (pins of
/// `prev_lock` kept unless upgrading).
Status lock_generation(const Paths& p, int n, const std::string& reqs, const std::string& prev_lock,
                       const std::string& recipe, bool upgrade,
                       const std::vector<std::string>& upgrade_packages,
                       const engine::Options& base, engine::Output& out) {
  std::string gen = p.generation(n);
  LB_TRY(fs::remove_all(gen));
  LB_TRY(fs::create_dirs(gen));
  LB_TRY(fs::write_file_atomic(gen + "/recipe.toml",
                               recipe.empty() ? std::string() : read_or_empty(recipe)));
  std::string lock = gen + "/pylock.toml";
  if (ends_with(reqs, ".toml")) return copy_text(reqs, lock);
  LB_TRY(copy_text(reqs, gen + "/requirements.txt"));
  if (!prev_lock.empty() && fs::exists(prev_lock)) LB_TRY(copy_text(prev_lock, lock));
  engine::Options o = base;
  o.command = "lock";
  o.inputs = {reqs};
  o.output = lock;
  o.upgrade = upgrade;
  o.upgrade_packages = upgrade_packages;
  o.json = false;
  engine::Context ctx;
  LB_TRY(ctx.init(o, out));
  engine::Pipeline pipe(ctx);
  LB_TRY(pipe.load_inputs());
  LB_TRY(ctx.init_index());
  LB_ASSIGN(auto rep, engine::build_lock(ctx, pipe));
  (void)rep;
  return {};
}

/// Step two: the env from the lock, then generation.json (last: the generation is complete).
Result<GenerationInfo> build_generation_env(const Paths& p, int n, const std::string& reqs,
                                            const engine::Options& base, engine::Output& out) {
  std::string gen = p.generation(n);
  engine::Options o = base;
  o.command = "env";
  o.inputs = {gen + "/pylock.toml"};
  o.output = gen + "/env";
  o.upgrade = false;
  o.upgrade_packages.clear();
  o.json = false;
  engine::Context ctx;
  LB_TRY(ctx.init(o, out));
  engine::Pipeline pipe(ctx);
  LB_TRY(pipe.load_inputs());
  LB_ASSIGN(auto rep, engine::build_env(ctx, pipe));
  if (rep.interrupted)
    return make_error("interrupted while building generation " + std::to_string(n));
  GenerationInfo g{n, iso_now(), rep.digest, reqs, rep.packages};
  json pk = json::array();
  for (const auto& pin : g.packages) pk.push_back({{"name", pin.name}, {"version", pin.version}});
  json j = {{"format", kGenerationFormat}, {"generation", n},      {"created", g.created},
            {"digest", g.digest},          {"requirements", reqs}, {"packages", pk}};
  LB_TRY(fs::write_file_atomic(gen + "/generation.json", j.dump(2) + "\n"));
  return g;
}

Result<GenerationInfo> read_generation(const Paths& p, int n) {
  std::string path = p.generation(n) + "/generation.json";
  LB_ASSIGN(std::string text, fs::read_file(path));
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("format", std::string()) != kGenerationFormat)
    return make_error(path + " is not a " + std::string(kGenerationFormat) + " file");
  GenerationInfo g;
  g.generation = n;
  g.created = j.value("created", std::string());
  g.digest = j.value("digest", std::string());
  g.requirements = j.value("requirements", std::string());
  if (j.contains("packages") && j["packages"].is_array())
    for (const auto& pk : j["packages"])
      if (pk.is_object())
        g.packages.push_back({pk.value("name", std::string()), pk.value("version", std::string())});
  return g;
}

std::string describe_changes(const GenerationInfo& from, const GenerationInfo& to) {
  std::map<std::string, std::string> a, b;
  for (const auto& pin : from.packages) a[pep::normalize_name(pin.name)] = pin.version;
  for (const auto& pin : to.packages) b[pep::normalize_name(pin.name)] = pin.version;
  auto d = engine::diff_packages(a, b);
  std::vector<std::string> parts;
  for (const auto& c : d.changed) parts.push_back(c.name + " " + c.from + " -> " + c.to);
  for (const auto& c : d.added) parts.push_back("+" + c.name + " " + c.to);
  for (const auto& c : d.removed) parts.push_back("-" + c.name + " " + c.from);
  return parts.empty() ? "no package changed" : join(parts, ", ");
}

Status check_overrides(const Variables& env) {
  for (const auto& [k, v] : env) {
    if (!is_variable_name(k))
      return make_error("usage: --env " + k + "=...: '" + k + "' is not a variable name");
    if (v.find('\n') != std::string::npos)
      return make_error("usage: --env " + k + ": the value must be one line");
  }
  return {};
}

/// Remove a directory the instance's user owns (var/, run/, log/, an old var/): its content
/// as that user (find -delete: no symlink followed, nothing the user could not remove
/// anyway), then the empty directory as root.
Status remove_user_tree(const InstanceConfig& cfg, const std::string& path) {
  if (cfg.user.empty()) return fs::remove_all(path);
  if (!fs::exists(path)) return {};
  LB_ASSIGN(User u, find_user(cfg.user));
  std::vector<std::string> argv = as_user(u);
  argv.insert(argv.end(), {"find", path, "-mindepth", "1", "-delete"});
  LB_ASSIGN(ProcessResult r, run_process(argv));
  if (r.exit_code != 0 || (::rmdir(path.c_str()) != 0 && errno != ENOENT))
    return make_error("cannot remove " + path + ": " +
                      (r.exit_code != 0 ? std::string(trim(r.err)) : std::strerror(errno)));
  return {};
}

}  // namespace

Result<Paths> existing(const std::string& root, const std::string& name) {
  LB_TRY(check_name(name));
  LB_TRY(check_root(root));
  Paths p = paths_of(root, name);
  if (!fs::exists(p.instance_toml()))
    return make_error("no instance " + name + " under " + p.root,
                      "`lavabuild instance list --root " + p.root + "` shows the instances");
  return p;
}

Status check_process(const std::vector<std::string>& names, const std::string& name,
                     const std::string& process) {
  if (!process.empty() && std::find(names.begin(), names.end(), process) == names.end())
    return make_error("instance " + name + " has no process '" + process + "'",
                      "its processes: " + join(names, ", "));
  return {};
}

Result<std::vector<std::string>> process_names(const Paths& p) {
  LB_ASSIGN(Recipe r, read_recipe(p.current + "/recipe.toml"));
  std::vector<std::string> names;
  for (const auto& [n, cmd] : r.processes) names.push_back(n);
  return names;
}

Result<Outcome> create(const std::string& root, const CreateRequest& req,
                       const engine::Options& base, engine::Output& out) {
  LB_TRY(check_name(req.name));
  LB_TRY(check_overrides(req.env));
  if (!req.database.empty() && req.database != "postgresql")
    return make_error("usage: --database " + req.database + ": only postgresql is supported");
  std::string reqs = fs::absolute(req.requirements);
  if (!fs::exists(reqs)) return make_error("cannot read " + reqs + ": no such file");
  std::string recipe = req.recipe.empty() ? "" : fs::absolute(req.recipe);
  if (!recipe.empty())
    if (auto r = read_recipe(recipe); !r.ok()) return r.error();
  std::string user = req.user ? (req.user->empty() ? "lb-" + req.name : *req.user) : "";
  if (req.user && !req.user->empty())
    if (auto u = find_user(user); !u.ok()) return u.error();
  LB_TRY(ensure_root(root));
  LB_ASSIGN(auto guard, lock_instance(root, req.name, out));
  Paths p = paths_of(root, req.name);
  if (fs::exists(p.dir))
    return make_error(
        "instance " + req.name + " already exists in " + p.dir,
        "upgrade it (`lavabuild instance upgrade " + req.name + "`) or pick another name");
  InstanceConfig cfg{req.name, reqs, user, req.env, {}};
  auto made = [&]() -> Result<GenerationInfo> {
    for (const auto& d : {p.etc, p.generations}) LB_TRY(fs::create_dirs(d));
    for (const auto& d : {p.var, p.run, p.log}) LB_TRY(fs::create_dirs(d, 0750));
    if (!user.empty()) {
      LB_ASSIGN(User u, req.user->empty() ? ensure_system_user(user, p.var) : find_user(user));
      for (const auto& d : {p.var, p.run, p.log}) LB_TRY(chown_tree(d, u.uid, u.gid));
    }
    if (!req.database.empty()) {
      LB_ASSIGN(cfg.database, create_database(req.name, req.db_admin));
      out.info("created PostgreSQL role and database " + cfg.database.name);
    }
    LB_TRY(
        fs::write_file_atomic(p.recipe(), recipe.empty() ? std::string() : read_or_empty(recipe)));
    LB_TRY(fs::write_file_atomic(p.instance_toml(), render_instance_toml(cfg), 0600));
    LB_TRY(lock_generation(p, 1, reqs, "", p.recipe(), false, {}, base, out));
    LB_ASSIGN(GenerationInfo g, build_generation_env(p, 1, reqs, base, out));
    Recipe r = recipe_or_empty(p.generation(1) + "/recipe.toml");
    if (auto it = r.hooks.find("setup"); it != r.hooks.end() && req.run_setup)
      LB_TRY(run_hook(p, cfg, "setup", it->second,
                      variables_for(p, cfg, r, 1, p.generation(1) + "/env")));
    LB_TRY(switch_current(p, 1));
    LB_TRY(write_live_files(p, cfg, 1));
    return g;
  }();
  if (!made.ok()) {
    (void)drop_database(cfg.database);  // nothing of a failed create is left
    for (const auto& d : {p.var, p.run, p.log}) (void)remove_user_tree(cfg, d);
    (void)fs::remove_all(p.dir);
    return made.error();
  }
  return Outcome{"created instance " + req.name + " in " + p.dir + ": generation 1, " +
                     std::to_string(made->packages.size()) + " packages (env " +
                     made->digest.substr(0, 12) + ")",
                 1};
}

Result<Outcome> upgrade(const std::string& root, const UpgradeRequest& req,
                        const engine::Options& base, engine::Output& out) {
  LB_ASSIGN(Paths p, existing(root, req.name));
  LB_ASSIGN(auto guard, lock_instance(root, req.name, out));
  remove_unfinished_generations(p);
  LB_ASSIGN(InstanceConfig cfg, read_instance_toml(p.instance_toml()));
  LB_ASSIGN(int live, live_generation(p));
  LB_ASSIGN(GenerationInfo live_info, read_generation(p, live));
  std::string reqs = req.requirements.empty() ? cfg.requirements : fs::absolute(req.requirements);
  if (!fs::exists(reqs)) {
    std::string kept = p.generation(live) + "/requirements.txt";
    if (!req.requirements.empty() || !fs::exists(kept))
      return make_error("cannot read " + reqs + ": no such file", "give the requirements with -r");
    out.warn(reqs + " is gone; locking again the copy in generation " + std::to_string(live));
    reqs = kept;
  }
  auto gens = list_generations(p);
  int next = (gens.empty() ? live : std::max(live, gens.back())) + 1;
  std::string gen = p.generation(next);
  bool from_lock = ends_with(reqs, ".toml");
  auto fail = [&](const Error& e) -> Error {
    (void)fs::remove_all(gen);
    return e;
  };
  if (auto st = lock_generation(p, next, reqs, from_lock ? "" : p.generation(live) + "/pylock.toml",
                                p.recipe(), req.upgrade, req.upgrade_packages, base, out);
      !st.ok())
    return fail(st.error().context("generation " + std::to_string(live) + " stays live"));
  // The same lock, recipe and requirements: nothing to build.
  auto same = [&](const std::string& f) {
    auto a = fs::read_file(p.generation(live) + "/" + f), b = fs::read_file(gen + "/" + f);
    return a.ok() == b.ok() && (!a.ok() || *a == *b);
  };
  if (same("pylock.toml") && same("recipe.toml") && same("requirements.txt")) {
    (void)fs::remove_all(gen);
    return Outcome{req.name + " is up to date (generation " + std::to_string(live) + ")", live};
  }
  auto built = build_generation_env(p, next, reqs, base, out);
  if (!built.ok())
    return fail(built.error().context("generation " + std::to_string(live) + " stays live"));
  Recipe r = recipe_or_empty(gen + "/recipe.toml");
  if (auto it = r.hooks.find("pre-upgrade"); it != r.hooks.end())
    if (auto st = run_hook(p, cfg, "pre-upgrade", it->second,
                           variables_for(p, cfg, r, next, gen + "/env"));
        !st.ok())
      return fail(st.error().context("generation " + std::to_string(live) + " stays live"));
  auto switch_to = [&](int n) -> Status {
    LB_TRY(switch_current(p, n));
    LB_TRY(write_live_files(p, cfg, n));
    return restart(root, req.name, "");
  };
  Status switched = switch_to(next);
  if (switched.ok())
    if (auto it = r.hooks.find("post-upgrade"); it != r.hooks.end())
      switched = run_hook(p, cfg, "post-upgrade", it->second,
                          variables_for(p, cfg, r, next, p.generation(next) + "/env"));
  if (!switched.ok()) {
    Status back = switch_to(live);
    std::string what = back.ok() ? "switched back to generation " + std::to_string(live)
                                 : "could not switch back to generation " + std::to_string(live) +
                                       ": " + back.error().message;
    return switched.error().context(what);
  }
  // Only now: what `upgrade` without -r locks next time.
  if (!req.requirements.empty() && reqs != cfg.requirements) {
    cfg.requirements = reqs;
    LB_TRY(fs::write_file_atomic(p.instance_toml(), render_instance_toml(cfg), 0600));
  }
  return Outcome{"upgraded " + req.name + " to generation " + std::to_string(next) + " (" +
                     describe_changes(live_info, *built) + ")",
                 next};
}

Result<Outcome> rollback(const std::string& root, const std::string& name, std::optional<int> to,
                         engine::Output& out) {
  LB_ASSIGN(Paths p, existing(root, name));
  LB_ASSIGN(auto guard, lock_instance(root, name, out));
  LB_ASSIGN(InstanceConfig cfg, read_instance_toml(p.instance_toml()));
  LB_ASSIGN(int live, live_generation(p));
  auto gens = list_generations(p);
  int target = 0;
  if (to) {
    target = *to;
  } else {
    for (int g : gens)
      if (g < live) target = g;
    if (!target)
      return make_error("instance " + name + " has no generation older than the live one (" +
                            std::to_string(live) + ")",
                        "`lavabuild instance generations " + name + "` lists them");
  }
  if (std::find(gens.begin(), gens.end(), target) == gens.end())
    return make_error("instance " + name + " has no generation " + std::to_string(target),
                      "`lavabuild instance generations " + name + "` lists them");
  if (target == live)
    return Outcome{name + ": generation " + std::to_string(live) + " is already live", live};
  LB_TRY(switch_current(p, target));
  LB_TRY(write_live_files(p, cfg, target));
  LB_TRY(restart(root, name, ""));
  return Outcome{name + ": generation " + std::to_string(target) + " is live (was " +
                     std::to_string(live) + ")",
                 target};
}

Result<std::vector<int>> collect_generations(const std::string& root, const std::string& name,
                                             int keep) {
  if (keep < 1) return make_error("usage: --keep must be at least 1");
  LB_ASSIGN(Paths p, existing(root, name));
  LB_ASSIGN(auto guard, fs::FileLock::acquire_or_wait(lock_path(root, name), [] {}));
  remove_unfinished_generations(p);
  LB_ASSIGN(int live, live_generation(p));
  auto gens = list_generations(p);
  std::vector<int> removed;
  for (size_t i = 0; i + size_t(keep) < gens.size(); ++i) {
    if (gens[i] == live) continue;
    LB_TRY(fs::remove_all(p.generation(gens[i])));
    removed.push_back(gens[i]);
  }
  return removed;
}

Status remove(const std::string& root, const std::string& name) {
  LB_ASSIGN(Paths p, existing(root, name));
  LB_ASSIGN(auto guard, fs::FileLock::acquire_or_wait(lock_path(root, name), [] {}));
  LB_TRY(stop(root, name, ""));
  if (systemd_running())
    if (auto names = process_names(p); names.ok())
      for (const auto& n : *names) {
        (void)run_process({"systemctl", "disable", "--now", unit_name(name, n)});
        (void)fs::remove_all("/etc/systemd/system/" + unit_name(name, n));
      }
  if (systemd_running()) (void)run_process({"systemctl", "daemon-reload"});
  auto cfg = read_instance_toml(p.instance_toml());
  if (cfg.ok())
    if (auto st = drop_database(cfg->database); !st.ok())
      return st.error().context("instance " + name + " is left as it was");
  if (cfg.ok())
    for (const auto& d : {p.var, p.run, p.log}) LB_TRY(remove_user_tree(*cfg, d));
  LB_TRY(fs::remove_all(p.dir));
  (void)fs::remove_all(lock_path(root, name));
  return {};
}

Result<std::vector<GenerationInfo>> generations(const std::string& root, const std::string& name) {
  LB_ASSIGN(Paths p, existing(root, name));
  std::vector<GenerationInfo> out;
  for (int g : list_generations(p)) {
    LB_ASSIGN(GenerationInfo info, read_generation(p, g));
    out.push_back(std::move(info));
  }
  return out;
}

namespace {

/// Every inode under `dir` once: inode -> bytes on disk.
void walk(int dirfd, std::unordered_map<ino_t, uint64_t>& seen) {
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return;
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    seen.emplace(st.st_ino, uint64_t(st.st_blocks) * 512);
    if (S_ISDIR(st.st_mode)) {
      int fd = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) walk(fd, seen);
    }
  }
  ::closedir(d);
}

std::vector<ProcessStatus> systemd_status(const std::string& name,
                                          const std::vector<std::string>& procs) {
  std::vector<ProcessStatus> out;
  for (const auto& proc : procs) {
    ProcessStatus ps;
    ps.name = proc;
    auto r = run_process({"systemctl", "show", "-p", "ActiveState,SubState,MainPID,NRestarts",
                          unit_name(name, proc)});
    if (r.ok())
      for (const auto& line : split(r->out, '\n')) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string k = line.substr(0, eq), v = line.substr(eq + 1);
        if (k == "MainPID" && v != "0") ps.pid = std::atol(v.c_str());
        if (k == "NRestarts") ps.restarts = std::atoi(v.c_str());
        if (k == "ActiveState")
          ps.state = v == "active"       ? "running"
                     : v == "failed"     ? "failed"
                     : v == "activating" ? "backoff"
                                         : "stopped";
      }
    out.push_back(ps);
  }
  return out;
}

}  // namespace

std::vector<ProcessStatus> process_status(const Paths& p, const std::string& name) {
  auto names = process_names(p);
  if (!names.ok()) return {};
  if (systemd_running()) return systemd_status(name, *names);
  return supervisor_status(p, *names).processes;
}

std::vector<ListEntry> list(const std::string& root) {
  std::vector<ListEntry> out;
  std::vector<std::unordered_map<ino_t, uint64_t>> inodes;
  for (const auto& name : list_instances(fs::absolute(root))) {
    Paths p = paths_of(root, name);
    ListEntry e;
    e.name = name;
    if (auto live = live_generation(p); live.ok()) {
      e.generation = *live;
      if (auto g = read_generation(p, *live); g.ok()) e.digest = g->digest;
    }
    e.processes = process_status(p, name);
    std::unordered_map<ino_t, uint64_t> seen;
    int fd = ::open(p.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) walk(fd, seen);
    inodes.push_back(std::move(seen));
    out.push_back(std::move(e));
  }
  std::unordered_map<ino_t, int> users;  // inode -> how many instances have it
  for (const auto& seen : inodes)
    for (const auto& [ino, bytes] : seen) ++users[ino];
  for (size_t i = 0; i < out.size(); ++i)
    for (const auto& [ino, bytes] : inodes[i]) {
      out[i].disk_bytes += bytes;
      if (users[ino] > 1) out[i].shared_bytes += bytes;
    }
  return out;
}

Status start(const std::string& root, const std::string& name, const std::string& process) {
  LB_ASSIGN(Paths p, existing(root, name));
  LB_ASSIGN(auto names, process_names(p));
  if (names.empty())
    return make_error("instance " + name + " has no processes",
                      "its recipe's [processes] table names them");
  LB_TRY(check_process(names, name, process));
  if (systemd_running()) {
    // Enabled too: a started instance comes back after a reboot.
    std::vector<std::string> argv = {"systemctl", "enable", "--now"};
    for (const auto& n : names)
      if (process.empty() || n == process) argv.push_back(unit_name(name, n));
    LB_ASSIGN(auto r, run_process(argv));
    if (r.exit_code != 0)
      return make_error("systemctl enable --now failed: " + std::string(trim(r.err)),
                        "`journalctl -u " + unit_name(name, process.empty() ? names[0] : process) +
                            "` says more");
    return {};
  }
  if (auto cfg = read_instance_toml(p.instance_toml()); cfg.ok() && !cfg->user.empty()) {
    // What an older lavabuild (or root by hand) left in run/ and log/ becomes the user's:
    // the supervisor runs as that user and must write there.
    LB_ASSIGN(User u, find_user(cfg->user));
    for (const auto& d : {p.run, p.log}) LB_TRY(chown_tree(d, u.uid, u.gid));
  }
  LB_TRY(start_processes(p, names, process));
  // A process that will not start (a taken port, a missing module) exits at once: watch them
  // for kStartWatch and report one that did with its last log lines.
  auto until = std::chrono::steady_clock::now() + kStartWatch;
  while (std::chrono::steady_clock::now() < until) {
    for (const auto& ps : supervisor_status(p, names).processes)
      if ((process.empty() || ps.name == process) && ps.state != "running") {
        std::string tail;
        for (const auto& l : tail_log(p.log + "/" + ps.name + ".log", 10)) tail += "\n  " + l;
        return make_error("process " + ps.name + " of " + name +
                              " exited right after it started; the end of " + p.log + "/" +
                              ps.name + ".log:" + tail,
                          "the supervisor starts it again with back-off; fix the cause, or stop "
                          "it with `lavabuild instance stop " +
                              name + "`");
      }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {};
}

Status stop(const std::string& root, const std::string& name, const std::string& process) {
  LB_ASSIGN(Paths p, existing(root, name));
  if (systemd_running()) {
    auto names = process_names(p);
    std::vector<std::string> argv = {"systemctl", "disable", "--now"};
    if (names.ok())
      for (const auto& n : *names)
        if (process.empty() || n == process) argv.push_back(unit_name(name, n));
    if (argv.size() > 2) (void)run_process(argv);
    return {};
  }
  return stop_processes(p, process);
}

Status restart(const std::string& root, const std::string& name, const std::string& process) {
  LB_ASSIGN(Paths p, existing(root, name));
  if (systemd_running()) {
    auto names = process_names(p);
    if (!names.ok()) return {};
    std::vector<std::string> units;
    bool started = false;  // the instance was started (its units are enabled)
    for (const auto& n : *names)
      if (process.empty() || n == process) {
        units.push_back(unit_name(name, n));
        auto e = run_process({"systemctl", "is-enabled", "--quiet", units.back()});
        started = started || (e.ok() && e->exit_code == 0);
      }
    if (!started || units.empty()) return {};
    // enable --now starts what a new recipe added; restart what ran already.
    for (const char* verb : {"enable", "restart"}) {
      std::vector<std::string> argv = {"systemctl", verb};
      if (std::string(verb) == "enable") argv.push_back("--now");
      argv.insert(argv.end(), units.begin(), units.end());
      LB_ASSIGN(ProcessResult r, run_process(argv));
      if (r.exit_code != 0)
        return make_error("systemctl " + std::string(verb) + " failed: " + std::string(trim(r.err)),
                          "`journalctl -u " + units.front() + "` says more");
    }
    return {};
  }
  LB_ASSIGN(bool running, restart_processes(p, process));
  (void)running;  // not running: nothing to restart (`start` starts it)
  return {};
}

}  // namespace lb::instance

// ------------------------------------------------------------------ backups

namespace lb::instance {
namespace {

constexpr const char* kBackupFormat = "lavabuild.backup.v1";

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  return buf;
}

/// "SHA256 SIZE PATH" per file under `dir` (relative paths, sorted), "link TARGET PATH" per
/// symlink, "dir - PATH" per directory.
void tree_sums(const std::string& dir, const std::string& rel, std::vector<std::string>& out) {
  auto names = fs::list_dir(rel.empty() ? dir : dir + "/" + rel);
  if (!names.ok()) return;
  for (const auto& n : *names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    std::string full = dir + "/" + r;
    auto info = fs::stat_path(full);
    if (info.is_symlink) {
      char buf[4096];
      ssize_t len = ::readlink(full.c_str(), buf, sizeof buf);
      out.push_back("link " + std::string(buf, len > 0 ? size_t(len) : 0) + " " + r);
    } else if (info.is_dir) {
      out.push_back("dir - " + r);
      tree_sums(dir, r, out);
    } else {
      auto sha = sha256_file_hex(full);
      out.push_back((sha.ok() ? *sha : std::string("unreadable")) + " " +
                    std::to_string(info.size) + " " + r);
    }
  }
}

std::string render_tree_sums(const std::string& dir) {
  std::vector<std::string> lines;
  tree_sums(dir, "", lines);
  std::sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.find(' ', a.find(' ') + 1) + 1) < b.substr(b.find(' ', b.find(' ') + 1) + 1);
  });
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return text;
}

std::string render_table_sums(const std::vector<std::pair<std::string, std::string>>& sums) {
  std::string text;
  for (const auto& [t, s] : sums) text += t + " " + s + "\n";
  return text;
}

Status run_tar(const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> argv = {"tar", "--zstd"};
  argv.insert(argv.end(), args.begin(), args.end());
  LB_ASSIGN(ProcessResult r, run_process(argv));
  if (r.exit_code != 0) return make_error(what + " failed: " + std::string(trim(r.err)));
  return {};
}

/// var/ as tar+zstd into `file` (a path in root's own temp dir). With --user, tar reads var/
/// as that user (root never walks a tree the user controls); root's shell opens `file`.
/// tar's "file changed as we read it" (exit 1, a live instance) is a warning.
Status archive_var(const Paths& p, const InstanceConfig& cfg, const std::string& file,
                   engine::Output& out) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" >\"$0\"", file};
  if (!cfg.user.empty()) {
    LB_ASSIGN(User u, find_user(cfg.user));
    auto prefix = as_user(u);
    argv.insert(argv.end(), prefix.begin(), prefix.end());
  }
  argv.insert(argv.end(), {"tar", "--zstd", "-C", p.dir, "-cf", "-", "var"});
  LB_ASSIGN(ProcessResult r, run_process(argv));
  if (r.exit_code == 1) {
    out.warn("archiving " + p.var + ": " + std::string(trim(r.err)) +
             " (files changed while the instance ran; the backup holds what tar read)");
    return {};
  }
  if (r.exit_code != 0)
    return make_error("archiving " + p.var + " failed: " + std::string(trim(r.err)));
  return {};
}

/// Every file SHA256SUMS names must be there with that content, and the files a restore
/// reads must be named in it. Names are plain file names (a backup is hostile until checked).
Status check_sums(const std::string& dir) {
  std::string sums_path = dir + "/SHA256SUMS";
  auto text = fs::read_file(sums_path);
  if (!text.ok()) return make_error("backup " + dir + " has no SHA256SUMS", "it is not a backup");
  LB_ASSIGN(auto lines, parse_sha256sums(*text, sums_path));
  std::set<std::string> named;
  for (const auto& l : lines) {
    auto got = sha256_file_hex(dir + "/" + l.file);
    if (!got.ok())
      return make_error("backup " + dir + ": " + l.file + " is missing", "the backup is damaged");
    if (*got != l.sha256)
      return make_error("backup " + dir + ": " + l.file + " does not match SHA256SUMS (expected " +
                            l.sha256 + ", got " + *got + ")",
                        "the backup is damaged or was changed; use another one");
    named.insert(l.file);
  }
  for (const char* need : {"backup.json", "pylock.toml", "recipe.toml", "manifest.json",
                           "etc.tar.zst", "var.tar.zst", "var.sums"})
    if (!named.count(need))
      return make_error("backup " + dir + ": " + need + " is not in SHA256SUMS",
                        "the backup is incomplete");
  if (fs::exists(dir + "/database.dump") && !named.count("database.dump"))
    return make_error("backup " + dir + ": database.dump is not in SHA256SUMS",
                      "the backup is incomplete");
  return {};
}

}  // namespace

Result<std::string> backup(const std::string& root, const std::string& name, engine::Output& out) {
  LB_ASSIGN(Paths p, existing(root, name));
  LB_ASSIGN(auto guard, lock_instance(root, name, out));
  LB_ASSIGN(InstanceConfig cfg, read_instance_toml(p.instance_toml()));
  LB_ASSIGN(int live, live_generation(p));
  std::string gen = p.generation(live);
  std::string parent = p.root + "/backups/" + name;
  LB_TRY(fs::create_dirs(parent));
  std::string tmp = fs::temp_sibling(parent + "/backup");
  LB_TRY(fs::create_dirs(tmp, 0700));
  auto made = [&]() -> Status {
    LB_TRY(copy_text(gen + "/pylock.toml", tmp + "/pylock.toml"));
    LB_TRY(copy_text(gen + "/recipe.toml", tmp + "/recipe.toml"));
    if (fs::exists(gen + "/requirements.txt"))
      LB_TRY(copy_text(gen + "/requirements.txt", tmp + "/requirements.txt"));
    LB_TRY(copy_text(gen + "/generation.json", tmp + "/manifest.json"));
    LB_TRY(run_tar({"-C", p.dir, "-cf", tmp + "/etc.tar.zst", "etc"}, "archiving " + p.etc));
    LB_TRY(archive_var(p, cfg, tmp + "/var.tar.zst", out));
    // The sums of what the archive holds (unpacked aside), not of var/ a moment later.
    std::string check = tmp + "/var-check";
    LB_TRY(fs::create_dirs(check, 0700));
    LB_TRY(run_tar(
        {"--no-same-owner", "--no-same-permissions", "-C", check, "-xf", tmp + "/var.tar.zst"},
        "reading " + tmp + "/var.tar.zst back"));
    std::string var_sums = render_tree_sums(check + "/var");
    LB_TRY(fs::remove_all(check));
    LB_TRY(fs::write_file_atomic(tmp + "/var.sums", var_sums));
    if (!cfg.database.engine.empty()) {
      LB_TRY(dump_database(cfg.database, tmp + "/database.dump"));
      LB_ASSIGN(auto sums, dump_sums(cfg.database, tmp + "/database.dump"));
      LB_TRY(fs::write_file_atomic(tmp + "/tables.sums", render_table_sums(sums)));
    }
    json j = {{"format", kBackupFormat},
              {"instance", name},
              {"generation", live},
              {"created", iso_now()},
              {"database", cfg.database.engine}};
    LB_TRY(fs::write_file_atomic(tmp + "/backup.json", j.dump(2) + "\n"));
    LB_ASSIGN(auto files, fs::list_dir(tmp));
    std::sort(files.begin(), files.end());
    std::string sums;
    for (const auto& f : files) {
      LB_ASSIGN(std::string sha, sha256_file_hex(tmp + "/" + f));
      sums += sha + "  " + f + "\n";
    }
    return fs::write_file_atomic(tmp + "/SHA256SUMS", sums);
  }();
  if (!made.ok()) {
    (void)fs::remove_all(tmp);
    return made.error();
  }
  std::string dest = parent + "/" + utc_stamp();
  for (int k = 2; fs::exists(dest); ++k)
    dest = parent + "/" + utc_stamp() + "-" + std::to_string(k);
  if (auto st = fs::rename_path(tmp, dest); !st.ok()) {
    (void)fs::remove_all(tmp);
    return st.error();
  }
  return dest;
}

Result<Outcome> restore(const std::string& root, const std::string& name,
                        const std::string& backup_dir, const engine::Options& base,
                        engine::Output& out) {
  std::string dir = fs::absolute(backup_dir);
  LB_ASSIGN(Paths p, existing(root, name));
  LB_TRY(check_sums(dir));
  LB_ASSIGN(auto guard, lock_instance(root, name, out));
  remove_unfinished_generations(p);
  LB_ASSIGN(InstanceConfig cfg, read_instance_toml(p.instance_toml()));
  LB_ASSIGN(int live, live_generation(p));
  bool has_dump = fs::exists(dir + "/database.dump");
  if (has_dump && cfg.database.engine.empty())
    return make_error("backup " + dir + " has a database; instance " + name + " has none",
                      "restore it into an instance created with --database postgresql");
  if (!has_dump && !cfg.database.engine.empty())
    out.warn("backup " + dir + " has no database; the database of " + name + " stays as it is");
  auto gens = list_generations(p);
  int next = (gens.empty() ? live : std::max(live, gens.back())) + 1;
  std::string gen = p.generation(next);
  // The new generation from the backup's lock and recipe (nothing live changes yet).
  auto built = [&]() -> Result<GenerationInfo> {
    LB_TRY(lock_generation(p, next, dir + "/pylock.toml", "", dir + "/recipe.toml", false, {}, base,
                           out));
    if (fs::exists(dir + "/requirements.txt"))
      LB_TRY(copy_text(dir + "/requirements.txt", gen + "/requirements.txt"));
    return build_generation_env(p, next, dir + "/pylock.toml", base, out);
  }();
  if (!built.ok()) {
    (void)fs::remove_all(gen);
    return built.error().context("instance " + name + " is left as it was");
  }
  // var/ unpacked beside the live one (root's, 0700, until it is swapped in), and the dump
  // restored into a database beside the instance's.
  std::string staging = fs::temp_sibling(p.var);
  std::optional<Database> fresh;
  auto unpacked = [&]() -> Status {
    LB_TRY(fs::create_dirs(staging, 0700));
    LB_TRY(run_tar({"--no-same-owner", "--no-same-permissions", "-C", staging, "-xf",
                    dir + "/var.tar.zst", "var"},
                   "unpacking " + dir + "/var.tar.zst"));
    if (!fs::is_dir(staging + "/var"))
      return make_error(dir + "/var.tar.zst has no var/ directory", "the backup is damaged");
    LB_TRY(clear_special_bits(staging + "/var"));  // no setuid file comes out of a backup
    if (!cfg.user.empty()) {
      LB_ASSIGN(User u, find_user(cfg.user));
      LB_TRY(chown_tree(staging + "/var", u.uid, u.gid));
    }
    if (has_dump && !cfg.database.engine.empty()) {
      LB_ASSIGN(Database d, restore_beside(cfg.database, dir + "/database.dump"));
      fresh = d;
    }
    return {};
  }();
  auto undo_prepared = [&] {
    (void)fs::remove_all(staging);
    (void)fs::remove_all(gen);
    if (fresh) (void)drop_copy(*fresh);
  };
  if (!unpacked.ok()) {
    undo_prepared();
    return unpacked.error().context("instance " + name + " is left as it was");
  }
  auto names = process_names(p);
  bool was_running = names.ok() && supervisor_status(p, *names).running;
  if (systemd_running() && names.ok())
    for (const auto& ps : process_status(p, name))
      was_running = was_running || ps.state == "running";
  if (auto st = stop(root, name, ""); !st.ok()) {
    undo_prepared();
    return st.error().context("instance " + name + " is left as it was");
  }
  // The swap: var/, the database, the generation; any failure puts back what was swapped.
  std::string old_var = fs::temp_sibling(p.var);
  bool var_swapped = false, switched = false;
  std::string old_db;
  auto swapped = [&]() -> Status {
    LB_TRY(fs::rename_path(p.var, old_var));
    if (auto st = fs::rename_path(staging + "/var", p.var); !st.ok()) {
      (void)fs::rename_path(old_var, p.var);
      return st;
    }
    var_swapped = true;
    if (fresh) {
      LB_ASSIGN(old_db, swap_in(cfg.database, *fresh));
      fresh.reset();  // it is the instance's database now
    }
    LB_TRY(switch_current(p, next));
    switched = true;
    return write_live_files(p, cfg, next);
  }();
  if (!swapped.ok()) {
    if (switched) {
      (void)switch_current(p, live);
      (void)write_live_files(p, cfg, live);
    }
    if (!old_db.empty()) (void)swap_back(cfg.database, old_db);
    if (var_swapped) {
      (void)fs::rename_path(p.var, staging + "/var");
      (void)fs::rename_path(old_var, p.var);
    }
    undo_prepared();
    if (was_running) (void)start(root, name, "");
    return swapped.error().context("instance " + name + " is left as it was");
  }
  // Committed: what was there goes.
  if (!old_db.empty()) {
    Database old = cfg.database;
    old.name = old_db;
    if (auto st = drop_copy(old); !st.ok()) out.warn(st.error().message);
  }
  if (auto st = remove_user_tree(cfg, old_var); !st.ok()) out.warn(st.error().message);
  (void)fs::remove_all(staging);
  if (was_running) LB_TRY(start(root, name, ""));
  return Outcome{"restored " + dir + " into " + name + ": generation " + std::to_string(next) +
                     " is live (was " + std::to_string(live) + ")",
                 next};
}

Status verify_backup(const std::string& root, const std::string& name,
                     const std::string& backup_dir, const engine::Options& base,
                     engine::Output& out) {
  std::string dir = fs::absolute(backup_dir);
  LB_ASSIGN(Paths source, existing(root, name));
  LB_ASSIGN(InstanceConfig cfg, read_instance_toml(source.instance_toml()));
  LB_TRY(check_sums(dir));
  std::string scratch =
      "verify-" + sha256_hex(dir + iso_now() + std::to_string(::getpid())).substr(0, 12);
  CreateRequest req;
  req.name = scratch;
  req.requirements = dir + "/pylock.toml";
  req.recipe = dir + "/recipe.toml";
  req.database = cfg.database.engine;
  req.db_admin = cfg.database.admin;
  req.run_setup = false;
  if (auto r = create(root, req, base, out); !r.ok()) return r.error();
  auto compared = [&]() -> Status {
    if (auto r = restore(root, scratch, dir, base, out); !r.ok()) return r.error();
    Paths p = paths_of(root, scratch);
    LB_ASSIGN(int live, live_generation(p));
    LB_ASSIGN(GenerationInfo restored, read_generation(p, live));
    LB_ASSIGN(std::string manifest_text, fs::read_file(dir + "/manifest.json"));
    json m = json::parse(manifest_text, nullptr, false);
    std::string want = m.is_object() ? m.value("digest", std::string()) : "";
    if (restored.digest != want)
      return make_error("the restored env's digest is " + restored.digest + ", the backup's " +
                        want);
    LB_ASSIGN(std::string var_sums, fs::read_file(dir + "/var.sums"));
    if (render_tree_sums(p.var) != var_sums)
      return make_error("the restored var/ differs from what the backup recorded (var.sums)");
    if (fs::exists(dir + "/tables.sums")) {
      LB_ASSIGN(InstanceConfig scfg, read_instance_toml(p.instance_toml()));
      LB_ASSIGN(auto sums, table_sums(scfg.database));
      LB_ASSIGN(std::string want_tables, fs::read_file(dir + "/tables.sums"));
      if (render_table_sums(sums) != want_tables)
        return make_error(
            "the restored database's tables differ from what the backup recorded "
            "(tables.sums)");
    }
    return {};
  }();
  Status removed = remove(root, scratch);
  if (!compared.ok()) return compared.error().context("backup " + dir + " does not verify");
  return removed;
}

}  // namespace lb::instance
