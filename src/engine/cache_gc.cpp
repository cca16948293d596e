#include "engine/cache_gc.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include "env/manifest.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"
#include "wheel/wheel.hpp"

namespace lb::engine {

namespace {

using json = nlohmann::json;

/// The index prefixes gc may remove entries of (store/store.hpp); others are left alone.
/// pyc/ entries are kept by no root: a lookup cache per source, dropped by every gc (a later
/// wheel with the same source compiles it again); bytecode/ entries are kept by the envs that
/// use them.
constexpr const char* kCollectable[] = {"ac/",  "dl/",   "meta/", "metaurl/", "page/",
                                        "env/", "lock/", "root/", "pyc/",     "bytecode/"};

std::vector<std::string> strings_of(const json& j, const char* key) {
  std::vector<std::string> out;
  if (j.is_object() && j.contains(key) && j[key].is_array())
    for (const auto& v : j[key])
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

int64_t int_of(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
}

/// Line 3 of "<env>/.lavabuild/stamp" (format lavabuild.stamp.v2, cli/commands.cpp).
std::string stamp_digest(const std::string& env_dir) {
  auto text = fs::read_file(env_dir + "/.lavabuild/stamp");
  if (!text.ok()) return "";
  auto lines = split(*text, '\n');
  if (lines.size() < 3 || lines[0] != "lavabuild.stamp.v2") return "";
  return lines[2];
}

int64_t mtime_s(const std::string& path) {
  auto st = fs::stat_path(path);
  return st.exists ? st.mtime_ns / 1000000000 : 0;
}

}  // namespace

void record_lock_root(store::Store& store, const std::string& lock_path, const lock::Lock& lock,
                      Output& out) {
  json v = {{"format", kLockRootFormat},
            {"wheels", json::array()},
            {"used", int64_t(std::time(nullptr))}};
  for (const auto& p : lock.packages)
    for (const auto& w : p.wheels)
      if (!w.sha256.empty()) v["wheels"].push_back(w.sha256);
  if (auto st = store.put("lock/" + lock_path, v.dump()); !st.ok())
    out.warn("could not record " + lock_path + " in the cache index (" + st.error().message +
             "); `cache gc` may remove its wheels");
}

GcPlan plan_gc(const GcInventory& inv, std::optional<uint64_t> max_size) {
  GcPlan plan;
  std::map<std::string, int> blob_refs, entry_refs;
  for (const auto& r : inv.live) {
    for (const auto& b : r.blobs) ++blob_refs[b];
    for (const auto& e : r.entries) ++entry_refs[e];
    ++entry_refs[r.key];
  }
  std::map<std::string, const GcBlob*> kept;
  for (const auto& b : inv.blobs) {
    if (blob_refs.count(b.name)) {
      kept[b.name] = &b;
      continue;
    }
    plan.blobs.push_back(b.name);
    plan.blob_bytes += b.size;
    if (b.nlink <= 1) plan.freed_bytes += b.size;
  }
  std::set<std::string> existing(inv.entries.begin(), inv.entries.end());
  for (const auto& e : inv.entries)
    if (!entry_refs.count(e)) plan.entries.push_back(e);
  uint64_t size = inv.other_bytes;
  for (const auto& [name, b] : kept) size += b->size;
  if (max_size && size > *max_size) {
    std::vector<const GcRoot*> order;
    for (const auto& r : inv.live) order.push_back(&r);
    std::stable_sort(order.begin(), order.end(), [](const GcRoot* a, const GcRoot* b) {
      return a->last_used != b->last_used ? a->last_used < b->last_used : a->key < b->key;
    });
    for (const GcRoot* r : order) {
      if (size <= *max_size) break;
      plan.evicted.push_back(r->key);
      if (existing.count(r->key)) plan.entries.push_back(r->key);
      for (const auto& b : r->blobs) {
        auto it = kept.find(b);
        if (--blob_refs[b] > 0 || it == kept.end()) continue;
        plan.blobs.push_back(b);
        plan.blob_bytes += it->second->size;
        if (it->second->nlink <= 1) plan.freed_bytes += it->second->size;
        size -= it->second->size;
        kept.erase(it);
      }
      for (const auto& e : r->entries)
        if (--entry_refs[e] == 0 && existing.count(e)) plan.entries.push_back(e);
    }
  }
  plan.size_after = size;
  return plan;
}

std::map<std::string, uint64_t> bytes_by_area(const std::string& cache_dir) {
  std::map<std::string, uint64_t> out;
  for (const char* area :
       {"blobs", "index", "partial", "locks", "tmp", "journal", "interpreters", "other"})
    out[area] = 0;
  auto names = fs::list_dir(cache_dir);
  if (!names) return out;
  for (const auto& n : *names) {
    std::string area = out.count(n) && n != "other" ? n : "other";
    if (n == "index.lock" || n == "gc.lock") area = "locks";
    out[area] += fs::tree_size(fs::join_path(cache_dir, n));
  }
  return out;
}

namespace {

/// Everything gc needs to know, read from the store and the roots it names.
class Collector {
 public:
  explicit Collector(store::Store& s) : store_(s) {}

