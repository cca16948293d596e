// The remote layer (remote/layer.hpp) against an in-memory RemoteCache (a fake of this one
// module's peer; the real servers are in remote_http_test, remote_grpc_test and the black-box
// tests) and real local stores in temp dirs.
#include <catch2/catch.hpp>
#include <map>
#include <mutex>

#include "remote/layer.hpp"
#include "test_support.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

using namespace lb;
using namespace lb::remote;
using lb::test::TempDir;

namespace {

/// A remote that keeps everything in memory and can be made to fail or lie.
struct FakeRemoteState {
  std::mutex mu;
  std::map<std::string, ActionEntry> ac;
  std::map<std::string, std::string> cas;
  bool fail = false;
  int reads = 0, writes = 0, finds = 0;
};

class FakeRemote final : public RemoteCache {
 public:
  explicit FakeRemote(std::shared_ptr<FakeRemoteState> s) : s_(std::move(s)) {}
  std::string name() const override { return "fake://remote"; }
  Result<std::optional<ActionEntry>> get_action(const std::string& action) override {
    std::lock_guard<std::mutex> g(s_->mu);
    if (s_->fail) return make_error("connection refused");
    auto it = s_->ac.find(action);
    if (it == s_->ac.end()) return std::optional<ActionEntry>();
    return std::optional<ActionEntry>(it->second);
  }
  Status put_action(const std::string& action, const ActionEntry& e) override {
    std::lock_guard<std::mutex> g(s_->mu);
    if (s_->fail) return make_error("connection refused");
    s_->ac[action] = e;
    return {};
  }
  Result<std::vector<Digest>> find_missing(const std::vector<Digest>& ds) override {
    std::lock_guard<std::mutex> g(s_->mu);
    if (s_->fail) return make_error("connection refused");
    ++s_->finds;
    std::vector<Digest> out;
    for (const auto& d : ds)
      if (!s_->cas.count(d.hash)) out.push_back(d);
    return out;
  }
  Result<std::vector<std::optional<std::string>>> read_blobs(
      const std::vector<Digest>& ds) override {
    std::lock_guard<std::mutex> g(s_->mu);
    if (s_->fail) return make_error("connection refused");
    std::vector<std::optional<std::string>> out;
    for (const auto& d : ds) {
      ++s_->reads;
      auto it = s_->cas.find(d.hash);
      out.push_back(it == s_->cas.end() ? std::nullopt : std::optional<std::string>(it->second));
    }
    return out;
  }
  Status write_blobs(const std::vector<std::pair<Digest, std::string>>& blobs) override {
    std::lock_guard<std::mutex> g(s_->mu);
    if (s_->fail) return make_error("connection refused");
    for (const auto& [d, c] : blobs) {
      ++s_->writes;
      s_->cas[d.hash] = c;
    }
    return {};
  }

 private:
  std::shared_ptr<FakeRemoteState> s_;
};

/// Keys "blob/<name>" are shared; their value is "<sha256>\n...": one blob per line.
Sharing test_sharing() {
  Sharing s;
  s.shared = [](std::string_view key) { return starts_with(key, "blob/"); };
  s.refs = [](std::string_view, std::string_view value) -> Result<std::vector<BlobRef>> {
    std::vector<BlobRef> out;
    for (const auto& line : split(value, '\n'))
      if (!line.empty()) {
        if (line.size() != 64) return make_error("not a blob list");
        out.push_back({line, 0, false});
      }
    return out;
  };
  return s;
}

struct Client {
  TempDir dir{"layer"};
  std::shared_ptr<store::Store> local;
  std::shared_ptr<store::Store> store;
  std::shared_ptr<RemoteStats> stats = std::make_shared<RemoteStats>();
  std::vector<std::string> warnings;
  Client(std::shared_ptr<FakeRemoteState> remote, Trust trust) {
    local = store::Store::open(dir.path).value();
    store = layer_remote(
        local, std::make_unique<FakeRemote>(remote), std::move(trust), test_sharing(),
        [this](const std::string& w) { warnings.push_back(w); }, stats);
  }
};

std::pair<SecretKey, PublicKey> keys(const std::string& name) {
  return generate_key(name).value();
}

}  // namespace

