// HttpClient on libcurl: a pool of multi handles (each keeps its connections alive between
// calls), a share for DNS and TLS sessions, retries with exponential backoff.
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "net/http.hpp"
#include "net/url.hpp"
#include "util/cancel.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxErrorBody = 64 * 1024;

std::string env_or(const std::string& value, const char* name) {
  if (!value.empty()) return value;
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool is_success(long status) {
  return status >= 200 && status < 300;
}

// A new temp file beside `dest`, created exclusively (O_EXCL|O_NOFOLLOW): never an existing
// file or a link someone put there. Sets `path`; nullptr and `error` when it cannot.
FILE* create_temp_beside(const std::string& dest, std::string& path, std::string& error) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    path = fs::temp_sibling(dest);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) continue;  // taken: another random name
    if (fd < 0) break;
    if (FILE* f = ::fdopen(fd, "wb")) return f;
    int saved = errno;
    ::close(fd);
    ::unlink(path.c_str());
    errno = saved;
    break;
  }
  error = "cannot create " + path + ": " + std::strerror(errno);
  path.clear();
  return nullptr;
}

// The state of one request across its attempts.
struct Transfer {
  const Request* req = nullptr;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  int attempt = 0;
  Clock::time_point not_before{};
  long status_line = 0;  // status of the response being received (0 for file://)
  Response resp;
  Sha256 sha;
  std::string tmp_path;
  FILE* out = nullptr;
  std::string local_error;     // a write failure, not retried
  bool over_limit = false;     // the body passed Request::limit_bytes
  bool range_refused = false;  // a 206 that does not continue Request::resume_from
  uint64_t reported = 0;       // bytes last passed to Request::progress
  Clock::time_point reported_at{};
  Clock::time_point first_start{};
  size_t upload_pos = 0;
  char errbuf[CURL_ERROR_SIZE] = {};
  std::optional<Result<Response>> result;

  bool streaming_ok() const { return status_line == 0 || is_success(status_line); }

  void discard_output() {
    if (out) std::fclose(out);
    out = nullptr;
    if (!tmp_path.empty()) std::remove(tmp_path.c_str());
    tmp_path.clear();
  }
  // A body that stops early for good: hand its bytes to Request::keep_partial.
  void keep_partial() {
    if (!req->keep_partial || !out || range_refused || !is_success(status_line) || resp.bytes == 0)
      return;
    bool closed = std::fclose(out) == 0;
    out = nullptr;
    if (closed) req->keep_partial(tmp_path, resp);
  }
  void reset_body() {
    discard_output();
    resp.body.clear();
    resp.bytes = 0;
    sha = Sha256();
  }
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (starts_with(line, "HTTP/")) {  // a new response (redirect hop, 100 Continue, ...)
    t->resp.headers.clear();
    t->reset_body();
    size_t sp = line.find(' ');
    t->status_line = sp == std::string_view::npos ? 0 : std::atol(line.substr(sp + 1).data());
    return line.size();
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = to_lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    auto [it, fresh] = t->resp.headers.emplace(name, value);
    if (!fresh) it->second += ", " + value;
    // An in-memory body grows by doubling, which briefly holds 1.5x its size: take the
    // announced length at once (never more than the limit, or 16 MiB without one).
    if (name == "content-length" && t->req->dest_path.empty() && is_success(t->status_line)) {
      uint64_t want = std::strtoull(value.c_str(), nullptr, 10);
      uint64_t cap = t->req->limit_bytes.value_or(uint64_t(16) << 20);
      if (t->req->max_body) cap = std::min(cap, t->req->max_body);
      if (want <= cap) t->resp.body.reserve(size_t(want));
    }
  }
  return line.size();
}

// The first byte of a resumed body must follow the bytes in Request::resume_from: "bytes N-"
// in Content-Range, and the validator sent in If-Range unchanged.
bool continues_resume(const Transfer& t) {
  const Request& r = *t.req;
  auto header = [&](const char* name) -> std::string {
    auto it = t.resp.headers.find(name);
    return it == t.resp.headers.end() ? "" : it->second;
  };
  std::string range = header("content-range");
  std::string want = "bytes " + std::to_string(r.resume_bytes) + "-";
  if (!starts_with(range, want)) return false;
  bool etag_validator = starts_with(r.resume_validator, "\"");
  std::string sent = header(etag_validator ? "etag" : "last-modified");
  return sent.empty() || sent == r.resume_validator;
}

