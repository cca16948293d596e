#include <catch2/catch.hpp>

#include "engine/cache_gc.hpp"
#include "net/http.hpp"

using lb::engine::GcInventory;
using lb::engine::GcRoot;
using lb::engine::plan_gc;

TEST_CASE("--max-size values", "[gc][size]") {
  using lb::net::parse_size;
  CHECK(parse_size("500M") == 500ull << 20);
  CHECK(parse_size("2G") == 2ull << 30);
  CHECK(parse_size("1.5GiB") == (3ull << 30) / 2);
  CHECK(parse_size("12345") == 12345u);
  CHECK(parse_size(" 64mb ") == 64ull << 20);
  CHECK_FALSE(parse_size("lots"));
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("5X"));
  CHECK_FALSE(parse_size(""));
}

namespace {
GcInventory inventory() {
  GcInventory inv;
  inv.blobs = {{"a", 100, 1}, {"b", 200, 2}, {"c", 300, 1}, {"d", 400, 1}, {"e.x", 50, 3}};
  inv.entries = {"env//old", "env//new", "env//gone", "ac/1", "ac/2", "ac/3", "page/x", "dl/u1"};
  GcRoot old{"env//old", 10, {"a", "b"}, {"ac/1", "dl/u1"}};
  GcRoot fresh{"env//new", 20, {"b", "c", "e.x"}, {"ac/2"}};
  inv.live = {fresh, old};
  return inv;
}
}  // namespace

TEST_CASE("gc removes what no live root reaches", "[gc]") {
  auto plan = plan_gc(inventory(), std::nullopt);
  CHECK(plan.blobs == std::vector<std::string>{"d"});
  CHECK(plan.blob_bytes == 400);
  CHECK(plan.freed_bytes == 400);
  CHECK(plan.entries == std::vector<std::string>{"env//gone", "ac/3", "page/x"});
  CHECK(plan.evicted.empty());
  CHECK(plan.size_after == 650);
}

TEST_CASE("--max-size evicts least recently used roots, shared blobs last", "[gc]") {
  auto plan = plan_gc(inventory(), 600);
  // Evicting the older env frees "a" only: "b" is shared with the newer one.
  CHECK(plan.evicted == std::vector<std::string>{"env//old"});
  CHECK(plan.blobs == std::vector<std::string>{"d", "a"});
  CHECK(plan.size_after == 550);
  auto all = plan_gc(inventory(), 0);
  CHECK(all.evicted == std::vector<std::string>{"env//old", "env//new"});
  CHECK(all.size_after == 0);
  // Blobs that envs still link (nlink > 1) leave the cache but free nothing on disk.
  CHECK(all.freed_bytes == 400 + 100 + 300);
  CHECK(all.blob_bytes == 1050);
}
