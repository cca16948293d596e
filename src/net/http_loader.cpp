// make_http_client: libcurl and the ~15 libraries it needs (TLS, HTTP/2, IDN, Kerberos...)
// live in a module loaded on first use, so the runs that never touch the network (the no-op
// re-run, verify, cache) do not pay ~4 ms of dynamic linking for them on every start.
//
// The module, liblavabuild-curl.so, holds src/net/http_curl.cpp alone; it is looked for beside
// the running executable, then in $LAVABUILD_LIBDIR. Its other symbols (util, net) resolve
// against the executable, which exports them (CMake ENABLE_EXPORTS), so there is one copy of
// every global (the cancellation flag among them).

#include <cstdlib>
#include <mutex>

#include "net/http.hpp"
#include "net/url.hpp"
#include "util/cancel.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/module.hpp"
#include "util/strings.hpp"

namespace lb::net {

namespace {

using Factory = HttpClient* (*)(const ClientOptions*);

/// Every fetch fails with why the module could not be loaded.
class MissingClient final : public HttpClient {
 public:
  explicit MissingClient(std::string why) : why_(std::move(why)) {}
  Result<Response> fetch(const Request&) override { return error(); }
  std::vector<Result<Response>> fetch_all(const std::vector<Request>& requests) override {
    return std::vector<Result<Response>>(requests.size(), error());
  }

 private:
  Error error() const {
    return make_error("cannot load lavabuild's HTTP module: " + why_,
                      "reinstall lavabuild: liblavabuild-curl.so belongs beside the lavabuild "
                      "executable (or in $LAVABUILD_LIBDIR)");
  }
  std::string why_;
};

Factory load(std::string& why) {
  return reinterpret_cast<Factory>(
      module::load_symbol("liblavabuild-curl.so", "lavabuild_make_curl_client", why));
}

}  // namespace

/// What the module calls in the executable, referenced here so that every executable linking
/// lb_net has it (a static library's object is linked only when something names it). A symbol
/// missing here fails the load with dlerror's text ("undefined symbol: ..."), which the net
/// unit tests show.
[[gnu::used]] const void* const kModuleNeeds[] = {
    reinterpret_cast<const void*>(&cancel::cancelled),
    reinterpret_cast<const void*>(&fs::temp_sibling),
    reinterpret_cast<const void*>(&fs::rename_path),
    reinterpret_cast<const void*>(&redact_url),
    reinterpret_cast<const void*>(&UrlParts::parse),
    reinterpret_cast<const void*>(&sha256_hex),
};

namespace {

/// Loads the module (once per process) and makes the curl client on the first transfer: runs
/// that only read local files (find-links directories, a warm store) never load libcurl.
class LazyClient final : public HttpClient {
 public:
  explicit LazyClient(const ClientOptions& options) : options_(options) {}
  Result<Response> fetch(const Request& r) override { return real().fetch(r); }
  std::vector<Result<Response>> fetch_all(const std::vector<Request>& rs) override {
    if (rs.empty()) return {};  // nothing to transfer: no reason to load libcurl
    return real().fetch_all(rs);
  }

 private:
  HttpClient& real() {
    std::call_once(made_, [this] {
      static std::once_flag once;
      static Factory factory = nullptr;
      static std::string why;
      std::call_once(once, [] { factory = load(why); });
      if (factory)
        client_.reset(factory(&options_));
      else
        client_ = std::make_unique<MissingClient>(why);
    });
    return *client_;
  }
  ClientOptions options_;
  std::once_flag made_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace

std::unique_ptr<HttpClient> make_http_client(const ClientOptions& options) {
  (void)kModuleNeeds;
  return std::make_unique<LazyClient>(options);
}

}  // namespace lb::net
