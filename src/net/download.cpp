// Verified downloads: temp file, hash check, rename; partial downloads kept and resumed
// (format and rules in net/partial.hpp).
#include <chrono>
#include <cstdio>
#include <memory>

#include "net/index.hpp"
#include "net/partial.hpp"
#include "net/url.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::net {
namespace {

struct PartialPaths {
  std::string data, note;
};

PartialPaths partial_paths(const std::string& dir, const std::string& url) {
  std::string base = fs::join_path(dir, sha256_hex(url));
  return {base, base + ".note"};
}

// The note goes first: bytes without a note are never used.
void discard_partial(const PartialPaths& p) {
  (void)fs::remove_all(p.note);
  (void)fs::remove_all(p.data);
}

std::string expected_of(const DownloadOptions& o) {
  return to_lower(trim(o.expected_sha256));
}

bool keeps_partials(const DownloadOptions& o) {
  return !o.partial_dir.empty() && !expected_of(o).empty();
}

// The partial download of `url` this download may resume from; an unusable one is removed.
std::optional<PartialNote> usable_partial(const std::string& url, const DownloadOptions& o) {
  if (!keeps_partials(o)) return std::nullopt;
  PartialPaths p = partial_paths(o.partial_dir, url);
  fs::FileInfo note_info = fs::stat_path(p.note);
  fs::FileInfo data_info = fs::stat_path(p.data);
  if (!note_info.exists && !data_info.exists) return std::nullopt;
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  int64_t max_age = std::chrono::duration_cast<std::chrono::nanoseconds>(kMaxPartialAge).count();
  std::optional<PartialNote> note;
  if (note_info.is_regular && note_info.size <= kMaxPartialNoteBytes &&
      now - note_info.mtime_ns < max_age && note_info.mtime_ns < now + int64_t(60e9))
    if (auto text = fs::read_file(p.note); text.ok()) note = parse_partial_note(*text);
  bool usable = note && note->url == url && note->sha256 == expected_of(o) &&
                data_info.is_regular && data_info.size == note->bytes && note->bytes > 0 &&
                (!o.max_bytes || note->bytes < *o.max_bytes) &&
                (!o.declared_size || note->bytes < *o.declared_size);
  if (!usable) {
    discard_partial(p);
    return std::nullopt;
  }
  return note;
}

// Move the bytes of a transfer that stopped early to the partial area, and write their note.
void keep_partial(const std::string& url, const DownloadOptions& o, const std::string& resumed_with,
                  const std::string& tmp, const Response& so_far, uint64_t& kept) {
  PartialNote n;
  n.url = url;
  n.sha256 = expected_of(o);
  n.size = o.declared_size;
  n.bytes = so_far.bytes;
  auto header = [&](const char* name) -> std::string {
    auto it = so_far.headers.find(name);
    return it == so_far.headers.end() ? "" : it->second;
  };
  n.etag = strong_etag(header("etag"));
  if (n.etag.empty()) n.last_modified = header("last-modified");
  if (n.validator().empty() && so_far.resumed_from > 0) {  // the 206 confirmed the old one
    (starts_with(resumed_with, "\"") ? n.etag : n.last_modified) = resumed_with;
  }
  PartialPaths p = partial_paths(o.partial_dir, url);
  (void)fs::remove_all(p.note);
  auto text = format_partial_note(n);  // nullopt without a validator: nothing to resume with
  if (!text || !fs::create_dirs(o.partial_dir, 0700).ok() || !fs::rename_path(tmp, p.data).ok() ||
      !fs::write_file_atomic(p.note, *text, 0600).ok()) {
    discard_partial(p);
    return;
  }
  kept = n.bytes;
}

Request make_request(const std::string& url, const std::string& dest_path, const DownloadOptions& o,
                     std::shared_ptr<uint64_t> kept) {
  Request req;
  req.url = url;
  req.dest_path = dest_path;
  req.limit_bytes = o.max_bytes;
  req.limit_hint = o.limit_hint;
  req.progress = o.progress;
  if (!keeps_partials(o)) return req;
  if (auto note = usable_partial(url, o)) {
    req.resume_from = partial_paths(o.partial_dir, url).data;
    req.resume_bytes = note->bytes;
    req.resume_validator = note->validator();
  }
  req.keep_partial = [url, o, kept, validator = req.resume_validator](const std::string& tmp,
                                                                      const Response& so_far) {
    keep_partial(url, o, validator, tmp, so_far, *kept);
  };
  return req;
}

}  // namespace

