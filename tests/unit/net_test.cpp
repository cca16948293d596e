// net: URL resolution, HTML/JSON index parsing, find-links, cached page format, IndexClient
// against file:// indexes and a scripted HttpClient.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "net/html.hpp"
#include "net/index.hpp"
#include "net/url.hpp"
#include "net_test_support.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

using namespace lb;
using namespace lb::net;
using lb::test::MapCache;

namespace {

using lb::test::TempDir;

const std::string kSha = std::string(64, 'a');
}  // namespace

TEST_CASE("resolve_url follows RFC 3986 section 5.4") {
  const std::string base = "http://a/b/c/d;p?q";
  const std::map<std::string, std::string> cases = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {"g?y#s", "http://a/b/c/g?y#s"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../g", "http://a/g"},
      // abnormal examples (5.4.2)
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g#s/../x", "http://a/b/c/g#s/../x"},
      {"http:g", "http:g"},
  };
  for (const auto& [ref, want] : cases) {
    INFO(ref);
    CHECK(resolve_url(base, ref) == want);
  }
  CHECK(resolve_url("https://u:p@h/simple/foo/", "../../packages/x.whl") ==
        "https://u:p@h/packages/x.whl");
  CHECK(resolve_url("http://h", "x") == "http://h/x");
}

TEST_CASE("url helpers") {
  CHECK(strip_fragment("http://h/a.whl#sha256=ab") == "http://h/a.whl");
  CHECK(url_fragment("http://h/a.whl#sha256=ab") == "sha256=ab");
  CHECK(url_filename("http://h/p/foo%2Bbar-1.0.tar.gz?x=1") == "foo+bar-1.0.tar.gz");
  CHECK(redact_url("https://user:secret@h/simple/") == "https://user:****@h/simple/");
  CHECK(redact_url("https://token@h/simple/") == "https://token@h/simple/");
  CHECK(is_url("file:///tmp/x"));
  CHECK_FALSE(is_url("/tmp/x"));
  CHECK_FALSE(is_url("C:/x"));
  CHECK(path_to_file_url("/tmp/a b#c.whl") == "file:///tmp/a%20b%23c.whl");
  CHECK(file_url_to_path("file:///tmp/a%20b%23c.whl") == "/tmp/a b#c.whl");
  CHECK(file_url_to_path("file://localhost/x") == "/x");
  CHECK_FALSE(file_url_to_path("http://h/x").has_value());
}

TEST_CASE("html_unescape and scan_tags") {
  CHECK(html_unescape("&lt;3&gt;&amp;&quot;&#39;&#x41;&#65;&unknown;&amp") ==
        "<3>&\"'AA&unknown;&amp");
  CHECK(html_unescape("&#x1F600;") == "\xF0\x9F\x98\x80");
  CHECK(html_unescape("&#0;") == "\xEF\xBF\xBD");
  auto tags = scan_tags(
      "<!-- <a href=no> --><A HREF='x' Data-X=1 data-x=2 flag><script>var s='<a href=bad>';"
      "</SCRIPT><a href=y/>",
      {"a"});
  REQUIRE(tags.size() == 2);
  CHECK(*tags[0].attr("href") == "x");
  CHECK(*tags[0].attr("data-x") == "1");
  REQUIRE(tags[0].attr("flag"));
  CHECK(tags[0].attr("flag")->empty());
  CHECK(*tags[1].attr("href") == "y/");
}

