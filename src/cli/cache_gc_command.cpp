#include "cli/cache_gc_command.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/cache_gc.hpp"

namespace lb::cli {

namespace {
std::string mb(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / 1e6);
  return buf;
}
}  // namespace

int cmd_cache_gc(store::Store& store, const engine::Options& o) {
  auto rep = engine::collect_garbage(store, {o.max_size, o.dry_run});
  if (!rep.ok()) {
    std::fprintf(stderr, "error: %s\n", rep.error().message.c_str());
    if (!rep.error().hint.empty()) std::fprintf(stderr, "  hint: %s\n", rep.error().hint.c_str());
    return 1;
  }
  const auto& p = rep->plan;
  uint64_t removed = p.blob_bytes + rep->file_bytes;
  if (o.json) {
    nlohmann::json j = {{"dir", store.dir()},
                        {"dry_run", o.dry_run},
                        {"live_roots", rep->live_roots},
                        {"blobs", p.blobs.size()},
                        {"blob_bytes", p.blob_bytes},
                        {"freed_bytes", p.freed_bytes + rep->file_bytes},
                        {"index_entries", p.entries.size()},
                        {"files", rep->files},
                        {"file_bytes", rep->file_bytes},
                        {"removed_bytes", removed},
                        {"evicted", p.evicted},
                        {"size_before", rep->size_before},
                        {"size_after", p.size_after}};
    if (o.dry_run) {
      j["would_remove"] = {
          {"blobs", p.blobs}, {"index_entries", p.entries}, {"files", rep->file_paths}};
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  if (o.dry_run) {
    for (const auto& b : p.blobs) std::printf("blob   %s\n", b.c_str());
    for (const auto& e : p.entries) std::printf("entry  %s\n", e.c_str());
    for (const auto& f : rep->file_paths) std::printf("file   %s\n", f.c_str());
  }
  const char* verb = o.dry_run ? "would remove" : "removed";
  std::fprintf(stderr,
               "%s: %s %zu files (%s), %zu index entries, %llu partial downloads, lock and "
               "temp files (%s); %zu envs and locks in use\n",
               store.dir().c_str(), verb, p.blobs.size(), mb(p.blob_bytes).c_str(),
               p.entries.size(), (unsigned long long)rep->files, mb(rep->file_bytes).c_str(),
               rep->live_roots);
  if (p.freed_bytes < p.blob_bytes)
    std::fprintf(stderr,
                 "  %s of those files stay on disk until the envs that link them are removed\n",
                 mb(p.blob_bytes - p.freed_bytes).c_str());
  for (const auto& key : p.evicted)
    std::fprintf(stderr,
                 "  %s %s's files (least recently used; --max-size): the env keeps working, a "
                 "rebuild fetches them again\n",
                 o.dry_run ? "would evict" : "evicted", key.substr(key.find('/') + 1).c_str());
  if (o.max_size && p.size_after > *o.max_size)
    std::fprintf(stderr, "  still %s, above --max-size: the rest is the index and probes\n",
                 mb(p.size_after).c_str());
  return 0;
}

}  // namespace lb::cli
