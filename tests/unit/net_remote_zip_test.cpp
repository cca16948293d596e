// net: reading a remote wheel's METADATA with range requests, against wheels made by
// python3's zipfile and served by a real nginx on 127.0.0.1.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <random>
#include <thread>

#include "net/remote_zip.hpp"
#include "nginx_fixture.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

using namespace lb;
using namespace lb::net;

namespace {

// Writes the test archives into argv[1], each with <file>.METADATA holding the expected text.
const char* kMakeZips = R"PY(
import os, random, sys, zipfile
out = sys.argv[1]
rnd = random.Random(1234)
def meta(name, body=''):
    return f'Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nSummary: t\n\n{body}'.encode()
def make(fn, members, expected=None, comment=b''):
    with zipfile.ZipFile(os.path.join(out, fn), 'w', zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        for name, data, how in members:
            if how == 'z64':
                with z.open(name, 'w', force_zip64=True) as f: f.write(data)
            else:
                z.writestr(name, data, zipfile.ZIP_STORED if how == 'stored' else zipfile.ZIP_DEFLATED)
        z.comment = comment
    if expected is not None:
        open(os.path.join(out, fn + '.METADATA'), 'wb').write(expected)
def di(name, m, how='deflate'):
    return [(f'{name}-1.0.dist-info/WHEEL', b'Wheel-Version: 1.0\n', 'deflate'),
            (f'{name}-1.0.dist-info/METADATA', m, how),
            (f'{name}-1.0.dist-info/RECORD', b'', 'deflate')]
big = [('demo/a.bin', rnd.randbytes(3 << 20), 'stored'),
       ('demo/b.bin', rnd.randbytes(3 << 20), 'deflate')]
m = meta('demo')
make('demo-1.0-py3-none-any.whl', [('demo/__init__.py', b'x = 1\n', 'deflate')] + di('demo', m), m)
make('demo-1.1-py3-none-any.whl', big + di('demo', m), m, comment=b'a zip comment')
long_meta = meta('demo', 'Long description line.\n' * 20000)
make('demo-1.2-py3-none-any.whl', di('demo', long_meta) + big, long_meta)
make('demo-1.3-py3-none-any.whl', big + di('demo', m, 'stored'), m)
make('demo-1.4-py3-none-any.whl', big + di('demo', m, 'z64'), m)
make('demo-1.5-py3-none-any.whl',
     di('other', meta('other')) + di('demo', m) + [('x/y-1.0.dist-info/METADATA', b'no', 'deflate')], m)
make('many-1.0-py3-none-any.whl',
     di('many', meta('many')) + [(f'p/{i}', b'', 'stored') for i in range(70000)], meta('many'))
make('plain.zip', [('a.txt', b'a', 'deflate'), ('x/y-1.0.dist-info/METADATA', m, 'deflate')])
whole = open(os.path.join(out, 'demo-1.1-py3-none-any.whl'), 'rb').read()
open(os.path.join(out, 'cut-1.0-py3-none-any.whl'), 'wb').write(whole[:-100])
open(os.path.join(out, 'head-1.0-py3-none-any.whl'), 'wb').write(whole[:len(whole) // 2])
)PY";

// The archives in <dir>/root (also under /norange/, where nginx ignores Range), served by
// nginx on a free 127.0.0.1 port. Built once for all test cases.
struct Server : test::NginxProcess {
  std::string root;
  std::string missing;  ///< a missing prerequisite (python3, nginx)
  std::string error;    ///< a prerequisite that is there but failed

  Server() : NginxProcess("/tmp/lb-rzip-XXXXXX") {
    root = dir + "/root";
    error = setup();
  }

  std::string setup() {
    std::string py = find_program("python3");
    if (py.empty()) {
      missing = "python3 is missing";
      return "";
    }
    if (!installed()) {
      missing = std::string(test::kNginx) + " is missing";
      return "";
    }
    if (!fs::create_dirs(root + "/norange").ok()) return "cannot create " + root;
    auto made = run_process({py, "-c", kMakeZips, root});
    if (!made.ok() || made->exit_code != 0)
      return "python3 could not make the test zips: " + (made.ok() ? made->err : "");
    if (!fs::copy_file(root + "/demo-1.1-py3-none-any.whl",
                       root + "/norange/demo-1.1-py3-none-any.whl")
             .ok())
      return "cannot copy a test wheel";
    return start_nginx() ? "" : "nginx did not start (see " + dir + "/error.log)";
  }

  bool start_nginx() {
    port = test::free_port();
    return launch("  access_log " + dir + "/access.log;\n" +
                  "  default_type application/octet-stream;\n  server {\n    listen 127.0.0.1:" +
                  std::to_string(port) + ";\n    root " + root +
                  ";\n    location /norange/ { max_ranges 0; }\n  }\n");
  }

  std::string url(const std::string& file) const {
    return "http://127.0.0.1:" + std::to_string(port) + "/" + file;
  }
  std::string expected(const std::string& file) const {
    auto text = fs::read_file(root + "/" + file + ".METADATA");
    REQUIRE(text.ok());
    return *text;
  }
  uint64_t size(const std::string& file) const { return fs::stat_path(root + "/" + file).size; }
};

Server& server() {
  static Server s;
  return s;
}

#define NEED_SERVER(s)                                        \
  Server& s = server();                                       \
  if (!s.missing.empty()) LB_MISSING_PREREQUISITE(s.missing); \
  INFO(s.error);                                              \
  REQUIRE(s.error.empty())

ClientOptions no_retries() {
  ClientOptions o;
  o.retries = 0;
  o.use_netrc = false;
  return o;
}

}  // namespace

TEST_CASE("remote zip: METADATA of wheels read with range requests") {
  NEED_SERVER(srv);
  auto http = make_http_client(no_retries());
  struct Case {
    const char* file;
    bool small_transfer;
  };
  for (Case c : {Case{"demo-1.0-py3-none-any.whl", false},     // small: one range answers all
                 Case{"demo-1.1-py3-none-any.whl", true},      // after 6 MB of data, with a comment
                 Case{"demo-1.2-py3-none-any.whl", true},      // METADATA first and 460 KB long
                 Case{"demo-1.3-py3-none-any.whl", true},      // METADATA stored
                 Case{"demo-1.4-py3-none-any.whl", true},      // ZIP64 extra in the local header
                 Case{"demo-1.5-py3-none-any.whl", false},     // several dist-info directories
                 Case{"many-1.0-py3-none-any.whl", false}}) {  // ZIP64 end records, 70k entries
    INFO(c.file);
    uint64_t bytes = 0;
    auto got = fetch_remote_wheel_metadata(*http, srv.url(c.file), c.file, &bytes);
    REQUIRE(got.ok());
    CHECK(*got == srv.expected(c.file));
    CHECK(bytes > 0);
    CHECK(bytes <= srv.size(c.file));
    if (c.small_transfer) CHECK(bytes < srv.size(c.file) / 10);
  }
}

TEST_CASE("remote zip: METADATA at the end of a large wheel needs one request") {
  NEED_SERVER(srv);
  auto http = make_http_client(no_retries());
  uint64_t bytes = 0;
  std::string file = "demo-1.1-py3-none-any.whl";
  REQUIRE(fetch_remote_wheel_metadata(*http, srv.url(file), file, &bytes).ok());
  CHECK(bytes == 64 * 1024);  // the directory and METADATA are both in the tail
}

TEST_CASE("remote zip: failures so the caller downloads the whole file") {
  NEED_SERVER(srv);
  auto http = make_http_client(no_retries());
  for (const char* file : {"plain.zip", "cut-1.0-py3-none-any.whl", "head-1.0-py3-none-any.whl",
                           "missing-1.0-py3-none-any.whl"}) {
    INFO(file);
    auto got = fetch_remote_wheel_metadata(*http, srv.url(file), file);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().message.find(srv.url(file)) != std::string::npos);
  }
  auto plain = fetch_remote_wheel_metadata(*http, srv.url("plain.zip"), "plain.zip");
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.error().message.find("METADATA") != std::string::npos);

