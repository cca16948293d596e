// A remote cache behind the local store: `layer_remote` wraps a store::Store so that the
// engine's index lookups of shared keys fall back to the remote, and its index writes of
// shared keys are published there. Local first, remote second; the remote is never trusted.
//
// What is shared is decided by the engine (it owns the value formats): `Sharing::shared`
// says whether an index key is shared, `Sharing::refs` which blobs its value names (a built
// wheel, the files of an unpacked wheel, compiled bytecode). Every other key stays local.
//
// On the remote, an index entry KEY with value VALUE is a REAPI action entry:
//   action digest  sha256("lavabuild.remote-action.v1\n" + KEY)
//   ActionResult   exit_code 0, output_files:
//                    "lavabuild/entry"      -> the entry manifest blob (below)
//                    "lavabuild/signature"  -> the signature blob (below)
//                    "lavabuild/pack"       -> the pack blob, when the value names blobs
//   so a server that checks an action's outputs (bazel-remote) finds them all in its CAS.
// The pack is every blob the value names, concatenated in the manifest's order: an unpacked
// wheel of thousands of small files travels as one CAS blob (one request instead of one per
// file, the cost that dominates a cache on loopback or a LAN), and is split and checked here.
// The entry manifest (format "lavabuild.remote-entry.v2", binary-safe text):
//   "lavabuild.remote-entry.v2\n"
//   "key <KEY>\n"
//   "pack <sha256 hex> <size>\n"                     present iff there is a blob line; size =
//                                                   the sum of the blobs' sizes
//   "blob <sha256 hex> <size> <0|1 executable>\n"   one per blob the value names, sorted
//   "value <byte count>\n" then exactly that many bytes of VALUE, and nothing after
// The signature blob: "lavabuild.signature.v1\n" then one line "<key name>:<base64>" (the
// Ed25519 signature of remote::entry_fingerprint(KEY, sha256 of the manifest, its size);
// remote/sign.hpp). A client believes an entry only when the signature is by a trusted key,
// the manifest names the KEY it asked for, and the blobs the manifest lists are exactly those
// the value names; the pack is checked against its digest, and every blob cut from it
// against its own, before it enters the local store. A rejected entry is a miss (the step runs
// locally) and is reported once.
//
// Reads: a local miss of a shared key asks the remote for the action entry, then reads the
// manifest and signature, then (when a blob is missing locally) the pack, then stores the blobs
// locally and keeps the index entry in memory until the run's next batch of index writes (or
// drain()), so the next run is local. Layer::prefetch does the same for many keys at once
// (each step one parallel round for all of them, the packs in pipelined batches). Writes
// (put/put_many of shared keys, when a signing key is given and the remote is not read-only)
// are published by Layer::drain (the engine calls it once a run has written its index;
// uploads never hold the index): the pack, manifest and signature the remote lacks are
// uploaded (FindMissingBlobs/HEAD first; a blob is uploaded at most once per run), then the
// action entry. A value whose blobs add up to more than kMaxPackBytes is not published.
//
// Faults never fail a run: the first remote error is reported once (naming the remote,
// credentials stripped), the remote is disabled for the rest of the run, and every later
// lookup is a plain local miss.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "remote/cache.hpp"
#include "remote/sign.hpp"
#include "store/store.hpp"
#include "util/result.hpp"

