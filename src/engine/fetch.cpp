#include "engine/fetch.hpp"

#include <algorithm>
#include <tuple>

#include "net/remote_zip.hpp"
#include "net/url.hpp"
#include "net/url_lock.hpp"
#include "pep/name.hpp"
#include "pep/tags.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"
#include "wheel/wheel.hpp"

namespace lb::engine {

std::string local_path_of(const std::string& url) {
  if (auto path = net::file_url_to_path(url)) return *path;
  return net::is_url(url) ? "" : url;
}

namespace {
std::string stat_line(const std::string& path) {
  auto st = fs::stat_path(path);
  return std::to_string(st.size) + "\n" + std::to_string(st.mtime_ns);
}

bool is_sha256(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}
}  // namespace

net::Progress Fetcher::progress_of(uint64_t id) const {
  return [out = ctx_.out, id](uint64_t done, uint64_t total) {
    out->download_progress(id, done, total);
  };
}

std::string Fetcher::lock_dir() const {
  return fs::join_path(ctx_.store->dir(), "locks");
}

std::pair<uint64_t, std::string> Fetcher::download_limit(const net::IndexFile& file) const {
  // A declared size only lowers the cap: `size = 0` allows 0 bytes (it never means "no
  // limit"), and a size above LAVABUILD_MAX_DOWNLOAD_SIZE does not raise it.
  uint64_t max = ctx_.limits.max_download_bytes;
  if (file.size && *file.size <= max)
    return {*file.size, "the index (or lock) says " + file.filename + " has " +
                            std::to_string(*file.size) +
                            " bytes; the server sent more: check the index"};
  return {max,
          "a file this large is not expected: check the URL, or set "
          "LAVABUILD_MAX_DOWNLOAD_SIZE (now " +
              std::to_string(max) + " bytes) higher, e.g. 16G"};
}

net::DownloadOptions Fetcher::download_options(const net::IndexFile& file) const {
  net::DownloadOptions o;
  o.expected_sha256 = file.sha256;
  uint64_t limit = 0;
  std::tie(limit, o.limit_hint) = download_limit(file);
  o.max_bytes = limit;
  o.declared_size = file.size;
  o.partial_dir = fs::join_path(ctx_.store->dir(), "partial");
  return o;
}

Status Fetcher::check_pins(const net::IndexFile& file, const std::string& tmp,
                           const std::string& sha) const {
  if (pins_.empty()) return {};
  auto wf = pep::WheelFilename::parse(file.filename);
  auto it = pins_.find(pep::normalize_name(wf.ok() ? wf->name : file.filename));
  if (it == pins_.end() || it->second.empty() || it->second.count("sha256:" + sha)) return {};
  for (const std::string& want : it->second) {  // pip also takes sha384 and sha512 pins
    size_t colon = want.find(':');
    if (colon == std::string::npos || want.compare(0, colon, "sha256") == 0) continue;
    auto got = digest_file_hex(tmp, want.substr(0, colon));
    if (got.ok() && want.substr(colon + 1) == *got) return {};
  }
  auto origin = pin_origins_.find(it->first);
  std::vector<std::string> wanted(it->second.begin(), it->second.end());
  std::string local = local_path_of(file.url);
  return make_error("hash mismatch for " + (local.empty() ? net::redact_url(file.url) : local) +
                        " (" + (origin == pin_origins_.end() ? "--hash" : origin->second) +
                        "):\n  expected " + join(wanted, " or ") + "\n  got      sha256:" + sha,
                    "the file differs from what was pinned with --hash; nothing was kept");
}

std::string Fetcher::awaited_sha(const net::UrlLock& lock, const net::IndexFile& file) const {
  auto note = lock.note();
  if (!note) return "";
  std::string sha(trim(*note));
  if (!is_sha256(sha) || (!file.sha256.empty() && sha != file.sha256)) return "";
  return ctx_.store->has_blob(sha, false) ? sha : "";
}

std::string Fetcher::cached_sha(const net::IndexFile& file) {
  {
    std::lock_guard lock(mutex_);
    auto it = memo_.find(file.url);
    if (it != memo_.end()) return it->second;
  }
  if (!file.sha256.empty() && ctx_.store->has_blob(file.sha256, false)) return file.sha256;
  auto v = ctx_.store->get("dl/" + file.url);
  if (!v.ok() || !v->has_value()) return "";
  auto lines = split(**v, '\n');
  if (lines.size() < 3 || !ctx_.store->has_blob(lines[0], false)) return "";
  if (!file.sha256.empty() && lines[0] != file.sha256) return "";
  std::string local = local_path_of(file.url);
  if (!local.empty() && stat_line(local) != lines[1] + "\n" + lines[2]) return "";
  return lines[0];
}

Result<std::string> Fetcher::fetch(const net::IndexFile& file, bool& ran) {
  ran = false;
  std::mutex* url_lock;
  {
    std::lock_guard lock(mutex_);
    auto it = memo_.find(file.url);
    if (it != memo_.end()) return it->second;
    auto& slot = url_locks_[file.url];
    if (!slot) slot = std::make_unique<std::mutex>();
    url_lock = slot.get();
  }
  std::lock_guard once(*url_lock);
  {
    std::lock_guard lock(mutex_);
    auto it = memo_.find(file.url);
    if (it != memo_.end()) return it->second;
  }
  std::string sha = cached_sha(file);
  if (sha.empty()) {
    LB_ASSIGN(sha, fetch_uncached(file));
    ran = true;
  }
  std::lock_guard lock(mutex_);
  memo_[file.url] = sha;
  return sha;
}

Result<std::string> Fetcher::store_pinned(const net::IndexFile& file, const std::string& tmp,
                                          const std::string& sha256) {
  Status pinned = sha256.empty() ? Status{} : check_pins(file, tmp, sha256);
  if (!pinned.ok()) {
    (void)fs::remove_all(tmp);
    return pinned.error();
  }
  auto put = ctx_.store->put_blob_file(tmp, false);
  (void)fs::remove_all(tmp);
  return put;
}

Result<std::string> Fetcher::fetch_uncached(const net::IndexFile& file) {
  std::string tmp = fs::temp_sibling(fs::join_path(ctx_.store->tmp_dir(), "fetch"));
  std::string local = local_path_of(file.url);
  std::string sha;
  if (!local.empty()) {
    if (!fs::exists(local))
      return make_error("cannot read " + local + ": no such file",
                        "check the path in the requirements or --find-links");
    LB_TRY(fs::copy_file(local, tmp));
    if (!file.sha256.empty() || !pins_.empty()) {  // nothing enters the store unverified
      auto got = sha256_file_hex(tmp);
      if (!got.ok() || (!file.sha256.empty() && *got != file.sha256)) {
        (void)fs::remove_all(tmp);
        if (!got.ok()) return got.error();
        return make_error("hash mismatch for " + local + ":\n  expected sha256 " + file.sha256 +
                              "\n  got      sha256 " + *got,
                          "the file changed since the index or lock was written; nothing was "
                          "kept");
      }
      LB_ASSIGN(sha, store_pinned(file, tmp, *got));
    } else {
      LB_ASSIGN(sha, store_pinned(file, tmp, ""));
    }
  } else {
    if (ctx_.opt.offline)
      return make_error(file.url + " is not in the cache and --offline was given",
                        "run once without --offline to fill the cache");
    // One process downloads a URL at a time; the others wait and take its blob.
    net::UrlLock lock = net::UrlLock::lock(lock_dir(), file.url);
    if (std::string done = awaited_sha(lock, file); !done.empty()) {
      ctx_.defer_put("dl/" + file.url, done + "\n0\n0");
      return done;
    }
    // An interrupted download of this URL resumes, and this one keeps its bytes if it is cut.
    uint64_t id = ctx_.out->download_started(file.filename, file.size.value_or(0));
    net::DownloadOptions options = download_options(file);
    options.progress = progress_of(id);
    auto resp = net::download_file(*ctx_.http, file.url, tmp, options);
    ctx_.out->download_finished(id, resp.ok() ? resp->bytes : 0, resp.ok());
    if (!resp.ok()) {
      (void)fs::remove_all(tmp);
      return resp.error();
    }
    downloaded_bytes_ += resp->bytes - resp->resumed_from;
    ++downloaded_files_;
    LB_ASSIGN(sha, store_pinned(file, tmp, resp->sha256));
    lock.set_note(sha + "\n");
  }
  std::string record = sha + "\n" + (local.empty() ? "0\n0" : stat_line(local));
  ctx_.defer_put("dl/" + file.url, record);
  return sha;
}

void Fetcher::prefetch(const std::vector<net::IndexFile>& files) {
  std::vector<net::Request> requests;
  std::vector<const net::IndexFile*> wanted;
  std::vector<net::UrlLock> locks;
  std::vector<net::DownloadOptions> options;
  std::vector<uint64_t> ids;  // Output's download ids
  for (const auto& f : files) {
    if (!local_path_of(f.url).empty() || ctx_.opt.offline) continue;
    // A file another process is downloading is left to the fetch step, which waits for it.
    net::UrlLock lock = net::UrlLock::try_lock(lock_dir(), f.url);
    if (!lock.held()) continue;
    if (std::string done = awaited_sha(lock, f); !done.empty()) {
      ctx_.defer_put("dl/" + f.url, done + "\n0\n0");
      std::lock_guard guard(mutex_);
      memo_[f.url] = done;
      continue;
    }
    options.push_back(download_options(f));
    requests.push_back(net::download_request(
        f.url, fs::temp_sibling(fs::join_path(ctx_.store->tmp_dir(), "prefetch")), options.back()));
    ids.push_back(0);
    wanted.push_back(&f);
    locks.push_back(std::move(lock));
  }
  if (requests.size() < 2) return;  // one file gains nothing from batching
  for (size_t i = 0; i < requests.size(); ++i) {
    ids[i] = ctx_.out->download_started(wanted[i]->filename, wanted[i]->size.value_or(0));
    requests[i].progress = progress_of(ids[i]);
  }
  auto responses = ctx_.http->fetch_all(requests);
  for (size_t i = 0; i < responses.size(); ++i) {
    const auto& r = responses[i];
    const std::string& tmp = requests[i].dest_path;
    // A file failing its hash or its --hash pins is left to the fetch step, which reports it.
    bool good = net::finish_download(requests[i], r, options[i]) &&
                (wanted[i]->sha256.empty() || r->sha256 == wanted[i]->sha256) &&
                check_pins(*wanted[i], tmp, r->sha256).ok();
    ctx_.out->download_finished(ids[i], good ? r->bytes : 0, good);
    if (good) {
      auto sha = ctx_.store->put_blob_file(tmp, false);
      if (sha.ok()) {
        downloaded_bytes_ += r->bytes - r->resumed_from;
        ++downloaded_files_;
        locks[i].set_note(*sha + "\n");
        ctx_.defer_put("dl/" + wanted[i]->url, *sha + "\n0\n0");
        std::lock_guard lock(mutex_);
        memo_[wanted[i]->url] = *sha;
      }
    }
    (void)fs::remove_all(tmp);
  }
}

Result<std::string> Fetcher::metadata(const net::IndexFile& file, bool& fetched_wheel) {
  fetched_wheel = false;
  std::string sha = file.sha256.empty() ? cached_sha(file) : file.sha256;
  if (!sha.empty()) {
    auto v = ctx_.store->get("meta/" + sha);
    if (v.ok() && v->has_value()) return **v;
  }
  if (file.has_metadata && local_path_of(file.url).empty() && !ctx_.opt.offline) {
    net::Request req;
    req.url = file.url + ".metadata";
    req.limit_bytes = ctx_.limits.max_page_bytes;
    req.limit_hint =
        "core metadata this large is not expected: check the index, or set "
        "LAVABUILD_MAX_PAGE_SIZE higher";
    auto resp = ctx_.http->fetch(req);
    if (resp.ok() && resp->status == 200) {
      if (!file.metadata_sha256.empty() && resp->sha256 != file.metadata_sha256 &&
          sha256_hex(resp->body) != file.metadata_sha256)
        return make_error("hash mismatch for " + req.url + ": expected sha256:" +
                          file.metadata_sha256 + ", got sha256:" + sha256_hex(resp->body));
      if (!sha.empty()) ctx_.defer_put("meta/" + sha, resp->body);
      return resp->body;
    }
  }
  std::string url_key = "metaurl/" + file.url;
  if (sha.empty()) {
    auto v = ctx_.store->get(url_key);
    if (v.ok() && v->has_value()) return **v;
  }
  if (local_path_of(file.url).empty() && !ctx_.opt.offline) {
    // No PEP 658 file: read METADATA out of the remote zip with range requests.
    uint64_t transferred = 0;
    auto text = net::fetch_remote_wheel_metadata(*ctx_.http, file.url, file.filename, &transferred);
    downloaded_bytes_ += transferred;
    if (text.ok()) {
      ctx_.defer_put(sha.empty() ? url_key : "meta/" + sha, *text);
      return text;
    }
  }
  LB_ASSIGN(sha, fetch(file, fetched_wheel));
  auto text = wheel::read_wheel_metadata(ctx_.store->blob_path(sha, false));
  if (!text.ok()) return text.error().context(file.filename);
  ctx_.defer_put("meta/" + sha, *text);
  return text;
}

}  // namespace lb::engine
