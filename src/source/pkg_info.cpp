// An sdist's PKG-INFO: core metadata plus PEP 643's Dynamic fields.
#include <charconv>

#include "source/sdist.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::source {
namespace {

constexpr uint64_t kMaxPkgInfoSize = uint64_t(64) << 20;

/// "2.2" -> {2, 2}; nullopt when it is not two dot-separated numbers (a third part is ignored).
std::optional<std::pair<unsigned, unsigned>> major_minor(std::string_view text) {
  auto parts = split(trim(text), '.');
  if (parts.size() < 2) return std::nullopt;
  unsigned major = 0, minor = 0;
  for (auto [part, out] : {std::pair{&parts[0], &major}, std::pair{&parts[1], &minor}}) {
    const char* end = part->data() + part->size();
    auto r = std::from_chars(part->data(), end, *out);
    if (part->empty() || r.ec != std::errc() || r.ptr != end) return std::nullopt;
  }
  return std::pair{major, minor};
}

}  // namespace

bool SdistMetadata::static_requires() const {
  auto mv = major_minor(core.metadata_version);
  if (!mv || *mv < std::pair{2u, 2u}) return false;
  for (const auto& d : dynamic)
    if (d == "requires-dist") return false;
  return true;
}

Result<SdistMetadata> parse_pkg_info(std::string_view text, const std::string& label) {
  SdistMetadata m;
  auto core = wheel::parse_core_metadata(text);
  if (!core.ok()) return core.error().context(label);
  m.core = std::move(*core);
  for (const auto& [key, value] : wheel::parse_email_headers(text))
    if (to_lower(key) == "dynamic" && !trim(value).empty())
      m.dynamic.push_back(to_lower(trim(value)));
  return m;
}

Result<std::optional<SdistMetadata>> read_pkg_info(const std::string& tree) {
  std::string path = fs::join_path(tree, "PKG-INFO");
  fs::FileInfo info = fs::stat_path(path);
  if (!info.exists) return std::optional<SdistMetadata>();
  if (!info.is_regular)
    return make_error(path + " is not a regular file",
                      "the sdist is malformed; report it to its maintainers");
  if (info.size > kMaxPkgInfoSize)
    return make_error(path + " is larger than 64 MiB",
                      "the sdist is malformed or hostile; do not build it");
  LB_ASSIGN(std::string text, fs::read_file(path));
  LB_ASSIGN(SdistMetadata m, parse_pkg_info(text, path));
  return std::optional<SdistMetadata>(std::move(m));
}

}  // namespace lb::source