  uint64_t bytes = 0;  // Range ignored: HTTP 200, the transfer stops after 64 KiB
  std::string file = "norange/demo-1.1-py3-none-any.whl";
  auto ignored = fetch_remote_wheel_metadata(*http, srv.url(file), file, &bytes);
  REQUIRE_FALSE(ignored.ok());
  CHECK(ignored.error().message.find("HTTP 200") != std::string::npos);
  CHECK(bytes <= 64 * 1024);
}

TEST_CASE("remote zip: parse_central_directory and extract_zip_member on a whole file") {
  NEED_SERVER(srv);
  auto whole = fs::read_file(srv.root + "/demo-1.0-py3-none-any.whl");
  REQUIRE(whole.ok());
  auto cd = parse_central_directory(*whole, whole->size());
  REQUIRE(cd.ok());
  REQUIRE(cd->complete);
  REQUIRE(cd->entries.size() == 4);
  CHECK(cd->entries[0].name == "demo/__init__.py");
  const ZipEntry& m = cd->entries[2];
  CHECK(m.name == "demo-1.0.dist-info/METADATA");
  CHECK(m.method == 8);
  auto text = extract_zip_member(std::string_view(*whole).substr(m.local_header_offset), m);
  REQUIRE(text.ok());
  CHECK(*text == srv.expected("demo-1.0-py3-none-any.whl"));

  ZipEntry bad_crc = m;
  bad_crc.crc32 ^= 1;
  CHECK_FALSE(
      extract_zip_member(std::string_view(*whole).substr(m.local_header_offset), bad_crc).ok());
  ZipEntry wrong_offset = m;
  CHECK_FALSE(extract_zip_member(*whole, wrong_offset).ok());  // offset 0: another member

  // A tail that starts inside the directory asks for more.
  auto tail = std::string_view(*whole).substr(whole->size() - 30);
  auto partial = parse_central_directory(tail, whole->size());
  REQUIRE(partial.ok());
  CHECK_FALSE(partial->complete);
  CHECK(partial->need_offset == partial->offset);
  CHECK(partial->need_offset < whole->size() - 30);
}

