#include "env/manifest.hpp"

#include "env/bytecode.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::env {
namespace {

using nlohmann::json;

std::string mode_text(uint32_t mode) {
  if (mode == kModeFile) return "100644";
  if (mode == kModeExec) return "100755";
  if (mode == kModeSymlink) return "120777";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%o", mode);
  return buf;
}

Result<FileEntry> parse_file(const json& a) {
  if (!a.is_array() || a.size() < 5 || !a[0].is_string() || !a[1].is_string() ||
      !a[2].is_string() || !a[3].is_number_unsigned() || !a[4].is_number_integer())
    return make_error("malformed file entry " + a.dump().substr(0, 200));
  FileEntry f;
  f.path = a[0].get<std::string>();
  if (!fs::is_safe_rel(f.path))  // an env's manifest is read (and acted on) like any input
    return make_error("file path " + lb::quoted(f.path) + " leaves the env");
  std::string mode = a[1].get<std::string>();
  char* end = nullptr;
  f.mode = static_cast<uint32_t>(std::strtoul(mode.c_str(), &end, 8));
  if (mode.empty() || *end != '\0')
    return make_error("bad mode " + lb::quoted(mode) + " for " + f.path);
  f.sha256 = a[2].get<std::string>();
  f.size = a[3].get<uint64_t>();
  f.per_env = a[4].get<int>() != 0;
  if (f.mode == kModeSymlink) {
    if (a.size() < 6 || !a[5].is_string())
      return make_error("symlink entry without a target: " + f.path);
    f.link_target = a[5].get<std::string>();
  }
  return f;
}

Result<std::vector<FileEntry>> parse_files(const json& a) {
  if (!a.is_array()) return make_error("expected a list of files");
  std::vector<FileEntry> out;
  out.reserve(a.size());
  for (const auto& item : a) {
    LB_ASSIGN(FileEntry f, parse_file(item));
    out.push_back(std::move(f));
  }
  return out;
}

std::string str(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

namespace {

void put_files(std::string& out, const std::vector<FileEntry>& files) {
  out += '[';
  for (size_t i = 0; i < files.size(); ++i) {
    const FileEntry& f = files[i];
    if (i) out += ',';
    out += '[';
    append_json_string(out, f.path);
    out += ',';
    append_json_string(out, mode_text(f.mode));
    out += ',';
    append_json_string(out, f.sha256);
    out += ',';
    out += std::to_string(f.size);
    out += f.per_env ? ",1" : ",0";
    if (f.mode == kModeSymlink) {
      out += ',';
      append_json_string(out, f.link_target);
    }
    out += ']';
  }
  out += ']';
}

}  // namespace

// Written directly (the same bytes json::dump() gives: keys in sorted order, no spaces): an
// env of 10,000 files spent a tenth of an in-place change building and dumping the json tree.
std::string serialize_manifest(const Manifest& m) {
  std::string out;
  out.reserve(128 + 160 * (m.venv_files.size() + m.dists.size() * 16));
  out += "{\"dists\":[";
  for (size_t i = 0; i < m.dists.size(); ++i) {
    const InstalledDist& d = m.dists[i];
    if (i) out += ',';
    out += '{';
    if (!d.bytecode_tag.empty()) {
      out += "\"bytecode\":";
      append_json_string(out, d.bytecode_tag);
      out += ',';
    }
    out += "\"digest\":";
    append_json_string(out, d.digest.empty() ? dist_digest(d) : d.digest);
    out += ",\"dist_info\":";
    append_json_string(out, d.dist_info_rel);
    out += ",\"files\":";
    if (!d.files_json.empty())
      out += d.files_json;  // as read: the same bytes put_files would give
    else
      put_files(out, d.files);
    out += ",\"link_key\":";
    append_json_string(out, d.link_key);
    out += ",\"name\":";
    append_json_string(out, d.name);
    out += ",\"version\":";
    append_json_string(out, d.version);
    out += '}';
  }
  out += "],\"env_path\":";
  append_json_string(out, m.env_path);
  out += ",\"format\":";
  append_json_string(out, kManifestFormat);
  out += ",\"interpreter\":{\"executable\":";
  append_json_string(out, m.interpreter_executable);
  out += ",\"key\":";
  append_json_string(out, m.interpreter_key);
  out += ",\"version\":";
  append_json_string(out, m.interpreter_version);
  out += "},\"stamp\":";
  append_json_string(out, m.stamp);
  out += ",\"venv_files\":";
  put_files(out, m.venv_files);
  out += "}\n";
  return out;
}

namespace {

/// Reads back exactly what serialize_manifest writes (key order, no spaces, ASCII), without
/// building a json tree: a 10,000-file manifest took a fifth of an in-place change through
/// json::parse. Anything else (another layout, non-ASCII, \\u escapes above 0x1f, a value of
/// another type) gives nullopt, and parse_manifest reads it with nlohmann's parser instead.
/// With `lazy_files`, each dist's files are checked but kept as text (files_json).
class FastReader {
 public:
  explicit FastReader(std::string_view s, bool lazy_files = false)
      : s_(s), lazy_files_(lazy_files) {}

  std::optional<Manifest> manifest() {
    Manifest m;
    if (!lit("{\"dists\":[")) return std::nullopt;
    while (!peek(']')) {
      if (!m.dists.empty() && !lit(",")) return std::nullopt;
      InstalledDist d;
      if (!lit("{")) return std::nullopt;
      if (peek('"') && s_.substr(i_, 11) == "\"bytecode\":") {
        i_ += 11;
        if (!str(&d.bytecode_tag) || !lit(",")) return std::nullopt;
      }
      if (peek('"') && s_.substr(i_, 9) == "\"digest\":") {
        i_ += 9;
        if (!str(&d.digest) || !lit(",")) return std::nullopt;
      }
      if (!lit("\"dist_info\":") || !str(&d.dist_info_rel) || !fs::is_safe_rel(d.dist_info_rel) ||
          !lit(",\"files\":"))
        return std::nullopt;
      const size_t files_start = i_;
      if (!files(lazy_files_ ? nullptr : &d.files)) return std::nullopt;
      if (lazy_files_) d.files_json.assign(s_.substr(files_start, i_ - files_start));
      if (!lit(",\"link_key\":") || !str(&d.link_key) || !lit(",\"name\":") || !str(&d.name) ||
          !lit(",\"version\":") || !str(&d.version) || !lit("}"))
        return std::nullopt;
      m.dists.push_back(std::move(d));
    }
    std::string format;
    if (!lit("],\"env_path\":") || !str(&m.env_path) || !lit(",\"format\":") || !str(&format) ||
        (format != kManifestFormat && format != kManifestFormatV1) ||
        !lit(",\"interpreter\":{\"executable\":") || !str(&m.interpreter_executable) ||
        !lit(",\"key\":") || !str(&m.interpreter_key) || !lit(",\"version\":") ||
        !str(&m.interpreter_version) || !lit("},\"stamp\":") || !str(&m.stamp) ||
        !lit(",\"venv_files\":") || !files(&m.venv_files) || !lit("}"))
      return std::nullopt;
    if (peek('\n')) ++i_;
    if (i_ != s_.size()) return std::nullopt;
    return m;
  }

  /// A FILE list (the whole text): into `out`, or only checked when `out` is null; `on_entry`
  /// is called with each file (one entry reused: its sha256 and link_target are not read).
  bool files(std::vector<FileEntry>* out,
             const std::function<void(const FileEntry&)>* on_entry = nullptr) {
    if (!lit("[")) return false;
    FileEntry f;
    const bool keep = out != nullptr;
    for (bool first = true; !peek(']'); first = false) {
      uint64_t per_env = 0;
      if ((!first && !lit(",")) || !lit("[") || !str(&f.path) || !fs::is_safe_rel(f.path) ||
          !lit(",") || !str(&mode_) || !lit(",") || !str(keep ? &f.sha256 : nullptr) || !lit(",") ||
          !num(f.size) || !lit(",") || !num(per_env) || per_env > 1)
        return false;
      char* end = nullptr;
      f.mode = static_cast<uint32_t>(std::strtoul(mode_.c_str(), &end, 8));
      if (mode_.empty() || mode_.size() > 7 || *end != '\0' || mode_.front() == '-') return false;
      f.per_env = per_env == 1;
      f.link_target.clear();
      if (f.mode == kModeSymlink && (!lit(",") || !str(keep ? &f.link_target : nullptr)))
        return false;
      if (!lit("]")) return false;
      if (on_entry) (*on_entry)(f);
      if (keep) out->push_back(std::move(f));
    }
    ++i_;
    return true;
  }
  bool at_end() const { return i_ == s_.size(); }

 private:
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool lit(std::string_view t) {
    if (s_.substr(i_, t.size()) != t) return false;
    i_ += t.size();
    return true;
  }
  /// Printable ASCII but '"' and '\\': copied as they are.
  static bool plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }
  /// A string, into `out` (or only checked when `out` is null).
  bool str(std::string* out) {
    if (!lit("\"")) return false;
    if (out) out->clear();
    // Most strings have nothing to unescape: up to the next quote at once (memchr), the span
    // checked in one branch-free pass.
    if (const void* q = std::memchr(s_.data() + i_, '"', s_.size() - i_)) {
      const size_t end = size_t(static_cast<const char*>(q) - s_.data());
      unsigned bad = 0;
      for (size_t k = i_; k < end; ++k) {
        const auto c = static_cast<unsigned char>(s_[k]);
        bad |= unsigned(c < 0x20) | unsigned(c >= 0x80) | unsigned(c == '\\');
      }
      if (!bad) {
        if (out) out->append(s_.data() + i_, end - i_);
        i_ = end + 1;
        return true;
      }
    }
    while (true) {
      size_t j = i_;
      while (j < s_.size() && plain(static_cast<unsigned char>(s_[j]))) ++j;
      if (out) out->append(s_.data() + i_, j - i_);
      i_ = j;
      if (i_ >= s_.size()) return false;
      char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\' || i_ >= s_.size()) return false;  // a control character or non-ASCII
      char e = s_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          break;
        case 'b':
          e = '\b';
          break;
        case 'f':
          e = '\f';
          break;
        case 'n':
          e = '\n';
          break;
        case 'r':
          e = '\r';
          break;
        case 't':
          e = '\t';
          break;
        case 'u': {
          if (s_.substr(i_, 2) != "00" || i_ + 4 > s_.size()) return false;
          unsigned v = 0;
          for (size_t k = 2; k < 4; ++k) {
            char h = s_[i_ + k];
            v = v * 16 + unsigned(h >= '0' && h <= '9'   ? h - '0'
                                  : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                  : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                         : 99);
          }
          if (v >= 0x20) return false;
          e = char(v);
          i_ += 4;
          break;
        }
        default:
          return false;
      }
      if (out) *out += e;
    }
  }
  bool num(uint64_t& v) {
    size_t start = i_;
    v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (v > (UINT64_MAX - 9) / 10) return false;
      v = v * 10 + uint64_t(s_[i_++] - '0');
    }
    return i_ > start && (i_ - start == 1 || s_[start] != '0');
  }

