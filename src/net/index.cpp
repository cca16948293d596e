// IndexClient: project pages from indexes (with revalidated caching) plus find-links.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "net/index.hpp"
#include "net/url.hpp"
#include "net/url_lock.hpp"
#include "pep/name.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::net {
namespace {

// The note a page fetch leaves for the next holder of its URL lock (url_lock.hpp).
constexpr std::string_view kPageNote = "lavabuild-page-note 1\n";

constexpr const char* kAccept =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01";

Result<std::vector<IndexFile>> parse_page(std::string_view body, const std::string& content_type,
                                          const std::string& url, size_t max_files) {
  std::string type = to_lower(trim(content_type.substr(0, content_type.find(';'))));
  bool json =
      type.find("json") != std::string::npos || (type.empty() && starts_with(trim(body), "{"));
  return json ? parse_simple_json(body, url, max_files) : parse_simple_html(body, url, max_files);
}

// When this process started using indexes: a page another process fetched since then is as
// fresh as one this process would fetch now.
const int64_t kStartNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();

bool is_http(const std::string& url) {
  std::string scheme = to_lower(UrlParts::parse(url).scheme);
  return scheme == "http" || scheme == "https";
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One page to get: the request plus what the cache knew.
struct PageJob {
  std::string url;
  std::optional<CachedPage> cached;
  std::optional<Result<std::vector<IndexFile>>> done;  // answered without a request
};

}  // namespace

std::vector<IndexFile> drop_local_links(std::vector<IndexFile> files, const std::string& page_url,
                                        size_t& dropped) {
  dropped = 0;
  if (!is_http(page_url)) return files;
  std::vector<IndexFile> kept;
  kept.reserve(files.size());
  for (IndexFile& f : files) {
    if (is_http(f.url)) {
      kept.push_back(std::move(f));
    } else {
      ++dropped;
    }
  }
  return kept;
}

struct IndexClient::Impl {
  HttpClient& http;
  PageCache* cache;
  IndexConfig cfg;
  std::mutex mu;
  std::map<std::string, std::vector<IndexFile>> memo;  // by normalised name
  std::map<std::string, Error> failed;  // by normalised name: not asked again in this run
  std::mutex find_links_mu;
  std::optional<Result<std::vector<IndexFile>>> find_links;

  std::string page_url(const std::string& index, const std::string& name) const {
    std::string base = index;
    while (ends_with(base, "/")) base.pop_back();
    return base + "/" + name + "/";
  }

  // Decide how to get `url`; `missing` names the thing for the --offline error.
  PageJob plan(const std::string& url, const std::string& missing) {
    PageJob job{url, cache ? cache->get(url) : std::nullopt, std::nullopt};
    bool local = starts_with(url, "file:");
    if (cfg.offline && !local) {
      if (job.cached) {
        job.done = parse_remote(job.cached->body, job.cached->content_type,
                                job.cached->url.empty() ? url : job.cached->url);
      } else {
        job.done = make_error(
            missing + " is not in the cache and --offline was given (" + redact_url(url) + ")",
            "run once without --offline to fill the cache");
      }
    }
    return job;
  }

  Request request(const PageJob& job) const {
    Request req(job.url, {{"Accept", kAccept}});
    req.limit_bytes = cfg.max_page_bytes;
    req.limit_hint =
        "an index page this large is not expected: check the URL, or set "
        "LAVABUILD_MAX_PAGE_SIZE (now " +
        std::to_string(cfg.max_page_bytes) + " bytes) higher, e.g. 256M";
    if (auto path = file_url_to_path(job.url); path && fs::is_dir(*path))
      req.url = path_to_file_url(fs::join_path(*path, "index.html"));
    if (job.cached && !job.cached->etag.empty())
      req.headers.emplace_back("If-None-Match", job.cached->etag);
    if (job.cached && !job.cached->last_modified.empty())
      req.headers.emplace_back("If-Modified-Since", job.cached->last_modified);
    return req;
  }

  // Parse a page; links to local files from a page served over HTTP(S) are dropped, with a
  // warning: a remote index must not make lavabuild read local files.
  Result<std::vector<IndexFile>> parse_remote(std::string_view body,
                                              const std::string& content_type,
                                              const std::string& url) const {
    LB_ASSIGN(std::vector<IndexFile> files,
              parse_page(body, content_type, url, cfg.max_page_files));
    size_t dropped = 0;
    files = drop_local_links(std::move(files), url, dropped);
    if (dropped)
      std::fprintf(stderr,
                   "lavabuild: warning: ignored %zu link%s to local files (file: URLs) on %s: a "
                   "page served over HTTP(S) may only link to http(s) URLs\n",
                   dropped, dropped == 1 ? "" : "s", redact_url(url).c_str());
    return files;
  }