TEST_CASE("parse_simple_html reads PEP 503 pages") {
  std::string html =
      R"(<!DOCTYPE html><html><body>
    <a href="../../packages/foo-1.0-py3-none-any.whl#sha256=)" +
      std::string(64, 'A') +
      R"(" data-requires-python="&gt;=3.8,&lt;4" data-dist-info-metadata="true">foo-1.0-py3-none-any.whl</a>
    <a href="https://files.example/foo-1.1.tar.gz#md5=abc&amp;sha256=)" +
      kSha +
      R"(" data-yanked="">foo-1.1.tar.gz</a>
    <a href="foo-1.2.zip" data-yanked="broken &amp; bad" data-core-metadata="sha256=)" +
      kSha +
      R"(" data-dist-info-metadata="false">x</a>
    <a>no href</a><a href="foo-1.3.tar.gz#sha256=nothex">bad hash</a>
  </body></html>)";
  auto files = parse_simple_html(html, "https://u:p@idx.example/simple/foo/");
  REQUIRE(files.ok());
  REQUIRE(files->size() == 4);
  const IndexFile& a = (*files)[0];
  CHECK(a.filename == "foo-1.0-py3-none-any.whl");
  CHECK(a.url == "https://u:p@idx.example/packages/foo-1.0-py3-none-any.whl");
  CHECK(a.sha256 == kSha);
  CHECK(a.requires_python == ">=3.8,<4");
  CHECK_FALSE(a.yanked);
  CHECK(a.has_metadata);
  CHECK(a.metadata_sha256.empty());
  const IndexFile& b = (*files)[1];
  CHECK(b.url == "https://files.example/foo-1.1.tar.gz");
  CHECK(b.sha256 == kSha);
  CHECK(b.yanked);
  CHECK(b.yanked_reason.empty());
  CHECK_FALSE(b.has_metadata);
  const IndexFile& c = (*files)[2];
  CHECK(c.filename == "foo-1.2.zip");
  CHECK(c.yanked_reason == "broken & bad");
  CHECK(c.has_metadata);  // data-core-metadata wins over data-dist-info-metadata (PEP 714)
  CHECK(c.metadata_sha256 == kSha);
  CHECK((*files)[3].sha256.empty());
  CHECK(a.origin == "https://u:p@idx.example/simple/foo/");
}

TEST_CASE("parse_simple_html honours <base href>") {
  auto files =
      parse_simple_html("<base href='/mirror/'><base href='/ignored/'><a href='x-1.0.tar.gz'>x</a>",
                        "http://h/simple/x/");
  REQUIRE(files.ok());
  REQUIRE(files->size() == 1);
  CHECK((*files)[0].url == "http://h/mirror/x-1.0.tar.gz");
}

TEST_CASE("parse_simple_json reads PEP 691 pages") {
  std::string json = R"({"meta": {"api-version": "1.1"}, "name": "foo", "versions": ["1.0"],
    "files": [
      {"filename": "foo-1.0.tar.gz", "url": "../../p/foo-1.0.tar.gz", "hashes": {"sha256": ")" +
                     std::string(64, 'B') + R"("},
       "requires-python": ">=3.8", "yanked": "bad build", "core-metadata": {"sha256": ")" +
                     kSha +
                     R"("}, "size": 1234},
      {"filename": "foo-1.0-py3-none-any.whl", "url": "https://f.example/foo.whl#frag",
       "hashes": {}, "requires-python": null, "yanked": false, "dist-info-metadata": true},
      {"filename": "foo-1.1.tar.gz", "url": "foo-1.1.tar.gz", "hashes": {"md5": "x"}, "yanked": true}
    ]})";
  auto files = parse_simple_json(json, "https://idx/simple/foo/");
  REQUIRE(files.ok());
  REQUIRE(files->size() == 3);
  const IndexFile& a = (*files)[0];
  CHECK(a.url == "https://idx/p/foo-1.0.tar.gz");
  CHECK(a.sha256 == std::string(64, 'b'));
  CHECK(a.requires_python == ">=3.8");
  CHECK(a.yanked);
  CHECK(a.yanked_reason == "bad build");
  CHECK(a.has_metadata);
  CHECK(a.metadata_sha256 == kSha);
  CHECK(a.size == 1234u);
  const IndexFile& b = (*files)[1];
  CHECK(b.url == "https://f.example/foo.whl");
  CHECK(b.sha256.empty());
  CHECK_FALSE(b.yanked);
  CHECK(b.has_metadata);
  CHECK_FALSE(b.size.has_value());
  CHECK((*files)[2].yanked);
  CHECK((*files)[2].yanked_reason.empty());
}

TEST_CASE("parse_simple_json rejects malformed pages with the URL") {
  for (std::string bad :
       {"{", "[]", R"({"files": 3})", R"({"files": [1]})",
        R"({"meta": {"api-version": "2.0"}, "files": []})", R"({"files": [{"filename": "x"}]})"}) {
    INFO(bad);
    auto r = parse_simple_json(bad, "https://idx/simple/x/");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("https://idx/simple/x/") != std::string::npos);
  }
}

TEST_CASE("filename_matches_project") {
  CHECK(filename_matches_project("Foo_Bar-1.0-py3-none-any.whl", "foo-bar"));
  CHECK(filename_matches_project("foo.bar-2.0.tar.gz", "foo-bar"));
  CHECK(filename_matches_project("foo-bar-2.0.zip", "foo-bar"));
  CHECK_FALSE(filename_matches_project("foo-bar-2.0.tar.gz", "foo"));
  CHECK_FALSE(filename_matches_project("foobar-1.0-py3-none-any.whl", "foo"));
  CHECK_FALSE(filename_matches_project("foo-1.0.txt", "foo"));
}

