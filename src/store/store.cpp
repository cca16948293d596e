#include "store/local_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "store/index_db.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::store {

Session::Session(std::shared_ptr<detail::IndexHandle> h) : handle_(std::move(h)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;
bool Session::degraded() const {
  return handle_ && handle_->degraded();
}

LocalStore::LocalStore(std::string dir, StoreOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  if (!options_.warn)
    options_.warn = [](const std::string& msg) {
      std::fprintf(stderr, "lavabuild: warning: %s\n", msg.c_str());
    };
}

LocalStore::~LocalStore() {
  if (int fd = blobs_fd_.load(); fd >= 0) ::close(fd);
  if (tmp_) {
    (void)fs::remove_all(tmp_->path());
    tmp_->release();
  }
}

namespace {
/// A stored blob counts as intact by its mode, size and mtime: whoever can write the cache
/// decides what is linked into envs. So the cache (and its blobs/) must be this user's, and
/// not writable by others.
Status check_owner(const std::string& path, bool follow) {
  struct stat st;
  // The cache itself may be a symlink to a directory of one's own; blobs/ is one we made.
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0)
    return make_error("cannot read " + path + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return make_error(path + " is not a directory", "use another --cache-dir");
  if (st.st_uid != ::geteuid())
    return make_error(
        "the cache " + path + " belongs to uid " + std::to_string(st.st_uid) +
            ", not to this user (uid " + std::to_string(::geteuid()) +
            "): its owner could put files there that lavabuild would link into your envs",
        "use a cache of your own (--cache-dir, LAVABUILD_CACHE_DIR), or chown it");
  if (st.st_mode & S_IWOTH)
    return make_error("the cache " + path +
                          " is writable by every user: any of them could put files there that "
                          "lavabuild would link into your envs",
                      "chmod o-w " + path);
  return {};
}
}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& cache_dir, StoreOptions options) {
  std::string dir = fs::absolute(cache_dir);
  LB_TRY(fs::create_dirs(dir));
  LB_TRY(check_owner(dir, true));  // before anything is made in another user's directory
  for (const char* sub : {"blobs", "tmp", "journal"})
    LB_TRY(fs::create_dirs(fs::join_path(dir, sub)));
  LB_TRY(check_owner(fs::join_path(dir, "blobs"), false));
  std::string version_path = fs::join_path(dir, "VERSION");
  if (fs::exists(version_path)) {
    LB_ASSIGN(auto text, fs::read_file(version_path));
    if (trim(text) != kStoreVersion)
      return make_error(version_path + ": unsupported cache format " + quoted(trim(text)) +
                            " (this lavabuild reads " + quoted(kStoreVersion) + ")",
                        "use another --cache-dir, or delete this cache directory");
  } else {
    LB_TRY(fs::write_file_atomic(version_path, std::string(kStoreVersion) + "\n"));
  }
  auto store = std::unique_ptr<LocalStore>(new LocalStore(std::move(dir), std::move(options)));
  // gc.lock: runs share it, `cache gc` takes it alone. A read-only cache has no lock file:
  // nothing there can be collected either.
  std::string gc_lock = fs::join_path(store->dir_, "gc.lock");
  const auto& warn = store->options_.warn;
  auto lock =
      store->options_.use == StoreUse::gc
          ? fs::FileLock::acquire_or_wait(
                gc_lock,
                [&] { warn("waiting for the lavabuild runs using " + store->dir_ + " to finish"); })
          : fs::FileLock::acquire_shared_or_wait(gc_lock, [&] {
              warn("waiting for `lavabuild cache gc` on " + store->dir_ + " to finish");
            });
  if (lock.ok()) store->use_lock_ = std::move(*lock);
  return std::unique_ptr<Store>(std::move(store));
}

std::string LocalStore::tmp_dir() const {
  std::lock_guard<std::mutex> g(tmp_mutex_);
  if (!tmp_) {
    auto d = fs::OwnedDir::create(fs::join_path(fs::join_path(dir_, "tmp"), "run"), 0700);
    // A read-only cache has no temp dir: writes into tmp/ then fail with a clear error.
    if (!d) return fs::join_path(dir_, "tmp");
    tmp_ = std::move(*d);
  }
  return tmp_->path();
}

std::pair<uint64_t, uint64_t> LocalStore::clean_leftovers(bool dry_run, bool tmp_only) const {
  uint64_t entries = 0, bytes = 0;
  std::string mine;
  {
    std::lock_guard<std::mutex> g(tmp_mutex_);
    if (tmp_) mine = tmp_->path();
  }
  // Everything in tmp/ is a process's temp dir (or a file from an older lavabuild); journal/,
  // locks/ and the top directory hold temp files of write_file_atomic.
  for (const char* sub : {"tmp", "journal", "locks", ""}) {
    if (tmp_only && sub != std::string_view("tmp")) break;
    std::string root = sub[0] ? fs::join_path(dir_, sub) : dir_;
    auto names = fs::list_dir(root);
    if (!names) continue;
    for (const auto& n : *names) {
      std::string path = fs::join_path(root, n);
      if (path == mine || (sub != std::string_view("tmp") && !fs::temp_base(n))) continue;
      if (!fs::is_abandoned(path)) continue;
      uint64_t size = fs::tree_size(path);
      if (dry_run || fs::remove_if_abandoned(path)) {
        ++entries;
        bytes += size;
      }
    }
  }
  return {entries, bytes};
}

