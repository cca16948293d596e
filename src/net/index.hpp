// Package-index access: PEP 503 HTML and PEP 691 JSON project pages, find-links, downloads.
//
// Persistent format (owned here, stored by the store under "page/<url>"): a cached index page,
// see serialize_cached_page(). Version 1:
//   "lavabuild-page 1\n" then, for each field in the order url, content_type, etag,
//   last_modified, fetched_unix, body: "<field> <byte length>\n<bytes>\n".
// Unknown versions are treated as a cache miss.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"
#include "util/result.hpp"

namespace lb::net {

/// One distribution file offered for a project.
struct IndexFile {
  std::string filename;
  std::string url;     // absolute, without fragment
  std::string sha256;  // lowercase hex from "#sha256=" or JSON hashes; may be empty
  std::string requires_python;
  bool yanked = false;
  std::string yanked_reason;
  bool has_metadata = false;  // PEP 658/714: "<url>.metadata" exists
  std::string metadata_sha256;
  std::optional<uint64_t> size;  // PEP 700 / find-links directories
  std::string origin;            // the index URL or find-links location it came from
};

/// Links longer than this are skipped (and a longer <base href> ignored): resolving every
/// link against a huge base would make a page cost quadratic time and memory.
inline constexpr size_t kMaxUrlLength = 64 * 1024;
/// JSON pages nested deeper than this are refused (PEP 691 needs 4 levels): memory for the
/// nesting stays fixed however the page is built.
inline constexpr size_t kMaxJsonDepth = 64;
/// The default of IndexConfig::max_page_files (LAVABUILD_MAX_PAGE_FILES).
inline constexpr size_t kDefaultMaxPageFiles = 100000;

/// Parse a PEP 503 HTML page; relative hrefs resolve against <base href> or `base_url`.
/// More than `max_files` files (0: no limit) is an error naming the page and the limit.
Result<std::vector<IndexFile>> parse_simple_html(std::string_view html, const std::string& base_url,
                                                 size_t max_files = 0);
/// Parse a PEP 691 JSON page (api-version 1.x, PEP 700 size); urls resolve against `base_url`.
/// Memory stays proportional to the files found, not to the document's structure.
Result<std::vector<IndexFile>> parse_simple_json(std::string_view json, const std::string& base_url,
                                                 size_t max_files = 0);
/// The error for a page listing more than `max_files` files.
Error too_many_files(const std::string& page_url, size_t max_files);
/// Every *.whl / *.tar.gz / *.zip in a find-links directory, with file:// URLs and sizes.
Result<std::vector<IndexFile>> list_find_links_dir(const std::string& dir);
/// True when `filename` (a wheel or sdist) belongs to the project with normalised name `name`.
bool filename_matches_project(std::string_view filename, std::string_view normalized_name);

/// A cached index page.
struct CachedPage {
  std::string body, content_type, etag, last_modified;
  int64_t fetched_unix = 0;
  std::string url;  // the effective URL the body came from (relative links resolve against it)
};
/// The versioned text form of a CachedPage (see the top of this header).
std::string serialize_cached_page(const CachedPage&);
/// nullopt when malformed or of another version.
std::optional<CachedPage> parse_cached_page(std::string_view text);

/// Where index pages are cached. Implementations must be thread-safe.
class PageCache {
 public:
  virtual ~PageCache() = default;
  virtual std::optional<CachedPage> get(const std::string& url) = 0;
  virtual void put(const std::string& url, const CachedPage&) = 0;
};

/// Where to look for files.
struct IndexConfig {
  std::vector<std::string> index_urls;  // first is the main index; defaults set by the caller
  std::vector<std::string> find_links;  // directories, file:// or http(s) URLs of HTML pages
  bool no_index = false;
  bool offline = false;
  /// The largest page accepted, on the wire and decompressed (LAVABUILD_MAX_PAGE_SIZE).
  uint64_t max_page_bytes = Limits{}.max_page_bytes;
  /// The most files one page may list (LAVABUILD_MAX_PAGE_FILES): bounds the memory a page
  /// of tiny links can take.
  size_t max_page_files = kDefaultMaxPageFiles;
  /// Where per-URL locks go (<cache>/locks, see url_lock.hpp); empty: no cross-process locks.
  std::string lock_dir = {};
};

/// Finds a project's files across indexes and find-links. Thread-safe.
class IndexClient {
 public:
  IndexClient(HttpClient& http, PageCache* cache, IndexConfig cfg);
  ~IndexClient();
  IndexClient(const IndexClient&) = delete;
  IndexClient& operator=(const IndexClient&) = delete;

