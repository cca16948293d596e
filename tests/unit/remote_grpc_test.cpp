// The REAPI v2 gRPC cache (liblavabuild-grpc.so) against a real server: Bazel's own remote
// worker (tools/remote-worker builds it from Debian's bazel-bootstrap-source) on free loopback
// ports in a temp dir. A missing worker or JDK is LB_MISSING_PREREQUISITE: a failure in CI.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nginx_fixture.hpp"  // free_port, can_connect
#include "remote/cache.hpp"
#include "test_support.hpp"
#include "util/hash.hpp"

extern char** environ;

namespace {

using lb::remote::ActionEntry;
using lb::remote::Digest;
using lb::remote::RemoteCache;
using lb::remote::RemoteOptions;
using Clock = std::chrono::steady_clock;

const std::string kScript = std::string(LAVABUILD_SOURCE_DIR) + "/tools/remote-worker";

/// Runs argv with stdout and stderr to `log`; the pid, or -1.
pid_t spawn(std::vector<std::string> args, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

/// Why the worker cannot run here ("" when it can): the Debian packages tools/remote-worker
/// needs.
std::string worker_missing() {
  if (!lb::test::have_program("/usr/bin/java") || !lb::test::have_program("/usr/bin/javac"))
    return "a JDK (Debian: openjdk-17-jdk-headless)";
  if (::access("/usr/share/bazel/A-server.jar", R_OK) != 0) return "Debian's bazel-bootstrap";
  if (::access("/usr/src/bazel-bootstrap/src/tools/remote", R_OK) != 0)
    return "Debian's bazel-bootstrap-source";
  return {};
}

/// Bazel's remote worker on a free port of 127.0.0.1, with its work and CAS dirs in a temp dir;
/// killed on destruction.
struct Worker {
  lb::test::TempDir dir{"grpc-worker"};
  int port = 0;
  pid_t pid = -1;
  std::string log = dir / "worker.log";

  ~Worker() { stop(); }
  void stop() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  std::string url() const { return "grpc://127.0.0.1:" + std::to_string(port); }

  /// Compiles the worker if needed (once per machine: the tools cache), starts it and waits
  /// until it accepts. Up to 60 s for the compile and 30 s for the start: a loaded 2-core
  /// machine is much slower than the ~3 s and ~1 s they take alone.
  bool start() {
    pid_t b = spawn({kScript, "--build-only"}, log);
    int status = 0;
    if (b <= 0 || ::waitpid(b, &status, 0) != b || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return false;
    REQUIRE(lb::fs::create_dirs(dir / "work").ok());
    REQUIRE(lb::fs::create_dirs(dir / "cas").ok());
    port = lb::test::free_port();
    pid = spawn({kScript, "--work_path=" + (dir / "work"), "--cas_path=" + (dir / "cas"),
                 "--listen_port=" + std::to_string(port), "--jobs=2"},
                log);
    if (pid <= 0) return false;
    auto until = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < until) {
      if (lb::test::can_connect(port)) return true;
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string log_text() const {
    auto t = lb::fs::read_file(log);
    return t.ok() ? *t : std::string("(no log)");
  }
};

/// Starts a worker, or ends the test as LB_MISSING_PREREQUISITE would (a failure in CI).
#define START_WORKER(w)                                             \
  if (auto why = worker_missing(); !why.empty())                    \
    LB_MISSING_PREREQUISITE("Bazel's remote worker needs " << why); \
  if (!(w).start()) FAIL("the remote worker did not start:\n" << (w).log_text())

/// The worker the protocol tests share (one JVM start for all of them); nullptr with `why` set
/// when it did not start.
Worker* shared_worker(std::string& why) {
  static std::unique_ptr<Worker> w;
  static std::string failure;
  static bool tried = false;
  if (!tried) {
    tried = true;
    w = std::make_unique<Worker>();
    if (!w->start()) {
      failure = "the remote worker did not start:\n" + w->log_text();
      w.reset();
    }
  }
  why = failure;
  return w.get();
}

#define SHARED_WORKER(var)                                          \
  if (auto why = worker_missing(); !why.empty())                    \
    LB_MISSING_PREREQUISITE("Bazel's remote worker needs " << why); \
  std::string var##_failure;                                        \
  Worker* var = shared_worker(var##_failure);                       \
  INFO(var##_failure);                                              \
  REQUIRE(var != nullptr)

RemoteOptions options(const std::string& url) {
  RemoteOptions o;
  o.url = url;
  o.tool_version = "test";
  o.timeout = std::chrono::milliseconds(10000);
  return o;
}

std::unique_ptr<RemoteCache> open_ok(const RemoteOptions& o) {
  auto c = lb::remote::open_grpc_cache(o);
  INFO((c.ok() ? std::string() : c.error().to_string()));
  REQUIRE(c.ok());
  return std::move(*c);
}

std::pair<Digest, std::string> blob(std::string bytes) {
  Digest d{lb::sha256_hex(bytes), int64_t(bytes.size())};
  return {d, std::move(bytes)};
}

/// `n` bytes that differ from any other call's (a seed in front of a pattern).
std::string bytes_of(size_t n, const std::string& seed) {
  std::string s = seed;
  s.reserve(n);
  while (s.size() < n) s += char('a' + (s.size() * 7 + seed.size()) % 26);
  s.resize(n);
  return s;
}

}  // namespace

TEST_CASE("grpc cache: open asks the worker's capabilities") {
  SHARED_WORKER(w);
  auto o = options(w->url() + "/");
  o.headers = {"X-Lavabuild-Test: a value", "Authorization: Bearer secret-token"};
  auto c = open_ok(o);
  CHECK(c->name() == w->url() + "/");
  // The dispatcher picks the same backend by scheme.
  auto d = lb::remote::open_remote_cache(options(w->url()));
  REQUIRE(d.ok());
  CHECK((*d)->name() == w->url());
}

TEST_CASE("grpc cache: blobs through batches and ByteStream") {
  SHARED_WORKER(w);
  auto c = open_ok(options(w->url()));
  // Small ones (one batch), a 6 MiB one (above the worker's 4 MiB batch limit: ByteStream
  // Write and Read in 1 MiB chunks), and ten of 1 MiB (several batches).
  std::vector<std::pair<Digest, std::string>> blobs = {
      blob("hello"), blob(bytes_of(100 * 1024, "hundred")), blob(bytes_of(6 << 20, "big"))};
  for (int i = 0; i < 10; ++i) blobs.push_back(blob(bytes_of(1 << 20, "mib" + std::to_string(i))));
  Digest absent = blob("never written").first;
  std::vector<Digest> digests;
  for (const auto& b : blobs) digests.push_back(b.first);

  auto before = c->find_missing(digests);
  REQUIRE(before.ok());
  CHECK(*before == digests);

  REQUIRE(c->write_blobs(blobs).ok());
  // Writing again is fine (ByteStream: the worker ends the call early, it has the blob).
  REQUIRE(c->write_blobs({blobs[0], blobs[2]}).ok());

  auto with_absent = digests;
  with_absent.push_back(absent);
  auto after = c->find_missing(with_absent);
  REQUIRE(after.ok());
  CHECK(*after == std::vector<Digest>{absent});

  // In input order, with a miss, a duplicate and the empty blob (never asked for).
  std::vector<Digest> ask = {blobs[2].first, absent,         blobs[0].first,
                             blobs[1].first, blobs[0].first, blob("").first};
  for (size_t i = 3; i < blobs.size(); ++i) ask.push_back(blobs[i].first);
  auto got = c->read_blobs(ask);
  REQUIRE(got.ok());
  REQUIRE(got->size() == ask.size());
  CHECK((*got)[0] == blobs[2].second);
  CHECK(!(*got)[1].has_value());
  CHECK((*got)[2] == std::optional<std::string>("hello"));
  CHECK((*got)[3] == blobs[1].second);
  CHECK((*got)[4] == std::optional<std::string>("hello"));
  CHECK((*got)[5] == std::optional<std::string>(""));
  for (size_t i = 3; i < blobs.size(); ++i) CHECK((*got)[i + 3] == blobs[i].second);
}

TEST_CASE("grpc cache: blobs above max_blob_bytes are skipped, a miss") {
  SHARED_WORKER(w);
  auto o = options(w->url());
  o.max_blob_bytes = 1000;
  auto small = open_ok(o);
  auto big = blob(bytes_of(5000, "skipped"));
  REQUIRE(small->write_blobs({big}).ok());
  auto full = open_ok(options(w->url()));
  auto missing = full->find_missing({big.first});
  REQUIRE(missing.ok());
  CHECK(*missing == std::vector<Digest>{big.first});  // never uploaded
  REQUIRE(full->write_blobs({big}).ok());
  auto got = small->read_blobs({big.first});
  REQUIRE(got.ok());
  CHECK(!(*got)[0].has_value());  // there, but too big to read
}

TEST_CASE("grpc cache: action entries round trip, and a miss") {
  SHARED_WORKER(w);
  auto c = open_ok(options(w->url()));
  auto a = blob("output a");
  auto b = blob(bytes_of(4096, "output b"));
  REQUIRE(c->write_blobs({a, b}).ok());
  ActionEntry entry;
  entry.files = {{"lib/a.py", a.first, false}, {"bin/b", b.first, true}};
  std::string key = lb::sha256_hex("an action key");
  auto miss = c->get_action(key);
  REQUIRE(miss.ok());
  CHECK(!miss->has_value());
  REQUIRE(c->put_action(key, entry).ok());
  auto hit = c->get_action(key);
  REQUIRE(hit.ok());
  REQUIRE(hit->has_value());
  CHECK(**hit == entry);
  auto other = c->get_action(lb::sha256_hex("another key"));
  REQUIRE(other.ok());
  CHECK(!other->has_value());
}

TEST_CASE("grpc cache: used from several threads at once") {
  SHARED_WORKER(w);
  auto c = open_ok(options(w->url()));
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto b = blob(bytes_of(1000 + size_t(t), "thread" + std::to_string(t)));
      bool good = c->write_blobs({b}).ok();
      auto got = c->read_blobs({b.first});
      ok[size_t(t)] = good && got.ok() && (*got)[0] == b.second;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == std::vector<int>(4, 1));
}

TEST_CASE("grpc cache: a killed server is an error, not a hang") {
  Worker w;
  START_WORKER(w);
  auto o = options(w.url());
  o.timeout = std::chrono::milliseconds(2000);
  o.headers = {"Authorization: Bearer secret-token"};
  auto c = open_ok(o);
  REQUIRE(c->find_missing({blob("x").first}).ok());
  w.stop();
  auto t0 = Clock::now();
  auto missing = c->find_missing({blob("x").first});
  auto read = c->read_blobs({blob("x").first});
  auto action = c->get_action(lb::sha256_hex("k"));
  auto put = c->write_blobs({blob("y")});
  auto elapsed = Clock::now() - t0;
  REQUIRE(!missing.ok());
  REQUIRE(!read.ok());
  REQUIRE(!action.ok());
  REQUIRE(!put.ok());
  CHECK(elapsed < std::chrono::seconds(8));  // four calls, each within the 2 s timeout
  std::string msg = missing.error().to_string();
  CHECK(msg.find(w.url()) != std::string::npos);
  CHECK(msg.find("FindMissingBlobs") != std::string::npos);
  CHECK(msg.find("UNAVAILABLE") != std::string::npos);
  CHECK(msg.find("secret-token") == std::string::npos);
  CHECK(action.error().message.find("GetActionResult") != std::string::npos);
}

TEST_CASE("grpc cache: a server that stopped answering is a deadline error") {
  Worker w;
  START_WORKER(w);
  auto o = options(w.url());
  o.timeout = std::chrono::milliseconds(500);
  auto c = open_ok(o);
  ::kill(w.pid, SIGSTOP);
  auto t0 = Clock::now();
  auto r = c->get_action(lb::sha256_hex("k"));
  auto elapsed = Clock::now() - t0;
  ::kill(w.pid, SIGCONT);
  REQUIRE(!r.ok());
  CHECK(r.error().message.find("DEADLINE_EXCEEDED") != std::string::npos);
  CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE("grpc cache: nothing listening is an error at open, quickly") {
  auto o = options("grpc://127.0.0.1:" + std::to_string(lb::test::free_port()) + "/inst");
  o.timeout = std::chrono::milliseconds(3000);
  auto t0 = Clock::now();
  auto c = lb::remote::open_grpc_cache(o);
  auto elapsed = Clock::now() - t0;
  REQUIRE(!c.ok());
  INFO(c.error().to_string());
  CHECK(c.error().message.find("GetCapabilities") != std::string::npos);
  CHECK(c.error().message.find("UNAVAILABLE") != std::string::npos);
  CHECK(c.error().message.find(o.url) != std::string::npos);
  CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE("grpc cache: malformed URLs and headers are errors naming no secret") {
  auto no_port = lb::remote::open_grpc_cache(options("grpc://127.0.0.1"));
  REQUIRE(!no_port.ok());
  CHECK(no_port.error().message.find("no port") != std::string::npos);
  auto bad_port = lb::remote::open_grpc_cache(options("grpc://user:pw@127.0.0.1:99999"));
  REQUIRE(!bad_port.ok());
  CHECK(bad_port.error().message.find("pw") == std::string::npos);
  CHECK(bad_port.error().message.find("grpc://127.0.0.1:99999") != std::string::npos);
  auto o = options("grpc://127.0.0.1:1");
  o.headers = {"Bad Header: the-value"};
  auto bad_header = lb::remote::open_grpc_cache(o);
  REQUIRE(!bad_header.ok());
  CHECK(bad_header.error().to_string().find("the-value") == std::string::npos);
  CHECK(bad_header.error().message.find("bad header") != std::string::npos);
}

TEST_CASE("grpc cache: grpcs:// through a TLS proxy, trusted by ca_file") {
  // The worker's own TLS needs netty-tcnative, which Debian's jar lacks: nginx terminates TLS
  // (HTTP/2, grpc_pass) in front of it instead, with a self-signed certificate for 127.0.0.1.
  // ignore_invalid_headers off: nginx drops header names with dots otherwise, and REAPI's
  // build.bazel.remote.execution.v2.requestmetadata-bin has them.
  if (!lb::test::NginxProcess::installed()) LB_MISSING_PREREQUISITE("nginx is not installed");
  if (!lb::test::have_program("/usr/bin/openssl")) LB_MISSING_PREREQUISITE("openssl is missing");
  SHARED_WORKER(w);
  lb::test::NginxProcess nginx("/tmp/lb-grpcs-XXXXXX");
  std::string cert = nginx.dir + "/cert.pem";
  std::string key = nginx.dir + "/key.pem";
  pid_t p = spawn({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                   key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
                   "subjectAltName=IP:127.0.0.1,DNS:localhost"},
                  nginx.dir + "/openssl.log");
  int status = 0;
  REQUIRE(p > 0);
  REQUIRE(::waitpid(p, &status, 0) == p);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  nginx.port = lb::test::free_port();
  REQUIRE(nginx.launch("  server {\n    listen 127.0.0.1:" + std::to_string(nginx.port) +
                       " ssl http2;\n    ssl_certificate " + cert + ";\n    ssl_certificate_key " +
                       key +
                       ";\n    client_max_body_size 0;\n    ignore_invalid_headers off;\n    "
                       "location / { grpc_pass grpc://127.0.0.1:" +
                       std::to_string(w->port) + "; }\n  }\n"));
  std::string url = "grpcs://127.0.0.1:" + std::to_string(nginx.port);

  auto o = options(url);
  o.ca_file = cert;
  auto c = open_ok(o);
  auto small = blob("over TLS");
  auto big = blob(bytes_of(5 << 20, "tls big"));
  REQUIRE(c->write_blobs({small, big}).ok());
  auto got = c->read_blobs({small.first, big.first});
  REQUIRE(got.ok());
  CHECK((*got)[0] == small.second);
  CHECK((*got)[1] == big.second);
  auto miss = c->get_action(lb::sha256_hex("tls key"));
  REQUIRE(miss.ok());
  CHECK(!miss->has_value());

  // The system's roots do not trust a self-signed certificate: an error, not a plaintext retry.
  auto untrusted = lb::remote::open_grpc_cache(options(url));
  REQUIRE(!untrusted.ok());
  CHECK(untrusted.error().message.find("UNAVAILABLE") != std::string::npos);
  // A CA file that is not there is an error naming it.
  o.ca_file = nginx.dir + "/absent.pem";
  auto absent = lb::remote::open_grpc_cache(o);
  REQUIRE(!absent.ok());
  CHECK(absent.error().message.find("absent.pem") != std::string::npos);
}
