#include "reqfile/entry.hpp"

#include <filesystem>

#include "pep/marker.hpp"
#include "pep/tags.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::reqfile::detail {
namespace {

constexpr std::string_view kVcs[] = {"git", "hg", "svn", "bzr"};
constexpr std::string_view kArchives[] = {".whl", ".tar.gz",  ".tgz",    ".tar",
                                          ".zip", ".tar.bz2", ".tbz",    ".tar.xz",
                                          ".txz", ".tlz",     ".tar.lz", ".tar.lzma"};

std::string scheme_of(std::string_view url) {
  size_t colon = url.find(':');
  return colon == std::string_view::npos ? std::string() : to_lower(url.substr(0, colon));
}

bool is_vcs_scheme(const std::string& scheme) {
  if (scheme == "git" || scheme == "svn") return true;
  for (std::string_view v : kVcs)
    if (starts_with(scheme, std::string(v) + "+")) return true;
  return false;
}

/// pip's is_url: a scheme pip knows (http, https, file, ftp, VCS).
bool is_url(std::string_view s) {
  std::string scheme = scheme_of(s);
  return scheme == "http" || scheme == "https" || scheme == "file" || scheme == "ftp" ||
         is_vcs_scheme(scheme);
}

bool is_dir(const std::string& p) {
  std::error_code ec;
  return std::filesystem::is_directory(p, ec);
}
bool is_file(const std::string& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

bool is_archive(std::string_view path) {
  std::string lower = to_lower(path);
  for (std::string_view ext : kArchives)
    if (ends_with(lower, ext)) return true;
  return false;
}

/// pip's _looks_like_path: contains a separator or starts with '.'.
bool looks_like_path(std::string_view s) {
  return s.find('/') != std::string_view::npos || starts_with(s, ".");
}

/// `[#&]key=([^&]*)` anywhere in the URL, as pip's Link does.
std::string url_param(std::string_view url, std::string_view key) {
  std::string needle = std::string(key) + "=";
  for (size_t pos = url.find(needle); pos != std::string_view::npos;
       pos = url.find(needle, pos + 1)) {
    if (pos == 0 || (url[pos - 1] != '#' && url[pos - 1] != '&')) continue;
    size_t start = pos + needle.size();
    return std::string(url.substr(start, url.find('&', start) - start));
  }
  return {};
}

/// The last path segment of a URL, without query and fragment, percent-decoded.
std::string url_filename(std::string_view url) {
  url = url.substr(0, url.find_first_of("#?"));
  return percent_decode(url.substr(url.rfind('/') + 1));
}

/// `^(.+)(\[[^\]]+\])$`: split "path[extra1,extra2]" into path and "[...]".
std::pair<std::string, std::string> strip_extras(std::string_view s) {
  if (!ends_with(s, "]")) return {std::string(s), {}};
  size_t open = s.rfind('[');
  if (open == std::string_view::npos || open == 0 || open + 2 >= s.size())
    return {std::string(s), {}};
  std::string_view inner = s.substr(open + 1, s.size() - open - 2);
  if (inner.find(']') != std::string_view::npos) return {std::string(s), {}};
  return {std::string(s.substr(0, open)), std::string(s.substr(open))};
}

Result<std::set<std::string>> parse_extras(const std::string& bracketed) {
  if (bracketed.empty()) return std::set<std::string>{};
  LB_ASSIGN(pep::Requirement r, pep::Requirement::parse("placeholder" + to_lower(bracketed)));
  return r.extras;
}

Result<pep::Requirement> wheel_requirement(const std::string& filename) {
  auto wheel = pep::WheelFilename::parse(filename);
  if (!wheel.ok())
    return make_error(filename + " is not a valid wheel filename: " + wheel.error().message,
                      "wheel files are named NAME-VERSION(-BUILD)?-PY-ABI-PLATFORM.whl");
  auto req = pep::Requirement::parse(wheel->name + "==" + wheel->version);
  if (req.ok()) return req;
  return pep::Requirement::parse(wheel->name);
}

Result<pep::Requirement> egg_requirement(const std::string& egg) {
  auto req = pep::Requirement::parse(percent_decode(egg));
  if (!req.ok())
    return make_error("invalid #egg= fragment " + lb::quoted(egg) + ": " + req.error().message,
                      "write #egg=<project name>, or use \"name @ url\" instead");
  return req;
}

Status add_fragment_hashes(Entry& e, std::string_view url) {
  for (std::string_view algo : {"sha256", "sha384", "sha512"}) {
    std::string hex = url_param(url, algo);
    if (hex.empty()) continue;
    LB_ASSIGN(std::string h, parse_hash(std::string(algo) + ":" + hex));
    e.hashes.push_back(std::move(h));
  }
  return {};
}

/// pip normalises file: URLs that contain "../".
std::string normalize_file_url(const std::string& url) {
  if (scheme_of(url) != "file" || url.find("../") == std::string::npos) return url;
  std::string_view rest = std::string_view(url).substr(5);
  if (starts_with(rest, "//")) {
    rest.remove_prefix(2);
    size_t slash = rest.find('/');
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  size_t frag = rest.find('#');
  std::string suffix = frag == std::string_view::npos ? "" : std::string(rest.substr(frag));
  return "file://" + fs::absolute(percent_decode(rest.substr(0, frag))) + suffix;
}

Status fill_url(Entry& e, const std::string& url) {
  e.link = normalize_file_url(url);
  e.kind = is_vcs_scheme(scheme_of(url)) ? EntryKind::vcs : EntryKind::url;
  std::string filename = url_filename(e.link);
  std::string egg = url_param(e.link, "egg");
  if (e.kind == EntryKind::url && ends_with(to_lower(filename), ".whl")) {
    LB_ASSIGN(e.req, wheel_requirement(filename));
  } else if (!egg.empty()) {
    LB_ASSIGN(e.req, egg_requirement(egg));
  }
  return add_fragment_hashes(e, e.link);
}

Status check_installable(const std::string& dir) {
  if (fs::exists(fs::join_path(dir, "setup.py")) ||
      fs::exists(fs::join_path(dir, "pyproject.toml")))
    return {};
  return make_error("directory " + dir +
                        " is not installable: neither setup.py nor "
                        "pyproject.toml found",
                    "point at the project's root directory");
}

Error invalid_requirement(const std::string& text, const Error& pep_error) {
  std::string hint = pep_error.hint;
  if (text.find('/') != std::string::npos) {
    hint = "it looks like a path, but " + text + " does not exist";
  } else if (text.find('=') != std::string::npos &&
             text.find_first_of("<>!~") == std::string::npos &&
             text.find("==") == std::string::npos) {
    hint = "= is not a valid operator; did you mean == ?";
  }
  return make_error(pep_error.message, hint);
}

/// A local path requirement, or nullopt when `name` should be read as PEP 508 (pip's
/// _get_url_from_path).
Result<std::optional<Entry>> try_path(const std::string& name, std::vector<std::string>& warnings) {
  auto [path, extras] = strip_extras(fs::absolute(name));
  Entry e;
  e.kind = EntryKind::path;
  e.link = path;
  if (looks_like_path(name) && is_dir(path)) {
    LB_TRY(check_installable(path));
  } else if (!is_archive(path)) {
    return std::optional<Entry>();
  } else if (!is_file(path)) {
    size_t at = name.find('@');
    if (at != std::string::npos && !looks_like_path(name.substr(0, at)))
      return std::optional<Entry>();
    warnings.push_back("requirement " + lb::quoted(name) +
                       " looks like a filename, but the file does not exist");
  }
  if (ends_with(to_lower(path), ".whl")) {
    LB_ASSIGN(e.req, wheel_requirement(fs::basename(path)));
  }
  LB_ASSIGN(e.req.extras, parse_extras(extras));
  return std::optional<Entry>(std::move(e));
}

}  // namespace

Result<std::string> parse_hash(std::string_view value) {
  size_t colon = value.find(':');
  if (colon == std::string_view::npos)
    return make_error("--hash " + lb::quoted(value) + " must be an algorithm and a hex digest",
                      "write --hash=sha256:<64 hex digits>");
  std::string algo(value.substr(0, colon));
  std::string hex = to_lower(value.substr(colon + 1));
  size_t want = algo == "sha256" ? 64 : algo == "sha384" ? 96 : algo == "sha512" ? 128 : 0;
  if (want == 0)
    return make_error("--hash algorithm " + lb::quoted(algo) + " is not allowed",
                      "use sha256, sha384 or sha512");
  if (hex.size() != want || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
    return make_error("--hash " + lb::quoted(value) + " is not a valid " + algo + " digest",
                      algo + " digests are " + std::to_string(want) + " hex digits");
  return algo + ":" + hex;
}

Result<Entry> parse_requirement(std::string_view text, std::vector<std::string>& warnings) {
  std::string name(text);
  std::string markers;
  bool url = is_url(name);
  std::string_view sep = url ? "; " : ";";
  if (size_t pos = name.find(sep); pos != std::string::npos) {
    markers = std::string(trim(std::string_view(name).substr(pos + sep.size())));
    name.resize(pos);
  }
  name = std::string(trim(name));
  Entry e;
  if (url) {
    LB_TRY(fill_url(e, name));
  } else {
    LB_ASSIGN(std::optional<Entry> path, try_path(name, warnings));
    if (path) {
      e = std::move(*path);
    } else {
      auto req = pep::Requirement::parse(name);
      if (!req.ok()) return invalid_requirement(name, req.error());
      e.req = std::move(req).value();
      if (!e.req.url.empty()) {
        e.kind = is_vcs_scheme(scheme_of(e.req.url)) ? EntryKind::vcs : EntryKind::url;
        e.link = e.req.url;
        LB_TRY(add_fragment_hashes(e, e.link));
      }
    }
  }
  if (!markers.empty()) {
    LB_ASSIGN(e.req.marker, pep::Marker::parse(markers));
  }
  return e;
}

Result<Entry> parse_editable(std::string_view text) {
  auto [no_extras, extras] = strip_extras(text);
  Entry e;
  e.kind = EntryKind::editable;
  if (is_dir(no_extras)) {
    e.link = fs::absolute(no_extras);
    LB_TRY(check_installable(e.link));
    LB_ASSIGN(e.req.extras, parse_extras(extras));
    return e;
  }
  if (scheme_of(no_extras) == "file") {
    e.link = no_extras;
    if (std::string egg = url_param(no_extras, "egg"); !egg.empty()) {
      LB_ASSIGN(e.req, egg_requirement(egg));
    }
    LB_ASSIGN(e.req.extras, parse_extras(extras));
    return e;
  }
  std::string url(text);
  for (std::string_view vcs : kVcs) {
    if (starts_with(to_lower(url), std::string(vcs) + ":")) {
      url = std::string(vcs) + "+" + url;
      break;
    }
  }
  if (!is_vcs_scheme(scheme_of(url)))
    return make_error(
        lb::quoted(text) + " is not a valid editable requirement",
        "-e takes a path to a local project directory (relative to the current "
        "directory) or a VCS URL beginning with git+ or bzr+ (hg+ and svn+ are not supported)");
  std::string egg = url_param(url, "egg");
  if (egg.empty())
    return make_error("cannot tell the project name of editable " + lb::quoted(text),
                      "add #egg=<project name> to the URL");
  LB_ASSIGN(e.req, egg_requirement(egg));
  e.link = url;
  return e;
}

}  // namespace lb::reqfile::detail