TEST_CASE("entry manifests round-trip and are parsed strictly") {
  EntryManifest m{"build/abc",
                  std::string("v\0al\nue", 7),
                  {{std::string(64, 'b'), 3, true}, {std::string(64, 'a'), 5, false}},
                  {std::string(64, 'c'), 8}};
  std::string text = render_entry(m);
  auto back = parse_entry(text);
  REQUIRE(back.ok());
  CHECK(back->key == "build/abc");
  CHECK(back->value == m.value);
  CHECK(back->pack == m.pack);
  REQUIRE(back->blobs.size() == 2);
  CHECK(back->blobs[0].sha256 == std::string(64, 'a'));  // sorted
  CHECK_FALSE(parse_entry(text + "x").ok());             // trailing bytes
  CHECK_FALSE(parse_entry(text.substr(0, text.size() - 1)).ok());
  const std::string hex(64, 'a');
  CHECK(parse_entry("lavabuild.remote-entry.v2\nkey k\nvalue 0\n").ok());
  CHECK_FALSE(parse_entry("lavabuild.remote-entry.v1\nkey k\nvalue 0\n").ok());
  CHECK_FALSE(
      parse_entry("lavabuild.remote-entry.v2\nkey k\nblob " + hex + " 1 0\nvalue 0\n").ok());
  CHECK_FALSE(parse_entry("lavabuild.remote-entry.v2\nkey k\npack " + hex + " 2\nblob " + hex +
                          " 1 0\nvalue 0\n")
                  .ok());  // the pack's size is not the blobs'
  CHECK(parse_entry("lavabuild.remote-entry.v2\nkey k\npack " + hex + " 1\nblob " + hex +
                    " 1 0\nvalue 0\n")
            .ok());
  CHECK_FALSE(parse_entry("lavabuild.remote-entry.v2\nkey k\npack " + hex + " 0\nvalue 0\n").ok());
  CHECK_FALSE(parse_entry("lavabuild.remote-entry.v2\nkey k\nvalue 01\nx").ok());
}

TEST_CASE("an entry published by a signer is used by a client that trusts the key") {
  auto remote = std::make_shared<FakeRemoteState>();
  auto [sec, pub] = keys("ci-1");
  Client a(remote, Trust{{pub}, sec, false});
  std::string sha = a.local->put_blob("wheel bytes", false).value();
  REQUIRE(a.store->put("blob/x", sha + "\n").ok());
  CHECK(a.stats->uploaded_entries == 0);  // published by drain, with no index session held
  layer_of(*a.store)->drain();
  CHECK(a.stats->uploaded_entries == 1);
  CHECK(remote->cas.count(sha) == 1);

  // A second publication of the same blob asks first and uploads nothing new.
  int writes = remote->writes;
  REQUIRE(a.store->put("blob/y", sha + "\n").ok());
  layer_of(*a.store)->drain();
  CHECK(remote->writes == writes + 2);  // manifest and signature of blob/y, not the blob

  Client b(remote, Trust{{pub}, std::nullopt, false});
  auto v = b.store->get("blob/x");
  REQUIRE(v.ok());
  REQUIRE(v->has_value());
  CHECK(**v == sha + "\n");
  CHECK(b.local->has_blob(sha, false));
  CHECK(b.stats->hits == 1);
  CHECK(b.warnings.empty());
  // Filled locally: the next lookup does not ask the remote.
  remote->fail = true;
  CHECK(b.store->get("blob/x").value().has_value());
  // Not shared: never asked for.
  CHECK_FALSE(b.store->get("page/x").value().has_value());
  CHECK(b.warnings.empty());
}

TEST_CASE("entries by untrusted keys, or tampered, are misses with one warning each") {
  auto remote = std::make_shared<FakeRemoteState>();
  auto [sec, pub] = keys("ci-1");
  auto [other_sec, other_pub] = keys("mallory");
  Client a(remote, Trust{{pub}, sec, false});
  std::string sha = a.local->put_blob("good bytes", false).value();
  REQUIRE(a.store->put("blob/x", sha + "\n").ok());
  layer_of(*a.store)->drain();

  SECTION("untrusted key") {
    Client b(remote, Trust{{other_pub}, std::nullopt, false});
    CHECK_FALSE(b.store->get("blob/x").value().has_value());
    CHECK_FALSE(b.store->get("blob/x").value().has_value());
    REQUIRE(b.warnings.size() == 1);
    CHECK(b.warnings[0].find("untrusted") != std::string::npos);
    CHECK(b.stats->rejected == 2);
  }
  SECTION("a blob with other bytes") {
    remote->cas[sha] = "evil bytes";
    Client b(remote, Trust{{pub}, std::nullopt, false});
    CHECK_FALSE(b.store->get("blob/x").value().has_value());
    REQUIRE(b.warnings.size() == 1);
    CHECK(b.warnings[0].find("does not match its digest") != std::string::npos);
    CHECK_FALSE(b.local->has_blob(sha, false));
  }
  SECTION("an entry moved to another key") {
    remote->ac[action_of("blob/z")] = remote->ac[action_of("blob/x")];
    Client b(remote, Trust{{pub}, std::nullopt, false});
    CHECK_FALSE(b.store->get("blob/z").value().has_value());
    REQUIRE(b.warnings.size() == 1);
    CHECK(b.warnings[0].find("signature") != std::string::npos);
  }
  SECTION("a re-signed manifest by the untrusted key") {
    Client m(remote, Trust{{other_pub}, other_sec, false});
    std::string evil = m.local->put_blob("evil", false).value();
    REQUIRE(m.store->put("blob/x", evil + "\n").ok());
    layer_of(*m.store)->drain();  // overwrites the action entry
    Client b(remote, Trust{{pub}, std::nullopt, false});
    CHECK_FALSE(b.store->get("blob/x").value().has_value());
    CHECK(b.warnings.size() == 1);
  }
}

