// An in-memory store::Store for engine unit tests: the index is a std::map, blobs are files
// in a directory the test owns (so the paths the engine links exist), and every put is
// recorded so a test can see which action entries a run wrote.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

namespace lb::test {

class FakeStore final : public store::Store {
 public:
  /// The index and what was put into it: shared by the FakeStores of one test, so a second
  /// run (a new Context, a new FakeStore) finds what the first one stored.
  struct Index {
    std::mutex mu;
    std::map<std::string, std::string> entries;
    std::vector<std::string> put_keys;  ///< every key put, in order
  };

  /// Blobs under `dir`/blobs, temp files under `dir`/tmp, lock files under `dir`/locks.
  explicit FakeStore(std::string dir, std::shared_ptr<Index> index = std::make_shared<Index>())
      : dir_(std::move(dir)), shared_(std::move(index)) {
    for (const char* sub : {"blobs", "tmp", "locks"}) (void)fs::create_dirs(dir_ + "/" + sub);
  }

  /// Every key put so far, in order (a test's view of what the engine wrote).
  std::vector<std::string> put_keys() const {
    std::lock_guard lock(shared_->mu);
    return shared_->put_keys;
  }
  /// The index as it is now.
  std::map<std::string, std::string> index() const {
    std::lock_guard lock(shared_->mu);
    return shared_->entries;
  }

  std::string blob_path(std::string_view sha, bool exec) const override {
    return dir_ + "/blobs/" + std::string(sha) + (exec ? ".x" : "");
  }
  bool has_blob(std::string_view sha, bool exec) const override {
    return fs::exists(blob_path(sha, exec));
  }
  Result<std::string> put_blob(std::string_view content, bool exec) override {
    return put_blob_hashed(content, exec, sha256_hex(content));
  }
  Result<std::string> put_missing_blob(std::string_view content, bool exec,
                                       std::string_view sha) override {
    return put_blob_hashed(content, exec, sha);
  }
  Result<std::string> put_blob_hashed(std::string_view content, bool exec,
                                      std::string_view sha) override {
    std::string path = blob_path(sha, exec);
    if (!fs::exists(path)) {
      std::string tmp = fs::temp_sibling(path);
      LB_TRY(fs::write_file(tmp, content, exec ? 0555 : 0444));
      set_blob_mtime(tmp);
      LB_TRY(fs::rename_path(tmp, path));
    }
    return std::string(sha);
  }
  Result<std::string> put_blob_file(const std::string& path, bool exec) override {
    LB_ASSIGN(std::string content, fs::read_file(path));
    LB_ASSIGN(std::string sha, put_blob(content, exec));
    (void)fs::remove_all(path);
    return sha;
  }
  store::BlobState blob_state(std::string_view sha, bool exec, int64_t size = -1) const override {
    auto info = fs::stat_path(blob_path(sha, exec));
    if (!info.exists) return store::BlobState::missing;
    bool ok =
        info.mtime_ns / 1000000000 == store::kBlobMtime && (size < 0 || int64_t(info.size) == size);
    return ok ? store::BlobState::intact : store::BlobState::damaged;
  }
  void remove_damaged_blob(std::string_view sha, bool exec) const override {
    (void)fs::remove_all(blob_path(sha, exec));
  }
  Result<bool> verify_blob(std::string_view sha, bool exec) const override {
    LB_ASSIGN(std::string hex, sha256_file_hex(blob_path(sha, exec)));
    return hex == sha;
  }
  Status verify_all(const std::function<void(std::string)>&) const override { return {}; }

  Result<store::Session> session() override { return store::Session(); }
  Result<store::Session> read_session() override { return store::Session(); }
  Result<std::optional<std::string>> get(std::string_view key) override {
    std::lock_guard lock(shared_->mu);
    auto it = shared_->entries.find(std::string(key));
    if (it == shared_->entries.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status put(std::string_view key, std::string_view value) override {
    std::lock_guard lock(shared_->mu);
    shared_->entries[std::string(key)] = std::string(value);
    shared_->put_keys.emplace_back(key);
    return {};
  }
  Status put_many(const std::vector<std::pair<std::string, std::string>>& kvs) override {
    for (const auto& [k, v] : kvs) LB_TRY(put(k, v));
    return {};
  }
  Status put_many(std::vector<std::pair<std::string, std::string>>&& kvs) override {
    return put_many(kvs);
  }
  Status erase(std::string_view key) override {
    std::lock_guard lock(shared_->mu);
    shared_->entries.erase(std::string(key));
    return {};
  }
  Status erase_many(const std::vector<std::string>& keys) override {
    for (const auto& k : keys) LB_TRY(erase(k));
    return {};
  }
  Status scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) override {
    auto copy = index();
    for (auto it = copy.lower_bound(std::string(prefix));
         it != copy.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
      if (!fn(it->first, it->second)) break;
    return {};
  }
  Result<store::Stats> stats() override {
    store::Stats s;
    s.index_entries = index().size();
    return s;
  }
  std::string tmp_dir() const override { return dir_ + "/tmp"; }
  std::pair<uint64_t, uint64_t> clean_leftovers(bool = false, bool = false) const override {
    return {0, 0};
  }
  std::string lock_path(std::string_view name) const override {
    return dir_ + "/locks/" + std::string(name);
  }
  std::string dir() const override { return dir_; }

 private:
  /// Stored blobs carry mtime kBlobMtime, as in LocalStore (the engine's drift checks rely on it).
  static void set_blob_mtime(const std::string& path) {
    timespec times[2] = {{store::kBlobMtime, 0}, {store::kBlobMtime, 0}};
    ::utimensat(AT_FDCWD, path.c_str(), times, 0);
  }

  std::string dir_;
  std::shared_ptr<Index> shared_;
};

}  // namespace lb::test
