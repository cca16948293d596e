// PEP 691 JSON project pages (+ PEP 700 size, PEP 714 core-metadata).
#include <cctype>

#include <nlohmann/json.hpp>

#include "net/index.hpp"
#include "net/url.hpp"
#include "util/strings.hpp"

namespace lb::net {

using nlohmann::json;

static std::string sha256_of(const json& hashes) {
  if (!hashes.is_object()) return {};
  auto it = hashes.find("sha256");
  if (it == hashes.end() || !it->is_string()) return {};
  std::string hex = to_lower(it->get<std::string>());
  if (hex.size() != 64) return {};
  for (char c : hex)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
  return hex;
}

static std::string string_or_empty(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::vector<IndexFile>> parse_simple_json(std::string_view text,
                                                 const std::string& base_url) {
  auto bad = [&](const std::string& why) {
    return make_error("invalid JSON index page " + redact_url(base_url) + ": " + why,
                      "check that the index implements PEP 691");
  };
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad("not valid JSON");
  if (!doc.is_object()) return bad("the top level is not an object");
  auto meta = doc.find("meta");
  if (meta != doc.end() && meta->is_object()) {
    std::string version = string_or_empty(*meta, "api-version");
    if (!version.empty() && !starts_with(version, "1.") && version != "1")
      return bad("unsupported api-version " + version + " (lavabuild reads 1.x)");
  }
  auto files_it = doc.find("files");
  if (files_it == doc.end() || !files_it->is_array()) return bad("no \"files\" array");
  std::vector<IndexFile> files;
  for (const json& entry : *files_it) {
    if (!entry.is_object()) return bad("a \"files\" entry is not an object");
    IndexFile f;
    f.filename = string_or_empty(entry, "filename");
    std::string url = string_or_empty(entry, "url");
    if (f.filename.empty() || url.empty()) return bad("a file without \"filename\" or \"url\"");
    url = resolve_url(base_url, url);
    f.url = strip_fragment(url);
    if (auto h = entry.find("hashes"); h != entry.end()) f.sha256 = sha256_of(*h);
    f.requires_python = string_or_empty(entry, "requires-python");
    if (auto y = entry.find("yanked"); y != entry.end()) {
      f.yanked = y->is_string() || (y->is_boolean() && y->get<bool>());
      if (y->is_string()) f.yanked_reason = y->get<std::string>();
    }
    auto m = entry.find("core-metadata");
    if (m == entry.end()) m = entry.find("dist-info-metadata");
    if (m != entry.end()) {
      f.has_metadata = m->is_object() || (m->is_boolean() && m->get<bool>());
      f.metadata_sha256 = sha256_of(*m);
    }
    if (auto s = entry.find("size"); s != entry.end() && s->is_number_unsigned())
      f.size = s->get<uint64_t>();
    f.origin = base_url;
    files.push_back(std::move(f));
  }
  return files;
}

}  // namespace lb::net
