// libFuzzer target: parse arbitrary bytes as pyproject.toml's [build-system]. Whatever parses
// must hold what parse_build_system promises: a backend that is a non-empty object reference,
// requirements that parse (pip's default when nothing is declared), backend-path entries that
// stay inside the tree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "build/build_system.hpp"
#include "pep/requirement.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = lb::build::parse_build_system(text, "pyproject.toml");
  if (!s.ok()) {
    if (s.error().message.empty()) std::abort();
    return 0;
  }
  if (s->backend.empty() || s->backend.front() == ':' || s->backend.back() == ':') std::abort();
  if (!s->declared && (s->requirements.size() != 1 || s->backend != lb::build::kLegacyBackend ||
                       !s->backend_path.empty()))
    std::abort();
  if (s->requirements.size() > lb::build::kMaxBuildRequires) std::abort();
  for (const auto& r : s->requirements)
    if (!lb::pep::Requirement::parse(r).ok()) std::abort();
  for (const auto& p : s->backend_path) {
    if (p.empty() || p.front() == '/' || p == ".." || p.rfind("../", 0) == 0) std::abort();
  }
  return 0;
}
