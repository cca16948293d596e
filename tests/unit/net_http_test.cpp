// net: the libcurl HttpClient and IndexClient against a real nginx on 127.0.0.1.
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "net/http.hpp"
#include "net/index.hpp"
#include "net/url.hpp"
#include "net_test_support.hpp"
#include "nginx_fixture.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

using namespace lb;
using namespace lb::net;
using lb::test::free_port;
using lb::test::MapCache;

namespace {

// nginx serving <dir>/root on a free 127.0.0.1 port, killed on destruction.
struct Nginx : test::NginxProcess {
  std::string root;
  int tls_port = 0;

  Nginx() : NginxProcess("/tmp/lb-net-nginx-XXXXXX") {
    root = dir + "/root";
    (void)fs::create_dirs(root);
  }

  // With `tls`, also serve HTTPS on tls_port with a fresh self-signed cert (dir/cert.pem).
  bool start(bool tls = false) {
    if (!installed()) return false;
    port = free_port();
    std::string tls_server;
    if (tls) {
      auto made = run_process({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                               dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "2", "-subj",
                               "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
      if (!made.ok() || made->exit_code != 0) return false;
      tls_port = free_port();
      tls_server = "  server {\n    listen 127.0.0.1:" + std::to_string(tls_port) +
                   " ssl;\n    ssl_certificate " + dir + "/cert.pem;\n    ssl_certificate_key " +
                   dir + "/key.pem;\n    root " + root + ";\n  }\n";
    }
    std::string http =
        "  log_format t '$request_method $request_uri $status $connection';\n"
        "  access_log " +
        dir +
        "/access.log t;\n"
        "  types { text/html html; text/plain txt; }\n  default_type application/octet-stream;\n"
        "  server {\n    listen 127.0.0.1:" +
        std::to_string(port) + ";\n    root " + root +
        ";\n    location /fail { return 503; }\n"
        "    location = /moved { return 302 /hello.txt; }\n"
        "    location /private/ { auth_basic \"x\"; auth_basic_user_file " +
        dir +
        "/htpasswd; }\n"
        "    location /json/ { index index.json; types { } default_type "
        "application/vnd.pypi.simple.v1+json; }\n"
        "    location /dav/ { dav_methods PUT; create_full_put_path on; }\n  }\n" +
        tls_server;
    if (!fs::write_file(dir + "/htpasswd", "alice:{PLAIN}s3cret\n").ok()) return false;
    return launch(http);
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  void put(const std::string& rel, const std::string& body) const {
    REQUIRE(fs::create_dirs(fs::dirname(root + rel)).ok());
    REQUIRE(fs::write_file(root + rel, body).ok());
  }
  // Access-log lines for requests to `uri`: "METHOD URI STATUS CONNECTION". nginx logs after
  // answering, so wait (up to 5 s) until at least `expect` lines are there.
  std::vector<std::vector<std::string>> log_for(const std::string& uri, size_t expect = 1) const {
    std::vector<std::vector<std::string>> out;
    for (int i = 0; i < 200 && out.size() < expect; ++i) {
      if (i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
      out.clear();
      auto text = fs::read_file(dir + "/access.log");
      for (const std::string& line : split(text.ok() ? *text : "", '\n')) {
        auto f = split_ws(line);
        if (f.size() == 4 && f[1] == uri) out.push_back(f);
      }
    }
    return out;
  }
};

#define START_NGINX(n)                                                                          \
  if (!test::NginxProcess::installed()) LB_MISSING_PREREQUISITE(test::kNginx << " is missing"); \
  Nginx n;                                                                                      \
  REQUIRE(n.start())

// Set an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value) {
      setenv(name.c_str(), value, 1);
    } else {
      unsetenv(name.c_str());
    }
  }
  ~ScopedEnv() {
    if (old) {
      setenv(name.c_str(), old->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
};

ClientOptions fast_retries() {
  ClientOptions o;
  o.backoff_ms = 5;
  o.use_netrc = false;
  return o;
}

}  // namespace

TEST_CASE("http: GET, headers, 404, redirects, Range, revalidation") {
  START_NGINX(srv);
  srv.put("/hello.txt", "hello world");
  auto http = make_http_client(fast_retries());
  auto r = http->fetch({srv.url("/hello.txt")});
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == "hello world");
  CHECK(r->bytes == 11);
  CHECK(r->sha256 == sha256_hex("hello world"));
  CHECK(r->headers.at("content-length") == "11");
  REQUIRE(r->headers.count("etag"));

  auto missing = http->fetch({srv.url("/nope.txt")});
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  CHECK(srv.log_for("/nope.txt").size() == 1);  // 4xx is not retried

  auto moved = http->fetch({srv.url("/moved")});
  REQUIRE(moved.ok());
  CHECK(moved->status == 200);
  CHECK(moved->body == "hello world");
  CHECK(moved->effective_url == srv.url("/hello.txt"));

  Request range{srv.url("/hello.txt")};
  range.range = std::make_pair(uint64_t(6), uint64_t(10));
  auto part = http->fetch(range);
  REQUIRE(part.ok());
  CHECK(part->status == 206);
  CHECK(part->body == "world");

  Request reval{srv.url("/hello.txt"), {{"If-None-Match", r->headers.at("etag")}}};
  auto same = http->fetch(reval);
  REQUIRE(same.ok());
  CHECK(same->status == 304);
  CHECK(same->body.empty());

  Request head{srv.url("/hello.txt")};
  head.head = true;
  auto h = http->fetch(head);
  REQUIRE(h.ok());
  CHECK(h->status == 200);
  CHECK(h->body.empty());
}

TEST_CASE("http: 5xx is retried, then returned as a status") {
  START_NGINX(srv);
  auto http = make_http_client(fast_retries());
  auto r = http->fetch({srv.url("/fail")});
  REQUIRE(r.ok());
  CHECK(r->status == 503);
  CHECK(srv.log_for("/fail", 4).size() == 4);  // 1 + 3 retries
}

TEST_CASE("http: unreachable server is a transport error naming the URL") {
  int port = free_port();
  ClientOptions o = fast_retries();
  o.retries = 1;
  auto http = make_http_client(o);
  std::string url = "http://user:pw@127.0.0.1:" + std::to_string(port) + "/x";
  auto r = http->fetch({url});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("cannot reach http://user:****@127.0.0.1:" + std::to_string(port) +
                               "/x") == 0);
  CHECK(r.error().message.find("pw") == std::string::npos);
}

TEST_CASE("http: fetch_all keeps input order; sequential fetches reuse the connection") {
  START_NGINX(srv);
  std::vector<Request> reqs;
  for (int i = 0; i < 20; ++i) {
    srv.put("/f/" + std::to_string(i), std::string(size_t(i) * 1000, char('a' + i)));
    reqs.push_back({srv.url("/f/" + std::to_string(i))});
  }
  reqs.push_back({srv.url("/f/missing")});
  ClientOptions o = fast_retries();
  o.max_parallel = 4;
  auto http = make_http_client(o);
  auto all = http->fetch_all(reqs);
  REQUIRE(all.size() == 21);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(all[size_t(i)].ok());
    CHECK(all[size_t(i)]->body == std::string(size_t(i) * 1000, char('a' + i)));
  }
  REQUIRE(all[20].ok());
  CHECK(all[20]->status == 404);