TEST_CASE("list_find_links_dir lists archives with file URLs") {
  TempDir d;
  REQUIRE(fs::write_file(d.path + "/a-1.0-py3-none-any.whl", "wheel").ok());
  REQUIRE(fs::write_file(d.path + "/a-1.0.tar.gz", "sdist").ok());
  REQUIRE(fs::write_file(d.path + "/README.txt", "no").ok());
  REQUIRE(fs::create_dirs(d.path + "/sub.zip").ok());
  auto files = list_find_links_dir(d.path);
  REQUIRE(files.ok());
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].filename == "a-1.0-py3-none-any.whl");
  CHECK((*files)[0].url == "file://" + d.path + "/a-1.0-py3-none-any.whl");
  CHECK((*files)[0].size == 5u);
  CHECK_FALSE(list_find_links_dir(d.path + "/missing").ok());
}

TEST_CASE("cached pages round-trip through their versioned format") {
  CachedPage p{std::string("body\n\0with nul", 14), "text/html", "\"e\"", "Mon", 42, "http://h/x/"};
  auto back = parse_cached_page(serialize_cached_page(p));
  REQUIRE(back);
  CHECK(back->body == p.body);
  CHECK(back->etag == p.etag);
  CHECK(back->fetched_unix == 42);
  CHECK(back->url == p.url);
  std::string s = serialize_cached_page(p);
  CHECK_FALSE(parse_cached_page(s.substr(0, s.size() - 1)));
  CHECK_FALSE(parse_cached_page("lavabuild-page 2\n"));
}

namespace {
// A scripted HttpClient: answers by URL, counts requests, records headers.
struct FakeHttp : HttpClient {
  std::mutex mu;
  std::map<std::string, Response> answers;
  std::vector<Request> seen;
  Result<Response> fetch(const Request& r) override {
    std::lock_guard lock(mu);
    seen.push_back(r);
    auto it = answers.find(r.url);
    if (it == answers.end()) return make_error("cannot reach " + r.url + ": refused");
    Response resp = it->second;
    resp.effective_url = r.url;
    return resp;
  }
  std::vector<Result<Response>> fetch_all(const std::vector<Request>& rs) override {
    std::vector<Result<Response>> out;
    for (const Request& r : rs) out.push_back(fetch(r));
    return out;
  }
};
Response page(std::string body, std::string type = "text/html") {
  Response r;
  r.status = 200;
  r.body = std::move(body);
  r.headers["content-type"] = std::move(type);
  r.headers["etag"] = "\"v1\"";
  return r;
}
}  // namespace

TEST_CASE("IndexClient merges indexes and find-links, memoises, revalidates") {
  TempDir d;
  REQUIRE(fs::write_file(d.path + "/Foo_Bar-3.0-py3-none-any.whl", "w").ok());
  REQUIRE(fs::write_file(d.path + "/other-1.0.tar.gz", "o").ok());
  FakeHttp http;
  http.answers["https://a/simple/foo-bar/"] = page("<a href='foo_bar-1.0.tar.gz'>x</a>");
  http.answers["https://b/simple/foo-bar/"] = page(
      R"({"meta":{"api-version":"1.0"},"files":[{"filename":"foo_bar-2.0.tar.gz","url":"x.tgz","hashes":{}}]})",
      "application/vnd.pypi.simple.v1+json");
  Response missing;
  missing.status = 404;
  http.answers["https://b/simple/nope/"] = missing;
  http.answers["https://a/simple/nope/"] = missing;
  MapCache cache;
  IndexConfig cfg{{"https://a/simple", "https://b/simple/"}, {d.path}, false, false};
  IndexClient client(http, &cache, cfg);
  auto files = client.project_files("Foo.Bar");
  REQUIRE(files.ok());
  REQUIRE(files->size() == 3);
  CHECK((*files)[0].url == "https://a/simple/foo-bar/foo_bar-1.0.tar.gz");
  CHECK((*files)[0].origin == "https://a/simple");
  CHECK((*files)[1].url == "https://b/simple/foo-bar/x.tgz");
  CHECK((*files)[2].filename == "Foo_Bar-3.0-py3-none-any.whl");
  CHECK((*files)[2].origin == d.path);
  REQUIRE(http.seen.size() == 2);
  CHECK(http.seen[0].headers[0].second.find("application/vnd.pypi.simple.v1+json") == 0);
  // The files were handed over, not kept (a page may list 100,000 files): asked again, the
  // pages are loaded again; a prefetch fills the memo that project_files then takes from.
  REQUIRE(client.project_files("foo-bar")->size() == 3);
  CHECK(http.seen.size() == 4);
  REQUIRE(client.prefetch({"foo-bar"}).ok());
  CHECK(http.seen.size() == 6);
  REQUIRE(client.project_files("foo-bar")->size() == 3);
  CHECK(http.seen.size() == 6);
  auto none = client.project_files("nope");
  REQUIRE(none.ok());
  CHECK(none->empty());  // 404 everywhere: no files, not an error

  // A new client revalidates the cached page; 304 keeps the cached body.
  Response not_modified;
  not_modified.status = 304;
  http.answers["https://a/simple/foo-bar/"] = not_modified;
  http.seen.clear();
  IndexClient again(http, &cache, cfg);
  auto files2 = again.project_files("foo_bar");
  REQUIRE(files2.ok());
  CHECK(files2->size() == 3);
  bool sent_etag = false;
  for (const auto& [k, v] : http.seen[0].headers)
    sent_etag |= k == "If-None-Match" && v == "\"v1\"";
  CHECK(sent_etag);
}

