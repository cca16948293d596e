#include "store/index_db.hpp"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>

#include "store/compress.hpp"
#include "store/index_lock.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::store::detail {

namespace {

constexpr char kTagRaw = 0x00;
constexpr char kTagZstd = 0x01;
constexpr size_t kCompressOver = 1024;

// Keeps RocksDB from writing LOG / LOG.old.* files into the index directory.
class NullLogger : public rocksdb::Logger {
 public:
  NullLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::ERROR_LEVEL) {}
  void Logv(const char*, va_list) override {}
  void Logv(const rocksdb::InfoLogLevel, const char*, va_list) override {}
};

// Small footprint: the index holds at most a few hundred thousand short entries.
rocksdb::Options index_options() {
  rocksdb::Options o;
  o.OptimizeForSmallDb();
  o.create_if_missing = true;
  o.compression = rocksdb::kNoCompression;  // large values are already zstd (encode_value)
  o.write_buffer_size = 1 << 20;
  o.max_open_files = 32;
  o.info_log = std::make_shared<NullLogger>();
  o.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  o.keep_log_file_num = 1;
  o.stats_dump_period_sec = 0;
  o.stats_persist_period_sec = 0;
  o.skip_stats_update_on_db_open = true;
  o.max_manifest_file_size = 1 << 20;
  // Every writing open ends in one flush, so one small file (see settle). No background
  // compaction: it would race the close; settle() merges everything now and then.
  o.disable_auto_compactions = true;
  o.target_file_size_base = 64 << 20;
  return o;
}

std::string db_error(const rocksdb::Status& s, const std::string& path) {
  return "cache index " + path + ": " + s.ToString();
}

}  // namespace

std::string encode_value(std::string_view value) {
  if (value.size() > kCompressOver) {
    std::string z = zstd_compress(value);
    if (!z.empty() && z.size() < value.size()) return kTagZstd + z;
  }
  return kTagRaw + std::string(value);
}

Result<std::string> decode_value(std::string_view stored, std::string_view key) {
  if (!stored.empty() && stored[0] == kTagRaw) return std::string(stored.substr(1));
  if (!stored.empty() && stored[0] == kTagZstd) {
    auto r = zstd_decompress(stored.substr(1));
    if (r) return r;
    return make_error("cache index entry " + quoted(key) + ": " + r.error().message,
                      "the cache index is damaged: delete its index/ directory; it is rebuilt as "
                      "steps run again");
  }
  return make_error("cache index entry " + quoted(key) + ": unknown value encoding",
                    "the cache was written by a newer lavabuild, or is corrupt");
}

struct IndexHandle::Impl {
  IndexLock lock;  // declared first: released after the DB is closed
  std::unique_ptr<rocksdb::DB> db;
  std::string cache_dir;
  std::string path;
  std::atomic<bool> dirty{false};
  bool read_only = false;
};

namespace {

// Leave no WAL behind (the next open would flush it into one more file), and once the
// flushes have piled up kMaxFiles files, merge them all into one (a full compaction of a
// small index takes milliseconds; it happens once per kMaxFiles writing opens).
constexpr size_t kMaxFiles = 8;

void settle(rocksdb::DB& db) {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  if (!db.Flush(fo).ok()) return;
  std::vector<rocksdb::LiveFileMetaData> files;
  db.GetLiveFilesMetaData(&files);
  if (files.size() < kMaxFiles) return;
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  (void)db.CompactRange(co, nullptr, nullptr);
}

}  // namespace

IndexHandle::IndexHandle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

IndexHandle::~IndexHandle() {
  if (impl_->db) {
    if (impl_->dirty) settle(*impl_->db);
    (void)impl_->db->Close();
    impl_->db.reset();
  }
}

