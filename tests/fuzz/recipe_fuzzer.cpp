// libFuzzer target: arbitrary text as a recipe (source/recipe.cpp) in a scratch recipes folder
// holding two patches and a symlink out of it, and as a patch whose file names are checked
// (source/patch.cpp check_patch_paths). Seeds: tests/fuzz/seeds/recipe_fuzzer/.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_scratch.hpp"
#include "source/patch.hpp"
#include "source/recipe.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace {

const std::string& recipes() {
  static const std::string dir = [] {
    const std::string& tmpl = lb::fuzz::scratch_dir("recipe-fuzz");
    std::string d = tmpl + "/recipes";
    if (!lb::fs::create_dirs(d + "/demo").ok() ||
        !lb::fs::write_file(d + "/demo/fix.patch", "--- a/x\n+++ b/x\n").ok() ||
        !lb::fs::write_file(d + "/two.patch", "--- a/y\n+++ b/y\n").ok() ||
        !lb::fs::write_file(tmpl + "/outside.patch", "x").ok() ||
        !lb::fs::symlink("../outside.patch", d + "/out.patch").ok())
      __builtin_trap();
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lb;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string& dir = recipes();
  auto r = source::parse_recipe(text, dir + "/demo.toml");
  if (r.ok()) {
    if (r->name != "demo" || r->digest.size() != 64) __builtin_trap();
    if (r->patches.size() != r->patch_sha256.size()) __builtin_trap();
    for (const auto& p : r->patches)
      if (!starts_with(p, dir + "/") || ends_with(p, "/out.patch")) __builtin_trap();
    (void)r->applies_to("1.0");
    (void)r->applies_to("2.0rc1");
  }
  (void)source::check_patch_paths(text);
  return 0;
}
