// remote: the ActionResult wire format, and the Bazel HTTP cache backend against real servers
// on 127.0.0.1: nginx with WebDAV (as Bazel's docs set it up) and the fault-injecting cache of
// tests/tools/cache_fault_server.py.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "cache_fault_fixture.hpp"
#include "nginx_fixture.hpp"
#include "remote/action_result.hpp"
#include "remote/cache.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

using namespace lb;
using namespace lb::remote;
using Clock = std::chrono::steady_clock;

namespace {

// --- protobuf by hand, to build the messages a server might send ----------------------------

std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += char((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += char(v);
  return out;
}
std::string tag(uint32_t field, uint32_t type) {
  return varint((uint64_t(field) << 3) | type);
}
std::string len_field(uint32_t field, const std::string& bytes) {
  return tag(field, 2) + varint(bytes.size()) + bytes;
}
std::string varint_field(uint32_t field, uint64_t v) {
  return tag(field, 0) + varint(v);
}

const std::string kHashA = sha256_hex("a");
const std::string kHashB = sha256_hex("b");

Digest digest_of(const std::string& bytes) {
  return Digest{sha256_hex(bytes), int64_t(bytes.size())};
}

ActionEntry sample_entry() {
  ActionEntry e;
  e.files.push_back({"pkg/__init__.py", {kHashA, 1}, false});
  e.files.push_back({"bin/tool", {kHashB, 123456789012}, true});
  e.files.push_back({"empty", {sha256_hex(""), 0}, false});
  return e;
}

// The error message of a failed Result or Status.
template <class R>
std::string error_of(const R& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace

// --- ActionResult ----------------------------------------------------------------------------

TEST_CASE("action_result: encode and decode round trip", "[remote][action_result]") {
  for (const ActionEntry& e : {ActionEntry{}, sample_entry()}) {
    std::string bytes = encode_action_result(e);
    auto back = decode_action_result(bytes);
    REQUIRE(back.ok());
    CHECK(*back == e);
    CHECK(encode_action_result(*back) == bytes);  // deterministic
  }
  CHECK(encode_action_result(ActionEntry{}).empty());  // proto3: nothing but defaults
}

TEST_CASE("action_result: the encoding is protobuf's, fields in number order",
          "[remote][action_result]") {
  ActionEntry e;
  e.files.push_back({"x", {kHashA, 300}, true});
  std::string digest = len_field(1, kHashA) + varint_field(2, 300);
  std::string file = len_field(1, "x") + len_field(2, digest) + varint_field(4, 1);
  CHECK(encode_action_result(e) == len_field(2, file));
  // A file that is not executable, of an empty blob: the defaults are left out.
  ActionEntry plain;
  plain.files.push_back({"y", {kHashB, 0}, false});
  CHECK(encode_action_result(plain) ==
        len_field(2, len_field(1, "y") + len_field(2, len_field(1, kHashB))));
}

TEST_CASE("action_result: unknown fields of every wire type are skipped",
          "[remote][action_result]") {
  std::string unknown = varint_field(15, 99999) +              // varint
                        tag(16, 1) + std::string(8, '\x7f') +  // fixed64
                        len_field(17, "execution metadata") +  // length-delimited
                        tag(18, 5) + std::string(4, '\x01') +  // fixed32
                        tag(19, 3) + varint_field(1, 5) +      // a group holding a field
                        tag(20, 3) + tag(20, 4) + tag(19, 4);  // and a group in it
  std::string digest = unknown + len_field(1, kHashA) + unknown + varint_field(2, 42) + unknown;
  std::string file = unknown + len_field(1, "lib/a.py") + unknown + len_field(2, digest) +
                     varint_field(4, 1) + len_field(5, "inline contents") + unknown;
  std::string msg = unknown + len_field(2, file) + varint_field(4, 0) + len_field(9, "meta") +
                    len_field(3, "output_files_legacy?") + unknown;
  auto got = decode_action_result(msg);
  REQUIRE(got.ok());
  REQUIRE(got->files.size() == 1);
  CHECK(got->files[0] == OutputFile{"lib/a.py", {kHashA, 42}, true});
}

TEST_CASE("action_result: malformed messages are errors that say what is wrong",
          "[remote][action_result]") {
  std::string good_digest = len_field(1, kHashA) + varint_field(2, 7);
  auto file_with = [](const std::string& digest) {
    return len_field(2, len_field(1, "p") + len_field(2, digest));
  };
  struct Case {
    std::string bytes;
    std::string says;
  };
  std::vector<Case> cases = {
      {std::string("\x12", 1), "truncated varint"},
      {len_field(2, "x").substr(0, 2), "runs past the end"},
      {tag(2, 2) + std::string(11, '\xff'), "varint longer"},
      {tag(2, 2) + std::string(9, '\xff') + "\x02", "varint longer than 64 bits"},
      {varint_field(2, 5), "output_files has wire type 0"},
      {file_with(tag(1, 0) + varint(5)), "hash has wire type 0"},
      {file_with(len_field(1, std::string(64, 'A'))), "not 64 lowercase hex"},
      {file_with(len_field(1, kHashA.substr(1))), "not 64 lowercase hex"},
      {file_with(len_field(1, kHashA) + varint_field(2, uint64_t(-5))), "size_bytes is negative"},
      {file_with(varint_field(2, 5)), "no hash"},
      {len_field(2, len_field(1, "p")), "no digest"},
      {len_field(2, len_field(2, good_digest)), "no path"},
      {len_field(2, len_field(1, std::string(4097, 'p')) + len_field(2, good_digest)),
       "path of 4097 bytes"},
      {file_with(good_digest + len_field(1, kHashB)), "hash appears twice"},
      {varint_field(4, 1), "exit_code is 1"},
      {varint_field(4, uint64_t(-1)), "exit_code is -1"},
      {tag(7, 6), "unknown wire type 6"},
      {tag(7, 7), "unknown wire type 7"},
      {tag(7, 4), "end of group 7 with no group open"},
      {tag(7, 3) + varint_field(1, 1), "group 7 is not closed"},
      {tag(7, 3) + tag(8, 4), "closed as group 8"},
      {tag(7, 1) + "abc", "truncated fixed64"},
      {tag(7, 5) + "ab", "truncated fixed32"},
      {varint(0), "field number 0"},
  };
  // Groups nested deeper than the limit.
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += tag(7, 3);
  for (int i = 0; i < 40; ++i) deep += tag(7, 4);
  cases.push_back({deep, "nested deeper than 32"});
  for (const Case& c : cases) {
    INFO("expecting: " << c.says);
    auto got = decode_action_result(c.bytes);
    REQUIRE_FALSE(got.ok());
    CHECK_THAT(got.error().message, Catch::Contains("malformed ActionResult"));
    CHECK_THAT(got.error().message, Catch::Contains(c.says));
  }
  // The error says where: the message, the file and the byte.
  auto at = decode_action_result(len_field(2, len_field(1, "p") + len_field(2, "")) +
                                 file_with(len_field(1, "zz")));
  REQUIRE_FALSE(at.ok());
  CHECK_THAT(at.error().message, Catch::Contains("output_files[0] digest: no hash"));
}

TEST_CASE("action_result: at most 1,000,000 output files", "[remote][action_result]") {
  std::string one = len_field(2, len_field(1, "p") + len_field(2, len_field(1, kHashA)));
  std::string msg;
  msg.reserve(one.size() * 1'000'001);
  for (int i = 0; i < 1'000'000; ++i) msg += one;
  auto ok = decode_action_result(msg);
  REQUIRE(ok.ok());
  CHECK(ok->files.size() == 1'000'000);
  msg += one;
  CHECK_THAT(error_of(decode_action_result(msg)), Catch::Contains("more than 1000000"));
}

// --- against nginx with WebDAV ---------------------------------------------------------------

namespace {

// nginx as a Bazel HTTP cache under /cache/, plus /broken/ answering 500, logging
// "METHOD URI STATUS" per request.
struct DavNginx : test::NginxProcess {
  std::string root;
  DavNginx() : NginxProcess("/tmp/lb-remote-nginx-XXXXXX") {
    root = dir + "/root";
    (void)fs::create_dirs(root);
  }
  bool start() {
    port = test::free_port();
    return launch("  log_format t '$request_method $request_uri $status';\n  access_log " + dir +
                  "/access.log t;\n  server {\n    listen 127.0.0.1:" + std::to_string(port) +
                  ";\n" + test::bazel_cache_location("/cache/", root) +
                  "    location /broken/ { return 500; }\n  }\n");
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  // The statuses nginx logged for `uri`, in order (it logs after answering: waits up to 5 s
  // for `expect` of them).
  std::vector<std::string> statuses(const std::string& uri, size_t expect) const {
    std::vector<std::string> out;
    for (int i = 0; i < 200 && out.size() < expect; ++i) {
      if (i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
      out.clear();
      auto text = fs::read_file(dir + "/access.log");
      for (const std::string& line : split(text.ok() ? *text : "", '\n')) {
        auto f = split_ws(line);
        if (f.size() == 3 && f[1] == uri) out.push_back(f[2]);
      }
    }
    return out;
  }
};

#define START_DAV_NGINX(n)                                                                      \
  if (!test::NginxProcess::installed()) LB_MISSING_PREREQUISITE(test::kNginx << " is missing"); \
  DavNginx n;                                                                                   \
  REQUIRE(n.start())

RemoteOptions options_for(const std::string& url) {
  RemoteOptions o;
  o.url = url;
  o.timeout = std::chrono::milliseconds(500);
  return o;
}

std::unique_ptr<RemoteCache> open(const RemoteOptions& o) {
  auto c = open_http_cache(o);
  REQUIRE(c.ok());
  return std::move(*c);
}

}  // namespace

TEST_CASE("http cache: action entries on nginx", "[remote][http][nginx]") {
  START_DAV_NGINX(n);
  auto cache = open(options_for(n.url("/cache/")));  // the trailing '/' is dropped
  CHECK(cache->name() == n.url("/cache"));
  std::string key = sha256_hex("step key");
  auto miss = cache->get_action(key);
  REQUIRE(miss.ok());
  CHECK_FALSE(miss->has_value());
  REQUIRE(cache->put_action(key, sample_entry()).ok());
  auto hit = cache->get_action(key);
  REQUIRE(hit.ok());
  REQUIRE(hit->has_value());
  CHECK(**hit == sample_entry());
  // Stored as the protobuf bytes, where Bazel's layout puts them.
  auto stored = fs::read_file(n.root + "/cache/ac/" + key);
  REQUIRE(stored.ok());
  CHECK(*stored == encode_action_result(sample_entry()));
  // Overwriting is fine too: nginx answers 201 for the new file, 204 for the second PUT.
  ActionEntry other;
  other.files.push_back({"x", digest_of("x"), false});
  REQUIRE(cache->put_action(key, other).ok());
  CHECK(n.statuses("/cache/ac/" + key, 4) == std::vector<std::string>{"404", "201", "200", "204"});
  auto again = cache->get_action(key);
  REQUIRE(again.ok());
  CHECK(**again == other);
  // Something that is not an ActionResult under ac/ is an error, not a miss.
  std::string junk_key = sha256_hex("junk");
  REQUIRE(fs::create_dirs(n.root + "/cache/ac").ok());
  REQUIRE(fs::write_file(n.root + "/cache/ac/" + junk_key, "{\"json\": true}").ok());
  auto junk = cache->get_action(junk_key);
  CHECK_THAT(error_of(junk), Catch::Contains("remote cache " + n.url("/cache") + ": GET ac/" +
                                             junk_key + ": malformed ActionResult"));
}

TEST_CASE("http cache: blobs on nginx", "[remote][http][nginx]") {
  START_DAV_NGINX(n);
  auto cache = open(options_for(n.url("/cache")));
  std::vector<std::pair<Digest, std::string>> blobs;
  for (std::string s :
       std::vector<std::string>{"alpha", "", std::string(300000, 'z'), std::string("\0bin\xff", 5)})
    blobs.emplace_back(digest_of(s), s);
  std::vector<Digest> all;
  for (auto& [d, _] : blobs) all.push_back(d);

  auto missing = cache->find_missing(all);
  REQUIRE(missing.ok());
  CHECK(*missing == all);
  auto none = cache->read_blobs(all);
  REQUIRE(none.ok());
  for (auto& b : *none) CHECK_FALSE(b.has_value());

  REQUIRE(cache->write_blobs(blobs).ok());
  auto after = cache->find_missing(all);
  REQUIRE(after.ok());
  CHECK(after->empty());
  auto read = cache->read_blobs(all);
  REQUIRE(read.ok());
  REQUIRE(read->size() == blobs.size());
  for (size_t i = 0; i < blobs.size(); ++i) {
    REQUIRE((*read)[i].has_value());
    CHECK(*(*read)[i] == blobs[i].second);
  }
  // HEAD and GET before the upload, the upload (a new file: 201), HEAD and GET after it.
  CHECK(n.statuses("/cache/cas/" + all[0].hash, 5) ==
        std::vector<std::string>{"404", "404", "201", "200", "200"});
  // Writing again overwrites (204), and duplicates are asked about once.
  REQUIRE(cache->write_blobs({blobs[0]}).ok());
  Digest absent = digest_of("absent");
  auto some = cache->find_missing({absent, all[0], absent});
  REQUIRE(some.ok());
  CHECK(*some == std::vector<Digest>{absent});
  // A blob over max_blob_bytes is a miss and is not uploaded; reading it asks nothing.
  RemoteOptions small = options_for(n.url("/cache"));
  small.max_blob_bytes = 1000;
  auto limited = open(small);
  std::string big(2000, 'b');
  REQUIRE(limited->write_blobs({{digest_of(big), big}}).ok());
  CHECK_FALSE(fs::exists(n.root + "/cache/cas/" + digest_of(big).hash));
  auto big_read = limited->read_blobs({digest_of(big), all[2], all[0]});
  REQUIRE(big_read.ok());
  CHECK_FALSE((*big_read)[0].has_value());
  CHECK_FALSE((*big_read)[1].has_value());  // 300000 bytes stored: over this remote's limit
  CHECK((*big_read)[2] == std::optional<std::string>("alpha"));
}

TEST_CASE("http cache: failures name the remote without its credentials or headers",
          "[remote][http][nginx]") {
  START_DAV_NGINX(n);
  RemoteOptions o =
      options_for("http://alice:s3cret@127.0.0.1:" + std::to_string(n.port) + "/broken");
  o.headers = {"Authorization: Bearer t0ps3cret", "X-Extra:  v"};
  auto cache = open(o);
  CHECK(cache->name() == n.url("/broken"));
  std::string msg = error_of(cache->get_action(kHashA));
  CHECK_THAT(msg, Catch::Contains("remote cache " + n.url("/broken") + ": GET ac/" + kHashA));
  CHECK_THAT(msg, Catch::Contains("HTTP 500"));
  for (const char* secret : {"s3cret", "alice", "t0ps3cret", "Bearer"})
    CHECK_THAT(msg, !Catch::Contains(secret));
  CHECK_THAT(error_of(cache->write_blobs({{digest_of("a"), "a"}, {digest_of("b"), "b"}})),
             Catch::Contains("PUT cas/") && Catch::Contains("HTTP 500") &&
                 Catch::Contains("(and 1 more failed)"));
  CHECK_THAT(error_of(cache->find_missing({digest_of("a")})),
             Catch::Contains("HEAD cas/" + kHashA) && Catch::Contains("HTTP 500"));
}

TEST_CASE("http cache: URLs, keys and headers are checked", "[remote][http]") {
  for (const char* url : {"ftp://host/cache", "http:///cache", "http://host/cache?x=1",
                          "http://u:pw@/cache", "not a url"}) {
    RemoteOptions o;
    o.url = url;
    auto c = open_http_cache(o);
    INFO(url);
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, !Catch::Contains("pw@"));
  }
  RemoteOptions bad_header = options_for("http://127.0.0.1:9/cache");
  bad_header.headers = {"Authorization Bearer s3cret"};
  auto h = open_http_cache(bad_header);
  CHECK_THAT(error_of(h), Catch::Contains("header 1") && !Catch::Contains("s3cret"));
  auto cache = open(options_for("http://127.0.0.1:9/cache"));
  CHECK_THAT(error_of(cache->get_action("../../etc/passwd")),
             Catch::Contains("not 64 lowercase hex"));
  CHECK_THAT(error_of(cache->read_blobs({{std::string(64, 'A'), 1}})),
             Catch::Contains("not 64 lowercase hex"));
  // Nothing to do asks nothing: nothing listens on port 9, so a request would fail.
  auto none = cache->find_missing({});
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto read = cache->read_blobs({});
  REQUIRE(read.ok());
  CHECK(read->empty());
  CHECK(cache->write_blobs({}).ok());
  RemoteOptions tiny = options_for("http://127.0.0.1:9/cache");
  tiny.max_blob_bytes = 1;
  CHECK(open(tiny)->write_blobs({{digest_of("too big"), "too big"}}).ok());
  auto skipped = open(tiny)->read_blobs({digest_of("too big")});
  REQUIRE(skipped.ok());
  CHECK_FALSE((*skipped)[0].has_value());
}

// --- against the fault server ----------------------------------------------------------------

namespace {

#define START_FAULT_SERVER(s, mode)                                                       \
  if (!test::CacheFaultServer::installed())                                               \
    LB_MISSING_PREREQUISITE(test::kPython3 << " is missing (the fault server needs it)"); \
  test::CacheFaultServer s;                                                               \
  REQUIRE(s.start(mode))

// Store `bytes` as the fault server's cas/ blob under /c; returns its digest.
Digest seed_blob(const test::CacheFaultServer& s, const std::string& bytes) {
  Digest d = digest_of(bytes);
  REQUIRE(fs::create_dirs(s.root + "/c/cas").ok());
  REQUIRE(fs::write_file(s.root + "/c/cas/" + d.hash, bytes).ok());
  return d;
}

size_t count_prefix(const std::vector<std::string>& lines, const std::string& prefix) {
  size_t n = 0;
  for (auto& l : lines) n += starts_with(l, prefix) ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("http cache: a server refusing HEAD is asked with a 1-byte GET from then on",
          "[remote][http][fault]") {
  START_FAULT_SERVER(s, "head405");
  Digest there = seed_blob(s, "present blob");
  Digest empty = seed_blob(s, "");
  Digest absent = digest_of("absent");
  auto cache = open(options_for(s.url("/c")));
  auto missing = cache->find_missing({there, absent, empty});
  REQUIRE(missing.ok());
  CHECK(*missing == std::vector<Digest>{absent});
  auto log = s.requests();
  CHECK(count_prefix(log, "HEAD ") == 3);
  CHECK(count_prefix(log, "GET /c/cas/" + there.hash + " bytes=0-0 ") == 1);
  CHECK(count_prefix(log, "GET /c/cas/" + empty.hash + " - ") == 1);  // no byte 0 to ask for
  // The next call does not try HEAD again.
  auto again = cache->find_missing({there, absent});
  REQUIRE(again.ok());
  CHECK(*again == std::vector<Digest>{absent});
  CHECK(count_prefix(s.requests(), "HEAD ") == 3);
}

TEST_CASE("http cache: zstd answers are decoded, under the size limit", "[remote][http][fault]") {
  if (!test::have_program(test::kZstd)) LB_MISSING_PREREQUISITE(test::kZstd << " is missing");
  START_FAULT_SERVER(s, "zstd,put204");
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i % 97) + " of a wheel\n";
  Digest big = seed_blob(s, text);
  Digest small = seed_blob(s, "x");
  auto cache = open(options_for(s.url("/c")));
  auto read = cache->read_blobs({big, small, digest_of("absent")});
  REQUIRE(read.ok());
  CHECK((*read)[0] == std::optional<std::string>(text));
  CHECK((*read)[1] == std::optional<std::string>("x"));
  CHECK_FALSE((*read)[2].has_value());
  CHECK(count_prefix(s.requests(), "GET /c/cas/" + big.hash + " - zstd") == 1);
  // A body that decodes past max_blob_bytes is a miss, whatever size its digest or frame
  // claims (here the digest lies: the server has more bytes under that hash).
  RemoteOptions limited = options_for(s.url("/c"));
  limited.max_blob_bytes = 1000;
  auto small_cache = open(limited);
  Digest lie{big.hash, 10};
  auto over = small_cache->read_blobs({lie});
  REQUIRE(over.ok());
  CHECK_FALSE((*over)[0].has_value());
  // PUT answered 204 is success.
  REQUIRE(cache->write_blobs({{digest_of("new"), "new"}}).ok());
  REQUIRE(cache->put_action(kHashA, sample_entry()).ok());
}

TEST_CASE("http cache: a zstd frame cut short is an error", "[remote][http][fault]") {
  if (!test::have_program(test::kZstd)) LB_MISSING_PREREQUISITE(test::kZstd << " is missing");
  START_FAULT_SERVER(s, "badzstd");
  std::string text(100000, 'q');
  Digest d = seed_blob(s, text);
  auto cache = open(options_for(s.url("/c")));
  CHECK_THAT(error_of(cache->read_blobs({d})),
             Catch::Contains("GET cas/" + d.hash + ": the zstd body does not decode"));
}

TEST_CASE("http cache: a 500 is an error naming the remote, kind and status",
          "[remote][http][fault]") {
  START_FAULT_SERVER(s, "error500");
  auto cache = open(options_for(s.url("/c")));
  std::string name = "remote cache " + s.url("/c");
  CHECK_THAT(error_of(cache->get_action(kHashA)),
             Catch::Contains(name + ": GET ac/" + kHashA + ": the server answered HTTP 500"));
  CHECK_THAT(error_of(cache->put_action(kHashA, sample_entry())),
             Catch::Contains(name + ": PUT ac/") && Catch::Contains("500"));
  CHECK_THAT(error_of(cache->find_missing({digest_of("a")})),
             Catch::Contains(name + ": HEAD cas/") && Catch::Contains("500"));
  CHECK_THAT(error_of(cache->read_blobs({digest_of("a")})),
             Catch::Contains(name + ": GET cas/") && Catch::Contains("500"));
  CHECK_THAT(error_of(cache->write_blobs({{digest_of("a"), "a"}})),
             Catch::Contains(name + ": PUT cas/") && Catch::Contains("500"));
  // No retries: one request per call.
  CHECK(s.requests().size() == 5);
}

TEST_CASE("http cache: a stalled, truncating or absent server fails within the timeout",
          "[remote][http][fault]") {
  // The client's timeouts are whole seconds: 500 ms is one second. A call must end well
  // within that plus scheduling slack on a busy machine.
  const auto bound = std::chrono::milliseconds(3000);
  auto timed = [&](auto&& call) {
    auto t0 = Clock::now();
    auto r = call();
    auto took = Clock::now() - t0;
    CHECK(took < bound);
    return r;
  };
  SECTION("stall") {
    START_FAULT_SERVER(s, "stall");
    auto cache = open(options_for(s.url("/c")));
    CHECK_THAT(error_of(timed([&] { return cache->get_action(kHashA); })),
               Catch::Contains("GET ac/") && Catch::Contains("timed out"));
    CHECK_FALSE(timed([&] { return cache->find_missing({digest_of("a")}); }).ok());
    CHECK_FALSE(timed([&] { return cache->read_blobs({digest_of("a"), digest_of("b")}); }).ok());
    CHECK_FALSE(timed([&] { return cache->write_blobs({{digest_of("a"), "a"}}); }).ok());
    CHECK_FALSE(timed([&] { return cache->put_action(kHashA, {}); }).ok());
  }
  SECTION("truncated bodies") {
    START_FAULT_SERVER(s, "truncated");
    Digest d = seed_blob(s, "a blob that will be cut short");
    REQUIRE(fs::create_dirs(s.root + "/c/ac").ok());
    REQUIRE(fs::write_file(s.root + "/c/ac/" + kHashA, encode_action_result(sample_entry())).ok());
    auto cache = open(options_for(s.url("/c")));
    CHECK_THAT(error_of(timed([&] { return cache->read_blobs({d}); })),
               Catch::Contains("GET cas/" + d.hash));
    CHECK_THAT(error_of(timed([&] { return cache->get_action(kHashA); })),
               Catch::Contains("GET ac/" + kHashA));
  }
  SECTION("connection refused") {
    int port = test::free_port();  // nothing listens there
    auto cache = open(options_for("http://127.0.0.1:" + std::to_string(port) + "/c"));
    CHECK_THAT(
        error_of(timed([&] { return cache->get_action(kHashA); })),
        Catch::Contains("remote cache http://127.0.0.1:" + std::to_string(port) + "/c: GET ac/"));
    CHECK_FALSE(timed([&] { return cache->find_missing({digest_of("a")}); }).ok());
    CHECK_FALSE(timed([&] { return cache->read_blobs({digest_of("a")}); }).ok());
    CHECK_FALSE(timed([&] { return cache->write_blobs({{digest_of("a"), "a"}}); }).ok());
  }
}

TEST_CASE("http cache: wrong bytes are returned for the caller to check, or fail to decode",
          "[remote][http][fault]") {
  START_FAULT_SERVER(s, "wrongbytes");
  Digest d = seed_blob(s, "the real blob");
  REQUIRE(fs::create_dirs(s.root + "/c/ac").ok());
  REQUIRE(fs::write_file(s.root + "/c/ac/" + kHashA, encode_action_result(sample_entry())).ok());
  auto cache = open(options_for(s.url("/c")));
  auto read = cache->read_blobs({d});
  REQUIRE(read.ok());
  REQUIRE((*read)[0].has_value());
  CHECK(sha256_hex(*(*read)[0]) != d.hash);  // the layer's digest check catches this
  CHECK_THAT(error_of(cache->get_action(kHashA)), Catch::Contains("malformed ActionResult"));
}