TEST_CASE("IndexClient offline and failure modes") {
  FakeHttp http;
  MapCache cache;
  cache.put("https://a/simple/foo/", CachedPage{"<a href='foo-1.0.tar.gz'>", "text/html", "", "", 1,
                                                "https://a/simple/foo/"});
  IndexConfig offline{{"https://a/simple/"}, {}, false, true};
  IndexClient client(http, &cache, offline);
  auto files = client.project_files("foo");
  REQUIRE(files.ok());
  CHECK(files->size() == 1);
  CHECK(http.seen.empty());
  auto miss = client.project_files("bar");
  REQUIRE_FALSE(miss.ok());
  CHECK(miss.error().message.find("bar is not in the cache and --offline was given") !=
        std::string::npos);

  Response boom;
  boom.status = 503;
  http.answers["https://a/simple/foo/"] = boom;
  IndexClient online(http, &cache, IndexConfig{{"https://a/simple/"}, {}, false, false});
  auto err = online.project_files("foo");
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().message.find("https://a/simple/foo/") != std::string::npos);
  CHECK(err.error().hint.find("--offline") != std::string::npos);
  auto unreachable = online.project_files("zzz");
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.error().hint.find("--offline") != std::string::npos);

  IndexClient no_index(http, &cache, IndexConfig{{"https://a/simple/"}, {}, true, false});
  auto nothing = no_index.project_files("foo");
  REQUIRE(nothing.ok());
  CHECK(nothing->empty());
}

TEST_CASE("IndexClient reads file:// indexes and find-links pages, from several threads") {
  TempDir d;
  REQUIRE(fs::create_dirs(d.path + "/simple/foo").ok());
  REQUIRE(fs::write_file(d.path + "/simple/foo/index.html",
                         "<a href='../../files/foo-1.0.tar.gz#sha256=" + kSha + "'>f</a>")
              .ok());
  REQUIRE(fs::write_file(d.path + "/links.html", "<a href='files/foo-2.0.tar.gz'>f</a>").ok());
  auto http = make_http_client();
  IndexConfig cfg{{path_to_file_url(d.path + "/simple")},
                  {path_to_file_url(d.path + "/links.html")},
                  false,
                  true /* offline: file:// still works */};
  IndexClient client(*http, nullptr, cfg);
  REQUIRE(client.prefetch({"foo", "missing"}).ok());
  std::vector<std::thread> threads;
  std::vector<size_t> counts(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto r = client.project_files(i % 2 ? "FOO" : "missing");
      counts[size_t(i)] = r.ok() ? r->size() : 99;
    });
  for (auto& t : threads) t.join();
  CHECK(counts == std::vector<size_t>{0, 2, 0, 2});
  auto files = client.project_files("foo");
  REQUIRE(files.ok());
  CHECK((*files)[0].url == "file://" + d.path + "/files/foo-1.0.tar.gz");
  CHECK((*files)[0].sha256 == kSha);
  CHECK((*files)[1].url == "file://" + d.path + "/files/foo-2.0.tar.gz");
}