Request download_request(const std::string& url, const std::string& dest_path,
                         const DownloadOptions& options) {
  return make_request(url, dest_path, options, std::make_shared<uint64_t>(0));
}

bool finish_download(const Request& req, const Result<Response>& resp,
                     const DownloadOptions& options) {
  bool complete = resp.ok() && resp->status >= 200 && resp->status < 300 && !resp->range_refused;
  bool refused = resp.ok() && req.resume_bytes > 0 && (resp->status == 416 || resp->range_refused);
  if (keeps_partials(options) && (complete || refused))
    discard_partial(partial_paths(options.partial_dir, req.url));
  return complete;
}

Result<Response> download_file(HttpClient& http, const std::string& url,
                               const std::string& dest_path, const DownloadOptions& o) {
  std::string shown = redact_url(url);
  std::string tmp = fs::temp_sibling(dest_path);
  auto kept = std::make_shared<uint64_t>(0);
  Request req = make_request(url, tmp, o, kept);
  Result<Response> got = http.fetch(req);
  finish_download(req, got, o);
  if (got.ok() && req.resume_bytes > 0 && (got->status == 416 || got->range_refused)) {
    req = make_request(url, tmp, o, kept);  // the partial is gone: the whole file
    got = http.fetch(req);
    finish_download(req, got, o);
  }
  if (!got.ok()) {
    std::remove(tmp.c_str());
    Error e = got.error();
    if (*kept)
      e.hint = (e.hint.empty() ? "" : e.hint + "; ") + "the " + std::to_string(*kept) +
               " bytes received are kept in the cache, so the next run downloads only the rest";
    return e;
  }
  Response r = std::move(*got);
  if (r.status < 200 || r.status >= 300 || r.range_refused) {
    std::remove(tmp.c_str());
    return make_error("cannot download " + shown + ": HTTP " + std::to_string(r.status),
                      r.status == 404
                          ? "the file is gone from the index; re-resolve or check the URL"
                      : r.status >= 500 ? "the server is failing; try again later"
                                        : "check the URL and credentials");
  }
  std::string expected = expected_of(o);
  if (!expected.empty() && r.sha256 != expected) {
    std::remove(tmp.c_str());
    std::string resumed = r.resumed_from
                              ? " (resumed after the first " + std::to_string(r.resumed_from) +
                                    " bytes, kept by an earlier run)"
                              : "";
    return make_error(
        "hash mismatch for " + shown + resumed + ":\n  expected sha256 " + expected +
            "\n  got      sha256 " + r.sha256,
        r.resumed_from
            ? "the bytes kept by the earlier run were damaged, or the file on the server "
              "changed; they were discarded and nothing was kept: run again to download the "
              "whole file"
            : "the file on the server changed or the pinned hash is wrong; nothing was kept");
  }
  LB_TRY(fs::rename_path(tmp, dest_path));
  return r;
}

Result<Response> download_file(HttpClient& http, const std::string& url,
                               const std::string& dest_path, const std::string& expected_sha256,
                               std::optional<uint64_t> max_bytes, const std::string& limit_hint) {
  DownloadOptions o;
  o.expected_sha256 = expected_sha256;
  o.max_bytes = max_bytes;
  o.limit_hint = limit_hint;
  return download_file(http, url, dest_path, o);
}

}  // namespace lb::net
