// Sharing an env's own files through the store. Files written fresh for each env (RECORD,
// INSTALLER, scripts, pyvenv.cfg, the manifest) are usually identical across envs of the
// same requirements; moving them into the store and hard-linking them back makes N envs cost
// little more than one (PRODUCT.md: N instances <= 1.1 x one).
#pragma once

#include <string>
#include <vector>

#include "store/store.hpp"

namespace lb::engine {

struct SharedFile {
  std::string path;  ///< absolute path inside the env being assembled
  bool executable = false;
};

/// Replace each file by a hard link to its blob (adding the blob when new). Files on another
/// filesystem than the store are left as they are. Returns how many were shared.
size_t share_through_store(store::Store& store, const std::vector<SharedFile>& files);

}  // namespace lb::engine
