// HTTP(S) and file:// transfers. libcurl stays private to http_curl.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lavabuild/version.hpp"
#include "util/result.hpp"

namespace lb::net {

/// Bytes of a body received so far, and its announced length (0: unknown). Called on the
/// transfer's thread for every chunk of a 2xx body (again from 0 when a retry starts over).
using Progress = std::function<void(uint64_t done, uint64_t total)>;
struct Response;

/// One transfer to make.
struct Request {
  Request() = default;
  Request(std::string u, std::vector<std::pair<std::string, std::string>> h = {})  // NOLINT
      : url(std::move(u)), headers(std::move(h)) {}

  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  /// If set: stream the body to dest_path (written to a temp sibling, renamed into place only
  /// when the final status is 2xx). Otherwise the body is kept in Response::body.
  std::string dest_path;
  /// Inclusive byte range [first, last].
  std::optional<std::pair<uint64_t, uint64_t>> range;
  /// The last N bytes ("Range: bytes=-N"); ignored when `range` is set.
  std::optional<uint64_t> suffix_range;
  /// For in-memory bodies (no dest_path): stop receiving a 2xx body after this many bytes
  /// (0: no limit). The Response then holds the first max_body bytes and `truncated`.
  uint64_t max_body = 0;
  /// A hard limit on the body (after Content-Encoding is decoded), and on the bytes on the
  /// wire: a longer body is an error (nothing is kept). Unset: no limit; 0 allows an empty
  /// body only. `limit_hint` says where the limit comes from and how to raise it.
  std::optional<uint64_t> limit_bytes;
  std::string limit_hint;
  /// Accept gzip/deflate/br Content-Encoding (pages only: a body kept in memory).
  bool compressed = true;
  /// Compute Response::sha256 while receiving; false for a caller that hashes the bytes
  /// itself (the remote cache checks every blob against its digest): one pass fewer.
  bool hash_body = true;
  bool head = false;
  /// "PUT" uploads `upload_body`; empty means GET (or HEAD when `head`).
  std::string method;
  std::string upload_body;
  /// Continue a download (with dest_path) after the first `resume_bytes` bytes, held in the
  /// file `resume_from` (opened read-only with O_NOFOLLOW, never written): sends
  /// "Range: bytes=N-" and "If-Range: <resume_validator>". On a 206 whose Content-Range starts
  /// at N (and whose ETag or Last-Modified, when sent, is the validator) the temp file gets
  /// those bytes first, then the body: `sha256`, `bytes` and `limit_bytes` cover the whole file
  /// and Response::resumed_from is N. A 200 is an ordinary download (resumed_from 0). A 206
  /// that does not continue the file comes back as a Response with `range_refused` set and
  /// nothing written.
  std::string resume_from;
  uint64_t resume_bytes = 0;
  std::string resume_validator;
  /// With dest_path: when a 2xx body stops early for good (connection reset, timeout,
  /// deadline, interruption; not a limit or a local write error), called with the temp file
  /// (closed, holding every byte received, a resumed prefix included) and the response so far
  /// (status, headers, bytes). It may rename the file away; what is left there is removed.
  std::function<void(const std::string& path, const Response& so_far)> keep_partial;
  /// Told how the body arrives (downloads shown to the user); unset: nothing is told.
  Progress progress;
};

/// What came back. `status` is the final HTTP status (200 for a readable file:// URL, 404 for
/// a missing one).
struct Response {
  long status = 0;
  /// The body when no dest_path was given, or the (truncated) body of a non-2xx answer.
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names, of the final response
  std::string effective_url;                   // after redirects
  std::string sha256;                          // hex of the 2xx body, computed while streaming
  uint64_t bytes = 0;                          // body bytes received
  bool truncated = false;                      // the body was cut at Request::max_body
  uint64_t resumed_from = 0;   // bytes taken from Request::resume_from (a 206 that continued it)
  bool range_refused = false;  // a 206 that did not continue Request::resume_from (see there)
};

/// Client settings. Empty strings mean "from the environment / default".
/// Every limit is documented in docs/LIMITS.md; Limits::from_env reads them.
struct ClientOptions {
  long connect_timeout_s = 10;
  long low_speed_timeout_s = 30;  // abort when under low_speed_bps for this long
  long low_speed_bps = 1024;
  long deadline_s = 1800;  // one request, all attempts included (0: none)
  int retries = 3;         // extra attempts on 5xx, 429, resets (a timeout: at most 1)
  int backoff_ms = 200;    // first retry delay, doubled each attempt
  int max_parallel = 8;
  std::string user_agent = "lavabuild/" LAVABUILD_VERSION;
  bool use_netrc = true;
  std::string netrc_file;  // empty: $NETRC, else ~/.netrc
  std::string ca_file;     // empty: $SSL_CERT_FILE
  std::string ca_dir;      // empty: $SSL_CERT_DIR
};

/// What a server may make lavabuild do, with the LAVABUILD_* variable that changes each one.
struct Limits {
  static constexpr uint64_t kMiB = uint64_t(1) << 20;
  uint64_t max_page_bytes = 32 * kMiB;        // LAVABUILD_MAX_PAGE_SIZE (see docs/LIMITS.md)
  uint64_t max_page_files = 100000;           // LAVABUILD_MAX_PAGE_FILES
  uint64_t max_download_bytes = 8192 * kMiB;  // LAVABUILD_MAX_DOWNLOAD_SIZE
  long timeout_s = 30;                        // LAVABUILD_HTTP_TIMEOUT (--timeout)
  long low_speed_bps = 1024;                  // LAVABUILD_HTTP_LOW_SPEED
  long deadline_s = 1800;                     // LAVABUILD_HTTP_DEADLINE
  int retries = 3;                            // LAVABUILD_HTTP_RETRIES
  /// The defaults above, overridden by the environment; an error names a malformed variable.
  static Result<Limits> from_env();
  /// Client settings for these limits.
  ClientOptions client_options() const;
};
/// "123", "64M", "64MiB", "2G", "1.5GB" (binary multiples) -> bytes; nullopt when malformed.
std::optional<uint64_t> parse_size(std::string_view text);

/// A thread-safe HTTP client: one instance may be used from several threads at once.
/// Proxies come from http_proxy/HTTP_PROXY, https_proxy/HTTPS_PROXY, ALL_PROXY and NO_PROXY;
/// credentials from user:pass@ in the URL or from netrc.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// One transfer. Any final HTTP status comes back as a Response; the Result is an error
  /// only for transport failures ("cannot reach URL: <reason>") and local write errors.
  virtual Result<Response> fetch(const Request&) = 0;
  /// Many transfers in parallel (up to max_parallel, reusing connections), results in input
  /// order.
  virtual std::vector<Result<Response>> fetch_all(const std::vector<Request>&) = 0;
};

/// The libcurl-backed client (libcurl is loaded on first use: net/http_loader.cpp); when its
/// module cannot be loaded, every fetch fails saying why.
std::unique_ptr<HttpClient> make_http_client(const ClientOptions& = {});

}  // namespace lb::net