  std::string_view s_;
  size_t i_ = 0;
  bool lazy_files_ = false;
  std::string mode_;
};

}  // namespace

namespace detail {

std::optional<Manifest> parse_manifest_fast(std::string_view text, bool lazy_files) {
  return FastReader(text, lazy_files).manifest();
}

}  // namespace detail

Result<Manifest> parse_manifest(std::string_view text, bool lazy_files) {
  if (auto m = detail::parse_manifest_fast(text, lazy_files)) return std::move(*m);
  return detail::parse_manifest_json(text);
}

namespace detail {

Result<Manifest> parse_manifest_json(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("the env manifest is not valid JSON");
  if (str(j, "format") != kManifestFormat && str(j, "format") != kManifestFormatV1)
    return make_error("unsupported env manifest format " + lb::quoted(str(j, "format")),
                      "recreate the env with this version of lavabuild");
  Manifest m;
  m.stamp = str(j, "stamp");
  m.env_path = str(j, "env_path");
  if (auto it = j.find("interpreter"); it != j.end() && it->is_object()) {
    m.interpreter_executable = str(*it, "executable");
    m.interpreter_version = str(*it, "version");
    m.interpreter_key = str(*it, "key");
  }
  if (auto it = j.find("venv_files"); it != j.end()) {
    auto files = parse_files(*it);
    if (!files.ok()) return files.error().context("env manifest venv_files");
    m.venv_files = std::move(*files);
  }
  if (auto it = j.find("dists"); it != j.end()) {
    if (!it->is_array()) return make_error("env manifest: \"dists\" is not a list");
    for (const auto& d : *it) {
      if (!d.is_object()) return make_error("env manifest: a dist is not an object");
      InstalledDist dist;
      dist.name = str(d, "name");
      dist.version = str(d, "version");
      dist.dist_info_rel = str(d, "dist_info");
      dist.link_key = str(d, "link_key");
      dist.bytecode_tag = str(d, "bytecode");
      dist.digest = str(d, "digest");
      if (!fs::is_safe_rel(dist.dist_info_rel))
        return make_error("env manifest: dist " + dist.name + ": dist-info path " +
                          lb::quoted(dist.dist_info_rel) + " leaves the env");
      auto f = d.find("files");
      if (f == d.end()) return make_error("env manifest: dist " + dist.name + " has no files");
      auto files = parse_files(*f);
      if (!files.ok()) return files.error().context("env manifest dist " + dist.name);
      dist.files = std::move(*files);
      m.dists.push_back(std::move(dist));
    }
  }
  return m;
}

}  // namespace detail