TEST_CASE("remote zip: random and damaged input never crashes the parser") {
  NEED_SERVER(srv);
  std::vector<std::string> seeds;
  for (const char* f : {"demo-1.0-py3-none-any.whl", "plain.zip"}) {
    auto data = fs::read_file(srv.root + "/" + f);
    REQUIRE(data.ok());
    seeds.push_back(*data);
  }
  std::mt19937_64 rng(20240601);
  auto pick = [&](uint64_t n) { return n ? rng() % n : 0; };
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string data = seeds[pick(seeds.size())];
    switch (pick(4)) {
      case 0:  // flip a few bytes
        for (uint64_t k = 0, n = 1 + pick(8); k < n; ++k) data[pick(data.size())] = char(rng());
        break;
      case 1:  // cut the front (a tail) or the back
        data = pick(2) ? data.substr(pick(data.size())) : data.substr(0, pick(data.size()));
        break;
      case 2:  // garbage ending in an EOCD signature with random fields
        data.assign(pick(200), '\0');
        for (char& ch : data) ch = char(rng());
        data += std::string("PK\x05\x06", 4);
        for (int k = 0; k < 18; ++k) data += char(k >= 16 ? 0 : rng());
        break;
      default:  // overwrite a 4-byte field near the end with an extreme value
        if (data.size() > 64) {
          uint64_t at = data.size() - 4 - pick(60);
          std::string v = pick(2) ? std::string(4, '\xff') : std::string(4, '\0');
          data.replace(at, 4, v);
        }
        break;
    }
    uint64_t file_size = data.size() + (pick(3) == 0 ? pick(1 << 20) : 0);
    auto cd = parse_central_directory(data, file_size);
    if (!cd.ok() || !cd->complete) continue;
    ++parsed;
    uint64_t base = file_size - data.size();
    for (const ZipEntry& e : cd->entries) {
      if (e.local_header_offset < base || e.local_header_offset - base > data.size()) continue;
      (void)extract_zip_member(std::string_view(data).substr(e.local_header_offset - base), e);
    }
  }
  CHECK(parsed > 0);  // some mutations leave a readable directory
}
