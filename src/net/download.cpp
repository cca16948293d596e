// Verified downloads: temp file, hash check, rename.
#include <cstdio>

#include "net/index.hpp"
#include "net/url.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::net {

Result<Response> download_file(HttpClient& http, const std::string& url,
                               const std::string& dest_path, const std::string& expected_sha256,
                               std::optional<uint64_t> max_bytes, const std::string& limit_hint,
                               const Progress& progress) {
  std::string shown = redact_url(url);
  std::string tmp = fs::temp_sibling(dest_path);
  Request req;
  req.url = url;
  req.dest_path = tmp;
  req.limit_bytes = max_bytes;
  req.limit_hint = limit_hint;
  req.progress = progress;
  LB_ASSIGN(Response r, http.fetch(req));
  if (r.status < 200 || r.status >= 300) {
    std::remove(tmp.c_str());
    return make_error("cannot download " + shown + ": HTTP " + std::to_string(r.status),
                      r.status == 404
                          ? "the file is gone from the index; re-resolve or check the URL"
                      : r.status >= 500 ? "the server is failing; try again later"
                                        : "check the URL and credentials");
  }
  std::string expected = to_lower(trim(expected_sha256));
  if (!expected.empty() && r.sha256 != expected) {
    std::remove(tmp.c_str());
    return make_error("hash mismatch for " + shown + ":\n  expected sha256 " + expected +
                          "\n  got      sha256 " + r.sha256,
                      "the file on the server changed or the pinned hash is wrong; nothing "
                      "was kept");
  }
  LB_TRY(fs::rename_path(tmp, dest_path));
  return r;
}

}  // namespace lb::net
