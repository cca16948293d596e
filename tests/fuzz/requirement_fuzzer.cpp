// libFuzzer target for the pep parsers: Requirement, Marker, Version, SpecifierSet.
// Besides "no crash", it checks round trips: canonical text must parse back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pep/marker.hpp"
#include "pep/requirement.hpp"
#include "pep/specifier.hpp"
#include "pep/version.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace lb::pep;

  if (auto v = Version::parse(text); v.ok()) {
    auto again = Version::parse(v->to_string());
    check(again.ok() && *again == *v && again->to_string() == v->to_string());
  }
  if (auto s = SpecifierSet::parse(text); s.ok()) {
    auto again = SpecifierSet::parse(s->to_string());
    check(again.ok() && again->to_string() == s->to_string());
    if (auto v = Version::parse("1.0"); v.ok()) (void)s->contains(*v);
  }
  MarkerEnv env{{{"python_version", "3.11"}, {"sys_platform", "linux"}}};
  if (auto m = Marker::parse(text); m.ok()) {
    (void)m->evaluate(env, {"test"});
    auto again = Marker::parse(m->to_string());
    check(again.ok() && again->to_string() == m->to_string());
  }
  if (auto r = Requirement::parse(text); r.ok()) {
    if (r->marker) (void)r->marker->evaluate(env);
    auto again = Requirement::parse(r->to_string());
    check(again.ok() && again->to_string() == r->to_string());
  }
  return 0;
}
