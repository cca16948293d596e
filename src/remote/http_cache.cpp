// The Bazel HTTP cache backend: GET/PUT/HEAD on <base>/ac/<hex> and <base>/cas/<hex>, over the
// libcurl client of net/http.hpp. Served by nginx with WebDAV, bazel-remote, Bazel's remote
// worker and others: a miss is 404; an upload succeeds with 200, 201 or 204; some servers
// answer HEAD with 405, and bazel-remote sends zstd when asked (Accept-Encoding: zstd).
//
// A remote cache is an optimisation: when it fails, the run carries on without it. So it fails
// fast (no retries, every timeout taken from RemoteOptions::timeout) and every failure is one
// lb::Error naming the remote (credentials stripped), the method, the path kind and hash, and
// the status; never a header value (the Authorization header comes from RemoteOptions::headers).
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http.hpp"
#include "net/url.hpp"
#include "remote/action_result.hpp"
#include "remote/cache.hpp"
#include "util/strings.hpp"

namespace lb::remote {
namespace {

// Blobs uploaded by one fetch_all call hold at most this many bytes in all (a Request keeps a
// copy of its body), so writing many large blobs does not hold them all twice at once. A blob
// larger than this goes alone.
constexpr uint64_t kMaxUploadBatchBytes = uint64_t(256) << 20;

// The largest zstd window a body may use: 2^27 bytes, zstd's own default decoder limit
// (ZSTD_WINDOWLOG_LIMIT_DEFAULT, which only the static-linking API names).
constexpr int kMaxZstdWindowLog = 27;

// The hint of every remote failure: what happens next, and what to look at.
constexpr const char* kHint =
    "lavabuild carries on without the remote cache; check that the server is up and reachable";

bool is_lower_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// RemoteOptions::timeout for the client, whose timeouts are whole seconds: rounded up (a
// timeout under a second is one second), never 0 (which would mean "no limit" to the client).
long timeout_seconds(std::chrono::milliseconds t) {
  return std::max<long>(1, long((t.count() + 999) / 1000));
}

// How decoding a zstd body ended.
enum class Unzstd { ok, too_big, corrupt };

// Decompress a zstd body (one or more frames) into `out`, stopping as soon as it passes `limit`
// bytes: the size a frame declares is never used, so a small body cannot make us allocate more
// than the limit (plus one ZSTD_DStreamOutSize() chunk). The window is capped at zstd's
// limit (kMaxZstdWindowLog), so a frame cannot ask for more decoder memory.
Unzstd decompress_zstd(std::string_view in_bytes, uint64_t limit, std::string& out,
                       std::string& why) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  if (!ctx) {
    why = "out of memory";
    return Unzstd::corrupt;
  }
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, kMaxZstdWindowLog);
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{in_bytes.data(), in_bytes.size(), 0};
  size_t pending = 0;  // 0: the last frame is complete (or none started)
  // Run while input is left, and then while the decoder may still hold output: a call that
  // filled the whole chunk may have more to give without reading anything.
  while (true) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    size_t before = in.pos;
    pending = ZSTD_decompressStream(ctx.get(), &ob, &in);
    if (ZSTD_isError(pending)) {
      why = ZSTD_getErrorName(pending);
      return Unzstd::corrupt;
    }
    if (ob.pos > limit || out.size() > limit - ob.pos) return Unzstd::too_big;
    out.append(chunk.data(), ob.pos);
    bool progressed = in.pos != before || ob.pos != 0;
    if (in.pos == in.size && ob.pos < ob.size) break;  // all read, nothing held back
    if (!progressed) break;
  }
  if (pending != 0 || in.pos != in.size) {
    why = pending != 0 ? "the last frame is truncated" : "bytes the decoder does not take";
    return Unzstd::corrupt;
  }
  return Unzstd::ok;
}

class HttpCache final : public RemoteCache {
 public:
  HttpCache(std::string base, std::vector<std::pair<std::string, std::string>> headers,
            const RemoteOptions& opt, std::unique_ptr<net::HttpClient> client)
      : base_(std::move(base)),
        name_(strip_credentials(base_)),
        headers_(std::move(headers)),
        max_blob_(opt.max_blob_bytes),
        parallel_(std::max(1, opt.parallel)),
        client_(std::move(client)) {}

  std::string name() const override { return name_; }
  int parallel() const override { return parallel_; }