  Result<GcInventory> inventory() {
    GcInventory inv;
    LB_TRY(read_blobs(inv));
    LB_TRY(read_index(inv));
    for (auto& [key, value] : roots_) {
      auto root = resolve_root(key, value);
      if (root) inv.live.push_back(std::move(*root));
    }
    return inv;
  }

  /// Lock files and partial downloads no process uses (gc holds the store alone).
  void stale_files(const std::set<std::string>& keep_env_locks, GcReport& rep) const {
    auto add = [&](const std::string& path) {
      rep.files++;
      rep.file_bytes += fs::tree_size(path);
      rep.file_paths.push_back(path);
    };
    std::string partial = fs::join_path(store_.dir(), "partial");
    if (auto names = fs::list_dir(partial))
      for (const auto& n : *names) add(fs::join_path(partial, n));
    std::string locks = fs::join_path(store_.dir(), "locks");
    if (auto names = fs::list_dir(locks))
      for (const auto& n : *names) {
        std::string path = fs::join_path(locks, n);
        if (keep_env_locks.count(n)) continue;
        std::string base = ends_with(n, ".done") ? path.substr(0, path.size() - 5) : path;
        if (!fs::exists(base)) {  // a note without its lock file
          add(path);
          continue;
        }
        auto held = fs::FileLock::try_acquire(base);
        if (held.ok() && held->held()) add(path);
      }
  }

 private:
  Status read_blobs(GcInventory& inv) {
    std::string root = fs::join_path(store_.dir(), "blobs");
    LB_ASSIGN(auto shards, fs::list_dir(root));
    for (const auto& shard : shards) {
      auto names = fs::list_dir(fs::join_path(root, shard));
      if (!names) continue;
      for (const auto& n : *names) {
        std::string path = fs::join_path(fs::join_path(root, shard), n);
        auto st = fs::stat_path(path);
        if (!st.is_regular || n.find(fs::kTempInfix) != std::string::npos) continue;
        struct stat raw = {};
        uint64_t nlink = ::lstat(path.c_str(), &raw) == 0 ? uint64_t(raw.st_nlink) : 1;
        inv.blobs.push_back({n, st.size, nlink});
        by_inode_[{st.device, st.inode}] = n;
      }
    }
    return {};
  }

  Status read_index(GcInventory& inv) {
    for (const char* prefix : kCollectable)
      LB_TRY(store_.scan(prefix, [&](std::string_view k, std::string_view v) {
        std::string key(k);
        inv.entries.push_back(key);
        if (starts_with(key, "env/") || starts_with(key, "lock/") || starts_with(key, "root/"))
          roots_[key] = std::string(v);
        else if (starts_with(key, "dl/"))
          urls_by_sha_[std::string(split(v, '\n')[0])].push_back(key.substr(3));
        return true;
      }));
    return {};
  }

  void keep_wheels(GcRoot& r, const std::vector<std::string>& shas) {
    for (const auto& sha : shas) {
      r.blobs.insert(sha);
      r.entries.insert("meta/" + sha);
      for (const auto& url : urls_by_sha_[sha]) {
        r.entries.insert("dl/" + url);
        r.entries.insert("metaurl/" + url);
      }
    }
  }

  void keep_unpacked(GcRoot& r, const std::vector<std::string>& keys) {
    for (const auto& k : keys) {
      r.entries.insert("ac/" + k);
      auto v = store_.get("ac/" + k);
      if (!v.ok() || !v->has_value()) continue;
      auto uw = wheel::deserialize_unpacked(**v);
      if (!uw.ok()) continue;
      for (const auto& m : uw->members) r.blobs.insert(m.sha256 + (m.executable ? ".x" : ""));
    }
  }

