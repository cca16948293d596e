// libFuzzer target: arbitrary bytes as an sdist or source archive (source/archive.cpp), unpacked
// into a scratch directory. What is unpacked must be a tree copy_tree accepts and whose copy has
// the same digest; a refused archive leaves nothing behind; nothing is ever written beside the
// destination. Seeds: tests/fuzz/seeds/sdist_fuzzer/.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_scratch.hpp"
#include "source/sdist.hpp"
#include "source/tree.hpp"
#include "util/fs.hpp"

namespace {

const std::string& scratch() {
  return lb::fuzz::scratch_dir("sdist-fuzz");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lb;
  source::ArchiveLimits limits;  // small, so that one input stays fast
  limits.max_members = 2000;
  limits.max_member_size = uint64_t(4) << 20;
  limits.max_total_size = uint64_t(16) << 20;
  limits.ratio_floor = uint64_t(1) << 20;
  const std::string dest = scratch() + "/out", copy = scratch() + "/copy";
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto top = source::unpack_archive_bytes(bytes, "fuzz.tar.gz", dest, limits);
  if (top.ok()) {
    if (*top != dest && fs::dirname(*top) != dest) __builtin_trap();
    auto digest = source::digest_tree(dest, nullptr);
    if (!digest.ok()) __builtin_trap();  // an unpacked tree is a valid source tree
    if (!source::copy_tree(dest, copy).ok()) __builtin_trap();  // its symlinks stay inside
    auto again = source::digest_tree(copy, nullptr);
    if (!again.ok() || again->digest != digest->digest) __builtin_trap();
    (void)source::read_pkg_info(*top);
  } else if (fs::exists(dest)) {
    __builtin_trap();  // a refused archive leaves nothing
  }
  (void)fs::remove_all(dest);
  (void)fs::remove_all(copy);
  auto left = fs::list_dir(scratch());
  if (!left.ok() || !left->empty()) __builtin_trap();  // nothing escaped beside dest
  return 0;
}