  // A page another process fetched while this one ran (see url_lock.hpp): its note names the
  // body's sha256, and the page is taken from the cache when the cache holds that body. The
  // fetching process writes its cache entries when its run ends, so the page may not be there
  // yet: then nullopt, and this process fetches the page itself.
  std::optional<Result<std::vector<IndexFile>>> from_note(PageJob& job, const UrlLock& lock) {
    auto text = lock.note(kStartNs);
    if (!text || !cache || !starts_with(*text, kPageNote)) return std::nullopt;
    std::string sha(trim(std::string_view(*text).substr(kPageNote.size())));
    auto page = cache->get(job.url);
    if (!page || sha.size() != 64 || sha256_hex(page->body) != sha) return std::nullopt;
    job.cached = std::move(page);
    return parse_remote(job.cached->body, job.cached->content_type,
                        job.cached->url.empty() ? job.url : job.cached->url);
  }

  // What the next holder of the URL's lock needs: which body this process got (the body itself
  // is in the cache, under page/<url>).
  static void note_page(const UrlLock* lock, const CachedPage& page) {
    if (lock) lock->set_note(std::string(kPageNote) + sha256_hex(page.body) + "\n");
  }

  Result<std::vector<IndexFile>> answer(PageJob& job, Result<Response> got,
                                        const UrlLock* lock = nullptr) {
    std::string shown = redact_url(job.url);
    if (!got.ok())
      return make_error(
          got.error().message,
          !got.error().hint.empty() && !starts_with(got.error().message, "cannot reach")
              ? got.error().hint
              : "check that the index server is up, or use --offline to work "
                "from the cache");
    Response& r = *got;
    if (r.status == 304 && job.cached) {
      job.cached->fetched_unix = unix_now();
      if (cache) cache->put(job.url, *job.cached);
      note_page(lock, *job.cached);
      return parse_remote(job.cached->body, job.cached->content_type,
                          job.cached->url.empty() ? job.url : job.cached->url);
    }
    if (r.status == 404 || r.status == 410) return std::vector<IndexFile>{};
    if (r.status < 200 || r.status >= 300) {
      std::string hint =
          r.status == 401 || r.status == 403
              ? "the index needs credentials: put them in the URL (https://user:pass@host/...) "
                "or in ~/.netrc"
          : r.status >= 500 ? "the index server is failing: check the server, or use --offline"
                            : "check the index URL";
      return make_error("cannot fetch index page " + shown + ": HTTP " + std::to_string(r.status),
                        hint);
    }
    auto header = [&r](const char* name) {
      auto it = r.headers.find(name);
      return it == r.headers.end() ? std::string() : it->second;
    };
    // Relative links resolve against the page after redirects (file:// keeps the dir URL).
    std::string base = starts_with(job.url, "file:") ? job.url : r.effective_url;
    CachedPage page{std::move(r.body), header("content-type"),
                    header("etag"),    header("last-modified"),
                    unix_now(),        base};
    // Parsed before it is cached: a page refused by a limit is not kept.
    auto files = parse_remote(page.body, page.content_type, base);
    if (files.ok() && !starts_with(job.url, "file:")) {
      if (cache) cache->put(job.url, page);
      note_page(lock, page);
    }
    return files;
  }