  Result<std::optional<ActionEntry>> get_action(const std::string& action) override {
    LB_TRY(check_hash("ac", action));
    net::Request req(url("ac", action), headers_);
    req.compressed = false;
    // An entry is read into memory whole: no larger than the largest blob we would read.
    req.limit_bytes = max_blob_;
    req.limit_hint = kHint;
    auto got = client_->fetch(req);
    if (!got.ok()) return transport_error("GET", "ac", action, req.url, got.error());
    if (got->status == 404) return std::optional<ActionEntry>();
    if (got->status != 200) return status_error("GET", "ac", action, got->status);
    auto entry = decode_action_result(got->body);
    if (!entry.ok())
      return make_error(where("GET", "ac", action) + ": " + entry.error().message, kHint);
    return std::optional<ActionEntry>(std::move(*entry));
  }

  Status put_action(const std::string& action, const ActionEntry& entry) override {
    LB_TRY(check_hash("ac", action));
    net::Request req(url("ac", action), headers_);
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    req.method = "PUT";
    req.upload_body = encode_action_result(entry);
    auto got = client_->fetch(req);
    if (!got.ok()) return transport_error("PUT", "ac", action, req.url, got.error());
    if (!put_ok(got->status)) return status_error("PUT", "ac", action, got->status);
    return {};
  }

  Result<std::vector<Digest>> find_missing(const std::vector<Digest>& digests) override {
    // Each digest is asked about once, in the order first given.
    std::vector<Digest> unique;
    std::set<std::string> seen;
    for (const Digest& d : digests) {
      LB_TRY(check_hash("cas", d.hash));
      if (seen.insert(d.hash).second) unique.push_back(d);
    }
    // present[i]: 1 present, 0 missing, -1 not known yet (HEAD refused: ask with GET).
    std::vector<int> present(unique.size(), -1);
    if (!unique.empty() && !head_unsupported_.load()) {
      std::vector<net::Request> reqs;
      for (const Digest& d : unique) {
        net::Request req(url("cas", d.hash), headers_);
        req.head = true;
        reqs.push_back(std::move(req));
      }
      auto got = client_->fetch_all(reqs);
      Failures failures;
      for (size_t i = 0; i < got.size(); ++i) {
        if (!got[i].ok()) {
          failures.add(transport_error("HEAD", "cas", unique[i].hash, reqs[i].url, got[i].error()));
        } else if (got[i]->status == 200) {
          present[i] = 1;
        } else if (got[i]->status == 404) {
          present[i] = 0;
        } else if (got[i]->status == 405 || got[i]->status == 501) {
          // The server does not do HEAD (some proxies and object stores): ask with GET from
          // now on, for every later call too.
          head_unsupported_.store(true);
        } else {
          failures.add(status_error("HEAD", "cas", unique[i].hash, got[i]->status));
        }
      }
      LB_TRY(failures.status());
    }
    std::vector<size_t> ask;
    for (size_t i = 0; i < unique.size(); ++i)
      if (present[i] < 0) ask.push_back(i);
    if (!ask.empty()) {
      std::vector<net::Request> reqs;
      for (size_t i : ask) {
        // The first byte is enough to know the blob is there: a server that honours the range
        // sends one byte and keeps the connection; one that ignores it is cut off after the
        // first byte (max_body). An empty blob has no first byte: a plain GET.
        net::Request req(url("cas", unique[i].hash), headers_);
        req.compressed = false;
        if (unique[i].size > 0) req.range = std::make_pair(uint64_t(0), uint64_t(0));
        req.max_body = 1;
        reqs.push_back(std::move(req));
      }
      auto got = client_->fetch_all(reqs);
      Failures failures;
      for (size_t k = 0; k < got.size(); ++k) {
        const Digest& d = unique[ask[k]];
        if (!got[k].ok()) {
          failures.add(transport_error("GET", "cas", d.hash, reqs[k].url, got[k].error()));
        } else if (long s = got[k]->status; s == 200 || s == 206 || s == 416) {
          present[ask[k]] = 1;  // 416: there, but empty (no byte 0 to send)
        } else if (s == 404) {
          present[ask[k]] = 0;
        } else {
          failures.add(status_error("GET", "cas", d.hash, s));
        }
      }
      LB_TRY(failures.status());
    }
    std::vector<Digest> missing;
    for (size_t i = 0; i < unique.size(); ++i)
      if (present[i] == 0) missing.push_back(unique[i]);
    return missing;
  }

