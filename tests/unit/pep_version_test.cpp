// PEP 440 Version: parsing, normalisation and ordering (cases follow packaging's test suite).
#include <atomic>
#include <cstdlib>
#include <new>

#include <catch2/catch.hpp>

#include "pep/version.hpp"

using lb::pep::Version;

namespace {

// Allocation counter for the "comparison does not allocate" test.
std::atomic<long> g_allocations{0};

Version V(const char* s) {
  auto r = Version::parse(s);
  INFO(s);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// Every allocating form goes through malloc, so every delete may free (sanitizers check pairs).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

TEST_CASE("version: normalised spellings", "[pep][version]") {
  const std::pair<const char*, const char*> cases[] = {
      {"1.0dev", "1.0.dev0"},
      {"1.0.dev", "1.0.dev0"},
      {"1.0-dev1", "1.0.dev1"},
      {"1.0DEV", "1.0.dev0"},
      {"1.0dev.1", "1.0.dev1"},
      {"1.0-dev-1", "1.0.dev1"},
      {"1.0a", "1.0a0"},
      {"1.0.a1", "1.0a1"},
      {"1.0-a", "1.0a0"},
      {"1.0a-", "1.0a0"},
      {"1.0a.", "1.0a0"},
      {"1.0a-1", "1.0a1"},
      {"1.0alpha1", "1.0a1"},
      {"1.0beta1", "1.0b1"},
      {"1.0B2", "1.0b2"},
      {"1.0c1", "1.0rc1"},
      {"1.0c", "1.0rc0"},
      {"1.0pre1", "1.0rc1"},
      {"1.0pre.1", "1.0rc1"},
      {"1.0preview", "1.0rc0"},
      {"1.0.RC1", "1.0rc1"},
      {"1.0post", "1.0.post0"},
      {"1.0.post", "1.0.post0"},
      {"1.0-r", "1.0.post0"},
      {"1.0_r_1", "1.0.post1"},
      {"1.0rev4", "1.0.post4"},
      {"1.0-1", "1.0.post1"},
      {"1-0", "1.post0"},
      {"1.0.POST-1", "1.0.post1"},
      {"1.0post-1", "1.0.post1"},
      {"1.0rc1-1", "1.0rc1.post1"},
      {"1.0.post1-dev2", "1.0.post1.dev2"},
      {"1.0-1.dev1", "1.0.post1.dev1"},
      {"1.0-1dev", "1.0.post1.dev0"},
      {"1.0r.dev", "1.0.post0.dev0"},
      {"1.0+AbC", "1.0+abc"},
      {"1.0+AbC-01.x_2", "1.0+abc.1.x.2"},
      {"1.0+01", "1.0+1"},
      {"v1.0", "1.0"},
      {"V1.0", "1.0"},
      {"  v1.0\t\n", "1.0"},
      {"1.01", "1.1"},
      {"01.0", "1.0"},
      {"0!1.0", "1.0"},
      {"1!2.0", "1!2.0"},
      {"2014.04", "2014.4"},
      {"1.0a1.post2.dev3+x.4", "1.0a1.post2.dev3+x.4"},
      {"1.0.0.0.0", "1.0.0.0.0"},
      {"20230101123456", "20230101123456"},
  };
  for (const auto& [in, out] : cases) {
    INFO(in);
    auto v = Version::parse(in);
    REQUIRE(v.ok());
    CHECK(v->to_string() == out);
    // normalised text parses back to an equal version
    CHECK(V(out) == *v);
  }
}

TEST_CASE("version: invalid spellings", "[pep][version]") {
  for (const char* bad : {"",
                          "   ",
                          "v",
                          "french toast",
                          "1.0.",
                          "1.0-",
                          "1.0..0",
                          "1!",
                          "!1.0",
                          "1.0 a1",
                          "1.0+",
                          "1.0++",
                          "1.0+a_",
                          "1.0+1+1",
                          "1.0+_foobar",
                          "1.0+foo&asd",
                          "1.0-1-1",
                          "1.0.a.1.b",
                          "1_0",
                          "1.0a1a2",
                          "1.0.post1.post2",
                          "1.0.dev1.dev2",
                          "1.0dev1a1",
                          "1.2.3.4.5.6.7.8.9999999999999999999"}) {
    INFO(bad);
    auto v = Version::parse(bad);
    CHECK_FALSE(v.ok());
    if (!v.ok()) CHECK(v.error().message.find("invalid version") != std::string::npos);
  }
}

TEST_CASE("version: total order as packaging", "[pep][version]") {
  // packaging's test_version.py VERSIONS list, already sorted ascending.
  const char* sorted[] = {
      "1.0.dev456",
      "1.0a1",
      "1.0a2.dev456",
      "1.0a12.dev456",
      "1.0a12",
      "1.0b1.dev456",
      "1.0b2",
      "1.0b2.post345.dev456",
      "1.0b2.post345",
      "1.0b2-346",
      "1.0c1.dev456",
      "1.0c1",
      "1.0rc2",
      "1.0c3",
      "1.0",
      "1.0.post456.dev34",
      "1.0.post456",
      "1.1.dev1",
      "1.2+123abc",
      "1.2+123abc456",
      "1.2+abc",
      "1.2+abc123",
      "1.2+abc123def",
      "1.2+1234.abc",
      "1.2+123456",
      "1.2.r32+123456",
      "1.2.rev33+123456",
      "1!1.0.dev456",
      "1!1.0a1",
      "1!1.0a2.dev456",
      "1!1.0a12.dev456",
      "1!1.0a12",
      "1!1.0b1.dev456",
      "1!1.0b2",
      "1!1.0b2.post345.dev456",
      "1!1.0b2.post345",
      "1!1.0b2-346",
      "1!1.0c1.dev456",
      "1!1.0c1",
      "1!1.0rc2",
      "1!1.0c3",
      "1!1.0",
      "1!1.0.post456.dev34",
      "1!1.0.post456",
      "1!1.1.dev1",
      "1!1.2+123abc",
      "1!1.2+123abc456",
      "1!1.2+abc",
      "1!1.2+abc123",
      "1!1.2+abc123def",
      "1!1.2+1234.abc",
      "1!1.2+123456",
      "1!1.2.r32+123456",
      "1!1.2.rev33+123456",
  };
  const size_t n = sizeof(sorted) / sizeof(sorted[0]);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      INFO(sorted[i] << " vs " << sorted[j]);
      auto c = V(sorted[i]) <=> V(sorted[j]);
      CHECK(c == (i <=> j));
    }
  }
}