  /// Every blob a file of the env at `dir` is a hard link to.
  void keep_linked(GcRoot& r, const std::string& dir) {
    auto m = env::read_manifest(dir);
    std::vector<std::string> paths{dir + "/" + env::kManifestRel};
    if (m.ok()) {
      for (const auto& f : m->venv_files) paths.push_back(dir + "/" + f.path);
      for (const auto& d : m->dists)
        for (const auto& f : d.files) paths.push_back(dir + "/" + f.path);
    }
    for (const auto& p : paths) {
      auto st = fs::stat_path(p);
      if (!st.is_regular) continue;
      auto it = by_inode_.find({st.device, st.inode});
      if (it != by_inode_.end()) r.blobs.insert(it->second);
    }
  }

  std::optional<GcRoot> resolve_root(const std::string& key, const std::string& value) {
    json v = json::parse(value, nullptr, false);
    if (v.is_discarded() || !v.is_object()) return std::nullopt;
    GcRoot r;
    r.key = key;
    r.last_used = int_of(v, "used");
    if (starts_with(key, "env/")) {
      std::string dir = key.substr(4);
      if (!v.contains("digest") || !v["digest"].is_string() ||
          stamp_digest(dir) != v["digest"].get<std::string>())
        return std::nullopt;  // gone, or rebuilt by another cache
      std::string lock_name = "env-" + sha256_hex(dir).substr(0, 32);
      r.last_used =
          std::max(r.last_used, mtime_s(fs::join_path(store_.dir(), "locks/" + lock_name)));
      r.entries.insert("locks/" + lock_name);  // not an index key: kept out of the plan
      keep_wheels(r, strings_of(v, "wheels"));
      keep_unpacked(r, strings_of(v, "unpack"));
      for (const auto& k : strings_of(v, "bytecode")) r.entries.insert("bytecode/" + k);
      keep_linked(r, dir);
      return r;
    }
    if (starts_with(key, "lock/")) {
      auto text = fs::read_file(key.substr(5));
      auto wheels = strings_of(v, "wheels");
      if (!text.ok()) return std::nullopt;
      for (const auto& sha : wheels)
        if (text->find(sha) == std::string::npos) return std::nullopt;  // re-locked elsewhere
      keep_wheels(r, wheels);
      return r;
    }
    keep_wheels(r, strings_of(v, "wheels"));  // root/: always live
    keep_unpacked(r, strings_of(v, "unpack"));
    for (const auto& b : strings_of(v, "blobs")) r.blobs.insert(b);
    return r;
  }

  store::Store& store_;
  std::map<std::string, std::string> roots_;
  std::map<std::string, std::vector<std::string>> urls_by_sha_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> by_inode_;
};

}  // namespace

Result<GcReport> collect_garbage(store::Store& store, const GcOptions& options) {
  GcReport rep;
  auto areas = bytes_by_area(store.dir());
  for (const auto& [area, bytes] : areas) rep.size_before += bytes;
  Collector c(store);
  GcInventory inv;
  std::set<std::string> env_locks;
  {
    LB_ASSIGN(auto session, store.read_session());  // one open for every read below
    LB_ASSIGN(inv, c.inventory());
  }
  for (auto& r : inv.live)
    for (auto it = r.entries.begin(); it != r.entries.end();) {
      if (starts_with(*it, "locks/")) {
        env_locks.insert(it->substr(6));
        it = r.entries.erase(it);
      } else {
        ++it;
      }
    }
  rep.live_roots = inv.live.size();
  c.stale_files(env_locks, rep);
  auto [tmp_entries, tmp_bytes] = store.clean_leftovers(/*dry_run=*/true);
  uint64_t blob_area = areas["blobs"];
  inv.other_bytes =
      rep.size_before - std::min(rep.size_before, blob_area + rep.file_bytes + tmp_bytes);
  rep.plan = plan_gc(inv, options.max_size);
  rep.files += tmp_entries;
  rep.file_bytes += tmp_bytes;
  if (options.dry_run) return rep;

  for (const auto& name : rep.plan.blobs) {
    bool exec = ends_with(name, ".x");
    (void)fs::remove_all(store.blob_path(name.substr(0, 64), exec));
  }
  if (!rep.plan.entries.empty()) LB_TRY(store.erase_many(rep.plan.entries));
  for (const auto& path : rep.file_paths) (void)fs::remove_all(path);
  (void)store.clean_leftovers();
  return rep;
}

}  // namespace lb::engine
