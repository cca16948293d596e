#include "remote/cache.hpp"

#include <mutex>

#include "util/strings.hpp"

namespace lb::remote {

std::string strip_credentials(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t host = scheme + 3;
  size_t end = url.find_first_of("/?#", host);
  if (end == std::string::npos) end = url.size();
  size_t at = url.rfind('@', end);
  if (at == std::string::npos || at < host) return url;
  return url.substr(0, host) + url.substr(at + 1);
}

namespace {

class LazyRemote final : public RemoteCache {
 public:
  explicit LazyRemote(RemoteOptions opt) : opt_(std::move(opt)) {}
  std::string name() const override { return strip_credentials(opt_.url); }
  Result<std::optional<ActionEntry>> get_action(const std::string& action) override {
    LB_ASSIGN(RemoteCache * r, open());
    return r->get_action(action);
  }
  Status put_action(const std::string& action, const ActionEntry& entry) override {
    LB_ASSIGN(RemoteCache * r, open());
    return r->put_action(action, entry);
  }
  Result<std::vector<Digest>> find_missing(const std::vector<Digest>& digests) override {
    LB_ASSIGN(RemoteCache * r, open());
    return r->find_missing(digests);
  }
  Result<std::vector<std::optional<std::string>>> read_blobs(
      const std::vector<Digest>& digests) override {
    LB_ASSIGN(RemoteCache * r, open());
    return r->read_blobs(digests);
  }
  Status write_blobs(const std::vector<std::pair<Digest, std::string>>& blobs) override {
    LB_ASSIGN(RemoteCache * r, open());
    return r->write_blobs(blobs);
  }

 private:
  Result<RemoteCache*> open() {
    std::lock_guard<std::mutex> g(mu_);
    if (!tried_) {
      tried_ = true;
      auto r = open_remote_cache(opt_);
      if (r.ok())
        cache_ = std::move(*r);
      else
        error_ = r.error();
    }
    if (cache_) return cache_.get();
    return *error_;
  }
  RemoteOptions opt_;
  std::mutex mu_;
  bool tried_ = false;
  std::unique_ptr<RemoteCache> cache_;
  std::optional<Error> error_;
};

}  // namespace

std::unique_ptr<RemoteCache> lazy_remote_cache(const RemoteOptions& opt) {
  return std::make_unique<LazyRemote>(opt);
}

Result<std::unique_ptr<RemoteCache>> open_remote_cache(const RemoteOptions& opt) {
  if (starts_with(opt.url, "http://") || starts_with(opt.url, "https://"))
    return open_http_cache(opt);
  if (starts_with(opt.url, "grpc://") || starts_with(opt.url, "grpcs://"))
    return open_grpc_cache(opt);
  return make_error("--remote-cache " + strip_credentials(opt.url) +
                        ": not an http://, https://, grpc:// or grpcs:// URL",
                    "give the base URL of a Bazel HTTP cache or the address of a REAPI server");
}

}  // namespace lb::remote