  // Fetch the jobs that need the network in parallel and answer every job.
  // Each remote page is fetched under its URL lock (url_lock.hpp): a page another process is
  // fetching is awaited and then taken from what it recorded, not fetched again.
  std::vector<Result<std::vector<IndexFile>>> run(std::vector<PageJob>& jobs) {
    std::vector<Request> reqs;
    std::vector<size_t> which, contended;
    std::vector<UrlLock> locks;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].done) continue;
      bool remote = !starts_with(jobs[i].url, "file:");
      UrlLock lock = UrlLock::try_lock(remote ? cfg.lock_dir : "", jobs[i].url);
      if (!lock.held()) {
        contended.push_back(i);
        continue;
      }
      if (auto done = from_note(jobs[i], lock)) {
        jobs[i].done = std::move(*done);
        continue;
      }
      reqs.push_back(request(jobs[i]));
      which.push_back(i);
      locks.push_back(std::move(lock));
    }
    std::vector<Result<Response>> got = http.fetch_all(reqs);
    for (size_t k = 0; k < which.size(); ++k)
      jobs[which[k]].done = answer(jobs[which[k]], std::move(got[k]), &locks[k]);
    locks.clear();
    for (size_t i : contended) {  // one at a time: no process waits while holding a lock
      UrlLock lock = UrlLock::lock(cfg.lock_dir, jobs[i].url);
      if (auto done = from_note(jobs[i], lock)) {
        jobs[i].done = std::move(*done);
        continue;
      }
      jobs[i].done = answer(jobs[i], http.fetch(request(jobs[i])), &lock);
    }
    std::vector<Result<std::vector<IndexFile>>> out;
    for (PageJob& job : jobs) out.push_back(std::move(*job.done));
    return out;
  }

  Result<std::vector<IndexFile>> load_find_links_location(const std::string& loc) {
    std::optional<std::string> path = is_url(loc) ? file_url_to_path(loc) : loc;
    if (path) {
      fs::FileInfo info = fs::stat_path(*path);
      if (info.is_dir) return list_find_links_dir(*path);
      if (!info.exists)
        return make_error("find-links location " + loc + " does not exist",
                          "check the -f/--find-links path");
      LB_ASSIGN(std::string html, fs::read_file(*path));
      return parse_simple_html(html, path_to_file_url(*path), cfg.max_page_files);
    }
    std::vector<PageJob> jobs{plan(loc, "find-links page " + redact_url(loc))};
    return std::move(run(jobs)[0]);
  }

  Result<std::vector<IndexFile>> all_find_links() {
    std::lock_guard lock(find_links_mu);
    if (!find_links) {
      std::vector<IndexFile> all;
      find_links = std::vector<IndexFile>{};
      for (const std::string& loc : cfg.find_links) {
        auto files = load_find_links_location(loc);
        if (!files.ok()) {
          find_links = files.error();
          break;
        }
        for (IndexFile& f : *files) {
          f.origin = loc;
          all.push_back(std::move(f));
        }
      }
      if (find_links->ok()) find_links = std::move(all);
    }
    return *find_links;
  }

  // Load every name's files (all pages in parallel), memoising the successes (in `out`
  // instead of the memo when given).
  Status load(const std::vector<std::string>& names,
              std::map<std::string, std::vector<IndexFile>>* out = nullptr) {
    std::vector<std::string> pending;
    {
      std::lock_guard lock(mu);
      for (const std::string& name : names)
        if (!memo.count(name) && !failed.count(name) &&
            std::find(pending.begin(), pending.end(), name) == pending.end())
          pending.push_back(name);
    }
    std::vector<PageJob> jobs;
    std::vector<std::pair<std::string, std::string>> owner;  // (name, index) per job
    for (const std::string& name : pending) {
      for (const std::string& index : cfg.no_index ? std::vector<std::string>{} : cfg.index_urls) {
        jobs.push_back(plan(page_url(index, name), name));
        owner.emplace_back(name, index);
      }
    }
    auto results = run(jobs);
    LB_ASSIGN(std::vector<IndexFile> links, all_find_links());
    std::map<std::string, std::vector<IndexFile>> found;
    for (const std::string& name : pending) found[name];
    std::optional<Error> first_error;
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& [name, index] = owner[i];
      if (!results[i].ok()) {
        if (!first_error) first_error = results[i].error();
        found.erase(name);
        std::lock_guard lock(mu);
        failed.emplace(name, results[i].error());
        continue;
      }
      if (!found.count(name)) continue;
      for (IndexFile& f : *results[i]) {
        f.origin = index;
        found[name].push_back(std::move(f));
      }
    }
    std::lock_guard lock(mu);
    for (auto& [name, files] : found) {
      for (const IndexFile& f : links)
        if (filename_matches_project(f.filename, name)) files.push_back(f);
      (out ? *out : memo).emplace(name, std::move(files));
    }
    if (first_error) return *first_error;
    return {};
  }
};

IndexClient::IndexClient(HttpClient& http, PageCache* cache, IndexConfig cfg)
    : impl_(new Impl{http, cache, std::move(cfg), {}, {}, {}, {}, {}}) {}
IndexClient::~IndexClient() = default;

Result<std::vector<IndexFile>> IndexClient::project_files(const std::string& name) {
  std::string n = pep::normalize_name(name);
  // The files are handed over, not copied: a page of 100,000 long links is held once.
  while (true) {
    {
      std::lock_guard lock(impl_->mu);
      if (auto it = impl_->memo.find(n); it != impl_->memo.end()) {
        std::vector<IndexFile> files = std::move(it->second);
        impl_->memo.erase(it);
        return files;
      }
      if (auto it = impl_->failed.find(n); it != impl_->failed.end()) return it->second;
    }
    std::map<std::string, std::vector<IndexFile>> loaded;
    LB_TRY(impl_->load({n}, &loaded));
    if (auto it = loaded.find(n); it != loaded.end()) return std::move(it->second);
    // Not loaded: another thread's prefetch had it in the memo (take it from there), or
    // took it meanwhile (then this thread loads it again).
  }
}

std::vector<std::string> IndexClient::locations(const std::string& name) const {
  std::vector<std::string> out;
  if (!impl_->cfg.no_index)
    for (const std::string& index : impl_->cfg.index_urls)
      out.push_back(redact_url(impl_->page_url(index, pep::normalize_name(name))));
  for (const std::string& loc : impl_->cfg.find_links) out.push_back(redact_url(loc));
  return out;
}

Status IndexClient::prefetch(const std::vector<std::string>& names) {
  std::vector<std::string> normalized;
  for (const std::string& name : names) normalized.push_back(pep::normalize_name(name));
  return impl_->load(normalized);
}

}  // namespace lb::net