std::string LocalStore::lock_path(std::string_view name) const {
  std::string dir = fs::join_path(dir_, "locks");
  (void)fs::create_dirs(dir);
  return fs::join_path(dir, std::string(name));
}
std::string LocalStore::dir() const {
  return dir_;
}

// --- index ---------------------------------------------------------------------------

Result<Session> LocalStore::session() {
  std::lock_guard<std::mutex> g(mutex_);
  if (auto live = session_.lock()) {
    if (session_read_only_)
      return make_error("internal: a writing session was asked for while a read session is open");
    return Session(std::move(live));
  }
  LB_ASSIGN(std::shared_ptr<detail::IndexHandle> h,
            detail::IndexHandle::open(dir_, options_.lock_timeout, options_.warn));
  session_ = h;
  session_read_only_ = false;
  return Session(std::move(h));
}

Result<Session> LocalStore::read_session() {
  std::lock_guard<std::mutex> g(mutex_);
  if (auto live = session_.lock()) return Session(std::move(live));
  // Parked journal writes must be replayed first, which needs a writing open.
  bool read_only = detail::list_journal(fs::join_path(dir_, "journal")).empty();
  LB_ASSIGN(std::shared_ptr<detail::IndexHandle> h,
            detail::IndexHandle::open(dir_, options_.lock_timeout, options_.warn, read_only));
  session_ = h;
  session_read_only_ = read_only;
  return Session(std::move(h));
}

Status LocalStore::with_index(bool read_only,
                              const std::function<Status(detail::IndexHandle&)>& fn) {
  std::unique_lock<std::mutex> g(mutex_);
  // A write while a read session lives (another thread's, as two source builds making their
  // build envs at once) is parked in the journal by the read-only handle (Store::read_session).
  if (auto live = session_.lock()) {
    g.unlock();
    return fn(*live);
  }
  // Reads open read-only (no files written), unless parked writes wait to be replayed.
  if (read_only && !detail::list_journal(fs::join_path(dir_, "journal")).empty()) read_only = false;
  LB_ASSIGN(auto h,
            detail::IndexHandle::open(dir_, options_.lock_timeout, options_.warn, read_only));
  return fn(*h);
}

Result<std::optional<std::string>> LocalStore::get(std::string_view key) {
  std::optional<std::string> out;
  LB_TRY(with_index(true, [&](detail::IndexHandle& h) -> Status {
    LB_ASSIGN(out, h.get(key));
    return {};
  }));
  return out;
}

Status LocalStore::put(std::string_view key, std::string_view value) {
  return with_index(false, [&](detail::IndexHandle& h) {
    return h.write({{std::string(key), std::string(value)}});
  });
}

Status LocalStore::put_many(std::vector<std::pair<std::string, std::string>>&& kvs) {
  std::vector<detail::JournalRecord> records;
  records.reserve(kvs.size());
  for (auto& [k, v] : kvs) records.push_back({std::move(k), std::move(v)});
  kvs.clear();
  return with_index(false, [&](detail::IndexHandle& h) { return h.write(records); });
}

Status LocalStore::put_many(const std::vector<std::pair<std::string, std::string>>& kvs) {
  std::vector<detail::JournalRecord> records;
  records.reserve(kvs.size());
  for (const auto& [k, v] : kvs) records.push_back({k, v});
  return with_index(false, [&](detail::IndexHandle& h) { return h.write(records); });
}

Status LocalStore::erase(std::string_view key) {
  return with_index(false, [&](detail::IndexHandle& h) {
    return h.write({{std::string(key), std::nullopt}});
  });
}

Status LocalStore::erase_many(const std::vector<std::string>& keys) {
  std::vector<detail::JournalRecord> records;
  records.reserve(keys.size());
  for (const auto& k : keys) records.push_back({k, std::nullopt});
  return with_index(false, [&](detail::IndexHandle& h) { return h.write(records); });
}

Status LocalStore::scan(std::string_view prefix,
                        const std::function<bool(std::string_view, std::string_view)>& fn) {
  return with_index(true, [&](detail::IndexHandle& h) { return h.scan(prefix, fn); });
}

Result<Stats> LocalStore::stats() {
  Stats st;
  LB_ASSIGN(auto shards, fs::list_dir(fs::join_path(dir_, "blobs")));
  for (const auto& shard : shards) {
    std::string shard_dir = fs::join_path(fs::join_path(dir_, "blobs"), shard);
    auto names = fs::list_dir(shard_dir);
    if (!names) continue;
    for (const auto& n : *names) {
      auto info = fs::stat_path(fs::join_path(shard_dir, n));
      if (!info.is_regular) continue;
      ++st.blobs;
      st.bytes += info.size;
    }
  }
  LB_TRY(scan("", [&](std::string_view, std::string_view) {
    ++st.index_entries;
    return true;
  }));
  std::tie(st.leftover_entries, st.leftover_bytes) = clean_leftovers(/*dry_run=*/true);
  return st;
}

}  // namespace lb::store