TEST_CASE("index pages: limits on files, URL length, attributes; linear on hostile markup") {
  std::string html;
  for (int i = 0; i < 50; ++i) html += "<a href=\"p-1." + std::to_string(i) + ".tar.gz\">x</a>\n";
  CHECK(parse_simple_html(html, "https://i.invalid/simple/p/", 50)->size() == 50);
  auto many = parse_simple_html(html, "https://i.invalid/simple/p/", 49);
  REQUIRE_FALSE(many.ok());
  CHECK(many.error().message.find("https://i.invalid/simple/p/ lists more than 49 files") !=
        std::string::npos);
  CHECK(many.error().hint.find("LAVABUILD_MAX_PAGE_FILES") != std::string::npos);

  std::string json = "{\"meta\":{\"api-version\":\"1.0\"},\"files\":[";
  for (int i = 0; i < 50; ++i)
    json += std::string(i ? "," : "") + "{\"filename\":\"p-1." + std::to_string(i) +
            ".tar.gz\",\"url\":\"p-1." + std::to_string(i) + ".tar.gz\",\"hashes\":{}}";
  json += "]}";
  CHECK(parse_simple_json(json, "https://i.invalid/simple/p/", 50)->size() == 50);
  CHECK_FALSE(parse_simple_json(json, "https://i.invalid/simple/p/", 10).ok());

  // Nesting is capped at kMaxJsonDepth (64) levels: a page of `[[[[...` used to cost a
  // 40-byte frame per byte. 64 levels (the top object and 63 arrays) are fine, 65 are not.
  auto nested = [](size_t arrays) {
    return "{\"files\":[],\"x\":" + std::string(arrays, '[') + std::string(arrays, ']') + "}";
  };
  CHECK(parse_simple_json(nested(kMaxJsonDepth - 1), "https://i.invalid/simple/p/").ok());
  auto deep = parse_simple_json(nested(kMaxJsonDepth), "https://i.invalid/simple/p/");
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.error().message.find("https://i.invalid/simple/p/") != std::string::npos);
  CHECK(deep.error().message.find("nested deeper than 64 levels") != std::string::npos);
  auto very_deep = parse_simple_json("{\"x\":" + std::string(1 << 20, '['), "u");
  REQUIRE_FALSE(very_deep.ok());
  CHECK(very_deep.error().message.find("nested deeper") != std::string::npos);

  // HTML: the scanner stops at the file limit; tags after it are never built.
  std::string tiny;
  for (int i = 0; i < 1000; ++i) tiny += "<a href=x>";
  size_t seen = 0;
  scan_tags(tiny, {"a"}, [&seen](HtmlTag&) { return ++seen < 10; });
  CHECK(seen == 10);
  auto tiny_files = parse_simple_html(tiny, "https://i.invalid/simple/p/", 100);
  REQUIRE_FALSE(tiny_files.ok());
  CHECK(tiny_files.error().message.find("lists more than 100 files") != std::string::npos);

  // A huge <base href> is ignored and huge links are skipped (each would be copied per link).
  std::string huge(kMaxUrlLength + 1, 'a');
  std::string page = "<base href=\"https://evil.invalid/" + huge + "/\">" +
                     "<a href=\"p-1.0.tar.gz\">ok</a><a href=\"" + huge + ".whl\">big</a>";
  auto files = parse_simple_html(page, "https://i.invalid/simple/p/");
  REQUIRE(files->size() == 1);
  CHECK(files->at(0).url == "https://i.invalid/simple/p/p-1.0.tar.gz");

  // '&' without ';' and tags with a huge number of attributes: linear, and still correct.
  std::string amps = "<a data-x=\"" + std::string(1 << 20, '&') + "\" href=\"p-2.0.tar.gz\">";
  CHECK(parse_simple_html(amps, "https://i.invalid/simple/p/")->size() == 1);
  std::string attrs = "<a href=\"p-3.0.tar.gz\"";
  for (int i = 0; i < 200000; ++i) attrs += " a" + std::to_string(i) + "=1";
  attrs += ">";
  auto with_attrs = parse_simple_html(attrs, "https://i.invalid/simple/p/");
  REQUIRE(with_attrs->size() == 1);
  CHECK(with_attrs->at(0).filename == "p-3.0.tar.gz");
}

