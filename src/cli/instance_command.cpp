#include "cli/instance_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "instance/supervisor.hpp"
#include "util/strings.hpp"

namespace lb::cli {
namespace {

using json = nlohmann::json;

int fail(Reporter& out, const Error& e) {
  out.error(e);
  return starts_with(e.message, "usage:") ? 2 : 1;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (uint64_t(1) << 30))
    std::snprintf(buf, sizeof buf, "%.1f GiB", double(b) / double(uint64_t(1) << 30));
  else if (b >= (uint64_t(1) << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(uint64_t(1) << 20));
  else
    std::snprintf(buf, sizeof buf, "%.0f KiB", double(b) / 1024.0);
  return buf;
}

json process_json(const instance::ProcessStatus& ps) {
  return {{"name", ps.name},
          {"state", ps.state},
          {"pid", ps.pid ? json(*ps.pid) : json(nullptr)},
          {"uptime_s", ps.uptime_s ? json(*ps.uptime_s) : json(nullptr)},
          {"restarts", ps.restarts}};
}

int cmd_list(const engine::Options& o, Reporter& out) {
  if (auto st = instance::check_root(o.root); !st.ok()) return fail(out, st.error());
  auto entries = instance::list(o.root);
  if (o.json) {
    json arr = json::array();
    for (const auto& e : entries) {
      json procs = json::object();
      for (const auto& ps : e.processes) procs[ps.name] = ps.state;
      arr.push_back({{"name", e.name},
                     {"generation", e.generation},
                     {"digest", e.digest},
                     {"disk_bytes", e.disk_bytes},
                     {"shared_bytes", e.shared_bytes},
                     {"processes", procs}});
    }
    std::printf("%s\n", json({{"instances", arr}}).dump().c_str());
    return 0;
  }
  if (entries.empty()) std::printf("no instances under %s\n", o.root.c_str());
  for (const auto& e : entries) {
    std::vector<std::string> procs;
    for (const auto& ps : e.processes) procs.push_back(ps.name + ":" + ps.state);
    std::printf("%-20s generation %-4d env %-12s disk %s (%s shared)  %s\n", e.name.c_str(),
                e.generation, e.digest.substr(0, 12).c_str(), human_bytes(e.disk_bytes).c_str(),
                human_bytes(e.shared_bytes).c_str(),
                procs.empty() ? "no processes" : join(procs, " ").c_str());
  }
  return 0;
}

int cmd_generations(const engine::Options& o, const std::string& name, Reporter& out) {
  auto paths = instance::existing(o.root, name);
  if (!paths.ok()) return fail(out, paths.error());
  auto gens = instance::generations(o.root, name);
  if (!gens.ok()) return fail(out, gens.error());
  auto live = instance::live_generation(*paths);
  if (o.json) {
    json arr = json::array();
    for (const auto& g : *gens) {
      json pk = json::array();
      for (const auto& p : g.packages) pk.push_back({{"name", p.name}, {"version", p.version}});
      arr.push_back({{"generation", g.generation},
                     {"created", g.created},
                     {"digest", g.digest},
                     {"packages", pk}});
    }
    std::printf("%s\n", json({{"name", name},
                              {"live", live.ok() ? json(*live) : json(nullptr)},
                              {"generations", arr}})
                            .dump()
                            .c_str());
    return 0;
  }
  for (const auto& g : *gens)
    std::printf("%s %-4d %s  env %s  %zu packages\n",
                live.ok() && *live == g.generation ? "*" : " ", g.generation, g.created.c_str(),
                g.digest.substr(0, 12).c_str(), g.packages.size());
  return 0;
}

/// An instance's paths and its live recipe's process names, `process` (if any) among them.
Result<std::pair<instance::Paths, std::vector<std::string>>> processes_of(
    const engine::Options& o, const std::string& name, const std::string& process) {
  LB_ASSIGN(instance::Paths paths, instance::existing(o.root, name));
  LB_ASSIGN(auto names, instance::process_names(paths));
  LB_TRY(instance::check_process(names, name, process));
  return std::pair{std::move(paths), std::move(names)};
}

int cmd_status(const engine::Options& o, const std::string& name, const std::string& process,
               Reporter& out) {
  auto live = processes_of(o, name, process);
  if (!live.ok()) return fail(out, live.error());
  const auto& [paths, names] = *live;
  auto st = instance::supervisor_status(paths, names);
  std::vector<instance::ProcessStatus> shown;
  for (const auto& ps : instance::process_status(paths, name))
    if (process.empty() || ps.name == process) shown.push_back(ps);
  if (o.json) {
    json arr = json::array();
    for (const auto& ps : shown) arr.push_back(process_json(ps));
    std::printf("%s\n",
                json({{"name", name},
                      {"supervisor",
                       {{"running", st.running}, {"pid", st.pid ? json(*st.pid) : json(nullptr)}}},
                      {"processes", arr}})
                    .dump()
                    .c_str());
    return 0;
  }
  for (const auto& ps : shown) {
    char up[32] = "-";
    if (ps.uptime_s) std::snprintf(up, sizeof up, "%.0fs", *ps.uptime_s);
    std::printf("%-16s %-8s pid %-8s up %-8s restarts %d\n", ps.name.c_str(), ps.state.c_str(),
                ps.pid ? std::to_string(*ps.pid).c_str() : "-", up, ps.restarts);
  }
  return 0;
}

int cmd_logs(const engine::Options& o, const std::string& name, const std::string& process,
             Reporter& out) {
  auto live = processes_of(o, name, process);
  if (!live.ok()) return fail(out, live.error());
  const auto& [paths, names] = *live;
  json lines = json::array();
  for (const auto& n : names) {
    if (!process.empty() && n != process) continue;
    for (const auto& l : instance::tail_log(paths.log + "/" + n + ".log", o.lines)) {
      if (o.json)
        lines.push_back({{"process", n}, {"line", l}});
      else if (process.empty())
        std::printf("%s | %s\n", n.c_str(), l.c_str());
      else
        std::printf("%s\n", l.c_str());
    }
  }
  if (o.json) std::printf("%s\n", json({{"name", name}, {"lines", lines}}).dump().c_str());
  return 0;
}

int cmd_remove(const engine::Options& o, const std::string& name, Reporter& out) {
  if (!o.yes) {
    if (!::isatty(0))
      return fail(out, make_error("usage: lavabuild instance remove " + name +
                                  " deletes it with its data; pass --yes to confirm"));
    std::fprintf(stderr, "remove instance %s with all its data and generations? [y/N] ",
                 name.c_str());
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "yes") {
      std::fprintf(stderr, "nothing removed\n");
      return 1;
    }
  }
  if (auto st = instance::remove(o.root, name); !st.ok()) return fail(out, st.error());
  out.summary("removed instance " + name);
  return 0;
}

}  // namespace