  Result<std::vector<std::optional<std::string>>> read_blobs(
      const std::vector<Digest>& digests) override {
    std::vector<std::optional<std::string>> out(digests.size());
    std::vector<net::Request> reqs;
    std::vector<size_t> index;  // reqs[k] reads digests[index[k]]
    for (size_t i = 0; i < digests.size(); ++i) {
      LB_TRY(check_hash("cas", digests[i].hash));
      if (digests[i].size < 0 || uint64_t(digests[i].size) > max_blob_) continue;  // a miss
      net::Request req(url("cas", digests[i].hash), headers_);
      // zstd on the wire when the server offers it (bazel-remote); decoded here, under our
      // limit, not by curl (which would decode without one and does not do zstd everywhere).
      req.headers.emplace_back("Accept-Encoding", "zstd");
      req.compressed = false;
      // A body over the limit is a miss, not an error: max_body stops the transfer one byte
      // past it and says so (`truncated`), where limit_bytes would fail the whole transfer
      // like a broken connection. Without decoding by curl the body is the bytes on the wire.
      req.max_body = max_blob_ + 1;  // max_blob_ == UINT64_MAX wraps to 0: no limit
      req.hash_body = false;         // the caller checks the bytes against the digest
      reqs.push_back(std::move(req));
      index.push_back(i);
    }
    if (reqs.empty()) return out;
    auto got = client_->fetch_all(reqs);
    Failures failures;
    for (size_t k = 0; k < got.size(); ++k) {
      const std::string& hash = digests[index[k]].hash;
      if (!got[k].ok()) {
        failures.add(transport_error("GET", "cas", hash, reqs[k].url, got[k].error()));
        continue;
      }
      net::Response& r = *got[k];
      if (r.status == 404) continue;
      if (r.status != 200) {
        failures.add(status_error("GET", "cas", hash, r.status));
        continue;
      }
      if (r.truncated) continue;  // larger than max_blob_bytes: a miss
      auto enc = r.headers.find("content-encoding");
      std::string encoding = enc == r.headers.end() ? "" : to_lower(trim(enc->second));
      if (encoding.empty() || encoding == "identity") {
        out[index[k]] = std::move(r.body);
      } else if (encoding == "zstd") {
        std::string plain, why;
        switch (decompress_zstd(r.body, max_blob_, plain, why)) {
          case Unzstd::ok:
            out[index[k]] = std::move(plain);
            break;
          case Unzstd::too_big:  // larger than max_blob_bytes once decoded: a miss
            break;
          case Unzstd::corrupt:
            failures.add(make_error(
                where("GET", "cas", hash) + ": the zstd body does not decode (" + why + ")",
                kHint));
            break;
        }
      } else {
        failures.add(make_error(where("GET", "cas", hash) + ": answered with Content-Encoding " +
                                    quoted(encoding) + ", which was not asked for",
                                kHint));
      }
    }
    LB_TRY(failures.status());
    return out;
  }

  Status write_blobs(const std::vector<std::pair<Digest, std::string>>& blobs) override {
    for (const auto& [d, bytes] : blobs) {
      LB_TRY(check_hash("cas", d.hash));
      if (d.size < 0 || uint64_t(d.size) != bytes.size())
        return make_error(where("PUT", "cas", d.hash) + ": the digest says " +
                              std::to_string(d.size) + " bytes, the blob has " +
                              std::to_string(bytes.size()),
                          "this is a bug in lavabuild: the caller computes digests");
    }
    // Plain bytes: bazel-remote would take zstd only with X-Digest-SizeBytes, nginx never; the
    // blobs are mostly wheels, already compressed.
    size_t i = 0;
    while (i < blobs.size()) {
      std::vector<net::Request> reqs;
      std::vector<size_t> index;
      uint64_t batch_bytes = 0;
      for (; i < blobs.size(); ++i) {
        const auto& [d, bytes] = blobs[i];
        if (bytes.size() > max_blob_) continue;  // bigger ones are skipped, never an error
        if (!reqs.empty() && batch_bytes + bytes.size() > kMaxUploadBatchBytes) break;
        net::Request req(url("cas", d.hash), headers_);
        req.headers.emplace_back("Content-Type", "application/octet-stream");
        req.method = "PUT";
        req.upload_body = bytes;
        batch_bytes += bytes.size();
        reqs.push_back(std::move(req));
        index.push_back(i);
      }
      if (reqs.empty()) break;  // only blobs over the limit were left
      auto got = client_->fetch_all(reqs);
      Failures failures;
      for (size_t k = 0; k < got.size(); ++k) {
        const std::string& hash = blobs[index[k]].first.hash;
        if (!got[k].ok()) {
          failures.add(transport_error("PUT", "cas", hash, reqs[k].url, got[k].error()));
        } else if (!put_ok(got[k]->status)) {
          failures.add(status_error("PUT", "cas", hash, got[k]->status));
        }
      }
      LB_TRY(failures.status());
    }
    return {};
  }

 private:
  // The first failure of a batch, and how many more there were.
  struct Failures {
    std::optional<Error> first;
    size_t more = 0;
    void add(Error e) {
      if (first) {
        ++more;
      } else {
        first = std::move(e);
      }
    }
    Status status() const {
      if (!first) return {};
      if (more == 0) return *first;
      return make_error(first->message + " (and " + std::to_string(more) + " more failed)",
                        first->hint);
    }
  };

