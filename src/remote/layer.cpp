#include "remote/layer.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "graph/graph.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::remote {

namespace {

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

/// Takes one "\n"-terminated line off the front of `rest`.
bool take_line(std::string_view& rest, std::string_view& line) {
  auto nl = rest.find('\n');
  if (nl == std::string_view::npos) return false;
  line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return true;
}

/// A fetch reads the blobs it lacks in batches of at most this many bytes (a larger blob is
/// read alone), up to kFetchBatches batches at a time: what it holds in memory at once.
constexpr uint64_t kFetchBatchBytes = uint64_t(16) << 20;
constexpr int kFetchBatches = 2;

Digest digest_of(std::string_view bytes) {
  return {sha256_hex(bytes), int64_t(bytes.size())};
}

class RemoteStore final : public store::Store, public Layer {
 public:
  RemoteStore(std::shared_ptr<store::Store> local, std::unique_ptr<RemoteCache> remote, Trust trust,
              Sharing sharing, std::function<void(const std::string&)> warn,
              std::shared_ptr<RemoteStats> stats)
      : local_(std::move(local)),
        remote_(std::move(remote)),
        trust_(std::move(trust)),
        sharing_(std::move(sharing)),
        warn_(std::move(warn)),
        stats_(std::move(stats)) {}

  // --- Layer ------------------------------------------------------------------------
  bool pull(std::string_view key) override { return fetch(key).has_value(); }
  bool push(std::string_view key, std::string_view value) override { return publish(key, value); }
  bool usable() const override { return !disabled_.load(); }
  bool writable() const override {
    return usable() && trust_.signing.has_value() && !trust_.read_only;
  }
  void set_push_on_hit(bool on) override { push_on_hit_ = on; }
  uint64_t published() const override { return stats_->uploaded_entries.load(); }