Result<std::unique_ptr<IndexHandle>> IndexHandle::open(
    const std::string& cache_dir, std::chrono::milliseconds timeout,
    const std::function<void(const std::string&)>& warn, bool read_only) {
  auto impl = std::make_unique<Impl>();
  impl->cache_dir = cache_dir;
  impl->path = fs::join_path(cache_dir, "index");
  std::string lock_path = fs::join_path(cache_dir, "index.lock");
  LB_ASSIGN(impl->lock, IndexLock::acquire(lock_path, timeout, read_only, [&] {
              static std::atomic<bool> said{false};  // once per process: waits are short
              if (!said.exchange(true))
                warn("waiting for another lavabuild process to release the cache index (" +
                     lock_path + ", up to " + std::to_string(timeout.count() / 1000) + " s)");
            }));
  if (!impl->lock.held() && !impl->lock.unlockable()) {
    warn("another lavabuild process has held " + lock_path + " for " +
         std::to_string(timeout.count() / 1000) +
         " s; continuing without the cache index (index writes are journalled)");
    return std::unique_ptr<IndexHandle>(new IndexHandle(std::move(impl)));
  }
  rocksdb::DB* raw = nullptr;
  if (read_only) {
    impl->read_only = true;
    if (!fs::exists(fs::join_path(impl->path, "CURRENT")))  // no index yet: all misses
      return std::unique_ptr<IndexHandle>(new IndexHandle(std::move(impl)));
  }
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(index_options(), impl->path, &raw)
                                : rocksdb::DB::Open(index_options(), impl->path, &raw);
  if (!s.ok())
    return make_error(db_error(s, impl->path),
                      "if the index is corrupt, delete that directory: it is rebuilt as "
                      "steps run again");
  impl->db.reset(raw);
  auto handle = std::unique_ptr<IndexHandle>(new IndexHandle(std::move(impl)));
  if (read_only) return handle;
  // Replay the writes other processes parked while we held the index.
  for (const auto& file : list_journal(fs::join_path(cache_dir, "journal"))) {
    auto text = fs::read_file(file);
    if (!text) continue;  // a concurrent replayer took it
    auto records = decode_journal(*text, file);
    if (!records)
      warn(records.error().to_string());
    else
      LB_TRY(handle->write(*records));
    (void)fs::remove_all(file);
  }
  return handle;
}

bool IndexHandle::degraded() const {
  return impl_->db == nullptr;
}

Result<std::optional<std::string>> IndexHandle::get(std::string_view key) {
  if (!impl_->db) return std::optional<std::string>();
  std::string stored;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &stored);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return make_error(db_error(s, impl_->path));
  LB_ASSIGN(auto value, decode_value(stored, key));
  return std::optional<std::string>(std::move(value));
}

Status IndexHandle::write(const std::vector<JournalRecord>& records) {
  if (records.empty()) return {};
  // Read-only (a read session of this process, which another thread may be using) or
  // without the index (another process holds it): parked in the journal, replayed by the next
  // writing open, which is the next open of the index once the session ends.
  if (impl_->read_only || !impl_->db)
    return append_journal(fs::join_path(impl_->cache_dir, "journal"), records);
  rocksdb::WriteBatch batch;
  for (const auto& r : records) {
    if (r.value)
      batch.Put(r.key, encode_value(*r.value));
    else
      batch.Delete(r.key);
  }
  rocksdb::WriteOptions wo;
  wo.sync = false;  // a cache: losing the last writes on power loss only costs a rerun
  impl_->dirty = true;
  auto s = impl_->db->Write(wo, &batch);
  if (!s.ok()) return make_error(db_error(s, impl_->path));
  return {};
}

Status IndexHandle::scan(
    std::string_view prefix,
    const std::function<bool(std::string_view key, std::string_view value)>& fn) {
  if (!impl_->db) return {};
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (!starts_with(key, prefix)) break;
    LB_ASSIGN(auto value,
              decode_value(std::string_view(it->value().data(), it->value().size()), key));
    if (!fn(key, value)) break;
  }
  if (!it->status().ok()) return make_error(db_error(it->status(), impl_->path));
  return {};
}

}  // namespace lb::store::detail
