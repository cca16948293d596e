// The local content-addressed store and its key-value index.
//
// On-disk layout, format "lavabuild-store 1" (the VERSION file holds exactly that line):
//
//   <cache_dir>/
//     VERSION                    "lavabuild-store 1\n"
//     blobs/<aa>/<sha256hex>     regular files, mode 0444; <aa> = first two hex digits
//     blobs/<aa>/<sha256hex>.x   executable variant, mode 0555 (hard links share the mode,
//                                so the exec bit is part of a blob's identity)
//                                Every blob's mtime is 1 s after the epoch (as in Nix): a
//                                write in place (through a hard link in an env) changes it,
//                                so a stat tells an intact blob from an edited one.
//     tmp/run.tmp-<random>/      one directory per live process, holding its temp files;
//                                the process holds an flock on the directory while it
//                                lives, so what a killed run left is told apart and removed
//                                (Store::clean_leftovers). Same filesystem as blobs/.
//     locks/                     flock files: env-<sha256(env path)[:32]> serialises runs on
//                                one env; url-* serialise downloads (net/url_lock.hpp)
//     index/                     RocksDB: the key-value index
//     gc.lock                    flock held by every process that opens the store: shared
//                                by runs (StoreUse::run), exclusive by `cache gc`
//                                (StoreUse::gc). So gc never runs beside a run whose blobs
//                                are not yet named by an index entry, and runs wait for gc.
//     partial/<sha256(url)>      bytes of an interrupted download, to resume with a Range
//     partial/<sha256(url)>.note request, and their note (lavabuild-partial 1): format and
//                                when they are used in net/partial.hpp; written and removed
//                                under the URL's download lock; `cache gc` removes them
//     index.lock                 flock on every open of index/ across processes: shared for
//                                read-only opens, exclusive for writing ones
//     journal/                   index writes parked by processes that could not get the
//                                index in time (format in store/journal.hpp); replayed and
//                                deleted by the next process that opens the index
//
// Index keys are namespaced by prefix: "ac/<stepkey>", "page/<url>", "dl/<url>",
// "env/<path>", "meta/<sha>", "metaurl/<url>", "lock/<path>", "root/<name>", "pyc/<key>",
// "bytecode/<key>", "build/<key>", "buildreq/<key>", "buildmeta/<key>", "srcstat/<key>",
// "srcbuild/<location>", "remote-stats".
// The owner of each prefix documents its values: build/, buildreq/, buildmeta/, srcstat/, srcbuild/
// (source builds) in engine/source_build.hpp; ac/ (unpack outputs) and
// env/ (which unpack outputs and wheels an env uses) in engine/pipeline.hpp, pyc/ and bytecode/
// (compiled bytecode) in engine/bytecode.hpp, dl/, meta/ and metaurl/ in engine/fetch.hpp,
// page/ in net/index.hpp; lock/ and root/ (the gc roots) in engine/cache_gc.hpp; remote-stats
// (the remote cache's counters) in engine/remote.hpp.
// `cache gc` keeps what env/, lock/ and root/ entries reach and removes the rest. Every stored
// value starts with a 1-byte tag: 0x00 = the raw value follows; 0x01 = a zstd frame of the value
// follows (used for values over 1 KiB).
//
// Concurrency: RocksDB admits one process at a time, so the index is closed most of the
// time. Each get/put locks index.lock, opens, works, closes — unless the caller holds a
// Session, which keeps one open for a batch of operations (from any thread). Waiting for the
// lock is bounded (StoreOptions::lock_timeout); after that reads miss and writes go to the
// journal, with a warning. Blob writes need no lock: temp file + link(), put-if-absent.
// Use one Store per process (two in one process contend for index.lock like two processes).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/fs.hpp"
#include "util/result.hpp"

namespace lb::store {

namespace detail {
class IndexHandle;
}

/// The content of the VERSION file, without the newline.
inline constexpr std::string_view kStoreVersion = "lavabuild-store 1";

/// How a process uses the store, for gc.lock (see the layout above).
enum class StoreUse { run, gc };

struct StoreOptions {
  /// run: hold gc.lock shared while the Store lives; gc: exclusively (waits for runs).
  StoreUse use = StoreUse::run;
  /// How long to wait for another process to let go of the index.
  std::chrono::milliseconds lock_timeout{30000};
  /// Where warnings go; default: stderr, prefixed "lavabuild: warning: ".
  std::function<void(const std::string&)> warn;
};

/// Totals for `lavabuild cache stats`.
struct Stats {
  uint64_t blobs = 0;
  uint64_t bytes = 0;
  uint64_t index_entries = 0;
  uint64_t leftover_entries = 0;  ///< temp entries of dead runs in tmp/
  uint64_t leftover_bytes = 0;
};

/// What a stat of a blob says.
enum class BlobState { intact, missing, damaged };

/// The mtime (seconds since the epoch) every stored blob has.
inline constexpr int64_t kBlobMtime = 1;

class Store;
class LocalStore;

/// Holds the index open (and index.lock held) for a batch of operations; while any Session
/// of a Store lives, that Store's get/put/put_many use it. Keep it short: other processes
/// wait for it (up to their lock timeout).
class Session {
 public:
  /// An empty session: holds nothing (what a store without an index to hold returns).
  Session() = default;
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();
  /// True when the lock timed out: reads miss and writes are journalled for this session.
  bool degraded() const;