  // --- index: local first, then the remote --------------------------------------------
  Result<std::optional<std::string>> get(std::string_view key) override {
    auto v = local_->get(key);
    if (v.ok() && v->has_value() && push_on_hit_ && writable() && sharing_.shared(key)) {
      bool first = false;
      {
        std::lock_guard<std::mutex> g(mu_);
        first = pushed_keys_.insert(std::string(key)).second;
      }
      if (first) publish(key, **v);
    }
    if (!v.ok() || v->has_value() || !sharing_.shared(key)) return v;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (auto it = pending_.find(std::string(key)); it != pending_.end())
        return std::optional<std::string>(it->second);
    }
    if (!usable()) return v;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (prefetch_missed_.count(std::string(key))) return v;
    }
    return fetch(key);
  }
  void prefetch(const std::vector<std::string>& keys) override {
    if (!usable()) return;
    std::vector<std::string> ask;
    std::set<std::string> seen;
    for (const auto& key : keys) {
      if (!sharing_.shared(key) || !seen.insert(key).second) continue;
      {
        std::lock_guard<std::mutex> g(mu_);
        if (pending_.count(key) || prefetch_missed_.count(key)) continue;
      }
      auto v = local_->get(key);
      if (v.ok() && !v->has_value()) ask.push_back(key);
    }
    auto got = fetch_many(ask);
    std::lock_guard<std::mutex> g(mu_);
    for (size_t i = 0; i < ask.size(); ++i)
      if (!got[i]) prefetch_missed_.insert(ask[i]);
  }
  // Writes go to the local store now; what is shared is published by drain(), when the
  // caller holds no session of the index (an upload must not keep other threads and
  // processes from the index), or when the layer goes.
  Status put(std::string_view key, std::string_view value) override {
    LB_TRY(local_->put(key, value));
    queue(key, value);
    return {};
  }
  Status put_many(const std::vector<std::pair<std::string, std::string>>& kvs) override {
    LB_TRY(local_->put_many(with_pending(kvs)));
    for (const auto& [k, v] : kvs) queue(k, v);
    return {};
  }
  Status put_many(std::vector<std::pair<std::string, std::string>>&& kvs) override {
    LB_TRY(local_->put_many(with_pending(kvs)));
    for (const auto& [k, v] : kvs) queue(k, v);
    return {};
  }
  void drain() override {
    std::vector<std::pair<std::string, std::string>> written;
    {
      std::lock_guard<std::mutex> g(mu_);
      written.swap(to_publish_);
    }
    for (const auto& [k, v] : written)
      if (!publish(k, v)) {
        if (!usable()) break;
      }
    std::vector<std::pair<std::string, std::string>> none;
    bool have_pending = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      have_pending = !pending_.empty();
    }
    if (have_pending) (void)local_->put_many(with_pending(none));
  }
  ~RemoteStore() override { drain(); }

  // --- everything else is the local store's -------------------------------------------
  std::string blob_path(std::string_view sha, bool x) const override {
    return local_->blob_path(sha, x);
  }
  bool has_blob(std::string_view sha, bool x) const override { return local_->has_blob(sha, x); }
  Result<std::string> put_blob(std::string_view c, bool x) override {
    return local_->put_blob(c, x);
  }
  Result<std::string> put_blob_hashed(std::string_view c, bool x, std::string_view sha) override {
    return local_->put_blob_hashed(c, x, sha);
  }
  Result<std::string> put_missing_blob(std::string_view c, bool x, std::string_view sha) override {
    return local_->put_missing_blob(c, x, sha);
  }
  Result<std::string> put_blob_file(const std::string& path, bool x) override {
    return local_->put_blob_file(path, x);
  }
  store::BlobState blob_state(std::string_view sha, bool x, int64_t size) const override {
    return local_->blob_state(sha, x, size);
  }
  void remove_damaged_blob(std::string_view sha, bool x) const override {
    local_->remove_damaged_blob(sha, x);
  }
  Result<bool> verify_blob(std::string_view sha, bool x) const override {
    return local_->verify_blob(sha, x);
  }
  Status verify_all(const std::function<void(std::string)>& report_bad) const override {
    return local_->verify_all(report_bad);
  }
  Result<store::Session> session() override { return local_->session(); }
  Result<store::Session> read_session() override { return local_->read_session(); }
  Status erase(std::string_view key) override { return local_->erase(key); }
  Status erase_many(const std::vector<std::string>& keys) override {
    return local_->erase_many(keys);
  }
  Status scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return local_->scan(prefix, fn);
  }
  Result<store::Stats> stats() override { return local_->stats(); }
  std::string tmp_dir() const override { return local_->tmp_dir(); }
  std::pair<uint64_t, uint64_t> clean_leftovers(bool dry_run, bool tmp_only) const override {
    return local_->clean_leftovers(dry_run, tmp_only);
  }
  std::string lock_path(std::string_view name) const override { return local_->lock_path(name); }
  std::string dir() const override { return local_->dir(); }

 private:
  /// `kvs` and the fetched entries not yet written locally (which are then forgotten: the
  /// local index has them).
  std::vector<std::pair<std::string, std::string>> with_pending(
      const std::vector<std::pair<std::string, std::string>>& kvs) {
    std::vector<std::pair<std::string, std::string>> all = kvs;
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [k, v] : pending_) all.emplace_back(k, std::move(v));
    pending_.clear();
    return all;
  }

  /// The first fault disables the remote for the rest of the run, with one warning.
  void fault(const Error& e) {
    ++stats_->errors;
    if (!disabled_.exchange(true))
      warn_("remote cache " + remote_->name() + " failed: " + e.message +
            "; going on without it for this run");
  }

  void reject(std::string_view key, const std::string& why) {
    ++stats_->rejected;
    std::lock_guard<std::mutex> g(mu_);
    if (rejected_keys_.insert(std::string(key)).second)
      warn_("ignored the remote entry for " + std::string(key) + " from " + remote_->name() + ": " +
            why + "; building it here");
  }

  /// Blobs from the remote (unchecked: the caller checks each against its digest); nullopt
  /// after a fault.
  std::optional<std::vector<std::optional<std::string>>> read(const std::vector<Digest>& ds) {
    auto got = remote_->read_blobs(ds);
    if (!got.ok()) {
      fault(got.error());
      return std::nullopt;
    }
    if (got->size() != ds.size()) {
      fault(make_error("answered " + std::to_string(got->size()) + " blobs for " +
                       std::to_string(ds.size())));
      return std::nullopt;
    }
    return std::move(*got);
  }

  std::optional<std::string> fetch(std::string_view key) {
    return std::move(fetch_many({std::string(key)})[0]);
  }

  /// The manifest of KEY's entry once its bytes and signature are checked: signed by a
  /// trusted key for this KEY, naming exactly the blobs its value names. nullopt (reported
  /// by reject) otherwise.
  std::optional<EntryManifest> check_head(const std::string& key, const OutputFile& manifest_file,
                                          const OutputFile& sig_file,
                                          const std::optional<std::string>& manifest_got,
                                          const std::optional<std::string>& sig_got) {
    if (!manifest_got || !sig_got) {
      reject(key, "its manifest or signature is missing from the remote's CAS");
      return std::nullopt;
    }
    const std::string& manifest_bytes = *manifest_got;
    const std::string& sig_bytes = *sig_got;
    if (!(digest_of(manifest_bytes) == manifest_file.digest) ||
        !(digest_of(sig_bytes) == sig_file.digest)) {
      reject(key, "its manifest or signature does not match its digest");
      return std::nullopt;
    }
    std::string_view sig_rest = sig_bytes, sig_line;
    std::string_view format_line;
    if (!take_line(sig_rest, format_line) || format_line != kSignatureFormat ||
        !take_line(sig_rest, sig_line) || !sig_rest.empty()) {
      reject(key, "its signature is malformed");
      return std::nullopt;
    }
    std::string why = check_signature(
        trust_.trusted,
        entry_fingerprint(key, manifest_file.digest.hash, uint64_t(manifest_file.digest.size)),
        sig_line);
    if (!why.empty()) {
      reject(key, why);
      return std::nullopt;
    }
    auto m = parse_entry(manifest_bytes);
    if (!m.ok()) {
      reject(key, "its manifest is malformed: " + m.error().message);
      return std::nullopt;
    }
    if (m->key != key) {
      reject(key, "it is signed for another key (" + m->key + ")");
      return std::nullopt;
    }
    auto refs = sharing_.refs(key, m->value);
    if (!refs.ok()) {
      reject(key, "its value is malformed: " + refs.error().message);
      return std::nullopt;
    }
    // The value names blobs by digest (sizes may be unknown to it, 0); the signed manifest
    // must list exactly those, with their sizes.
    std::set<std::pair<std::string, bool>> named, listed;
    for (const auto& b : *refs) named.emplace(b.sha256, b.executable);
    for (const auto& b : m->blobs) listed.emplace(b.sha256, b.executable);
    if (named != listed || listed.size() != m->blobs.size()) {
      reject(key, "its manifest lists other blobs than its value names");
      return std::nullopt;
    }
    return std::move(*m);
  }

  /// The pack of an entry that names blobs missing here: read once, checked against its
  /// digest, cut into its blobs, each checked against its own digest and stored.
  struct WantedPack {
    Digest digest;
    size_t entry = 0;  ///< an index into the fetched manifests whose blob list cuts it
    enum class State {
      pending,
      stored,
      missing,
      wrong,
      bad_blob,
      local_error
    } state = State::pending;
    std::string bad;  ///< bad_blob: which
  };

  /// Cut `pack` into the blobs `m` lists, check each against its digest and store those
  /// missing here. The pack's own digest is not computed: the signed manifest names every
  /// blob and its size, so a pack whose size is their sum and whose used parts all match
  /// their digests is the pack (the parts not used, intact here already, are not read).
  WantedPack::State unpack_pack(const EntryManifest& m, std::string_view pack, std::string& bad) {
    size_t at = 0;
    for (const auto& b : m.blobs) {
      if (b.size > pack.size() - at) return WantedPack::State::wrong;
      std::string_view part = pack.substr(at, b.size);
      at += b.size;
      const auto state = local_->blob_state(b.sha256, b.executable, int64_t(b.size));
      if (state == store::BlobState::intact) continue;
      if (sha256_hex(part) != b.sha256) {
        bad = b.sha256;
        return WantedPack::State::bad_blob;
      }
      // put_blob_hashed replaces a damaged local copy.
      auto put = state == store::BlobState::missing
                     ? local_->put_missing_blob(part, b.executable, b.sha256)
                     : local_->put_blob_hashed(part, b.executable, b.sha256);
      if (!put.ok()) return WantedPack::State::local_error;
    }
    return at == pack.size() ? WantedPack::State::stored : WantedPack::State::wrong;
  }

  /// Fetch the entries of `keys` from the remote (no local lookup first): the action entries
  /// in parallel, then all manifests and signatures in one batch, then every distinct blob
  /// missing here, in batches; each checked as a single lookup checks it. Their values, in
  /// order (nullopt: a miss, a rejected entry, a local failure, or a fault); the found entries
  /// are kept in pending_.
  std::vector<std::optional<std::string>> fetch_many(const std::vector<std::string>& keys) {
    std::vector<std::optional<std::string>> out(keys.size());
    if (!usable() || keys.empty()) return out;
    std::vector<std::optional<ActionEntry>> entries(keys.size());
    auto get_one = [&](size_t i) -> Status {
      auto e = remote_->get_action(action_of(keys[i]));
      if (!e.ok()) return e.error();
      entries[i] = std::move(*e);
      return {};
    };
    Status got_entries = keys.size() == 1
                             ? get_one(0)
                             : graph::parallel_for(keys.size(), remote_->parallel(), get_one);
    if (!got_entries.ok()) {
      fault(got_entries.error());
      return out;
    }

    // The manifests and signatures of every entry found, in one batch.
    std::vector<size_t> found;  // indexes into keys
    std::vector<OutputFile> manifest_files, sig_files;
    std::vector<Digest> head_digests;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!entries[i]) {
        ++stats_->misses;
        continue;
      }
      const OutputFile *manifest_file = nullptr, *sig_file = nullptr;
      for (const auto& f : entries[i]->files) {
        if (f.path == kEntryPath) manifest_file = &f;
        if (f.path == kSignaturePath) sig_file = &f;
      }
      if (!manifest_file || !sig_file) {
        reject(keys[i], "it is not a lavabuild entry (no manifest or no signature)");
        continue;
      }
      if (uint64_t(manifest_file->digest.size) > kMaxEntryBytes ||
          uint64_t(sig_file->digest.size) > kMaxSignatureBytes) {
        reject(keys[i], "its manifest or signature is larger than lavabuild's limit");
        continue;
      }
      found.push_back(i);
      manifest_files.push_back(*manifest_file);
      sig_files.push_back(*sig_file);
      head_digests.push_back(manifest_file->digest);
      head_digests.push_back(sig_file->digest);
    }
    if (found.empty()) return out;
    auto heads = read(head_digests);
    if (!heads) return out;
    uint64_t downloaded = 0;
    for (const auto& h : *heads)
      if (h) downloaded += h->size();
    std::vector<std::optional<EntryManifest>> manifests(found.size());
    for (size_t k = 0; k < found.size(); ++k)
      manifests[k] = check_head(keys[found[k]], manifest_files[k], sig_files[k], (*heads)[2 * k],
                                (*heads)[2 * k + 1]);
    heads.reset();

    // The packs of the entries that name a blob missing here (one read per entry, however
    // many files it holds; entries with identical packs share the read).
    std::vector<WantedPack> wanted;
    std::map<Digest, size_t> wanted_index;
    std::vector<size_t> pack_of(found.size(), SIZE_MAX);
    for (size_t k = 0; k < found.size(); ++k) {
      if (!manifests[k]) continue;
      bool missing = false;
      for (const auto& b : manifests[k]->blobs)
        if (local_->blob_state(b.sha256, b.executable, int64_t(b.size)) !=
            store::BlobState::intact) {
          missing = true;
          break;
        }
      if (!missing) continue;
      auto [it, fresh] = wanted_index.emplace(manifests[k]->pack, wanted.size());
      if (fresh)
        wanted.push_back(WantedPack{manifests[k]->pack, k, WantedPack::State::pending, {}});
      pack_of[k] = it->second;
    }
    // Read in batches of at most kFetchBatchBytes (a bigger pack alone), kFetchBatches at a
    // time: one batch is checked and stored while the next is on the wire, and memory stays
    // bounded whatever the number of entries. Each batch is read in parallel by the backend.
    std::vector<std::pair<size_t, size_t>> batches;  // [first, last) of wanted
    for (size_t first = 0; first < wanted.size();) {
      size_t last = first;
      uint64_t bytes = 0;
      while (last < wanted.size() &&
             (last == first || bytes + uint64_t(wanted[last].digest.size) <= kFetchBatchBytes))
        bytes += uint64_t(wanted[last++].digest.size);
      batches.emplace_back(first, last);
      first = last;
    }
    std::atomic<uint64_t> pack_bytes{0};
    auto fetch_batch = [&](size_t n) -> Status {
      auto [first, last] = batches[n];
      std::vector<Digest> batch;
      for (size_t j = first; j < last; ++j) batch.push_back(wanted[j].digest);
      auto packs = read(batch);
      if (!packs) return make_error("the remote failed");  // reported by read(): stop
      for (size_t j = first; j < last; ++j) {
        WantedPack& w = wanted[j];
        const auto& got = (*packs)[j - first];
        if (got) pack_bytes += got->size();
        w.state = !got ? WantedPack::State::missing
                  : got->size() != uint64_t(w.digest.size)
                      ? WantedPack::State::wrong
                      : unpack_pack(*manifests[w.entry], *got, w.bad);
      }
      return {};
    };
    Status packs_read = batches.size() == 1
                            ? fetch_batch(0)
                            : graph::parallel_for(batches.size(), kFetchBatches, fetch_batch);
    downloaded += pack_bytes.load();
    stats_->downloaded_bytes += downloaded;
    if (!packs_read.ok()) return out;  // a fault: the remote is off for the rest of the run

    for (size_t k = 0; k < found.size(); ++k) {
      if (!manifests[k]) continue;
      const std::string& key = keys[found[k]];
      if (pack_of[k] != SIZE_MAX) {
        const WantedPack& w = wanted[pack_of[k]];
        if (w.state == WantedPack::State::missing) {
          reject(key, "its pack " + w.digest.hash + " is missing from the remote's CAS");
          continue;
        }
        if (w.state == WantedPack::State::wrong) {
          reject(key, "its pack " + w.digest.hash + " does not match its digest");
          continue;
        }
        if (w.state == WantedPack::State::bad_blob) {
          reject(key, "blob " + w.bad + " in its pack does not match its digest");
          continue;
        }
        if (w.state != WantedPack::State::stored) continue;  // a local problem: the step runs
      }
      // The index is usually held open for reads now (the engine reads in sessions): the
      // entry is written with the run's next batch of writes, and served from memory until then.
      {
        std::lock_guard<std::mutex> g(mu_);
        pending_[key] = manifests[k]->value;
      }
      ++stats_->hits;
      out[found[k]] = std::move(manifests[k]->value);
    }
    return out;
  }

  void queue(std::string_view key, std::string_view value) {
    if (!writable() || !sharing_.shared(key)) return;
    std::lock_guard<std::mutex> g(mu_);
    to_publish_.emplace_back(key, value);
  }

  /// Upload KEY's blobs (those the remote lacks), manifest and signature, then the entry.
  bool publish(std::string_view key, std::string_view value) {
    if (!writable()) return false;
    auto refs = sharing_.refs(key, value);
    if (!refs.ok()) return false;  // not ours to share (the engine reports its own errors)
    EntryManifest m{std::string(key), std::string(value), *refs, {}};
    for (auto& b : m.blobs) {  // a size the value does not say: the stored blob's
      auto st = fs::stat_path(local_->blob_path(b.sha256, b.executable));
      if (!st.is_regular) return false;  // not here (collected, or never stored): not shared
      b.size = uint64_t(st.size);
    }
    std::sort(m.blobs.begin(), m.blobs.end());
    m.blobs.erase(std::unique(m.blobs.begin(), m.blobs.end()), m.blobs.end());
    // The pack: every blob, checked as it is read (a damaged local blob is not shared).
    std::string pack;
    uint64_t pack_size = 0;
    for (const auto& b : m.blobs) pack_size += b.size;
    if (pack_size > kMaxPackBytes) return false;
    pack.reserve(pack_size);
    for (const auto& b : m.blobs) {
      auto text = fs::read_file(local_->blob_path(b.sha256, b.executable));
      if (!text.ok() || text->size() != b.size || sha256_hex(*text) != b.sha256) return false;
      pack += *text;
    }
    if (!m.blobs.empty()) m.pack = digest_of(pack);
    std::string manifest = render_entry(m);
    Digest manifest_digest = digest_of(manifest);
    std::string sig = std::string(kSignatureFormat) + "\n" +
                      sign(*trust_.signing, entry_fingerprint(key, manifest_digest.hash,
                                                              uint64_t(manifest_digest.size))) +
                      "\n";
    Digest sig_digest = digest_of(sig);

    ActionEntry entry;
    entry.files.push_back({kEntryPath, manifest_digest, false});
    entry.files.push_back({kSignaturePath, sig_digest, false});
    std::vector<Digest> all{manifest_digest, sig_digest};
    if (!m.blobs.empty()) {
      entry.files.push_back({kPackPath, m.pack, false});
      all.push_back(m.pack);
    }
    // Blobs this run uploaded already are not asked about again.
    std::vector<Digest> ask;
    {
      std::lock_guard<std::mutex> g(mu_);
      for (const auto& d : all)
        if (!uploaded_.count(d.hash)) ask.push_back(d);
    }
    std::sort(ask.begin(), ask.end());
    ask.erase(std::unique(ask.begin(), ask.end()), ask.end());
    auto missing = remote_->find_missing(ask);
    if (!missing.ok()) {
      fault(missing.error());
      return false;
    }
    std::vector<std::pair<Digest, std::string>> uploads;
    uint64_t bytes = 0;
    for (const auto& d : *missing) {
      const std::string* content = d == manifest_digest              ? &manifest
                                   : d == sig_digest                 ? &sig
                                   : !m.blobs.empty() && d == m.pack ? &pack
                                                                     : nullptr;
      if (!content) continue;  // the server named a digest we never asked for
      bytes += content->size();
      uploads.emplace_back(d, *content);
    }
    if (!uploads.empty()) {
      if (auto st = remote_->write_blobs(uploads); !st.ok()) {
        fault(st.error());
        return false;
      }
    }
    if (auto st = remote_->put_action(action_of(key), entry); !st.ok()) {
      fault(st.error());
      return false;
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      for (const auto& d : all) uploaded_.insert(d.hash);
    }
    stats_->uploaded_bytes += bytes;
    ++stats_->uploaded_entries;
    return true;
  }

  std::shared_ptr<store::Store> local_;
  std::unique_ptr<RemoteCache> remote_;
  Trust trust_;
  Sharing sharing_;
  std::function<void(const std::string&)> warn_;
  std::shared_ptr<RemoteStats> stats_;
  std::atomic<bool> disabled_{false};
  std::atomic<bool> push_on_hit_{false};
  std::set<std::string> pushed_keys_;  ///< push_on_hit: published once each
  std::mutex mu_;
  std::set<std::string> uploaded_;              ///< digests the remote has (this run made sure)
  std::set<std::string> rejected_keys_;         ///< reported once each
  std::set<std::string> prefetch_missed_;       ///< prefetched, not found: not asked again
  std::map<std::string, std::string> pending_;  ///< fetched, not yet in the local index
  std::vector<std::pair<std::string, std::string>> to_publish_;  ///< written, not yet published
};

}  // namespace

