#include "engine/share.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

namespace lb::engine {

size_t share_through_store(store::Store& store, const std::vector<SharedFile>& files) {
  size_t shared = 0;
  for (const auto& f : files) {
    auto info = fs::stat_path(f.path);
    if (!info.is_regular) continue;
    auto sha = sha256_file_hex(f.path);
    if (!sha.ok()) continue;
    std::string blob = store.blob_path(*sha, f.executable);
    if (!store.has_blob(*sha, f.executable)) {
      // Give the store a link to this very file: the blob and the env file become one inode.
      std::string tmp = fs::temp_sibling(fs::join_path(store.tmp_dir(), "share"));
      if (!fs::hard_link(f.path, tmp).ok()) continue;  // another filesystem: keep the copy
      if (!store.put_blob_file(tmp, f.executable).ok()) continue;
    }
    if (fs::stat_path(blob).inode == info.inode) {
      ++shared;
      continue;
    }
    std::string aside = fs::temp_sibling(f.path);
    if (fs::hard_link(blob, aside).ok()) {
      if (fs::rename_path(aside, f.path).ok())
        ++shared;
      else
        (void)fs::remove_all(aside);
    }
  }
  return shared;
}

}  // namespace lb::engine