  // 200 (bazel-remote), 201 (nginx, a new file) and 204 (nginx overwriting, Bazel's worker).
  static bool put_ok(long status) { return status == 200 || status == 201 || status == 204; }

  std::string url(const char* kind, const std::string& hash) const {
    return base_ + "/" + kind + "/" + hash;
  }

  std::string where(const char* method, const char* kind, const std::string& hash) const {
    return "remote cache " + name_ + ": " + method + " " + kind + "/" + hash;
  }

  // Hashes become URL paths: anything but 64 lowercase hex digits is refused before a request.
  Status check_hash(const char* kind, const std::string& hash) const {
    if (is_lower_hex64(hash)) return {};
    return make_error("remote cache " + name_ + ": " + kind + " key " + quoted(hash) +
                          " is not 64 lowercase hex digits",
                      "this is a bug in lavabuild: keys and digests are SHA-256");
  }

  Error status_error(const char* method, const char* kind, const std::string& hash,
                     long status) const {
    return make_error(
        where(method, kind, hash) + ": the server answered HTTP " + std::to_string(status), kHint);
  }

  // The client's message names the URL with the password masked but the user name kept: name
  // the remote as name() does instead.
  Error transport_error(const char* method, const char* kind, const std::string& hash,
                        const std::string& request_url, const Error& e) const {
    std::string what =
        replace_all(e.message, net::redact_url(request_url), name_ + "/" + kind + "/" + hash);
    return make_error(where(method, kind, hash) + ": " + what, kHint);
  }

  const std::string base_;  // no trailing '/'; may hold user:pass@ (curl sends it)
  const std::string name_;
  const std::vector<std::pair<std::string, std::string>> headers_;
  const uint64_t max_blob_;
  const int parallel_;
  const std::unique_ptr<net::HttpClient> client_;
  // Set once a HEAD answered 405 or 501: presence is asked with GET from then on.
  std::atomic<bool> head_unsupported_{false};
};

}  // namespace

Result<std::unique_ptr<RemoteCache>> open_http_cache(const RemoteOptions& opt) {
  std::string shown = strip_credentials(opt.url);
  auto bad = [&](const std::string& why) -> Error {
    return make_error("--remote-cache " + shown + ": " + why,
                      "give the base URL of a Bazel HTTP cache, e.g. http://host:8080/cache");
  };
  net::UrlParts u = net::UrlParts::parse(opt.url);
  if (!u.has_scheme || (to_lower(u.scheme) != "http" && to_lower(u.scheme) != "https"))
    return bad("not an http:// or https:// URL");
  std::string host = u.authority.substr(u.authority.rfind('@') + 1);  // npos + 1 == 0
  if (!u.has_authority || host.empty() || host[0] == ':') return bad("no host");
  if (u.has_query || u.has_fragment) return bad("a cache's base URL has no ?query or #fragment");
  std::string base = opt.url;
  while (ends_with(base, "/")) base.pop_back();

  std::vector<std::pair<std::string, std::string>> headers;
  for (size_t i = 0; i < opt.headers.size(); ++i) {
    const std::string& h = opt.headers[i];
    size_t colon = h.find(':');
    std::string_view name =
        colon == std::string::npos ? "" : trim(std::string_view(h).substr(0, colon));
    bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) ||
             std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
    // The header itself is never shown: its value may be a secret.
    if (!token || h.find_first_of("\r\n") != std::string::npos)
      return make_error("--remote-cache " + shown + ": header " + std::to_string(i + 1) +
                            " is not of the form \"Name: value\" (not shown: it may hold a secret)",
                        "give each header as \"Name: value\"");
    headers.emplace_back(std::string(name),
                         std::string(trim(std::string_view(h).substr(colon + 1))));
  }

  net::ClientOptions copt;
  long secs = timeout_seconds(opt.timeout);
  copt.connect_timeout_s = secs;
  copt.low_speed_timeout_s = secs;  // a server that stalls mid-body fails as fast
  copt.deadline_s = secs;           // each request, whatever its speed
  // No retries: a remote that failed once is dropped for the run by the caller, and retrying
  // would only multiply the time a dead remote costs.
  copt.retries = 0;
  copt.max_parallel = std::max(1, opt.parallel);
  copt.use_netrc = true;
  copt.ca_file = opt.ca_file;
  return std::unique_ptr<RemoteCache>(
      new HttpCache(std::move(base), std::move(headers), opt, net::make_http_client(copt)));
}

}  // namespace lb::remote
