#include "engine/remote.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "lavabuild/version.hpp"
#include "remote/cache.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"
#include "wheel/wheel.hpp"

namespace lb::engine {

namespace {

constexpr std::string_view kBuilt = "lavabuild.built.v1";
constexpr std::string_view kBytecode = "lavabuild.bytecode.v1";

Result<std::vector<remote::BlobRef>> refs_of(std::string_view key, std::string_view value) {
  std::vector<remote::BlobRef> out;
  auto bad = [&](const char* what) {
    return make_error("index entry " + std::string(key) + ": " + what);
  };
  if (starts_with(key, "build/")) {
    auto lines = split(value, '\n');
    if (lines.size() < 3 || lines[0] != kBuilt || lines[1].size() != 64)
      return bad("not a built-wheel entry");
    out.push_back({lines[1], 0, false});
  } else if (starts_with(key, "ac/")) {
    auto w = wheel::deserialize_unpacked(value);
    if (!w.ok()) return bad("not an unpack entry");
    for (const auto& m : w->members) out.push_back({m.sha256, m.size, m.executable});
  } else if (starts_with(key, "bytecode/")) {
    auto lines = split(value, '\n');
    if (lines.empty() || lines[0] != kBytecode) return bad("not a bytecode entry");
    for (size_t i = 1; i < lines.size(); ++i) {
      if (lines[i].empty()) continue;
      auto f = split(lines[i], '\t');
      if (f.size() != 3 || f[1].size() != 64) return bad("malformed bytecode line");
      out.push_back({f[1], std::strtoull(f[2].c_str(), nullptr, 10), false});
    }
  }
  return out;  // buildreq/, buildmeta/: no blobs
}

/// A trusted key: the path of a public key file, or the key's own text.
Result<remote::PublicKey> trusted_key(const std::string& spec) {
  if (fs::exists(spec)) return remote::read_public_key(spec);
  return remote::parse_public_key(spec, "trusted key '" + spec.substr(0, 40) + "'");
}

}  // namespace

remote::Sharing engine_sharing() {
  remote::Sharing s;
  s.shared = [](std::string_view key) {
    return starts_with(key, "build/") || starts_with(key, "buildreq/") ||
           starts_with(key, "buildmeta/") || starts_with(key, "ac/") ||
           starts_with(key, "bytecode/");
  };
  s.refs = refs_of;
  return s;
}

Status attach_remote(Context& ctx) {
  const RemoteOptions& r = ctx.opt.remote;
  if (r.cache.empty() || ctx.remote_stats) return {};  // none, or attached (a child context)
  remote::Trust trust;
  for (const auto& k : r.trusted_keys) {
    LB_ASSIGN(auto key, trusted_key(k));
    trust.trusted.push_back(std::move(key));
  }
  if (!r.signing_key.empty()) {
    LB_ASSIGN(auto key, remote::read_secret_key(r.signing_key));
    trust.signing = std::move(key);
  }
  trust.read_only = r.read_only.value_or(false);
  remote::RemoteOptions ro;
  ro.url = r.cache;
  for (const auto& [name, value] : r.headers) ro.headers.push_back(name + ": " + value);
  ro.ca_file = r.ca;
  if (r.timeout_ms)
    ro.timeout = std::chrono::milliseconds(*r.timeout_ms);
  else if (r.timeout)
    ro.timeout = std::chrono::seconds(*r.timeout);
  ro.tool_version = LAVABUILD_VERSION;
  ctx.remote_stats = std::make_shared<remote::RemoteStats>();
  // A URL that can never work is the user's error, now; a server that does not answer is a
  // fault of the run that first needs it (one warning, then the run goes on locally), and a
  // run that needs nothing of it (the no-op) never connects.
  const std::string& u = r.cache;
  if (!starts_with(u, "http://") && !starts_with(u, "https://") && !starts_with(u, "grpc://") &&
      !starts_with(u, "grpcs://"))
    return make_error("--remote-cache " + remote::strip_credentials(u) +
                          ": not an http://, https://, grpc:// or grpcs:// URL",
                      "give the base URL of a Bazel HTTP cache or the address of a REAPI server");
  Output* out = ctx.out;
  ctx.store = remote::layer_remote(
      ctx.store, remote::lazy_remote_cache(ro), std::move(trust), engine_sharing(),
      [out](const std::string& w) { out->warn(w); }, ctx.remote_stats);
  return {};
}

RemoteTotals read_remote_totals(store::Store& s) {
  RemoteTotals t;
  auto v = s.get(kRemoteStatsKey);
  if (!v.ok() || !v->has_value()) return t;
  auto f = split(**v, ' ');
  if (f.size() != 6 || f[0] != kRemoteStatsFormat) return t;
  t.hits = std::strtoull(f[1].c_str(), nullptr, 10);
  t.misses = std::strtoull(f[2].c_str(), nullptr, 10);
  t.uploaded_bytes = std::strtoull(f[3].c_str(), nullptr, 10);
  t.downloaded_bytes = std::strtoull(f[4].c_str(), nullptr, 10);
  t.errors = std::strtoull(f[5].c_str(), nullptr, 10);
  return t;
}

void record_remote_stats(Context& ctx) {
  if (!ctx.remote_stats) return;
  const remote::RemoteStats& s = *ctx.remote_stats;
  if (s.hits + s.misses + s.uploaded_bytes + s.errors == 0) return;
  RemoteTotals t = ctx.reading() ? RemoteTotals{} : read_remote_totals(*ctx.store);
  char line[256];
  std::snprintf(line, sizeof line, "%s %llu %llu %llu %llu %llu", kRemoteStatsFormat,
                (unsigned long long)(t.hits + s.hits), (unsigned long long)(t.misses + s.misses),
                (unsigned long long)(t.uploaded_bytes + s.uploaded_bytes),
                (unsigned long long)(t.downloaded_bytes + s.downloaded_bytes),
                (unsigned long long)(t.errors + s.errors));
  ctx.defer_put(kRemoteStatsKey, line);
}

Result<uint64_t> push_env_entries(Context& ctx, const std::string& env_dir) {
  remote::Layer* layer = remote::layer_of(*ctx.store);
  if (!layer || !layer->writable())
    return make_error("cannot push: the remote cache is not writable",
                      "give --remote-cache and --signing-key (and not --remote-read-only)");
  std::string dir = fs::absolute(env_dir);
  auto refs_text = ctx.store->get("env/" + dir);
  if (!refs_text.ok()) return refs_text.error();
  if (!refs_text->has_value())
    return make_error(dir + " was not built with this cache (" + ctx.store->dir() + ")",
                      "give the --cache-dir the env was built with, or rebuild it");
  auto refs = nlohmann::json::parse(**refs_text, nullptr, false);
  if (!refs.is_object()) return make_error("the cache's record of " + dir + " is malformed");
  uint64_t before = layer->published();
  std::vector<std::string> keys;
  for (const auto& k : refs.value("unpack", nlohmann::json::array()))
    if (k.is_string()) keys.push_back("ac/" + k.get<std::string>());
  for (const auto& k : refs.value("bytecode", nlohmann::json::array()))
    if (k.is_string()) keys.push_back("bytecode/" + k.get<std::string>());
  std::set<std::string> wheels;
  for (const auto& w : refs.value("wheels", nlohmann::json::array()))
    if (w.is_string()) wheels.insert(w.get<std::string>());
  // The builds that made its wheels, and what their backends said.
  (void)ctx.store->scan("build/", [&](std::string_view key, std::string_view value) {
    auto lines = split(value, '\n');
    if (lines.size() >= 2 && wheels.count(lines[1])) {
      keys.emplace_back(key);
      keys.push_back("buildmeta/" + std::string(key.substr(6)));
    }
    return true;
  });
  for (const auto& key : keys) {
    auto v = ctx.store->get(key);
    if (!v.ok() || !v->has_value()) continue;
    if (!layer->push(key, **v) && !layer->usable())
      return make_error("the remote cache failed while pushing",
                        "see the warning above; fix the remote and push again");
  }
  return layer->published() - before;
}

}  // namespace lb::engine
