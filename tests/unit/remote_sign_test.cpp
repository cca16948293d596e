// Ed25519 entry signatures (remote/sign.hpp): key files, signing, every reason a check fails,
// and RFC 8032's first test vector, which pins the key and signature formats.
#include "remote/sign.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

using namespace lb;
using namespace lb::remote;
using lb::test::TempDir;

namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += char(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

// RFC 8032 section 7.1, TEST 1: the empty message.
const std::string kSeed1 =
    from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const std::string kPublic1 =
    from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const std::string kSignature1 = from_hex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
    "9b46bd25bf5f0595bbe24655141438e7a100b");

std::pair<SecretKey, PublicKey> new_key(const std::string& name) {
  auto k = generate_key(name);
  REQUIRE(k.ok());
  return *k;
}

/// `sig` with one character of its base64 changed (still valid base64, same length).
std::string flip_sig_char(std::string sig) {
  char& c = sig[sig.find(':') + 5];
  c = c == 'A' ? 'B' : 'A';
  return sig;
}

}  // namespace

TEST_CASE("sign: RFC 8032 test vector 1 pins the formats", "[remote]") {
  SecretKey sk{"rfc8032-1", kSeed1};
  PublicKey pk = public_of(sk);
  CHECK(pk.name == "rfc8032-1");
  CHECK(to_hex(reinterpret_cast<const uint8_t*>(pk.key.data()), pk.key.size()) ==
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  CHECK(format_secret_key(sk) == "rfc8032-1:" + base64_encode(kSeed1));
  CHECK(format_public_key(pk) == "rfc8032-1:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  std::string sig = sign(sk, "");
  CHECK(sig == "rfc8032-1:" + base64_encode(kSignature1));
  CHECK(sig ==
        "rfc8032-1:5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv18FlbviRlUUFD"
        "jnoQCw==");
  CHECK(check_signature({pk}, "", sig).empty());
  CHECK(check_signature({PublicKey{"rfc8032-1", kPublic1}}, "", sig).empty());
}

TEST_CASE("sign: keys round-trip through their file lines", "[remote]") {
  auto [sk, pk] = new_key("ci.example.org-1");
  CHECK(sk.seed.size() == 32);
  CHECK(pk.key.size() == 32);
  CHECK(public_of(sk).key == pk.key);
  CHECK(new_key("ci.example.org-1").first.seed != sk.seed);  // random, not derived from the name
  std::string line = format_secret_key(sk);
  CHECK(line.rfind("ci.example.org-1:", 0) == 0);
  CHECK(line.size() == std::string("ci.example.org-1:").size() + 44);
  for (const std::string& text : {line, line + "\n"}) {
    auto back = parse_secret_key(text, "key.sec");
    REQUIRE(back.ok());
    CHECK(back->name == sk.name);
    CHECK(back->seed == sk.seed);
  }
  auto pub = parse_public_key(format_public_key(pk) + "\n", "key.pub");
  REQUIRE(pub.ok());
  CHECK(pub->name == pk.name);
  CHECK(pub->key == pk.key);
}

TEST_CASE("sign: a signature checks, and every change to it is found", "[remote]") {
  auto [sk, pk] = new_key("ci-1");
  auto [other_sk, other_pk] = new_key("other");
  std::string msg = entry_fingerprint("build/3f2a", std::string(64, 'a'), 1234);
  CHECK(msg == "lavabuild.entry.v1;build/3f2a;" + std::string(64, 'a') + ";1234");
  std::string sig = sign(sk, msg);
  CHECK(sig.rfind("ci-1:", 0) == 0);
  CHECK(sign(sk, msg) == sig);  // Ed25519 is deterministic
  CHECK(check_signature({pk}, msg, sig).empty());
  CHECK(check_signature({other_pk, pk}, msg, sig).empty());

  SECTION("a tampered message") {
    CHECK(check_signature({pk}, msg + "0", sig) == "bad signature by ci-1");
    CHECK(check_signature({pk}, entry_fingerprint("build/3f2a", std::string(64, 'a'), 1235), sig) ==
          "bad signature by ci-1");
  }
  SECTION("a tampered signature") {
    CHECK(check_signature({pk}, msg, flip_sig_char(sig)) == "bad signature by ci-1");
  }
  SECTION("an untrusted key name") {
    CHECK(check_signature({other_pk}, msg, sig) == "signed by untrusted key ci-1");
    CHECK(check_signature({}, msg, sig) == "signed by untrusted key ci-1");
  }
  SECTION("a trusted name with a different key") {
    PublicKey impostor{"ci-1", other_pk.key};
    CHECK(check_signature({impostor}, msg, sig) == "bad signature by ci-1");
    // The same name twice (a key being rotated): either key may have signed.
    CHECK(check_signature({impostor, pk}, msg, sig).empty());
  }
  SECTION("a signature by another key under a trusted name") {
    SecretKey forged{"ci-1", other_sk.seed};
    CHECK(check_signature({pk}, msg, sign(forged, msg)) == "bad signature by ci-1");
  }
  SECTION("malformed signatures") {
    std::string b64 = sig.substr(sig.find(':') + 1);
    auto reason = [&](std::string_view s) { return check_signature({pk}, msg, s); };
    CHECK_THAT(reason(""), Catch::StartsWith("malformed signature") && Catch::Contains("':'"));
    CHECK_THAT(reason(b64), Catch::StartsWith("malformed signature") && Catch::Contains("':'"));
    CHECK_THAT(reason(":" + b64),
               Catch::StartsWith("malformed signature") && Catch::Contains("name is empty"));
    CHECK_THAT(reason("ci 1:" + b64),
               Catch::StartsWith("malformed signature") && Catch::Contains("character"));
    CHECK_THAT(reason(std::string(129, 'a') + ":" + b64),
               Catch::StartsWith("malformed signature") && Catch::Contains("longer than 128"));
    CHECK_THAT(reason("ci-1:" + b64.substr(0, 86)),
               Catch::StartsWith("malformed signature") && Catch::Contains("base64"));
    CHECK_THAT(reason("ci-1:" + b64 + "\n"),
               Catch::StartsWith("malformed signature") && Catch::Contains("base64"));
    CHECK_THAT(reason("ci-1:!" + b64.substr(1)),
               Catch::StartsWith("malformed signature") && Catch::Contains("base64"));
    CHECK_THAT(reason("ci-1:" + base64_encode(std::string(63, 'x'))),
               Catch::StartsWith("malformed signature") && Catch::Contains("63 bytes, not 64"));
    CHECK_THAT(reason("ci-1:" + base64_encode(std::string(65, 'x'))),
               Catch::StartsWith("malformed signature") && Catch::Contains("65 bytes, not 64"));
  }
}

TEST_CASE("sign: malformed key files name the file and the problem", "[remote]") {
  auto [sk, pk] = new_key("k");
  std::string good = format_secret_key(sk);
  std::string b64 = good.substr(2);
  auto secret_error = [](std::string_view text) {
    auto r = parse_secret_key(text, "/keys/ci.sec");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::StartsWith("/keys/ci.sec: not a lavabuild secret key"));
    CHECK_THAT(r.error().hint, Catch::Contains("lavabuild cache keygen"));
    return r.error().message;
  };
  CHECK_THAT(secret_error(""), Catch::Contains("empty"));
  CHECK_THAT(secret_error("\n"), Catch::Contains("empty"));
  CHECK_THAT(secret_error(b64), Catch::Contains("no ':'"));
  CHECK_THAT(secret_error(":" + b64), Catch::Contains("name is empty"));
  CHECK_THAT(secret_error("a/b:" + b64), Catch::Contains("character"));
  CHECK_THAT(secret_error(std::string(129, 'n') + ":" + b64), Catch::Contains("longer than 128"));
  CHECK(parse_secret_key(std::string(128, 'n') + ":" + b64, "f").ok());
  CHECK_THAT(secret_error(good + "\n\n"), Catch::Contains("more than one line"));
  CHECK_THAT(secret_error(good + "\nk:" + b64), Catch::Contains("more than one line"));
  CHECK_THAT(secret_error(good + "\r\n"), Catch::Contains("space"));
  CHECK_THAT(secret_error(good + " "), Catch::Contains("space"));
  CHECK_THAT(secret_error("k: " + b64), Catch::Contains("space"));
  CHECK_THAT(secret_error(" " + good), Catch::Contains("space"));
  CHECK_THAT(secret_error("k:" + b64.substr(0, 43)), Catch::Contains("base64"));
  CHECK_THAT(secret_error("k:" + b64.substr(0, 43) + "%"), Catch::Contains("base64"));
  // urlsafe base64 is another alphabet: refused, not read as something else.
  CHECK_THAT(secret_error(
                 "k:" + base64_urlsafe_nopad(reinterpret_cast<const uint8_t*>("\xfb\xff\xfe"), 3)),
             Catch::Contains("base64"));
  CHECK_THAT(secret_error("k:" + base64_encode(std::string(31, 'x'))),
             Catch::Contains("31 bytes, not 32"));
  // A Nix secret key (seed and public key, 64 bytes) is not taken for a seed.
  CHECK_THAT(secret_error("k:" + base64_encode(sk.seed + pk.key)),
             Catch::Contains("64 bytes, not 32"));

  auto pub = parse_public_key("k:" + base64_encode(std::string(33, 'x')), "/keys/ci.pub");
  REQUIRE_FALSE(pub.ok());
  CHECK_THAT(pub.error().message, Catch::StartsWith("/keys/ci.pub: not a lavabuild public key") &&
                                      Catch::Contains("33 bytes, not 32"));
  CHECK_FALSE(pub.error().hint.empty());
  CHECK_FALSE(parse_public_key("k" + format_public_key(pk).substr(1) + "x", "f").ok());
}

TEST_CASE("sign: key names", "[remote]") {
  CHECK(generate_key("A-Za-z0-9._-").ok());
  CHECK(generate_key(std::string(128, 'x')).ok());
  for (const std::string& bad : {std::string(), std::string(129, 'x'), std::string("a:b"),
                                 std::string("a b"), std::string("a/b"), std::string("é")}) {
    auto k = generate_key(bad);
    REQUIRE_FALSE(k.ok());
    CHECK_THAT(k.error().message, Catch::StartsWith("cannot make a key pair"));
    CHECK_FALSE(k.error().hint.empty());
  }
}

TEST_CASE("sign: key files on disk", "[remote]") {
  TempDir tmp("sign");
  std::string sec = tmp / "ci.sec", pub = tmp / "ci.pub";
  auto written = write_key_pair("ci-1", sec, pub);
  REQUIRE(written.ok());
  CHECK(fs::stat_path(sec).mode == 0600);
  CHECK(fs::stat_path(pub).mode == 0644);
  CHECK(*fs::read_file(pub) == format_public_key(*written) + "\n");
  auto sk = read_secret_key(sec);
  REQUIRE(sk.ok());
  auto pk = read_public_key(pub);
  REQUIRE(pk.ok());
  CHECK(pk->key == written->key);
  CHECK(public_of(*sk).key == pk->key);
  CHECK(check_signature({*pk}, "m", sign(*sk, "m")).empty());

  SECTION("never overwrites, and a refusal writes nothing") {
    std::string sec_before = *fs::read_file(sec);
    auto again = write_key_pair("ci-1", sec, pub);
    REQUIRE_FALSE(again.ok());
    CHECK_THAT(again.error().message, Catch::Contains(sec) && Catch::Contains("already exists"));
    CHECK(*fs::read_file(sec) == sec_before);
    std::string fresh_sec = tmp / "new.sec";
    auto half = write_key_pair("ci-2", fresh_sec, pub);  // only the public file exists
    REQUIRE_FALSE(half.ok());
    CHECK_THAT(half.error().message, Catch::Contains(pub));
    CHECK_FALSE(fs::exists(fresh_sec));
    CHECK_FALSE(write_key_pair("ci-2", fresh_sec, fresh_sec).ok());
    CHECK_FALSE(write_key_pair("bad name", tmp / "a", tmp / "b").ok());
    CHECK(fs::list_dir(tmp.path)->size() == 2);  // nothing else, no temp files
  }
  SECTION("a secret key open to group or others is refused") {
    for (uint32_t mode : {0640u, 0604u, 0620u, 0644u}) {
      REQUIRE(fs::set_mode(sec, mode).ok());
      auto r = read_secret_key(sec);
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(r.error().message, Catch::StartsWith(sec) && Catch::Contains("group or others"));
      CHECK(r.error().hint == "chmod 600 " + sec);
    }
    REQUIRE(fs::set_mode(sec, 0400).ok());
    CHECK(read_secret_key(sec).ok());
    // Through a symlink, the key's own mode counts.
    REQUIRE(fs::symlink(sec, tmp / "link.sec").ok());
    CHECK(read_secret_key(tmp / "link.sec").ok());
    REQUIRE(fs::set_mode(sec, 0644).ok());
    CHECK_FALSE(read_secret_key(tmp / "link.sec").ok());
  }
  SECTION("missing and malformed files name the file") {
    auto missing = read_secret_key(tmp / "none.sec");
    REQUIRE_FALSE(missing.ok());
    CHECK_THAT(missing.error().message, Catch::Contains(tmp / "none.sec"));
    CHECK_THAT(missing.error().hint, Catch::Contains("keygen"));
    REQUIRE(fs::write_file(tmp / "bad.pub", "ci-1:nope\n").ok());
    auto bad = read_public_key(tmp / "bad.pub");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::StartsWith(tmp / "bad.pub"));
  }
}
