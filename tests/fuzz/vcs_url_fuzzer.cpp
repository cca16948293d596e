// libFuzzer target for vcs::parse_url (pip's VCS URLs, from requirement and lock files).
// Besides "no crash", it checks what git and brz are protected by: nothing they are given
// starts with '-', the subdirectory stays inside the tree; and a round trip: a URL without any
// '@' parses back from url_without_rev() to the same repository.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "util/strings.hpp"
#include "vcs/vcs.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace lb;
  (void)vcs::is_vcs_url(text);
  auto url = vcs::parse_url(text);
  if (!url.ok()) return 0;
  check(vcs::is_vcs_url(text));
  check(!url->repo.empty() && url->repo.front() != '-');
  check(url->rev.empty() || url->rev.front() != '-');
  check(url->subdirectory.empty() || url->subdirectory.front() != '/');
  for (const auto& part : split(url->subdirectory, '/')) check(part != ".." && part != ".");
  std::string without = url->url_without_rev();
  check(vcs::is_vcs_url(without));
  (void)url->direct_url();
  (void)url->rev_is_immutable();
  if (text.find('@') == std::string_view::npos) {
    auto again = vcs::parse_url(without);
    check(again.ok() && again->repo == url->repo && again->rev.empty() &&
          again->kind == url->kind && again->url_without_rev() == without);
    if (text.find('%') == std::string_view::npos) check(url->direct_url() == url->repo);
  }
  return 0;
}