Status write_manifest(const std::string& dir, const Manifest& m) {
  std::string path = fs::join_path(dir, kManifestRel);
  LB_TRY(fs::create_dirs(fs::dirname(path)));
  return fs::write_file_atomic(path, serialize_manifest(m));
}

Result<Manifest> read_manifest(const std::string& env_dir, bool lazy_files) {
  std::string path = fs::join_path(env_dir, kManifestRel);
  auto text = fs::read_file(path);
  if (!text.ok())
    return make_error("no env manifest at " + path,
                      "this directory was not created by lavabuild (or was damaged); recreate it "
                      "with `lavabuild env`");
  auto m = parse_manifest(*text, lazy_files);
  if (!m.ok()) return m.error().context(path);
  return m;
}

Status load_files(InstalledDist& d) {
  if (d.files_json.empty()) return {};
  if (!d.files.empty()) return {};  // loaded before: files_json is their text
  std::vector<FileEntry> files;
  FastReader r(d.files_json);
  if (!r.files(&files) || !r.at_end()) {
    json j = json::parse(d.files_json, nullptr, false);
    auto parsed = parse_files(j);
    if (!parsed.ok()) return parsed.error().context("env manifest dist " + d.name);
    files = std::move(*parsed);
    d.files_json.clear();  // another layout: not what put_files gives for these files
  }
  d.files = std::move(files);
  return {};
}