 private:
  friend class LocalStore;
  explicit Session(std::shared_ptr<detail::IndexHandle> h);
  std::shared_ptr<detail::IndexHandle> handle_;
};

/// The store as the engine sees it: action entries and other index values by key, blobs by
/// digest, and the references (env/, lock/ entries) that say what is live. LocalStore (the
/// on-disk layout above) is the implementation; a remote cache is layered on this interface,
/// and engine unit tests use an in-memory fake.
class Store {
 public:
  /// Create (if needed) and open the store in `cache_dir`. Fails when VERSION names another
  /// format or the directory cannot be created.
  static Result<std::unique_ptr<Store>> open(const std::string& cache_dir,
                                             StoreOptions options = {});
  virtual ~Store() = default;

  // --- blobs (thread-safe, multi-process safe) ---------------------------------------
  /// Path of a blob (which may not exist). Stored files are read-only: never write to them.
  virtual std::string blob_path(std::string_view sha256_hex, bool executable) const = 0;
  /// A stat(): the blob is present.
  virtual bool has_blob(std::string_view sha256_hex, bool executable) const = 0;
  /// Store `content` if absent; returns its sha256 hex.
  virtual Result<std::string> put_blob(std::string_view content, bool executable) = 0;
  /// As put_blob, trusting `sha256_hex` as the hash of `content` (the caller just computed it).
  virtual Result<std::string> put_blob_hashed(std::string_view content, bool executable,
                                              std::string_view sha256_hex) = 0;
  /// As put_blob_hashed, for a blob blob_state() just found missing: no second look (another
  /// process storing the same blob meanwhile is fine: same content).
  virtual Result<std::string> put_missing_blob(std::string_view content, bool executable,
                                               std::string_view sha256_hex) = 0;
  /// Hash the file at `path`, then move it into the store (link + unlink, copying when it is
  /// on another filesystem); `path` is gone afterwards. Best from a file under tmp_dir().
  virtual Result<std::string> put_blob_file(const std::string& path, bool executable) = 0;
  /// A stat (no hashing) of a blob: intact when it is a regular file with the blob mode,
  /// `size` bytes (when size >= 0) and the stored mtime; a blob written by an older
  /// lavabuild (another mtime) is re-hashed once and its mtime set. Nothing is changed for
  /// a damaged blob: see remove_damaged_blob.
  virtual BlobState blob_state(std::string_view sha256_hex, bool executable,
                               int64_t size = -1) const = 0;
  /// Remove a blob that is damaged (edited in place, wrong mode or size): envs that link it
  /// keep their copy, the store forgets it, and the next put_blob writes it anew.
  virtual void remove_damaged_blob(std::string_view sha256_hex, bool executable) const = 0;
  /// Re-hash a blob: false when its content no longer matches its name; error when missing.
  virtual Result<bool> verify_blob(std::string_view sha256_hex, bool executable) const = 0;
  /// Re-hash every blob and check modes; `report_bad` gets the path of each bad or stray file.
  virtual Status verify_all(const std::function<void(std::string)>& report_bad) const = 0;

  // --- key-value index ------------------------------------------------------------------
  /// Open the index for a batch (see Session). Errors only on a broken index.
  virtual Result<Session> session() = 0;
  /// A session for reads only: opens the index read-only (no fsyncs, several times cheaper
  /// than a writing session). It is the process's session while it lives, for every thread:
  /// writes meanwhile are parked in the journal and seen once it ends (the next open replays
  /// them), so buffer writes and make them after it ends where you can.
  virtual Result<Session> read_session() = 0;
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
  virtual Status put(std::string_view key, std::string_view value) = 0;
  /// One atomic batch.
  virtual Status put_many(const std::vector<std::pair<std::string, std::string>>& kvs) = 0;
  /// The same, taking the values (large index pages are then held once, not twice).
  virtual Status put_many(std::vector<std::pair<std::string, std::string>>&& kvs) = 0;
  virtual Status erase(std::string_view key) = 0;
  /// Erase several keys in one atomic batch.
  virtual Status erase_many(const std::vector<std::string>& keys) = 0;
  /// Visit entries whose key starts with `prefix`, in key order; `fn` returns false to stop.
  virtual Status scan(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;

  /// Blob count and bytes, index entry count.
  virtual Result<Stats> stats() = 0;
  /// This process's own temp directory under <cache_dir>/tmp (created on first use and held
  /// locked until the Store is destroyed, then removed): temp files for put_blob_file.
  virtual std::string tmp_dir() const = 0;
  /// Remove what dead runs left in tmp/ (directories no live process holds; loose files
  /// untouched for 10 minutes); with `dry_run`, only count them. Returns entries and bytes.
  /// `tmp_only`: look in tmp/ alone (cheap enough for every run; journal/ and locks/ can hold
  /// thousands of entries).
  virtual std::pair<uint64_t, uint64_t> clean_leftovers(bool dry_run = false,
                                                        bool tmp_only = false) const = 0;
  /// Path of a named lock file under <cache_dir>/locks/ (created on demand).
  virtual std::string lock_path(std::string_view name) const = 0;
  /// The cache directory (absolute).
  virtual std::string dir() const = 0;
};

}  // namespace lb::store
