// The "lavabuild.unpacked.v1" JSON manifest (format documented in wheel.hpp).
#include <nlohmann/json.hpp>

#include "wheel/wheel.hpp"

namespace lb::wheel {
namespace {

using Json = nlohmann::ordered_json;
constexpr const char* kFormat = "lavabuild.unpacked.v1";

Json entry_points_json(const std::vector<EntryPoint>& eps) {
  Json a = Json::array();
  for (const auto& ep : eps)
    a.push_back({{"name", ep.name}, {"module", ep.module}, {"attr", ep.attr}});
  return a;
}

std::vector<EntryPoint> entry_points_from(const Json& a) {
  std::vector<EntryPoint> out;
  for (const auto& j : a)
    out.push_back({j.at("name").get<std::string>(), j.at("module").get<std::string>(),
                   j.at("attr").get<std::string>()});
  return out;
}

}  // namespace

std::string serialize_unpacked(const UnpackedWheel& w) {
  const CoreMetadata& m = w.metadata;
  Json members = Json::array();
  for (const auto& f : w.members)
    members.push_back(
        {{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}, {"executable", f.executable}});
  Json j = {{"format", kFormat},
            {"dist_info", w.dist_info},
            {"data_dir", w.data_dir},
            {"root_is_purelib", w.root_is_purelib},
            {"wheel_version", w.wheel_version},
            {"metadata",
             {{"metadata_version", m.metadata_version},
              {"name", m.name},
              {"version", m.version},
              {"requires_python", m.requires_python},
              {"requires_dist", m.requires_dist},
              {"provides_extra", m.provides_extra},
              {"summary", m.summary}}},
            {"entry_points",
             {{"console_scripts", entry_points_json(w.entry_points.console_scripts)},
              {"gui_scripts", entry_points_json(w.entry_points.gui_scripts)}}},
            {"members", std::move(members)}};
  // Member paths are checked UTF-8; free-text metadata (Summary) may not be.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<UnpackedWheel> deserialize_unpacked(std::string_view text) {
  const char* hint = "the cached unpack manifest is corrupt; run `lavabuild cache verify --repair`";
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return make_error("unpack manifest is not JSON", hint);
  if (j.value("format", std::string()) != kFormat)
    return make_error("unpack manifest format is not " + std::string(kFormat), hint);
  UnpackedWheel w;
  try {
    w.dist_info = j.at("dist_info").get<std::string>();
    w.data_dir = j.at("data_dir").get<std::string>();
    w.root_is_purelib = j.at("root_is_purelib").get<bool>();
    w.wheel_version = j.at("wheel_version").get<std::string>();
    const Json& m = j.at("metadata");
    w.metadata = {m.at("metadata_version").get<std::string>(),
                  m.at("name").get<std::string>(),
                  m.at("version").get<std::string>(),
                  m.at("requires_python").get<std::string>(),
                  m.at("requires_dist").get<std::vector<std::string>>(),
                  m.at("provides_extra").get<std::vector<std::string>>(),
                  m.at("summary").get<std::string>()};
    const Json& eps = j.at("entry_points");
    w.entry_points.console_scripts = entry_points_from(eps.at("console_scripts"));
    w.entry_points.gui_scripts = entry_points_from(eps.at("gui_scripts"));
    for (const auto& f : j.at("members")) {
      w.members.push_back({f.at("path").get<std::string>(), f.at("sha256").get<std::string>(),
                           f.at("size").get<uint64_t>(), f.at("executable").get<bool>()});
      Status ok = check_member_path(w.members.back().path);
      if (!ok) return make_error("unpack manifest member: " + ok.error().message, hint);
    }
  } catch (const nlohmann::json::exception& e) {
    return make_error(std::string("unpack manifest is malformed: ") + e.what(), hint);
  }
  return w;
}

}  // namespace lb::wheel