int cmd_instance(const engine::Options& o, Reporter& out) {
  const std::string& a = o.instance_action;
  std::string name = o.inputs.empty() ? "" : o.inputs[0];
  std::string process = o.inputs.size() > 1 ? o.inputs[1] : "";
  if (a == "list") return cmd_list(o, out);
  if (auto st = instance::check_name(name); !st.ok()) return fail(out, st.error());
  if (a == "generations") return cmd_generations(o, name, out);
  if (a == "status") return cmd_status(o, name, process, out);
  if (a == "logs") return cmd_logs(o, name, process, out);
  if (a == "remove") return cmd_remove(o, name, out);
  Result<instance::Outcome> done = instance::Outcome{};
  if (a == "create") {
    instance::CreateRequest req;
    req.name = name;
    req.requirements = o.requirement_files.at(0);
    req.recipe = o.recipe;
    req.env = o.instance_env;
    req.user = o.instance_user;
    req.database = o.database;
    req.db_admin = o.db_admin;
    done = instance::create(o.root, req, o, out);
  } else if (a == "upgrade") {
    done = instance::upgrade(o.root,
                             {name, o.requirement_files.empty() ? "" : o.requirement_files[0],
                              o.upgrade, o.upgrade_packages},
                             o, out);
  } else if (a == "backup") {
    auto path = instance::backup(o.root, name, out);
    if (!path.ok()) return fail(out, path.error());
    if (o.verify)
      if (auto st = instance::verify_backup(o.root, name, *path, o, out); !st.ok()) {
        std::printf("%s\n", path->c_str());
        return fail(out, st.error());
      }
    out.finish();
    std::printf("%s\n", path->c_str());
    std::fflush(stdout);
    out.summary(o.verify ? "backup verified" : "backed up " + name);
    return 0;
  } else if (a == "restore") {
    done = instance::restore(o.root, name, process, o, out);
  } else if (a == "rollback") {
    done = instance::rollback(o.root, name, o.to, out);
  } else if (a == "gc") {
    auto removed = instance::collect_generations(o.root, name, o.keep);
    if (!removed.ok()) return fail(out, removed.error());
    std::vector<std::string> ns;
    for (int g : *removed) ns.push_back(std::to_string(g));
    out.finish();
    out.summary(ns.empty() ? "no generation of " + name + " to remove"
                           : "removed generations " + join(ns, ", ") + " of " + name);
    return 0;
  } else {
    auto paths = instance::existing(o.root, name);
    if (!paths.ok()) return fail(out, paths.error());
    auto guard = instance::lock_instance(o.root, name, out);
    if (!guard.ok()) return fail(out, guard.error());
    Status st = a == "start"  ? instance::start(o.root, name, process)
                : a == "stop" ? instance::stop(o.root, name, process)
                              : instance::restart(o.root, name, process);
    if (!st.ok()) return fail(out, st.error());
    out.summary(a == "start"  ? "started " + (process.empty() ? name : name + " " + process)
                : a == "stop" ? "stopped " + (process.empty() ? name : name + " " + process)
                              : "restarted " + (process.empty() ? name : name + " " + process));
    return 0;
  }
  if (!done.ok()) return fail(out, done.error());
  out.finish();
  out.summary(done->summary);
  return 0;
}

}  // namespace lb::cli