namespace lb::remote {

inline constexpr const char* kEntryFormat = "lavabuild.remote-entry.v2";
inline constexpr const char* kSignatureFormat = "lavabuild.signature.v1";
inline constexpr const char* kActionFormat = "lavabuild.remote-action.v1";
inline constexpr const char* kEntryPath = "lavabuild/entry";
inline constexpr const char* kSignaturePath = "lavabuild/signature";
inline constexpr const char* kPackPath = "lavabuild/pack";
/// The largest pack published (and so the largest set of blobs one entry shares).
inline constexpr uint64_t kMaxPackBytes = uint64_t(512) << 20;
/// Limits on what a remote may make us read: a manifest or signature blob above these is
/// rejected unread.
inline constexpr uint64_t kMaxEntryBytes = 64u << 20;
inline constexpr uint64_t kMaxSignatureBytes = 4096;
inline constexpr size_t kMaxEntryBlobs = 1000000;

/// A blob an index value names.
struct BlobRef {
  std::string sha256;
  uint64_t size = 0;
  bool executable = false;
  bool operator==(const BlobRef&) const = default;
  auto operator<=>(const BlobRef&) const = default;
};

/// What the engine shares (see above).
struct Sharing {
  std::function<bool(std::string_view key)> shared;
  /// The blobs `value` names, by digest and executable bit; a size may be 0 when the value
  /// does not say it (the stored blob's size is published). An error for a value that does
  /// not parse: the entry is then neither published nor believed.
  std::function<Result<std::vector<BlobRef>>(std::string_view key, std::string_view value)> refs;
};

/// Whose entries to believe, and whether (and as whom) to publish.
struct Trust {
  std::vector<PublicKey> trusted;
  std::optional<SecretKey> signing;  ///< none: never upload
  bool read_only = false;            ///< --remote-read-only: never upload
};

/// Counters of one run (for --json's "remote" and `cache stats`).
struct RemoteStats {
  std::atomic<uint64_t> hits{0}, misses{0}, uploaded_bytes{0}, downloaded_bytes{0}, errors{0},
      rejected{0}, uploaded_entries{0};
};

/// The entry manifest of KEY/VALUE with `blobs` (sorted here), and its parse. The parser is
/// strict (every field as written above, no trailing bytes) and bounded by kMaxEntryBlobs.
struct EntryManifest {
  std::string key, value;
  std::vector<BlobRef> blobs;
  Digest pack;  ///< of the blobs concatenated in order (rendered only when there are blobs)
};
std::string render_entry(const EntryManifest& m);
Result<EntryManifest> parse_entry(std::string_view bytes);

/// The action digest of an index key on the remote.
std::string action_of(std::string_view key);

/// `local` with `remote` behind it. `warn` gets the one-line reports (a disabled remote, a
/// rejected entry); `stats` is updated as the run goes.
std::shared_ptr<store::Store> layer_remote(std::shared_ptr<store::Store> local,
                                           std::unique_ptr<RemoteCache> remote, Trust trust,
                                           Sharing sharing,
                                           std::function<void(const std::string&)> warn,
                                           std::shared_ptr<RemoteStats> stats);

/// The remote behind a layered store (nullptr for a plain store): `cache push`/`pull` use it
/// to publish or fetch chosen keys.
class Layer {
 public:
  virtual ~Layer() = default;
  /// Fetch KEY from the remote into the local store (no local lookup first); true on a hit.
  virtual bool pull(std::string_view key) = 0;
  /// Publish KEY with its local value; false when the remote is not writable or failed.
  virtual bool push(std::string_view key, std::string_view value) = 0;
  /// Whether the remote is still in use (not disabled by a fault) and writable.
  virtual bool usable() const = 0;
  virtual bool writable() const = 0;
  /// `cache push` of a lock: every shared entry the run finds locally is published too (once
  /// per key), not only those it makes.
  virtual void set_push_on_hit(bool on) = 0;
  /// Entries published so far by this layer.
  virtual uint64_t published() const = 0;
  /// Fetch the entries of `keys` that are shared and missing locally, all at once: their
  /// action entries in parallel, then every manifest and signature in one batch, then the
  /// blobs missing here (each distinct blob once, across all the entries) in batches; every
  /// check of a single lookup applies. The entries found are served by get() from then on;
  /// the keys asked for and not found are not asked for again by get() in this run. Call it
  /// before a loop of get()s of keys known up front: one round of requests instead of one
  /// per key.
  virtual void prefetch(const std::vector<std::string>& keys) = 0;
  /// Publish what was written since the last drain (shared keys, when writable) and write
  /// the fetched entries still held in memory into the local index. Call with no index
  /// session held; the layer drains itself when it goes.
  virtual void drain() = 0;
};
Layer* layer_of(store::Store& s);

}  // namespace lb::remote
