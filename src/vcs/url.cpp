// pip's VCS URL spelling: "<vcs>+<scheme>://<authority><path>[@<rev>][?<query>][#<fragment>]",
// and git's scp-like "git+[user@]host:path[@rev]".
#include <array>
#include <string>
#include <string_view>

#include "pep/name.hpp"
#include "util/strings.hpp"
#include "vcs/vcs.hpp"
#include "vcs/vcs_internal.hpp"

namespace lb::vcs {
namespace {

constexpr std::array<std::string_view, 5> kGitSchemes = {"https", "ssh", "http", "git", "file"};
constexpr std::array<std::string_view, 7> kBzrSchemes = {"https", "ssh", "http", "sftp",
                                                         "ftp",   "lp",  "file"};

bool is_scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '-' || c == '.';
}
bool is_word_char(char c) {  // Python's \w in ASCII
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

/// The pieces of a VCS URL, as views into the text (raw: nothing decoded).
struct Pieces {
  Kind kind = Kind::git;
  std::string scheme;          // lower-case; empty for git's scp-like form
  bool has_authority = false;  // "//" followed
  std::string_view authority;  // between "//" and the path ("user:pw@host:port")
  std::string_view scp_host;   // scp-like: "[user@]host"
  std::string_view path;       // without "@rev"
  bool has_rev = false;
  std::string_view rev;  // raw, after the last '@' of the path
  bool has_query = false;
  std::string_view query;     // without '?'
  std::string_view fragment;  // without '#'
};

std::string schemes_of(Kind kind) {
  std::string out;
  auto add = [&](const auto& list) {
    for (auto s : list)
      out += (out.empty() ? "" : ", ") + std::string(to_string(kind)) + "+" + std::string(s);
  };
  if (kind == Kind::git)
    add(kGitSchemes);
  else
    add(kBzrSchemes);
  return out;
}

Error url_error(std::string_view text, const std::string& what, std::string hint = {}) {
  return make_error("VCS URL " + quoted(redact_url(text)) + ": " + what, std::move(hint));
}

Result<Pieces> split_url(std::string_view text) {
  Pieces p;
  if (!is_vcs_url(text))
    return url_error(text, "not a VCS URL",
                     "pip's VCS URLs start with git+ or bzr+, e.g. git+https://host/repo.git@v1.0");
  for (char c : text)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return url_error(text, "has a space or control character",
                       "percent-encode it (%20 for a space)");
  p.kind = to_lower(text.substr(0, 3)) == "git" ? Kind::git : Kind::bzr;
  std::string_view body = text.substr(4);
  if (auto hash = body.find('#'); hash != std::string_view::npos) {
    p.fragment = body.substr(hash + 1);
    body = body.substr(0, hash);
  }
  if (auto q = body.find('?'); q != std::string_view::npos) {
    p.has_query = true;
    p.query = body.substr(q + 1);
    body = body.substr(0, q);
  }
  size_t colon = body.find(':');
  bool scheme_form = colon != std::string_view::npos && colon > 0;
  for (size_t i = 0; scheme_form && i < colon; ++i) scheme_form = is_scheme_char(body[i]);
  std::string_view rest;
  if (scheme_form) {
    p.scheme = to_lower(body.substr(0, colon));
    bool known = false;
    if (p.kind == Kind::git)
      for (auto s : kGitSchemes) known = known || s == p.scheme;
    else
      for (auto s : kBzrSchemes) known = known || s == p.scheme;
    if (!known)
      return url_error(text, "unknown scheme " + std::string(to_string(p.kind)) + "+" + p.scheme,
                       "pip knows " + schemes_of(p.kind));
    rest = body.substr(colon + 1);
    if (starts_with(rest, "//")) {
      p.has_authority = true;
      rest = rest.substr(2);
      size_t slash = rest.find('/');
      p.authority = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
      std::string_view host = p.authority.substr(p.authority.rfind('@') + 1);
      if (starts_with(host, "-")) return url_error(text, "the host starts with '-'");
    } else if (p.scheme != "lp") {
      return url_error(text, "expected " + std::string(to_string(p.kind)) + "+" + p.scheme + "://",
                       "e.g. " + std::string(to_string(p.kind)) + "+file:///srv/repo");
    }
  } else if (p.kind == Kind::git && colon != std::string_view::npos) {
    // scp-like "[user@]host:path", as pip's SCP_REGEX: user is \w+, host has no '/' or ':'.
    p.scp_host = body.substr(0, colon);
    size_t at = p.scp_host.find('@');
    std::string_view user = at == std::string_view::npos ? "" : p.scp_host.substr(0, at);
    std::string_view host = at == std::string_view::npos ? p.scp_host : p.scp_host.substr(at + 1);
    bool ok = !host.empty() && host.find('/') == std::string_view::npos && host.front() != '-' &&
              (at == std::string_view::npos || !user.empty());
    for (char c : user) ok = ok && is_word_char(c);
    rest = body.substr(colon + 1);
    if (!ok || rest.empty() || !is_word_char(rest.front()))
      return url_error(text, "not a URL and not git's scp-like [user@]host:path",
                       "e.g. git+ssh://git@host/repo.git or git+git@host:repo.git");
  } else {
    return url_error(text, "has no scheme",
                     "pip knows " + schemes_of(p.kind) + ", e.g. " +
                         std::string(to_string(p.kind)) + "+https://host/repo");
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    p.has_rev = true;
    p.rev = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  p.path = rest;
  if (p.path.empty() && p.authority.empty())
    return url_error(text, "names no repository", "e.g. git+https://host/repo.git@v1.0");
  if (p.has_rev && p.rev.empty())
    return url_error(text, "has an empty revision after '@'",
                     "write a branch, tag or commit after '@', or remove the '@'");
  return p;
}

/// "a/./b//c/" -> "a/b/c"; error on ".." or an absolute path.
Result<std::string> normalise_subdirectory(std::string_view text, std::string_view value) {
  if (starts_with(value, "/"))
    return url_error(text, "subdirectory " + quoted(value) + " is absolute",
                     "give the directory relative to the repository's root");
  std::string out;
  for (const auto& part : split(value, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..")
      return url_error(text, "subdirectory " + quoted(value) + " leaves the repository ('..')",
                       "give a directory inside the repository");
    out += (out.empty() ? "" : "/") + part;
  }
  return out;
}

Status parse_fragment(std::string_view text, std::string_view fragment, Url& url) {
  bool seen_egg = false, seen_subdirectory = false;
  for (const auto& item : split(fragment, '&')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return url_error(text, "bad fragment " + quoted(item) + " (expected key=value)",
                       "write #egg=NAME&subdirectory=DIR");
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "egg") {
      if (seen_egg) return url_error(text, "has egg= twice");
      seen_egg = true;
      if (!value.empty() && !pep::is_valid_name(value))
        return url_error(text, "egg=" + value + " is not a project name",
                         "egg= takes a bare project name (letters, digits, '-', '_', '.'), "
                         "no version or extras");
      url.egg = value;
    } else if (key == "subdirectory") {
      if (seen_subdirectory) return url_error(text, "has subdirectory= twice");
      seen_subdirectory = true;
      LB_ASSIGN(url.subdirectory, normalise_subdirectory(text, value));
    } else {
      return url_error(text, "unknown fragment key " + quoted(key),
                       "a VCS URL's fragment takes egg= and subdirectory= (pip ignores other "
                       "keys; lavabuild refuses them so that a typo is not built silently)");
    }
  }
  return {};
}

/// PEP 610: user:password is dropped unless it is a well-known one or names env variables.
bool safe_userinfo(std::string_view userinfo) {
  if (userinfo == "git") return true;
  // ^\$\{[A-Za-z0-9-_]+\}(:\$\{[A-Za-z0-9-_]+\})?$
  auto env_ref = [](std::string_view s) {
    if (s.size() < 4 || !starts_with(s, "${") || s.back() != '}') return false;
    for (char c : s.substr(2, s.size() - 3))
      if (!(is_word_char(c) || c == '-')) return false;
    return true;
  };
  auto colon = userinfo.find(':');
  if (colon == std::string_view::npos) return env_ref(userinfo);
  return env_ref(userinfo.substr(0, colon)) && env_ref(userinfo.substr(colon + 1));
}

std::string prefix_of(Kind kind) {
  return std::string(to_string(kind)) + "+";
}

/// The URL without "<vcs>+", rev and fragment; `strip_auth` as PEP 610 wants it.
std::string assemble(const Pieces& p, bool strip_auth) {
  std::string out;
  if (p.scheme.empty()) {
    std::string_view host = p.scp_host;
    if (strip_auth && host.find('@') != std::string_view::npos &&
        !safe_userinfo(host.substr(0, host.find('@'))))
      host = host.substr(host.find('@') + 1);
    out = std::string(host) + ":";
  } else {
    out = p.scheme + ":";
    if (p.has_authority) {
      std::string_view authority = p.authority;
      auto at = authority.rfind('@');
      if (strip_auth && at != std::string_view::npos && !safe_userinfo(authority.substr(0, at)))
        authority = authority.substr(at + 1);
      out += "//" + std::string(authority);
    }
  }
  out += p.path;
  if (p.has_query) out += "?" + std::string(p.query);
  return out;
}

/// brz's own scheme keeps its prefix where the repository is named (pip's bazaar.py).
std::string with_bzr_ssh_prefix(const Pieces& p, std::string repo) {
  return p.kind == Kind::bzr && p.scheme == "ssh" ? "bzr+" + repo : repo;
}

}  // namespace

std::string_view to_string(Kind kind) {
  return kind == Kind::git ? "git" : "bzr";
}

std::string bzr_revspec(std::string_view rev) {
  if (rev.empty()) return "last:1";
  bool revno = rev.front() != '.' && rev.back() != '.';
  for (char c : rev) revno = revno && ((c >= '0' && c <= '9') || c == '.');
  if (revno) return std::string(rev);
  for (std::string_view prefix : {"revid:", "tag:", "revno:", "date:", "last:"})
    if (starts_with(rev, prefix)) return rev.size() > prefix.size() ? std::string(rev) : "";
  if (rev.find(':') != std::string_view::npos || starts_with(rev, "-")) return "";
  if (rev.find('@') != std::string_view::npos) return "revid:" + std::string(rev);
  return "tag:" + std::string(rev);
}

bool is_vcs_url(std::string_view s) {
  if (s.size() < 4 || s[3] != '+') return false;
  std::string head = to_lower(s.substr(0, 3));
  return head == "git" || head == "bzr";
}

std::string redact_url(std::string_view url) {
  // The password of "scheme://user:password@host/...", wherever the scheme prefix ends.
  auto start = url.find("://");
  if (start == std::string_view::npos) return std::string(url);
  start += 3;
  auto end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? end : end - start);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  auto colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, start + colon + 1)) + "****" +
         std::string(url.substr(start + at));
}

