#include "env/manifest.hpp"

#include "env/bytecode.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
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

json file_json(const FileEntry& f) {
  json a = json::array({f.path, mode_text(f.mode), f.sha256, f.size, f.per_env ? 1 : 0});
  if (f.mode == kModeSymlink) a.push_back(f.link_target);
  return a;
}

json files_json(const std::vector<FileEntry>& files) {
  json a = json::array();
  for (const auto& f : files) a.push_back(file_json(f));
  return a;
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

std::string serialize_manifest(const Manifest& m) {
  json dists = json::array();
  for (const auto& d : m.dists) {
    json dist = {{"name", d.name},
                 {"version", d.version},
                 {"dist_info", d.dist_info_rel},
                 {"link_key", d.link_key},
                 {"files", files_json(d.files)}};
    if (!d.bytecode_tag.empty()) dist["bytecode"] = d.bytecode_tag;
    dists.push_back(std::move(dist));
  }
  json j = {{"format", kManifestFormat},
            {"stamp", m.stamp},
            {"env_path", m.env_path},
            {"interpreter",
             {{"executable", m.interpreter_executable},
              {"version", m.interpreter_version},
              {"key", m.interpreter_key}}},
            {"venv_files", files_json(m.venv_files)},
            {"dists", std::move(dists)}};
  return j.dump() + "\n";
}

Result<Manifest> parse_manifest(std::string_view text) {
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