TEST_CASE("parse_simple_json keeps its DOM semantics with the SAX reader") {
  std::string json = R"({"meta":{"api-version":"1.1"},"name":"p","files":[
    {"filename":"p-1.0-py3-none-any.whl","url":"../../files/p-1.0-py3-none-any.whl#frag",
     "hashes":{"sha256":")" +
                     std::string(64, 'A') + R"(","md5":"x"},"requires-python":">=3.8",
     "yanked":"broken","core-metadata":{"sha256":")" +
                     std::string(64, 'b') + R"("},"size":123,
     "extra":{"files":[1,2,{"filename":"nested"}]}},
    {"filename":"p-0.9.tar.gz","url":"https://f.invalid/p-0.9.tar.gz","yanked":false,
     "dist-info-metadata":true,"size":-1}],"versions":["1.0"]})";
  auto files = parse_simple_json(json, "https://i.invalid/simple/p/");
  INFO((files.ok() ? "" : files.error().to_string()));
  REQUIRE(files.ok());
  REQUIRE(files->size() == 2);
  const IndexFile& a = files->at(0);
  CHECK(a.url == "https://i.invalid/files/p-1.0-py3-none-any.whl");
  CHECK(a.sha256 == std::string(64, 'a'));
  CHECK(a.requires_python == ">=3.8");
  CHECK(a.yanked);
  CHECK(a.yanked_reason == "broken");
  CHECK(a.has_metadata);
  CHECK(a.metadata_sha256 == std::string(64, 'b'));
  CHECK(a.size == std::optional<uint64_t>(123));
  const IndexFile& b = files->at(1);
  CHECK_FALSE(b.yanked);
  CHECK(b.has_metadata);
  CHECK_FALSE(b.size.has_value());
  CHECK_FALSE(parse_simple_json("[1]", "u").ok());
  CHECK_FALSE(parse_simple_json("{\"files\":[1]}", "u").ok());
  CHECK_FALSE(parse_simple_json("{\"files\":{}}", "u").ok());
  CHECK_FALSE(parse_simple_json("{\"files\":[{\"url\":\"x\"}]}", "u").ok());
  CHECK_FALSE(parse_simple_json("{\"files\":[]", "u").ok());
  CHECK_FALSE(parse_simple_json("{\"meta\":{\"api-version\":\"2.0\"},\"files\":[]}", "u").ok());
  CHECK(parse_simple_json("{\"files\":[]}", "u")->empty());
}

TEST_CASE("file: links on pages served over HTTP(S) are dropped") {
  std::vector<IndexFile> files(3);
  files[0].url = "https://f.invalid/a.whl";
  files[1].url = "file:///etc/shadow";
  files[2].url = "FILE:///tmp/b.whl";
  size_t dropped = 0;
  auto kept = drop_local_links(files, "http://i.invalid/simple/p/", dropped);
  CHECK(dropped == 2);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].url == "https://f.invalid/a.whl");
  CHECK(drop_local_links(files, "file:///srv/simple/p/", dropped).size() == 3);
  CHECK(dropped == 0);
}

TEST_CASE("limits: sizes and LAVABUILD_* variables") {
  CHECK(parse_size("123") == std::optional<uint64_t>(123));
  CHECK(parse_size("64M") == std::optional<uint64_t>(64u << 20));
  CHECK(parse_size("2GiB") == std::optional<uint64_t>(uint64_t(2) << 30));
  CHECK(parse_size(" 1.5 kb ") == std::optional<uint64_t>(1536));
  CHECK_FALSE(parse_size("lots").has_value());
  CHECK_FALSE(parse_size("-1").has_value());
  CHECK_FALSE(parse_size("1e30").has_value());
  CHECK_FALSE(parse_size("99999999999T").has_value());
  Limits d = *Limits::from_env();
  CHECK(d.max_page_bytes == 32u << 20);
  setenv("LAVABUILD_MAX_PAGE_SIZE", "1M", 1);
  setenv("LAVABUILD_HTTP_TIMEOUT", "2.5", 1);
  auto l = Limits::from_env();
  REQUIRE(l.ok());
  CHECK(l->max_page_bytes == 1u << 20);
  CHECK(l->timeout_s == 3);
  CHECK(l->client_options().low_speed_timeout_s == 3);
  setenv("LAVABUILD_HTTP_DEADLINE", "soon", 1);
  auto bad = Limits::from_env();
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("LAVABUILD_HTTP_DEADLINE=soon") != std::string::npos);
  unsetenv("LAVABUILD_MAX_PAGE_SIZE");
  unsetenv("LAVABUILD_HTTP_TIMEOUT");
  unsetenv("LAVABUILD_HTTP_DEADLINE");
}