  /// All files for a project. Requests `<index>/<normalized>/` preferring PEP 691 JSON,
  /// revalidates cached pages (304 keeps the cached body); offline uses the cache only.
  /// A 404 from an index means no files there; 5xx or an unreachable index is an error.
  /// The files are handed over to the caller, not kept (a page may list 100,000 files): a
  /// caller keeps what it needs; asking again for the same project loads its pages again.
  Result<std::vector<IndexFile>> project_files(const std::string& name);
  /// Where project_files looks for `name`: each index's project page, then each find-links
  /// location (URLs with credentials removed), for messages.
  std::vector<std::string> locations(const std::string& name) const;
  /// Fetch several projects' pages in parallel into the memo used by project_files.
  Status prefetch(const std::vector<std::string>& names);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Download `url` to `dest_path` (temp file + rename). When `expected_sha256` is non-empty the
/// content must match it; on mismatch the error shows both hashes and nothing is kept. A body
/// over `max_bytes` (unset: no limit; 0: only an empty body) stops the transfer with an error
/// naming `limit_hint`. `progress`, when set, is told how the body arrives.
Result<Response> download_file(HttpClient&, const std::string& url, const std::string& dest_path,
                               const std::string& expected_sha256,
                               std::optional<uint64_t> max_bytes = std::nullopt,
                               const std::string& limit_hint = "");
/// How to download one file (see download_file).
struct DownloadOptions {
  /// The sha256 hex the file must have; empty: not checked (and no partial is kept).
  std::string expected_sha256;
  /// At most this many bytes (unset: no limit; 0: only an empty body), partial included;
  /// `limit_hint` says where the limit comes from.
  std::optional<uint64_t> max_bytes;
  std::string limit_hint;
  /// The size the index or lock declares, recorded in a partial's note.
  std::optional<uint64_t> declared_size;
  /// Where interrupted downloads keep their bytes and resume from (<cache>/partial, format in
  /// net/partial.hpp); empty: never. The caller holds the URL's lock (net/url_lock.hpp).
  std::string partial_dir;
  /// Told how the body arrives (downloads shown to the user); unset: nothing is told.
  Progress progress;
};
/// As above, resuming from a partial download of `url` in `options.partial_dir` when there is
/// one (Range + If-Range; a 200 starts over, a 416 or an answer that does not continue the
/// partial discards it and downloads the whole file). A transfer that stops early keeps its
/// bytes there (the error says so); a finished one, good or not, removes the partial.
Result<Response> download_file(HttpClient&, const std::string& url, const std::string& dest_path,
                               const DownloadOptions& options);
/// A request for `url` into `dest_path`, resuming from and keeping a partial as download_file
/// does, for HttpClient::fetch_all; pass each result to finish_download.
Request download_request(const std::string& url, const std::string& dest_path,
                         const DownloadOptions& options);
/// Removes the partial a finished download (2xx or 416, or a refused range) made stale. True
/// when `resp` is a complete 2xx body (the hash is the caller's to check).
bool finish_download(const Request& req, const Result<Response>& resp,
                     const DownloadOptions& options);

/// Files whose URL a page at `page_url` may name: a page served over HTTP(S) may not point at
/// local files (file: URLs); those are dropped, and `dropped` counts them.
std::vector<IndexFile> drop_local_links(std::vector<IndexFile> files, const std::string& page_url,
                                        size_t& dropped);

}  // namespace lb::net