// Create the temp file for a streamed 2xx body; for a 206 answering Request::resume_from, copy
// (and hash) those bytes into it first. False (and nothing kept) when that cannot be done.
bool begin_output(Transfer& t) {
  t.out = create_temp_beside(t.req->dest_path, t.tmp_path, t.local_error);
  if (!t.out) return false;
  const Request& r = *t.req;
  if (t.status_line != 206 || r.resume_from.empty() || r.resume_bytes == 0) return true;
  if (!continues_resume(t)) {
    t.range_refused = true;
    return false;
  }
  int fd = ::open(r.resume_from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st {};
  bool ok = fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            uint64_t(st.st_size) == r.resume_bytes;
  std::vector<char> buf(size_t(1) << 16);
  uint64_t copied = 0;
  while (ok && copied < r.resume_bytes) {
    ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    size_t use = size_t(std::min<uint64_t>(uint64_t(got), r.resume_bytes - copied));
    if (std::fwrite(buf.data(), 1, use, t.out) != use) {
      t.local_error = "cannot write " + t.tmp_path + ": " + std::strerror(errno);
      ok = false;
      break;
    }
    t.sha.update(buf.data(), use);
    copied += use;
  }
  if (fd >= 0) ::close(fd);
  if (!ok || copied != r.resume_bytes) {
    if (t.local_error.empty()) t.range_refused = true;  // the partial changed: start over
    return false;
  }
  t.resp.bytes = copied;
  t.resp.resumed_from = copied;
  return true;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (!t->req->dest_path.empty() && !t->out && t->streaming_ok() && !begin_output(*t)) return 0;
  if (const auto& limit = t->req->limit_bytes; limit && t->resp.bytes + len > *limit) {
    t->over_limit = true;  // an endless body or a decompression bomb: stop, keep nothing
    return 0;
  }
  if (!t->streaming_ok()) {  // keep the start of an error page for messages
    t->resp.body.append(
        data, std::min(len, kMaxErrorBody - std::min(kMaxErrorBody, t->resp.body.size())));
    return len;
  }
  if (!t->req->dest_path.empty()) {
    if (std::fwrite(data, 1, len, t->out) != len) {
      t->local_error = "cannot write " + t->tmp_path + ": " + std::strerror(errno);
      return 0;
    }
  } else if (uint64_t cap = t->req->max_body; cap && t->resp.bytes + len > cap) {
    size_t keep = size_t(cap - t->resp.bytes);
    t->resp.body.append(data, keep);
    if (t->req->hash_body) t->sha.update(data, keep);
    t->resp.bytes += keep;
    t->resp.truncated = true;
    return 0;  // abort the transfer: the caller has what it asked for
  } else {
    t->resp.body.append(data, len);
  }
  if (t->req->hash_body) t->sha.update(data, len);
  t->resp.bytes += len;
  return len;
}

// Bytes on the wire (before Content-Encoding is decoded) count against the limit too; a
// signal (util/cancel.hpp) aborts the transfer. curl calls this at least once a second.
int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (cancel::cancelled()) return 1;
  if (const auto& limit = t->req->limit_bytes; limit && dlnow > 0 && uint64_t(dlnow) > *limit) {
    t->over_limit = true;
    return 1;
  }
  // Told when bytes arrived, and at least twice a second while a transfer stalls (so a
  // display of rate and time left keeps moving without a timer of its own).
  auto now = Clock::now();
  if (t->req->progress && dlnow > 0 && t->streaming_ok() &&
      (uint64_t(dlnow) != t->reported || now - t->reported_at >= std::chrono::milliseconds(500))) {
    t->reported = uint64_t(dlnow);
    t->reported_at = now;
    t->req->progress(t->reported, uint64_t(std::max<curl_off_t>(dltotal, 0)));
  }
  return 0;
}

size_t on_upload(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = std::min(size * n, t->req->upload_body.size() - t->upload_pos);
  std::copy_n(t->req->upload_body.data() + t->upload_pos, len, buf);
  t->upload_pos += len;
  return len;
}

// curl rewinds an upload to send it again: on a kept-alive connection the server closed
// meanwhile (curl retries those on a fresh one), after a redirect or an authentication round.
// Without this it fails with "necessary data rewind wasn't possible". The body is in memory.
int on_upload_seek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || uint64_t(offset) > t->req->upload_body.size())
    return CURL_SEEKFUNC_FAIL;
  t->upload_pos = size_t(offset);
  return CURL_SEEKFUNC_OK;
}

