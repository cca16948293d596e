#include "remote/cache.hpp"

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