  for (int i = 0; i < 3; ++i) REQUIRE(http->fetch({srv.url("/f/1")}).ok());
  auto lines = srv.log_for("/f/1", 4);
  REQUIRE(lines.size() == 4);
  CHECK(lines[1][3] == lines[2][3]);  // same nginx $connection: keep-alive
  CHECK(lines[2][3] == lines[3][3]);

  // One client from several threads at once.
  std::vector<std::thread> threads;
  std::vector<int> ok(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto rs = http->fetch_all(std::vector<Request>(reqs.begin(), reqs.begin() + 10));
      ok[size_t(t)] = 1;
      for (size_t i = 0; i < rs.size(); ++i)
        ok[size_t(t)] &= rs[i].ok() && rs[i]->body.size() == i * 1000;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

TEST_CASE("http: file:// URLs") {
  Nginx tmp;  // only for its temp dir
  REQUIRE(fs::write_file(tmp.root + "/a b.txt", "local").ok());
  auto http = make_http_client(fast_retries());
  auto r = http->fetch({path_to_file_url(tmp.root + "/a b.txt")});
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == "local");
  auto missing = http->fetch({path_to_file_url(tmp.root + "/none")});
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
}

TEST_CASE("http: downloads stream to disk and verify hashes") {
  START_NGINX(srv);
  std::string content(300000, 'x');
  srv.put("/pkg-1.0.tar.gz", content);
  auto http = make_http_client(fast_retries());
  std::string out = srv.dir + "/out";
  REQUIRE(fs::create_dirs(out).ok());

  auto good = download_file(*http, srv.url("/pkg-1.0.tar.gz"), out + "/a.tar.gz",
                            to_lower(sha256_hex(content)));
  REQUIRE(good.ok());
  CHECK(good->bytes == content.size());
  CHECK(fs::read_file(out + "/a.tar.gz").value() == content);
  // Written to a file created exclusively (O_EXCL|O_NOFOLLOW, mode 0600; the store gives a
  // blob its mode): fopen("wb") would have followed a link or truncated a file at that name.
  struct stat st {};
  REQUIRE(::lstat((out + "/a.tar.gz").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // A limit of 0 bytes allows an empty body only (it used to mean "no limit").
  auto zero = download_file(*http, srv.url("/pkg-1.0.tar.gz"), out + "/z.tar.gz", "", 0, "hint");
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().message.find("larger than the limit of 0 bytes") != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/z.tar.gz"));

  std::string wrong(64, '0');
  auto bad = download_file(*http, srv.url("/pkg-1.0.tar.gz"), out + "/b.tar.gz", wrong);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find(wrong) != std::string::npos);
  CHECK(bad.error().message.find(sha256_hex(content)) != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/b.tar.gz"));

  auto gone = download_file(*http, srv.url("/none.tar.gz"), out + "/c.tar.gz", "");
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().message.find("HTTP 404") != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/c.tar.gz"));

  Request req{srv.url("/pkg-1.0.tar.gz")};
  req.dest_path = out + "/d.tar.gz";
  auto streamed = http->fetch(req);
  REQUIRE(streamed.ok());
  CHECK(streamed->body.empty());
  CHECK(streamed->sha256 == sha256_hex(content));
  CHECK(fs::list_dir(out).value() == std::vector<std::string>{"a.tar.gz", "d.tar.gz"});
}

TEST_CASE("http: credentials from the URL and from netrc; PUT") {
  START_NGINX(srv);
  srv.put("/private/secret.txt", "ok");
  auto plain = make_http_client(fast_retries());
  CHECK(plain->fetch({srv.url("/private/secret.txt")})->status == 401);
  std::string with_user = "http://alice:s3cret@127.0.0.1:" + std::to_string(srv.port);
  CHECK(plain->fetch({with_user + "/private/secret.txt"})->body == "ok");

  REQUIRE(
      fs::write_file(srv.dir + "/netrc", "machine 127.0.0.1 login alice password s3cret\n").ok());
  ClientOptions o = fast_retries();
  o.use_netrc = true;
  o.netrc_file = srv.dir + "/netrc";
  auto netrc = make_http_client(o);
  CHECK(netrc->fetch({srv.url("/private/secret.txt")})->body == "ok");

  Request put{srv.url("/dav/ac/abc")};
  put.method = "PUT";
  put.upload_body = "blob";
  auto stored = plain->fetch(put);
  REQUIRE(stored.ok());
  CHECK(stored->status == 201);
  CHECK(plain->fetch({srv.url("/dav/ac/abc")})->body == "blob");
}

TEST_CASE("http: HTTP_PROXY and NO_PROXY are honoured") {
  START_NGINX(srv);
  srv.put("/hello.txt", "hello world");
  auto http = make_http_client(fast_retries());
  ScopedEnv lower("http_proxy", nullptr), all("ALL_PROXY", nullptr), all2("all_proxy", nullptr),
      np("NO_PROXY", nullptr), np2("no_proxy", nullptr);
  {
    // nginx as the proxy: the request line carries the absolute URL, nginx serves the path.
    ScopedEnv upper("HTTP_PROXY", srv.url("").c_str());
    auto r = http->fetch({"http://pkgs.invalid/hello.txt"});
    REQUIRE(r.ok());
    CHECK(r->body == "hello world");
  }
  {
    ScopedEnv lower_set("http_proxy", srv.url("").c_str());
    auto r = http->fetch({"http://pkgs.invalid/hello.txt"});
    REQUIRE(r.ok());
    CHECK(r->body == "hello world");
  }
  {
    std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
    ScopedEnv upper("HTTP_PROXY", dead.c_str()), no("NO_PROXY", "127.0.0.1");
    auto r = http->fetch({srv.url("/hello.txt")});
    REQUIRE(r.ok());
    CHECK(r->body == "hello world");
  }
}

TEST_CASE("http: HTTPS trusts SSL_CERT_FILE / ca_file") {
  if (!test::NginxProcess::installed() || find_program("openssl").empty())
    LB_MISSING_PREREQUISITE(test::kNginx << " and openssl");
  Nginx srv;
  REQUIRE(srv.start(/*tls=*/true));
  srv.put("/hello.txt", "hello world");
  std::string url = "https://127.0.0.1:" + std::to_string(srv.tls_port) + "/hello.txt";
  ScopedEnv no_file("SSL_CERT_FILE", nullptr), no_dir("SSL_CERT_DIR", nullptr);
  auto untrusted = make_http_client(fast_retries())->fetch({url});
  REQUIRE_FALSE(untrusted.ok());
  CHECK(untrusted.error().message.find("cannot reach " + url) == 0);
  {
    ScopedEnv trust("SSL_CERT_FILE", (srv.dir + "/cert.pem").c_str());
    auto r = make_http_client(fast_retries())->fetch({url});
    REQUIRE(r.ok());
    CHECK(r->body == "hello world");
  }
  ClientOptions o = fast_retries();
  o.ca_file = srv.dir + "/cert.pem";
  CHECK(make_http_client(o)->fetch({url})->status == 200);
}

TEST_CASE("index: JSON and HTML pages from nginx, revalidated with ETag") {
  START_NGINX(srv);
  srv.put("/json/foo/index.json",
          R"({"meta":{"api-version":"1.1"},"name":"foo","files":[{"filename":"foo-1.0.tar.gz",)"
          R"("url":"../../files/foo-1.0.tar.gz","hashes":{"sha256":")" +
              std::string(64, 'c') + R"("},"size":5}]})");
  srv.put("/html/foo/index.html",
          "<a href='/files/foo-2.0.tar.gz#sha256=" + std::string(64, 'd') + "'>foo-2.0.tar.gz</a>");
  srv.put("/files/foo-1.0.tar.gz", "sdist");
  auto http = make_http_client(fast_retries());
  MapCache cache;
  IndexConfig cfg{{srv.url("/json"), srv.url("/html/")}, {}, false, false};
  {
    IndexClient client(*http, &cache, cfg);
    REQUIRE(client.prefetch({"Foo", "bar"}).ok());
    auto files = client.project_files("foo");
    REQUIRE(files.ok());
    REQUIRE(files->size() == 2);
    CHECK((*files)[0].url == srv.url("/files/foo-1.0.tar.gz"));
    CHECK((*files)[0].size == 5u);
    CHECK((*files)[0].origin == srv.url("/json"));
    CHECK((*files)[1].url == srv.url("/files/foo-2.0.tar.gz"));
    CHECK((*files)[1].sha256 == std::string(64, 'd'));
    auto bar = client.project_files("bar");
    REQUIRE(bar.ok());
    CHECK(bar->empty());
  }
  CHECK(cache.pages.size() == 2);
  IndexClient again(*http, &cache, cfg);
  auto files = again.project_files("foo");
  REQUIRE(files.ok());
  CHECK(files->size() == 2);
  auto log = srv.log_for("/json/foo/", 2);
  REQUIRE(log.size() == 2);
  CHECK(log[0][2] == "200");
  CHECK(log[1][2] == "304");

  IndexConfig broken{{srv.url("/fail")}, {}, false, false};
  IndexClient failing(*http, &cache, broken);
  auto err = failing.project_files("foo");
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().message.find(srv.url("/fail/foo/")) != std::string::npos);
  CHECK(err.error().message.find("503") != std::string::npos);
}

TEST_CASE("http: Request::progress is told how a 2xx body arrives, and nothing of an error") {
  START_NGINX(srv);
  std::string content(300000, 'x');
  srv.put("/big.whl", content);
  auto http = make_http_client(fast_retries());
  std::vector<std::pair<uint64_t, uint64_t>> seen;
  Request req{srv.url("/big.whl")};
  req.dest_path = srv.dir + "/big.whl";
  req.progress = [&](uint64_t done, uint64_t total) { seen.emplace_back(done, total); };
  auto got = http->fetch(req);
  REQUIRE(got.ok());
  REQUIRE_FALSE(seen.empty());
  for (size_t i = 1; i < seen.size(); ++i) CHECK(seen[i - 1].first < seen[i].first);
  CHECK(seen.back() == std::pair<uint64_t, uint64_t>(content.size(), content.size()));

  seen.clear();
  Request missing{srv.url("/none.whl")};
  missing.dest_path = srv.dir + "/none.whl";
  missing.progress = req.progress;
  auto gone = http->fetch(missing);
  REQUIRE(gone.ok());
  CHECK(gone->status == 404);
  CHECK(seen.empty());
}