TEST_CASE("a failing remote is disabled after one warning and the run goes on") {
  auto remote = std::make_shared<FakeRemoteState>();
  auto [sec, pub] = keys("ci-1");
  remote->fail = true;
  Client a(remote, Trust{{pub}, sec, false});
  CHECK_FALSE(a.store->get("blob/x").value().has_value());
  CHECK_FALSE(a.store->get("blob/y").value().has_value());
  std::string sha = a.local->put_blob("bytes", false).value();
  REQUIRE(a.store->put("blob/x", sha + "\n").ok());  // the local write happens
  layer_of(*a.store)->drain();
  CHECK(a.local->get("blob/x").value().has_value());
  REQUIRE(a.warnings.size() == 1);
  CHECK(a.warnings[0].find("fake://remote") != std::string::npos);
  CHECK(a.stats->errors == 1);
}

TEST_CASE("a client without a signing key, or read-only, never uploads") {
  auto remote = std::make_shared<FakeRemoteState>();
  auto [sec, pub] = keys("ci-1");
  Client a(remote, Trust{{pub}, std::nullopt, false});
  std::string sha = a.local->put_blob("bytes", false).value();
  REQUIRE(a.store->put("blob/x", sha + "\n").ok());
  Client ro(remote, Trust{{pub}, sec, true});
  REQUIRE(ro.local->put_blob("bytes", false).ok());
  REQUIRE(ro.store->put_many({{"blob/x", sha + "\n"}}).ok());
  layer_of(*a.store)->drain();
  layer_of(*ro.store)->drain();
  CHECK(remote->ac.empty());
  CHECK(remote->cas.empty());
}

TEST_CASE("prefetch reads each entry's pack once, and checks every blob cut from it") {
  auto remote = std::make_shared<FakeRemoteState>();
  auto [sec, pub] = keys("ci-1");
  Client a(remote, Trust{{pub}, sec, false});
  std::string one = a.local->put_blob("one", false).value();
  std::string two = a.local->put_blob("two, in both entries", false).value();
  std::string three = a.local->put_blob("three", false).value();
  REQUIRE(a.store->put("blob/x", one + "\n" + two + "\n").ok());
  REQUIRE(a.store->put("blob/y", two + "\n" + three + "\n").ok());
  layer_of(*a.store)->drain();

  SECTION("found entries are served locally, a missed key is not asked again") {
    Client b(remote, Trust{{pub}, std::nullopt, false});
    int reads = remote->reads;
    layer_of(*b.store)->prefetch({"blob/x", "blob/y", "blob/z", "page/x", "blob/x"});
    CHECK(remote->reads == reads + 4 + 2);  // two manifests and signatures, two packs
    CHECK(b.stats->hits == 2);
    CHECK(b.stats->misses == 1);
    CHECK(b.local->has_blob(one, false));
    CHECK(b.local->has_blob(two, false));
    CHECK(b.local->has_blob(three, false));
    remote->fail = true;  // every later lookup is local
    CHECK(b.store->get("blob/x").value().value() == one + "\n" + two + "\n");
    CHECK(b.store->get("blob/y").value().has_value());
    CHECK_FALSE(b.store->get("blob/z").value().has_value());
    CHECK(b.warnings.empty());
    CHECK(b.stats->errors == 0);
  }
  SECTION("packs with other bytes reject their entries") {
    for (auto& [digest, bytes] : remote->cas)
      if (bytes.rfind("lavabuild.", 0) != 0) bytes = "evil bytes";  // every pack
    Client b(remote, Trust{{pub}, std::nullopt, false});
    layer_of(*b.store)->prefetch({"blob/x", "blob/y"});
    CHECK(b.stats->hits == 0);
    CHECK(b.warnings.size() == 2);
    CHECK_FALSE(b.local->has_blob(two, false));
    CHECK_FALSE(b.store->get("blob/x").value().has_value());
  }
  SECTION("an untrusted signer's entries are rejected") {
    auto [other_sec, other_pub] = keys("mallory");
    Client b(remote, Trust{{other_pub}, std::nullopt, false});
    layer_of(*b.store)->prefetch({"blob/x", "blob/y"});
    CHECK(b.stats->hits == 0);
    CHECK(b.stats->rejected == 2);
    CHECK_FALSE(b.local->has_blob(one, false));
  }
}
