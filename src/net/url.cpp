#include "net/url.hpp"

#include <cctype>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::net {

static bool valid_scheme(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
      return false;
  return true;
}

UrlParts UrlParts::parse(std::string_view ref) {
  // ^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?   (RFC 3986 appendix B)
  UrlParts u;
  size_t colon = ref.find_first_of(":/?#");
  if (colon != std::string_view::npos && colon > 0 && ref[colon] == ':' &&
      valid_scheme(ref.substr(0, colon))) {
    u.has_scheme = true;
    u.scheme = to_lower(ref.substr(0, colon));
    ref.remove_prefix(colon + 1);
  }
  if (starts_with(ref, "//")) {
    ref.remove_prefix(2);
    size_t end = ref.find_first_of("/?#");
    u.has_authority = true;
    u.authority = std::string(ref.substr(0, end));
    ref.remove_prefix(end == std::string_view::npos ? ref.size() : end);
  }
  size_t hash = ref.find('#');
  if (hash != std::string_view::npos) {
    u.has_fragment = true;
    u.fragment = std::string(ref.substr(hash + 1));
    ref = ref.substr(0, hash);
  }
  size_t q = ref.find('?');
  if (q != std::string_view::npos) {
    u.has_query = true;
    u.query = std::string(ref.substr(q + 1));
    ref = ref.substr(0, q);
  }
  u.path = std::string(ref);
  return u;
}

std::string UrlParts::to_string() const {
  std::string out;
  if (has_scheme) out += scheme + ":";
  if (has_authority) out += "//" + authority;
  out += path;
  if (has_query) out += "?" + query;
  if (has_fragment) out += "#" + fragment;
  return out;
}

std::string remove_dot_segments(std::string_view in) {
  std::string out;
  auto pop_last = [&out] {
    size_t slash = out.rfind('/');
    out.erase(slash == std::string::npos ? 0 : slash);
  };
  while (!in.empty()) {
    if (starts_with(in, "../")) {
      in.remove_prefix(3);
    } else if (starts_with(in, "./")) {
      in.remove_prefix(2);
    } else if (starts_with(in, "/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (starts_with(in, "/../")) {
      in.remove_prefix(3);
      pop_last();
    } else if (in == "/..") {
      in = "/";
      pop_last();
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      size_t next = in.find('/', 1);
      if (next == std::string_view::npos) next = in.size();
      out += in.substr(0, next);
      in.remove_prefix(next);
    }
  }
  return out;
}

std::string resolve_url(std::string_view base_text, std::string_view ref_text) {
  UrlParts r = UrlParts::parse(ref_text), b = UrlParts::parse(base_text), t;
  if (r.has_scheme) {
    t = r;
    t.path = remove_dot_segments(r.path);
  } else {
    t.has_scheme = b.has_scheme;
    t.scheme = b.scheme;
    if (r.has_authority) {
      t.has_authority = true;
      t.authority = r.authority;
      t.path = remove_dot_segments(r.path);
      t.has_query = r.has_query;
      t.query = r.query;
    } else {
      t.has_authority = b.has_authority;
      t.authority = b.authority;
      if (r.path.empty()) {
        t.path = b.path;
        t.has_query = r.has_query || b.has_query;
        t.query = r.has_query ? r.query : b.query;
      } else {
        if (r.path[0] == '/') {
          t.path = remove_dot_segments(r.path);
        } else {  // merge (5.2.3)
          std::string merged;
          if (b.has_authority && b.path.empty()) {
            merged = "/" + r.path;
          } else {
            size_t slash = b.path.rfind('/');
            merged = (slash == std::string::npos ? "" : b.path.substr(0, slash + 1)) + r.path;
          }
          t.path = remove_dot_segments(merged);
        }
        t.has_query = r.has_query;
        t.query = r.query;
      }
    }
  }
  t.has_fragment = r.has_fragment;
  t.fragment = r.fragment;
  return t.to_string();
}

std::string strip_fragment(std::string_view url) {
  return std::string(url.substr(0, url.find('#')));
}

std::string url_fragment(std::string_view url) {
  size_t hash = url.find('#');
  return hash == std::string_view::npos ? std::string() : std::string(url.substr(hash + 1));
}

bool is_url(std::string_view s) {
  UrlParts u = UrlParts::parse(s);
  return u.has_scheme && u.has_authority && u.scheme.size() > 1;  // not a "C:" drive
}

std::string url_filename(std::string_view url) {
  std::string path = UrlParts::parse(url).path;
  return percent_decode(path.substr(path.rfind('/') + 1));
}

std::string redact_url(std::string_view url) {
  UrlParts u = UrlParts::parse(url);
  size_t at = u.authority.rfind('@');
  if (!u.has_authority || at == std::string::npos) return std::string(url);
  size_t colon = u.authority.find(':');
  if (colon == std::string::npos || colon > at) return std::string(url);
  u.authority = u.authority.substr(0, colon) + ":****" + u.authority.substr(at);
  return u.to_string();
}

std::string path_to_file_url(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : fs::absolute(path)) {
    if (std::isalnum(c) ||
        std::string_view("/-._~!$&'()*+,;=:@").find(char(c)) != std::string_view::npos) {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> file_url_to_path(std::string_view url) {
  UrlParts u = UrlParts::parse(url);
  if (u.scheme != "file") return std::nullopt;
  if (!u.authority.empty() && u.authority != "localhost") return std::nullopt;
  return percent_decode(u.path);
}

}  // namespace lb::net
