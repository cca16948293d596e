// The local implementation of store::Store: blobs under <cache_dir>/blobs, the RocksDB index
// (layout and concurrency in store/store.hpp). Only Store::open and this module's tests name
// it; everything else holds a store::Store.
#pragma once

#include <atomic>

#include "store/store.hpp"

namespace lb::store {

class LocalStore final : public Store {
 public:
  ~LocalStore() override;
  std::string blob_path(std::string_view sha256_hex, bool executable) const override;
  bool has_blob(std::string_view sha256_hex, bool executable) const override;
  Result<std::string> put_blob(std::string_view content, bool executable) override;
  Result<std::string> put_blob_hashed(std::string_view content, bool executable,
                                      std::string_view sha256_hex) override;
  Result<std::string> put_missing_blob(std::string_view content, bool executable,
                                       std::string_view sha256_hex) override;
  Result<std::string> put_blob_file(const std::string& path, bool executable) override;
  BlobState blob_state(std::string_view sha256_hex, bool executable,
                       int64_t size = -1) const override;
  void remove_damaged_blob(std::string_view sha256_hex, bool executable) const override;
  Result<bool> verify_blob(std::string_view sha256_hex, bool executable) const override;
  Status verify_all(const std::function<void(std::string)>& report_bad) const override;
  Result<Session> session() override;
  Result<Session> read_session() override;
  Result<std::optional<std::string>> get(std::string_view key) override;
  Status put(std::string_view key, std::string_view value) override;
  Status put_many(const std::vector<std::pair<std::string, std::string>>& kvs) override;
  Status put_many(std::vector<std::pair<std::string, std::string>>&& kvs) override;
  Status erase(std::string_view key) override;
  Status erase_many(const std::vector<std::string>& keys) override;
  Status scan(std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) override;
  Result<Stats> stats() override;
  std::string tmp_dir() const override;
  std::pair<uint64_t, uint64_t> clean_leftovers(bool dry_run = false,
                                                bool tmp_only = false) const override;
  std::string lock_path(std::string_view name) const override;
  std::string dir() const override;

 private:
  friend class Store;

  LocalStore(std::string dir, StoreOptions options);
  /// Run `fn` on the live Session's index, else on one opened (and closed) for this call.
  Status with_index(bool read_only, const std::function<Status(detail::IndexHandle&)>& fn);
  Result<std::string> link_into_place(const std::string& tmp, std::string_view sha,
                                      bool executable);

  /// An O_PATH descriptor of blobs/, opened on first use: blob_state looks a blob up by the
  /// two components "<aa>/<sha>" below it, not by its whole path (-1: not open yet).
  int blobs_fd() const;

  std::string dir_;
  StoreOptions options_;
  mutable std::atomic<int> blobs_fd_{-1};
  fs::FileLock use_lock_;  // gc.lock, shared or exclusive (StoreOptions::use)
  mutable std::mutex tmp_mutex_;
  mutable std::optional<fs::OwnedDir> tmp_;
  std::mutex mutex_;  // guards session_ and serialises this Store's transient index opens
  std::weak_ptr<detail::IndexHandle> session_;
  bool session_read_only_ = false;
};

}  // namespace lb::store
