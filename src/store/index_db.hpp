// Internal: one open of the RocksDB index under index.lock (or a degraded, journal-only
// stand-in when the lock could not be had in time). RocksDB types stay in index_db.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/journal.hpp"
#include "util/result.hpp"

namespace lb::store::detail {

/// Encode an index value: 1-byte tag (0x00 raw, 0x01 zstd) + payload; values over 1 KiB
/// are compressed when that makes them smaller.
std::string encode_value(std::string_view value);
Result<std::string> decode_value(std::string_view stored, std::string_view key);

class IndexHandle {
 public:
  /// Lock <cache>/index.lock (waiting at most `timeout`), open <cache>/index and replay the
  /// journal. On timeout returns a degraded handle and calls `warn`. `read_only` opens
  /// write nothing (several times faster: no MANIFEST/WAL/fsync) and skip the journal.
  static Result<std::unique_ptr<IndexHandle>> open(
      const std::string& cache_dir, std::chrono::milliseconds timeout,
      const std::function<void(const std::string&)>& warn, bool read_only = false);
  ~IndexHandle();
  IndexHandle(const IndexHandle&) = delete;
  IndexHandle& operator=(const IndexHandle&) = delete;

  /// True when the index is not open: reads miss, writes go to the journal.
  bool degraded() const;
  Result<std::optional<std::string>> get(std::string_view key);
  Status write(const std::vector<JournalRecord>& records);
  /// Visit entries whose key starts with `prefix` in key order; `fn` returns false to stop.
  Status scan(std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn);

 private:
  struct Impl;
  explicit IndexHandle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lb::store::detail