std::string action_of(std::string_view key) {
  return sha256_hex(std::string(kActionFormat) + "\n" + std::string(key));
}

std::string render_entry(const EntryManifest& m) {
  std::vector<BlobRef> blobs = m.blobs;
  std::sort(blobs.begin(), blobs.end());
  blobs.erase(std::unique(blobs.begin(), blobs.end()), blobs.end());
  std::string out = std::string(kEntryFormat) + "\nkey " + m.key + "\n";
  if (!blobs.empty()) out += "pack " + m.pack.hash + " " + std::to_string(m.pack.size) + "\n";
  for (const auto& b : blobs)
    out +=
        "blob " + b.sha256 + " " + std::to_string(b.size) + " " + (b.executable ? "1" : "0") + "\n";
  out += "value " + std::to_string(m.value.size()) + "\n";
  out += m.value;
  return out;
}

Result<EntryManifest> parse_entry(std::string_view bytes) {
  std::string_view rest = bytes, line;
  auto bad = [](const std::string& what) { return make_error("remote entry: " + what); };
  if (!take_line(rest, line) || line != kEntryFormat)
    return bad(std::string("the first line is not ") + kEntryFormat);
  EntryManifest m;
  if (!take_line(rest, line) || !starts_with(line, "key ") || line.size() == 4)
    return bad("no key line");
  m.key = std::string(line.substr(4));
  if (m.key.find('\0') != std::string::npos) return bad("the key holds a NUL byte");
  bool has_pack = false;
  if (starts_with(rest, "pack ")) {
    take_line(rest, line);
    auto f = split(std::string(line.substr(5)), ' ');
    uint64_t size = 0;
    if (f.size() != 2 || !is_hex64(f[0]) || !parse_u64(f[1], size) || size > uint64_t(INT64_MAX))
      return bad("malformed pack line");
    m.pack = {f[0], int64_t(size)};
    has_pack = true;
  }
  uint64_t total = 0;
  for (;;) {
    if (!take_line(rest, line)) return bad("no value line");
    if (starts_with(line, "value ")) {
      uint64_t n = 0;
      if (!parse_u64(line.substr(6), n) || n != rest.size())
        return bad("the value's length is not the number of bytes that follow");
      m.value = std::string(rest);
      break;
    }
    if (!has_pack) return bad("blob lines without a pack line");
    if (!starts_with(line, "blob ")) return bad("unexpected line");
    auto f = split(std::string(line.substr(5)), ' ');
    BlobRef b;
    if (f.size() != 3 || !is_hex64(f[0]) || !parse_u64(f[1], b.size) ||
        (f[2] != "0" && f[2] != "1"))
      return bad("malformed blob line");
    b.sha256 = f[0];
    b.executable = f[2] == "1";
    if (!m.blobs.empty() && !(m.blobs.back() < b)) return bad("blob lines are not sorted");
    if (m.blobs.size() >= kMaxEntryBlobs) return bad("more blobs than lavabuild's limit");
    if (b.size > uint64_t(INT64_MAX) - total) return bad("the blobs' sizes overflow");
    total += b.size;
    m.blobs.push_back(std::move(b));
  }
  if (has_pack && (m.blobs.empty() || uint64_t(m.pack.size) != total))
    return bad("the pack's size is not the sum of the blobs' sizes");
  return m;
}

std::shared_ptr<store::Store> layer_remote(std::shared_ptr<store::Store> local,
                                           std::unique_ptr<RemoteCache> remote, Trust trust,
                                           Sharing sharing,
                                           std::function<void(const std::string&)> warn,
                                           std::shared_ptr<RemoteStats> stats) {
  return std::make_shared<RemoteStore>(std::move(local), std::move(remote), std::move(trust),
                                       std::move(sharing), std::move(warn), std::move(stats));
}

Layer* layer_of(store::Store& s) {
  return dynamic_cast<Layer*>(&s);
}

}  // namespace lb::remote
