// URL helpers: RFC 3986 reference resolution, fragments, file:// URLs, redaction.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lb::net {

/// The parts of a URI reference (RFC 3986 appendix B); `has_*` tells empty from absent.
struct UrlParts {
  std::string scheme, authority, path, query, fragment;
  bool has_scheme = false, has_authority = false, has_query = false, has_fragment = false;
  static UrlParts parse(std::string_view ref);
  std::string to_string() const;
};

/// Resolve `ref` against the absolute URL `base` (RFC 3986 section 5.2, strict).
std::string resolve_url(std::string_view base, std::string_view ref);
/// Remove dot segments from a path (RFC 3986 section 5.2.4).
std::string remove_dot_segments(std::string_view path);
/// The URL without its "#fragment".
std::string strip_fragment(std::string_view url);
/// The fragment (after '#'), empty if none.
std::string url_fragment(std::string_view url);
/// True for "scheme://..." strings (http, https, file, ...).
bool is_url(std::string_view s);
/// The percent-decoded last path segment, e.g. "pkg-1.0.tar.gz".
std::string url_filename(std::string_view url);
/// The URL with any password replaced by "****", for messages.
std::string redact_url(std::string_view url);
/// "file:///abs/path" with unsafe bytes percent-encoded (path made absolute first).
std::string path_to_file_url(const std::string& path);
/// The local path of a file:// URL (percent-decoded), nullopt for other schemes.
std::optional<std::string> file_url_to_path(std::string_view url);

}  // namespace lb::net