Result<Url> parse_url(std::string_view pip_url) {
  LB_ASSIGN(Pieces p, split_url(pip_url));
  Url url;
  url.kind = p.kind;
  url.text = std::string(pip_url);
  url.repo = with_bzr_ssh_prefix(p, assemble(p, /*strip_auth=*/false));
  if (p.kind == Kind::git && p.scheme == "file") {
    // pip (git.py) turns the path of a git+file URL into a local path: %XX decoded.
    url.repo = "file://" + std::string(p.authority) + percent_decode(p.path);
    if (p.has_query) url.repo += "?" + std::string(p.query);
  }
  url.rev = percent_decode(p.rev);
  if (starts_with(url.rev, "-"))
    return url_error(pip_url, "the revision " + quoted(url.rev) + " starts with '-'",
                     "a branch, tag or commit cannot start with '-'");
  for (char c : url.rev)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ')
      return url_error(pip_url, "the revision has a space or control character");
  if (url.kind == Kind::bzr && bzr_revspec(url.rev).empty())
    return url_error(pip_url, "the revision " + quoted(url.rev) + " is not one lavabuild gives brz",
                     "write a revno (42), a tag (v1.0 or tag:v1.0), revid:, revno:, date: or "
                     "last:");
  LB_TRY(parse_fragment(pip_url, p.fragment, url));
  return url;
}

std::string Url::url_without_rev() const {
  auto p = split_url(text);
  if (!p.ok()) return text;
  return prefix_of(kind) + assemble(*p, /*strip_auth=*/false);
}

std::string Url::direct_url() const {
  auto p = split_url(text);
  if (!p.ok()) return repo;
  return with_bzr_ssh_prefix(*p, assemble(*p, /*strip_auth=*/true));
}

bool Url::rev_is_immutable() const {
  if (kind == Kind::git) return (rev.size() == 40 || rev.size() == 64) && is_hex(rev);
  return starts_with(bzr_revspec(rev), "revid:");
}

}  // namespace lb::vcs
