#include "env/manifest.hpp"

#include "env/bytecode.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>

#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::env {
namespace {

using nlohmann::json;

std::string mode_text(uint32_t mode) {
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
    out += ',' + std::to_string(f.size) + ',' + (f.per_env ? "1" : "0");
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
    out += "\"dist_info\":";
    append_json_string(out, d.dist_info_rel);
    out += ",\"files\":";
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
class FastReader {
 public:
  explicit FastReader(std::string_view s) : s_(s) {}

  std::optional<Manifest> manifest() {
    Manifest m;
    if (!lit("{\"dists\":[")) return std::nullopt;
    while (!peek(']')) {
      if (!m.dists.empty() && !lit(",")) return std::nullopt;
      InstalledDist d;
      if (!lit("{")) return std::nullopt;
      if (peek('"') && s_.substr(i_, 11) == "\"bytecode\":") {
        i_ += 11;
        if (!str(d.bytecode_tag) || !lit(",")) return std::nullopt;
      }
      if (!lit("\"dist_info\":") || !str(d.dist_info_rel) || !lit(",\"files\":") ||
          !files(d.files) || !lit(",\"link_key\":") || !str(d.link_key) || !lit(",\"name\":") ||
          !str(d.name) || !lit(",\"version\":") || !str(d.version) || !lit("}"))
        return std::nullopt;
      m.dists.push_back(std::move(d));
    }
    std::string format;
    if (!lit("],\"env_path\":") || !str(m.env_path) || !lit(",\"format\":") || !str(format) ||
        format != kManifestFormat || !lit(",\"interpreter\":{\"executable\":") ||
        !str(m.interpreter_executable) || !lit(",\"key\":") || !str(m.interpreter_key) ||
        !lit(",\"version\":") || !str(m.interpreter_version) || !lit("},\"stamp\":") ||
        !str(m.stamp) || !lit(",\"venv_files\":") || !files(m.venv_files) || !lit("}"))
      return std::nullopt;
    if (peek('\n')) ++i_;
    if (i_ != s_.size()) return std::nullopt;
    return m;
  }

 private:
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool lit(std::string_view t) {
    if (s_.substr(i_, t.size()) != t) return false;
    i_ += t.size();
    return true;
  }
  bool str(std::string& out) {
    if (!lit("\"")) return false;
    out.clear();
    while (i_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20 || c >= 0x80) return false;
      if (c != '\\') {
        out += char(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      switch (s_[i_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
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
          out += char(v);
          i_ += 4;
          break;
        }
        default:
          return false;
      }
    }
    return false;
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
  bool files(std::vector<FileEntry>& out) {
    if (!lit("[")) return false;
    std::string mode;
    while (!peek(']')) {
      if (!out.empty() && !lit(",")) return false;
      FileEntry f;
      uint64_t per_env = 0;
      if (!lit("[") || !str(f.path) || !lit(",") || !str(mode) || !lit(",") || !str(f.sha256) ||
          !lit(",") || !num(f.size) || !lit(",") || !num(per_env) || per_env > 1)
        return false;
      char* end = nullptr;
      f.mode = static_cast<uint32_t>(std::strtoul(mode.c_str(), &end, 8));
      if (mode.empty() || mode.size() > 7 || *end != '\0' || mode.front() == '-') return false;
      f.per_env = per_env == 1;
      if (f.mode == kModeSymlink && (!lit(",") || !str(f.link_target))) return false;
      if (!lit("]")) return false;
      out.push_back(std::move(f));
    }
    ++i_;
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

namespace detail {

std::optional<Manifest> parse_manifest_fast(std::string_view text) {
  return FastReader(text).manifest();
}

}  // namespace detail

Result<Manifest> parse_manifest(std::string_view text) {
  if (auto m = detail::parse_manifest_fast(text)) return std::move(*m);
  return detail::parse_manifest_json(text);
}

namespace detail {

Result<Manifest> parse_manifest_json(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("the env manifest is not valid JSON");
  if (str(j, "format") != kManifestFormat)
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

Result<Manifest> read_manifest(const std::string& env_dir) {
  std::string path = fs::join_path(env_dir, kManifestRel);
  auto text = fs::read_file(path);
  if (!text.ok())
    return make_error("no env manifest at " + path,
                      "this directory was not created by lavabuild (or was damaged); recreate it "
                      "with `lavabuild env`");
  auto m = parse_manifest(*text);
  if (!m.ok()) return m.error().context(path);
  return m;
}

std::string manifest_digest(const Manifest& m) {
  std::vector<const FileEntry*> all;
  std::unordered_set<std::string> compiled;
  for (const auto& f : m.venv_files) all.push_back(&f);
  for (const auto& d : m.dists) {
    for (const auto& f : d.files) all.push_back(&f);
    compiled.merge(compiled_pycs(d));
  }
  std::sort(all.begin(), all.end(),
            [](const FileEntry* a, const FileEntry* b) { return a->path < b->path; });
  // Compiled bytecode counts by its path: its bytes (marshal output) may differ between
  // machines that compiled the same source, the source's digest is counted anyway.
  Sha256 h;
  h.update("lavabuild.env-digest.v1\n");
  for (const FileEntry* f : all) {
    std::string line = std::to_string(f->path.size()) + ":" + f->path + " " + mode_text(f->mode) +
                       " " + (compiled.count(f->path) ? "compiled" : f->sha256) + "\n";
    h.update(line);
  }
  return h.hex_digest();
}

}  // namespace lb::env