Error interrupted(const Request& r) {
  return make_error("interrupted while downloading " + redact_url(r.url));
}

bool retryable(CURLcode rc, long status) {
  switch (rc) {
    case CURLE_OK:
      return status >= 500 || status == 429;
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

class CurlClient final : public HttpClient {
 public:
  explicit CurlClient(const ClientOptions& o) : opts_(o) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    opts_.ca_file = env_or(opts_.ca_file, "SSL_CERT_FILE");
    opts_.ca_dir = env_or(opts_.ca_dir, "SSL_CERT_DIR");
    opts_.netrc_file = env_or(opts_.netrc_file, "NETRC");
    opts_.max_parallel = std::max(1, opts_.max_parallel);
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlClient::lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlClient::unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }

  ~CurlClient() override {
    for (CURLM* m : idle_multis_) curl_multi_cleanup(m);
    curl_share_cleanup(share_);
  }

  Result<Response> fetch(const Request& req) override { return std::move(fetch_all({req})[0]); }

  std::vector<Result<Response>> fetch_all(const std::vector<Request>& reqs) override {
    std::vector<Transfer> ts(reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) ts[i].req = &reqs[i];
    CURLM* multi = acquire_multi();
    run(multi, ts);
    release_multi(multi);
    std::vector<Result<Response>> out;
    out.reserve(ts.size());
    for (Transfer& t : ts) out.push_back(std::move(*t.result));
    return out;
  }

 private:
  static void lock(CURL*, curl_lock_data d, curl_lock_access, void* self) {
    static_cast<CurlClient*>(self)->share_locks_[d % kLocks].lock();
  }
  static void unlock(CURL*, curl_lock_data d, void* self) {
    static_cast<CurlClient*>(self)->share_locks_[d % kLocks].unlock();
  }

  CURLM* acquire_multi() {
    std::lock_guard lock(mu_);
    if (idle_multis_.empty()) return curl_multi_init();
    CURLM* m = idle_multis_.back();
    idle_multis_.pop_back();
    return m;
  }
  void release_multi(CURLM* m) {
    std::lock_guard lock(mu_);
    idle_multis_.push_back(m);
  }

  void start(CURLM* multi, Transfer& t) {
    const Request& r = *t.req;
    t.resp = Response{};
    t.reset_body();
    t.status_line = 0;
    t.upload_pos = 0;
    t.errbuf[0] = 0;
    t.over_limit = false;
    t.range_refused = false;
    t.reported = 0;
    t.easy = curl_easy_init();
    CURL* e = t.easy;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SHARE, share_);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, opts_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, opts_.connect_timeout_s);
    if (opts_.low_speed_bps > 0) {
      curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, opts_.low_speed_bps);
      curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, opts_.low_speed_timeout_s);
    }
    if (t.attempt == 0) t.first_start = Clock::now();
    if (opts_.deadline_s > 0) {  // what is left of the request's deadline, all attempts included
      auto left = std::chrono::seconds(opts_.deadline_s) - (Clock::now() - t.first_start);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(std::max<int64_t>(ms, 1)));
    }
    // curl takes 0 for "no limit": a limit of 0 bytes is enforced by on_body/on_progress.
    if (r.limit_bytes && *r.limit_bytes)
      curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(*r.limit_bytes));
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    if (opts_.use_netrc) {
      curl_easy_setopt(e, CURLOPT_NETRC, long(CURL_NETRC_OPTIONAL));
      if (!opts_.netrc_file.empty())
        curl_easy_setopt(e, CURLOPT_NETRC_FILE, opts_.netrc_file.c_str());
    }
    if (!opts_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, opts_.ca_file.c_str());
    if (!opts_.ca_dir.empty()) curl_easy_setopt(e, CURLOPT_CAPATH, opts_.ca_dir.c_str());
    // curl ignores upper-case HTTP_PROXY (a CGI hazard); honour it as pip does when the
    // lower-case one is unset. NO_PROXY still applies: curl checks it for explicit proxies.
    const char* upper = std::getenv("HTTP_PROXY");
    if (UrlParts::parse(r.url).scheme == "http" && !std::getenv("http_proxy") && upper)
      curl_easy_setopt(e, CURLOPT_PROXY, upper);
    // Compressed transfer only for pages: some servers mislabel .tar.gz as gzip-encoded.
    if (r.compressed && r.dest_path.empty() && !r.range && !r.suffix_range)
      curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (r.range || r.suffix_range) {
      std::string range =
          r.range ? std::to_string(r.range->first) + "-" + std::to_string(r.range->second)
                  : "-" + std::to_string(*r.suffix_range);
      curl_easy_setopt(e, CURLOPT_RANGE, range.c_str());  // copied by curl
    }
    if (r.head) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (r.method == "PUT") {
      curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(e, CURLOPT_READFUNCTION, &on_upload);
      curl_easy_setopt(e, CURLOPT_READDATA, &t);
      curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, &on_upload_seek);
      curl_easy_setopt(e, CURLOPT_SEEKDATA, &t);
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, curl_off_t(r.upload_body.size()));
    } else if (!r.method.empty() && r.method != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    curl_slist_free_all(t.header_list);
    t.header_list = curl_slist_append(nullptr, "Expect:");
    for (const auto& [k, v] : r.headers)
      t.header_list = curl_slist_append(t.header_list, (k + ": " + v).c_str());
    if (!r.resume_from.empty() && r.resume_bytes > 0 && !r.dest_path.empty()) {
      std::string from = "Range: bytes=" + std::to_string(r.resume_bytes) + "-";
      t.header_list = curl_slist_append(t.header_list, from.c_str());
      t.header_list = curl_slist_append(t.header_list, ("If-Range: " + r.resume_validator).c_str());
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.header_list);
    curl_multi_add_handle(multi, e);
  }

  // Called when an attempt ends; returns true when it should be retried.
  bool finish(CURLM* multi, Transfer& t, CURLcode rc) {
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    char* eff = nullptr;
    curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &eff);
    t.resp.effective_url = eff ? eff : t.req->url;
    std::string reason = t.errbuf[0] ? t.errbuf : curl_easy_strerror(rc);
    curl_multi_remove_handle(multi, t.easy);
    curl_easy_cleanup(t.easy);
    t.easy = nullptr;
    curl_slist_free_all(t.header_list);
    t.header_list = nullptr;
    if (rc == CURLE_FILE_COULDNT_READ_FILE) rc = CURLE_OK, status = 404;
    if (rc == CURLE_WRITE_ERROR && t.resp.truncated) rc = CURLE_OK;  // cut at max_body
    if (rc == CURLE_WRITE_ERROR && t.range_refused) rc = CURLE_OK;   // the caller decides
    if (rc == CURLE_OK && status == 0) status = 200;                 // file://
    t.resp.status = status;
    if (rc == CURLE_FILESIZE_EXCEEDED) t.over_limit = true;
    bool timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    bool past_deadline = opts_.deadline_s > 0 &&
                         Clock::now() - t.first_start >=
                             std::chrono::seconds(opts_.deadline_s) - std::chrono::milliseconds(50);
    // A stalled server is retried once, not `retries` times: a stall must not become minutes.
    int max_attempts = timed_out ? std::min(opts_.retries, 1) : opts_.retries;
    if (t.attempt < max_attempts && t.local_error.empty() && !t.over_limit && !past_deadline &&
        !cancel::cancelled() && retryable(rc, status)) {
      auto delay = std::chrono::milliseconds(int64_t(opts_.backoff_ms) << t.attempt);
      if (auto it = t.resp.headers.find("retry-after"); it != t.resp.headers.end())
        delay = std::max<std::chrono::milliseconds>(
            delay, std::chrono::seconds(std::clamp(std::atol(it->second.c_str()), 0L, 10L)));
      t.discard_output();
      ++t.attempt;
      t.not_before = Clock::now() + delay;
      return true;
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK && cancel::cancelled()) {
      t.keep_partial();
      t.discard_output();
      t.result = interrupted(*t.req);
    } else if (t.over_limit) {
      t.discard_output();
      t.result = make_error(
          "the response from " + redact_url(t.req->url) + " is larger than the limit of " +
              std::to_string(t.req->limit_bytes.value_or(0)) + " bytes; nothing was kept",
          t.req->limit_hint.empty() ? "check the URL" : t.req->limit_hint);
    } else if (timed_out) {
      t.keep_partial();
      t.discard_output();
      std::string what =
          past_deadline
              ? "it took longer than the deadline of " + std::to_string(opts_.deadline_s) +
                    " s per transfer (LAVABUILD_HTTP_DEADLINE)"
              : "it sent less than " + std::to_string(opts_.low_speed_bps) + " bytes/s for " +
                    std::to_string(opts_.low_speed_timeout_s) +
                    " s (LAVABUILD_HTTP_TIMEOUT / --timeout, LAVABUILD_HTTP_LOW_SPEED)";
      t.result = make_error(
          "timed out downloading " + redact_url(t.req->url) + ": " + what + " (" +
              std::to_string(t.attempt + 1) + (t.attempt ? " attempts)" : " attempt)"),
          "check the server and the network; raise the limit named above if the server is "
          "just slow");
    } else if (!t.local_error.empty()) {
      t.discard_output();
      t.result = make_error(t.local_error + " (downloading " + redact_url(t.req->url) + ")",
                            "check free disk space and permissions");
    } else if (rc != CURLE_OK) {
      t.keep_partial();
      t.discard_output();
      t.result = make_error("cannot reach " + redact_url(t.req->url) + ": " + reason,
                            "check the network, proxy settings (HTTPS_PROXY/NO_PROXY) and the "
                            "URL, or use --offline");
    } else {
      t.result = complete(t);
    }
    return false;
  }

  // A finished transfer with an HTTP status: move the file into place on 2xx.
  static Result<Response> complete(Transfer& t) {
    bool ok = is_success(t.resp.status);
    if (ok && !t.req->dest_path.empty() && !t.req->head && !t.out && !t.range_refused &&
        !begin_output(t) && !t.range_refused)  // empty body: nothing was written yet
      return make_error(t.local_error, "check free disk space and permissions");
    t.resp.range_refused = t.range_refused;
    if (ok && !t.range_refused && t.req->hash_body) t.resp.sha256 = t.sha.hex_digest();
    if (t.req->dest_path.empty() || t.req->head || !ok || t.range_refused) {
      t.discard_output();
      return std::move(t.resp);
    }
    bool closed = std::fclose(t.out) == 0;
    t.out = nullptr;
    if (!closed) {
      t.discard_output();
      return make_error("cannot write " + t.req->dest_path, "check free disk space");
    }
    Status moved = fs::rename_path(t.tmp_path, t.req->dest_path);
    if (!moved.ok()) {
      t.discard_output();
      return moved.error();
    }
    t.tmp_path.clear();
    return std::move(t.resp);
  }

  void run(CURLM* multi, std::vector<Transfer>& ts) {
    std::vector<Transfer*> waiting;
    for (Transfer& t : ts) waiting.push_back(&t);
    int active = 0;
    while (active > 0 || !waiting.empty()) {
      auto now = Clock::now();
      if (cancel::cancelled()) {  // a signal: start nothing more (running ones abort)
        for (Transfer* t : waiting) t->result = interrupted(*t->req);
        waiting.clear();
        if (active == 0) break;
      }
      for (auto it = waiting.begin(); it != waiting.end() && active < opts_.max_parallel;) {
        if ((*it)->not_before <= now) {
          start(multi, **it);
          ++active;
          it = waiting.erase(it);
        } else {
          ++it;
        }
      }
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
        CURLcode rc = msg->data.result;
        --active;
        if (finish(multi, *t, rc)) waiting.push_back(t);
      }
      if (active == 0 && waiting.empty()) break;
      int timeout_ms = 1000;
      for (Transfer* t : active < opts_.max_parallel ? waiting : std::vector<Transfer*>{}) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t->not_before - now);
        timeout_ms = std::clamp(int(ms.count()), 0, timeout_ms);
      }
      if (active > 0 && timeout_ms > 0) {
        curl_multi_poll(multi, nullptr, 0, timeout_ms, nullptr);
      } else if (active == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
      }
    }
  }

  static constexpr int kLocks = CURL_LOCK_DATA_LAST + 1;
  ClientOptions opts_;
  CURLSH* share_ = nullptr;
  std::mutex share_locks_[kLocks];
  std::mutex mu_;
  std::vector<CURLM*> idle_multis_;
};

}  // namespace

}  // namespace lb::net

/// The entry point net/http_loader.cpp looks up after loading this module.
extern "C" lb::net::HttpClient* lavabuild_make_curl_client(const lb::net::ClientOptions* options) {
  return new lb::net::CurlClient(*options);
}
