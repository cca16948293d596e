// Getting distribution files into the store: downloads (HTTP) and local files (file://, paths).
// Index keys owned here (values are plain text; version 1, unversioned in the value: a change
// of layout takes a new prefix, since old entries are read as they are):
//   "dl/<url>"     -> "<sha256>\n<size>\n<mtime_ns>": the blob a URL's bytes were last time;
//                     size and mtime_ns are the local file's stat for file:// and paths (the
//                     entry is used only while the stat is unchanged), "0\n0" for downloads
//   "meta/<sha>"   -> core metadata text of the wheel with that sha256
//   "metaurl/<url>"-> core metadata text read from a remote wheel by range requests, when the
//                     index gave no sha256 to key it by (the same text as meta/)
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/context.hpp"
#include "net/index.hpp"
#include "net/url_lock.hpp"
#include "util/result.hpp"

namespace lb::engine {

class Fetcher {
 public:
  explicit Fetcher(Context& ctx) : ctx_(ctx) {}
  /// Hashes pinned with --hash ("sha256:hex", also sha384/sha512) per normalised project name,
  /// and where each project was required (file:line), for the message. A file of a pinned
  /// project is checked against its pins after it is downloaded or copied to a temp file and
  /// before it enters the store: a file matching none is deleted and the fetch fails.
  void set_pins(std::map<std::string, std::set<std::string>> hashes,
                std::map<std::string, std::string> origins) {
    pins_ = std::move(hashes);
    pin_origins_ = std::move(origins);
  }
  /// The sha256 of the file if the store already holds it (no work needed), else empty.
  std::string cached_sha(const net::IndexFile& file);
  /// Make sure the store holds the file; returns its sha256. `ran` is set when bytes were
  /// downloaded or copied. Thread-safe; each URL is fetched at most once per run.
  Result<std::string> fetch(const net::IndexFile& file, bool& ran);
  /// Download many remote files, which the caller knows are not in the store, at once (parallel
  /// transfers over reused connections) so the fetch steps that follow find them in the store.
  /// Failures are left for those steps to report.
  void prefetch(const std::vector<net::IndexFile>& files);
  /// Core metadata of a wheel: from the store, a PEP 658 `.metadata` file, or the wheel itself.
  Result<std::string> metadata(const net::IndexFile& file, bool& fetched_wheel);
  uint64_t downloaded_bytes() const { return downloaded_bytes_; }
  /// Distribution files downloaded into the store by this run.
  uint64_t downloaded_files() const { return downloaded_files_; }

 private:
  /// Check `tmp` (whose sha256 is `sha256`; "" when nothing asked for it to be hashed)
  /// against the --hash pins, then move it into the store; `tmp` is gone either way.
  Result<std::string> store_pinned(const net::IndexFile& file, const std::string& tmp,
                                   const std::string& sha256);
  Result<std::string> fetch_uncached(const net::IndexFile& file);
  /// The --hash pins of `file`'s project against the temp file `tmp` whose sha256 is `sha`:
  /// an error ("hash mismatch") when it matches none of them.
  Status check_pins(const net::IndexFile& file, const std::string& tmp,
                    const std::string& sha) const;
  /// Tells the Output how download `id` (Output::download_started) arrives.
  net::Progress progress_of(uint64_t id) const;
  /// <cache>/locks: per-URL download locks (net/url_lock.hpp).
  std::string lock_dir() const;
  /// The most bytes a download of `file` may have (its declared size, at most
  /// LAVABUILD_MAX_DOWNLOAD_SIZE), and the hint shown when it has more.
  std::pair<uint64_t, std::string> download_limit(const net::IndexFile& file) const;
  /// How to download `file`: its hash, size limit, and the partial area to resume from.
  net::DownloadOptions download_options(const net::IndexFile& file) const;
  /// The blob another process downloaded for `file` while this one waited for the lock.
  std::string awaited_sha(const net::UrlLock& lock, const net::IndexFile& file) const;
  Context& ctx_;
  std::mutex mutex_;
  std::map<std::string, std::string> memo_;  // url -> sha256
  std::map<std::string, std::unique_ptr<std::mutex>> url_locks_;
  std::atomic<uint64_t> downloaded_bytes_{0};
  std::atomic<uint64_t> downloaded_files_{0};
  std::map<std::string, std::set<std::string>> pins_;  // set before any fetch, then read-only
  std::map<std::string, std::string> pin_origins_;
};

/// A local path for a file:// URL or a plain path; empty for remote URLs.
std::string local_path_of(const std::string& url);

}  // namespace lb::engine