void for_each_path(const InstalledDist& d, const std::function<void(std::string_view)>& fn) {
  for_each_file(d, [&](const FileEntry& f) { fn(f.path); });
}

void for_each_file(const InstalledDist& d, const std::function<void(const FileEntry&)>& fn) {
  if (d.files_json.empty() || !d.files.empty()) {
    for (const auto& f : d.files) fn(f);
    return;
  }
  // files_json was checked by this reader when it was read: it cannot fail here.
  (void)FastReader(d.files_json).files(nullptr, &fn);
}

namespace {
void put_file_line(std::string& line, const FileEntry& f, bool compiled) {
  line.clear();
  line += std::to_string(f.path.size());
  line += ':';
  line += f.path;
  line += ' ';
  line += mode_text(f.mode);
  line += ' ';
  line += compiled ? std::string_view("compiled") : std::string_view(f.sha256);
  line += '\n';
}

bool by_path(const FileEntry* a, const FileEntry* b) {
  return a->path < b->path;
}
}  // namespace

std::string dist_digest(const InstalledDist& d) {
  if (d.files.empty() && !d.files_json.empty()) {
    InstalledDist loaded;
    loaded.name = d.name;
    loaded.bytecode_tag = d.bytecode_tag;
    loaded.files_json = d.files_json;
    if (!load_files(loaded).ok()) return "";
    return dist_digest(loaded);
  }
  std::vector<const FileEntry*> files;
  files.reserve(d.files.size());
  for (const auto& f : d.files) files.push_back(&f);
  if (!std::is_sorted(files.begin(), files.end(), by_path))
    std::sort(files.begin(), files.end(), by_path);
  // Compiled bytecode counts by its path: its bytes (marshal output) may differ between
  // machines that compiled the same source, the source's digest is counted anyway.
  Sha256 h;
  h.update("lavabuild.dist-digest.v1\n");
  std::string line;
  for (const FileEntry* f : files) {
    bool compiled =
        !d.bytecode_tag.empty() && ends_with(f->path, ".pyc") && is_compiled_pyc(d, f->path);
    put_file_line(line, *f, compiled);
    h.update(line);
  }
  return h.hex_digest();
}

std::string manifest_digest(const Manifest& m) {
  std::vector<const FileEntry*> venv;
  for (const auto& f : m.venv_files) venv.push_back(&f);
  std::sort(venv.begin(), venv.end(), by_path);
  std::vector<const InstalledDist*> dists;
  for (const auto& d : m.dists) dists.push_back(&d);
  std::sort(dists.begin(), dists.end(), [](const InstalledDist* a, const InstalledDist* b) {
    return a->dist_info_rel < b->dist_info_rel;
  });
  Sha256 h;
  h.update("lavabuild.env-digest.v2\n");
  std::string line;
  for (const FileEntry* f : venv) {
    put_file_line(line, *f, false);
    h.update(line);
  }
  for (const InstalledDist* d : dists) {
    line = "dist " + std::to_string(d->dist_info_rel.size()) + ":" + d->dist_info_rel + " " +
           (d->digest.empty() ? dist_digest(*d) : d->digest) + "\n";
    h.update(line);
  }
  return h.hex_digest();
}

}  // namespace lb::env
