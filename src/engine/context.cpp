#include "engine/context.hpp"

#include <algorithm>

#include "engine/remote.hpp"
#include "net/url.hpp"
#include "pep/tags.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::engine {

namespace {

/// net::PageCache over the store's index ("page/<url>" keys).
class StorePageCache : public net::PageCache {
 public:
  StorePageCache(store::Store& s, Context& ctx) : store_(s), ctx_(ctx) {}
  std::optional<net::CachedPage> get(const std::string& url) override {
    auto v = store_.get("page/" + url);
    if (v.ok() && v->has_value()) return net::parse_cached_page(**v);
    if (!ctx_.opt.offline) return std::nullopt;
    // Offline with an index URL never seen: any cached page of the same project will do
    // (files are still checked against their hashes; the store holds them by content).
    std::string tail = url.substr(url.find_last_of('/', url.size() >= 2 ? url.size() - 2 : 0));
    std::optional<net::CachedPage> found;
    (void)store_.scan("page/", [&](std::string_view key, std::string_view value) {
      if (ends_with(key, tail) || ends_with(key, tail.substr(0, tail.size() - 1))) {
        found = net::parse_cached_page(value);
        if (found) return false;
      }
      return true;
    });
    return found;
  }
  void put(const std::string& url, const net::CachedPage& page) override {
    ctx_.defer_put("page/" + url, net::serialize_cached_page(page));
  }

 private:
  store::Store& store_;
  Context& ctx_;
};

}  // namespace

Status Context::init(const Options& options, Output& output) {
  store::StoreOptions so;
  so.warn = [&output](const std::string& w) { output.warn(w); };
  auto s = store::Store::open(options.cache_dir, so);
  if (!s.ok()) return s.error();  // (its messages name the cache)
  LB_ASSIGN(std::string py, interp::find_interpreter(options.python));
  LB_ASSIGN(auto probed, interp::probe(py, options.cache_dir));
  init_with(options, output, std::move(*s), std::move(probed));
  return attach_remote(*this);
}

void Context::init_with(const Options& options, Output& output, std::shared_ptr<store::Store> s,
                        interp::Interpreter interpreter) {
  opt = options;
  out = &output;
  store = std::move(s);
  python = std::move(interpreter);
  tag_rank.clear();
  for (size_t i = 0; i < python.tags.size(); ++i) tag_rank.emplace(python.tags[i].to_string(), i);
}

Status Context::init_index() {
  net::IndexConfig cfg;
  // Command-line options (and LAVABUILD_INDEX_URL) win over requirement-file options, which
  // win over Options::default_index_url (a config file's index-url, else PIP_INDEX_URL), which
  // wins over the default.
  std::string main_index = "https://pypi.org/simple";
  if (opt.default_index_url) main_index = *opt.default_index_url;
  if (reqs.options.index_url) main_index = *reqs.options.index_url;
  if (opt.index_url) main_index = *opt.index_url;
  cfg.index_urls.push_back(main_index);
  for (const auto& u : reqs.options.extra_index_urls) cfg.index_urls.push_back(u);
  for (const auto& u : opt.extra_index_urls) cfg.index_urls.push_back(u);
  cfg.find_links = reqs.options.find_links;
  for (const auto& f : opt.find_links)
    cfg.find_links.push_back(f.find("://") == std::string::npos ? fs::absolute(f) : f);
  cfg.no_index = opt.no_index || reqs.options.no_index;
  cfg.offline = opt.offline;
  LB_ASSIGN(limits, net::Limits::from_env());
  if (opt.timeout > 0) limits.timeout_s = opt.timeout;
  cfg.max_page_bytes = limits.max_page_bytes;
  cfg.max_page_files = size_t(limits.max_page_files);
  cfg.lock_dir = fs::join_path(store->dir(), "locks");
  std::vector<std::string> where = cfg.find_links;
  if (!cfg.no_index) where.insert(where.begin(), cfg.index_urls.begin(), cfg.index_urls.end());
  sources = where.empty() ? "nowhere (--no-index without -f)" : net::redact_url(where.front());
  if (where.size() > 1) sources += " and " + std::to_string(where.size() - 1) + " more";
  http = net::make_http_client(limits.client_options());
  page_cache = std::make_unique<StorePageCache>(*store, *this);
  index = std::make_unique<net::IndexClient>(*http, page_cache.get(), cfg);
  return {};
}

void Context::begin_reads() {
  auto s = store->read_session();
  if (s.ok()) reads_.emplace(std::move(*s));  // without it, each lookup opens the index itself
}

void Context::defer_put(std::string key, std::string value) {
  std::lock_guard lock(puts_mutex_);
  puts_.emplace_back(std::move(key), std::move(value));
}

void Context::flush_or_warn() {
  if (auto st = flush_puts(); !st.ok())
    out->warn("could not update the cache index (" + st.error().message +
              "); the next run will redo some work");
}

Status Context::flush_puts() {
  std::vector<std::pair<std::string, std::string>> batch;
  {
    std::lock_guard lock(puts_mutex_);
    batch.swap(puts_);
  }
  if (batch.empty()) return {};
  reads_.reset();
  return store->put_many(std::move(batch));
}

namespace {
/// pip's FormatControl: whether `list` (and `other`, the opposite option) names `name`
/// specifically, or :all: without `other` naming it.
bool format_excludes(const std::string& name, const std::vector<std::string>& a,
                     const std::vector<std::string>& b, const std::vector<std::string>& other_a,
                     const std::vector<std::string>& other_b) {
  auto has = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  if (has(a, name) || has(b, name)) return true;
  if (has(other_a, name) || has(other_b, name)) return false;
  return has(a, ":all:") || has(b, ":all:");
}
}  // namespace

bool Context::source_allowed(const std::string& name) const {
  if (opt.no_build) return false;
  return !format_excludes(name, opt.only_binary, reqs.options.only_binary, opt.no_binary,
                          reqs.options.no_binary);
}

bool Context::binary_allowed(const std::string& name) const {
  return !format_excludes(name, opt.no_binary, reqs.options.no_binary, opt.only_binary,
                          reqs.options.only_binary);
}

std::optional<size_t> Context::wheel_rank(const std::string& filename) const {
  auto wf = pep::WheelFilename::parse(filename);
  if (!wf.ok()) return std::nullopt;
  return tags_rank(wf->tags);
}

std::optional<size_t> Context::tags_rank(const std::vector<pep::Tag>& tags) const {
  std::optional<size_t> best;
  for (const auto& t : tags) {
    auto it = tag_rank.find(t.to_string());
    if (it != tag_rank.end() && (!best || it->second < *best)) best = it->second;
  }
  return best;
}

}  // namespace lb::engine