TEST_CASE("version: equality ignores trailing zeros, not local", "[pep][version]") {
  CHECK(V("1.0") == V("1"));
  CHECK(V("1.0.0") == V("1"));
  CHECK(V("1.0+abc") == V("1.0.0+abc"));
  CHECK(V("1.0") != V("1.0+0"));
  CHECK(V("1.0+0") > V("1.0"));
  CHECK(V("1.0+abc") < V("1.0+0"));  // numeric local segments sort after text
  CHECK(V("1.0+abc") < V("1.0+abc.0"));
  CHECK(V("1.0a1") < V("1.0a1.post1"));
  CHECK(V("1.0.dev1") < V("1.0a0"));
  CHECK(V("1.0.post1.dev0") < V("1.0.post1"));
  CHECK(V("0!9") < V("1!0"));
}

TEST_CASE("version: classification and parts", "[pep][version]") {
  Version v = V("1!2.3.4rc5.post6.dev7+ubuntu.8");
  CHECK(v.epoch() == 1);
  CHECK(v.release() == std::vector<long long>{2, 3, 4});
  CHECK(v.pre_kind() == Version::Pre::kRc);
  CHECK(v.pre_number() == 5);
  CHECK(v.post() == 6);
  CHECK(v.dev() == 7);
  CHECK(v.is_prerelease());
  CHECK(v.is_postrelease());
  CHECK(v.is_devrelease());
  CHECK(v.has_local());
  CHECK(v.public_version().to_string() == "1!2.3.4rc5.post6.dev7");
  CHECK(v.base_version().to_string() == "1!2.3.4");
  CHECK_FALSE(V("1.0").is_prerelease());
  CHECK(V("1.0.dev0").is_prerelease());
  CHECK_FALSE(V("1.0.post1").is_prerelease());
  CHECK(V("1.0.post1").is_postrelease());
  CHECK(Version::same_base(V("1.0rc1"), V("1.0.0.post3")));
  CHECK_FALSE(Version::same_base(V("1!1.0"), V("1.0")));
}

TEST_CASE("version: comparison does not allocate", "[pep][version]") {
  std::vector<Version> vs = {V("1.0.dev1"),  V("1.0a1"),     V("1.0"),  V("1.0.0.post1"),
                             V("1.0+abc.1"), V("1.0+abc.2"), V("2!0.1")};
  long before = g_allocations.load();
  int less = 0;
  for (const Version& a : vs)
    for (const Version& b : vs) less += (a < b) + (a == b) + (a > b);
  long after = g_allocations.load();
  CHECK(less == 49);
  CHECK(after == before);
}

TEST_CASE("version: surrounding Unicode whitespace is stripped as str.strip() does",
          "[pep][version][whitespace]") {
  const char* spaced[] = {
      "\xc2\xa0"
      "1.0\xc2\xa0",  // U+00A0
      "\xe2\x80\x80"
      "1.0\xe2\x80\x8a",  // U+2000, U+200A
      "\xe3\x80\x80"
      "1.0",              // U+3000
      "1.0\xe2\x80\xa9",  // U+2029
      "\xe2\x81\x9f"
      "1.0\xe2\x80\xaf",  // U+205F, U+202F
      "\xe1\x9a\x80"
      "1.0\xc2\x85",                   // U+1680, U+0085
      "\x1c\x1d 1.0\x1e\x1f\x0b\x0c",  // the ASCII separators Python counts as space
  };
  for (const char* s : spaced) {
    INFO(s);
    auto v = lb::pep::Version::parse(s);
    REQUIRE(v.ok());
    CHECK(v->to_string() == "1.0");
  }
  // Not whitespace: U+00A9, U+200B (zero width space is not str.isspace()), inner spaces.
  for (const char* s : {"1.0\xc2\xa9",
                        "\xe2\x80\x8b"
                        "1.0",
                        "1.0\xc2\xa0"
                        "1",
                        "\xc2"})
    CHECK_FALSE(lb::pep::Version::parse(s).ok());
}
