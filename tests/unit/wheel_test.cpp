// Unpacking and validating wheels. Test wheels are built in memory with libarchive's zip
// writer (wheel_test_support.hpp), so the tests need no Python.
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <map>

#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "wheel/record.hpp"
#include "wheel/wheel.hpp"
#include "wheel_test_support.hpp"

using namespace lb::wheel;
using lb::test::Member;
using lb::test::TestWheel;

namespace {

const std::string kName = "demo-1.0-py3-none-any.whl";

struct MapSink : BlobSink {
  std::map<std::string, std::pair<std::string, bool>> blobs;
  int hashed_calls = 0;
  lb::Result<std::string> put_blob(std::string_view content, bool executable) override {
    std::string sha = lb::sha256_hex(content);
    blobs[sha] = {std::string(content), executable};
    return sha;
  }
  lb::Result<std::string> put_blob_hashed(std::string_view content, bool executable,
                                          const std::string& sha) override {
    ++hashed_calls;
    REQUIRE(sha == lb::sha256_hex(content));
    return put_blob(content, executable);
  }
};

const WheelMember* find_member(const UnpackedWheel& w, const std::string& path) {
  for (const auto& m : w.members)
    if (m.path == path) return &m;
  return nullptr;
}

// Unpacking must fail, name the wheel, mention `needle`, and give the hostile-wheel hint.
void require_refused(const TestWheel& tw, const std::string& needle, MapSink* sink_out = nullptr) {
  MapSink sink;
  auto r = unpack_wheel_from_memory(tw.build(), kName, sink);
  REQUIRE_FALSE(r.ok());
  INFO(r.error().to_string());
  CHECK_THAT(r.error().message, Catch::Contains(kName));
  CHECK_THAT(r.error().message, Catch::Contains(needle));
  CHECK_FALSE(r.error().hint.empty());
  if (sink_out) *sink_out = sink;
}

}  // namespace

TEST_CASE("unpack: a good wheel") {
  MapSink sink;
  auto r = unpack_wheel_from_memory(TestWheel().build(), kName, sink);
  REQUIRE(r.ok());
  const UnpackedWheel& w = *r;
  CHECK(w.dist_info == "demo-1.0.dist-info");
  CHECK(w.data_dir == "demo-1.0.data");
  CHECK(w.root_is_purelib);
  CHECK(w.wheel_version == "1.0");
  CHECK(w.warnings.empty());
  CHECK(w.metadata.name == "demo");
  CHECK(w.metadata.requires_dist == std::vector<std::string>{"six"});
  REQUIRE(w.entry_points.console_scripts.size() == 1);
  CHECK(w.entry_points.console_scripts[0].attr == "main");
  CHECK(find_member(w,
                    "demo/donn\xC3\xA9"
                    "es.txt"));
  CHECK(w.members.size() == 9);  // 5 payload files + WHEEL, METADATA, entry_points, RECORD
  CHECK(sink.hashed_calls == 9);
  const WheelMember* script = find_member(w, "demo-1.0.data/scripts/run.sh");
  REQUIRE(script);
  CHECK(script->executable);
  CHECK(sink.blobs.at(script->sha256).second);
  const WheelMember* cli = find_member(w, "demo/cli.py");
  REQUIRE(cli);
  CHECK_FALSE(cli->executable);
  CHECK(cli->size == 25);
  CHECK(sink.blobs.at(cli->sha256).first == "def main():\n    return 0\n");
  CHECK(find_member(w, "demo/odd,name \"q\".txt"));
  CHECK(find_member(w, "demo-1.0.dist-info/RECORD"));
  CHECK_FALSE(find_member(w, "demo/"));
}

TEST_CASE("unpack: name and version compare normalised; newer minor Wheel-Version warns") {
  TestWheel tw;
  tw.dist_info = "Demo_Pkg-1.0.0.dist-info";
  tw.metadata = "Metadata-Version: 2.1\nName: demo.pkg\nVersion: 1.0\n";
  tw.wheel = "Wheel-Version: 1.9\nRoot-Is-Purelib: false\n";
  tw.files.pop_back();  // the .data dir named demo-1.0
  MapSink sink;
  auto r = unpack_wheel_from_memory(tw.build(), "demo_pkg-1.0-cp311-cp311-linux_x86_64.whl", sink);
  REQUIRE(r.ok());
  CHECK(r->data_dir == "Demo_Pkg-1.0.0.data");
  CHECK_FALSE(r->root_is_purelib);
  REQUIRE(r->warnings.size() == 1);
  CHECK_THAT(r->warnings[0], Catch::Contains("1.9"));
}

TEST_CASE("unpack refuses unsafe member paths") {
  for (std::string bad :
       {"../evil", "demo/../../evil", "/abs/path", "C:/x.py", "demo//double", "./demo/x.py"}) {
    SECTION(bad) {
      TestWheel tw;
      tw.files.push_back({bad, "x"});
      require_refused(tw, "member '" + bad + "'");
    }
  }
  // libarchive turns '\\' in zip names into '/'; either way the wheel is refused.
  for (std::string bad : {"demo\\win.py", "..\\..\\evil.py"}) {
    SECTION(bad) {
      TestWheel tw;
      tw.files.push_back({bad, "x"});
      require_refused(tw, bad.substr(bad.rfind('\\') + 1));
    }
  }
}

TEST_CASE("unpack refuses symlinks, duplicates, file/dir clashes") {
  SECTION("symlink") {
    TestWheel tw;
    tw.files.push_back({"demo/link", "/etc/passwd", 0777, Member::symlink});
    require_refused(tw, "symlink");
  }
  SECTION("duplicate") {
    TestWheel tw;
    tw.files.push_back({"demo/__init__.py", "print('evil')\n"});
    require_refused(tw, "twice");
  }
  SECTION("file and directory of the same name") {
    TestWheel tw;
    tw.files.push_back({"demo/cli.py/inner.py", "x"});
    require_refused(tw, "which is a file");
  }
}

TEST_CASE("unpack checks every member against RECORD before storing it") {
  SECTION("hash mismatch") {
    TestWheel tw;
    tw.spoil_record = [](std::vector<RecordRow>& rows) {
      rows[1].hash = lb::record_hash_from_hex(lb::sha256_hex("something else\n"));
    };
    MapSink sink;
    require_refused(tw, "sha256 does not match RECORD", &sink);
    for (const auto& [sha, blob] : sink.blobs) CHECK(blob.first != "def main():\n    return 0\n");
  }
  SECTION("size mismatch") {
    TestWheel tw;
    tw.spoil_record = [](std::vector<RecordRow>& rows) { rows[0].size = 3; };
    MapSink sink;
    require_refused(tw, "RECORD says 3", &sink);
    CHECK(sink.blobs.empty());
  }
  SECTION("unlisted file") {
    TestWheel tw;
    tw.unlisted.push_back({"demo/sneaky.py", "import os\n"});
    require_refused(tw, "not listed in RECORD");
  }
  SECTION("listed file missing from the archive") {
    TestWheel tw;
    tw.extra_rows.push_back({"demo/gone.py", lb::record_hash_from_hex(lb::sha256_hex("")), 0});
    require_refused(tw, "missing from the archive");
  }
  SECTION("non-sha256 hash") {
    TestWheel tw;
    tw.spoil_record = [](std::vector<RecordRow>& rows) { rows[0].hash = "md5=abc"; };
    require_refused(tw, "not sha256");
  }
  SECTION("RECORD lists an unsafe path") {
    TestWheel tw;
    tw.extra_rows.push_back({"../../etc/passwd", "sha256=x", 1});
    require_refused(tw, "../../etc/passwd");
  }
  SECTION("RECORD signatures need not be listed") {
    TestWheel tw;
    tw.unlisted.push_back({"demo-1.0.dist-info/RECORD.jws", "{}"});
    MapSink sink;
    auto r = unpack_wheel_from_memory(tw.build(), kName, sink);
    REQUIRE(r.ok());
    CHECK_FALSE(find_member(*r, "demo-1.0.dist-info/RECORD.jws"));
  }
}

TEST_CASE("unpack checks the dist-info directory and WHEEL file") {
  SECTION("Wheel-Version 2.0") {
    TestWheel tw;
    tw.wheel = "Wheel-Version: 2.0\nRoot-Is-Purelib: true\n";
    require_refused(tw, "Wheel-Version 2.0");
  }
  SECTION("Wheel-Version missing") {
    TestWheel tw;
    tw.wheel = "Root-Is-Purelib: true\n";
    require_refused(tw, "Wheel-Version");
  }
  SECTION("two dist-info directories") {
    TestWheel tw;
    tw.files.push_back({"other-2.0.dist-info/METADATA", "Name: other\nVersion: 2.0\n"});
    require_refused(tw, "2 .dist-info directories");
  }
  SECTION("dist-info of another project") {
    TestWheel tw;
    tw.dist_info = "other-1.0.dist-info";
    require_refused(tw, "does not match");
  }
  SECTION("dist-info of another version") {
    TestWheel tw;
    tw.dist_info = "demo-1.1.dist-info";
    require_refused(tw, "does not match");
  }
  SECTION("METADATA names another project") {
    TestWheel tw;
    tw.metadata = "Name: other\nVersion: 1.0\n";
    require_refused(tw, "METADATA");
  }
  SECTION("bad entry points") {
    TestWheel tw;
    tw.entry_points = "[console_scripts]\n../x = demo:main\n";
    require_refused(tw, "entry_points.txt");
  }
  SECTION("no dist-info") {
    TestWheel tw;
    tw.dist_info = "demo-1.0.info";
    require_refused(tw, "no top-level .dist-info");
  }
}

TEST_CASE("unpack refuses what is not a zip, and bad file names") {
  MapSink sink;
  CHECK_FALSE(unpack_wheel_from_memory("", kName, sink).ok());
  CHECK_FALSE(unpack_wheel_from_memory("PK\x03\x04 not really", kName, sink).ok());
  CHECK_FALSE(unpack_wheel_from_memory(TestWheel().build(), "demo.zip", sink).ok());
  CHECK(sink.blobs.empty());
}

TEST_CASE("check_member_path") {
  CHECK(check_member_path("a/b.py").ok());
  CHECK(check_member_path("a/").ok() == false);
  CHECK(check_member_path("a/", true).ok());
  CHECK_FALSE(check_member_path("").ok());
  CHECK_FALSE(check_member_path("a/\x01").ok());
  CHECK_FALSE(check_member_path("a/./b").ok());
  // What a file system takes: a path of 4096 bytes, a name of 255, 128 components.
  std::string deep;
  for (size_t i = 0; i < kMaxMemberDepth; ++i) deep += (i ? "/d" : "d");
  CHECK(check_member_path(deep).ok());
  CHECK_FALSE(check_member_path(deep + "/d").ok());
  CHECK(check_member_path("a/" + std::string(kMaxMemberName, 'n')).ok());
  CHECK_FALSE(check_member_path("a/" + std::string(kMaxMemberName + 1, 'n')).ok());
  std::string long_path;
  while (long_path.size() + 201 <= kMaxMemberPath) long_path += std::string(200, 'p') + "/";
  long_path += std::string(kMaxMemberPath - long_path.size(), 'q');
  CHECK(check_member_path(long_path).ok());
  CHECK_FALSE(check_member_path(long_path + "q").ok());
}

TEST_CASE("unpack from a file, read_wheel_metadata, manifest round trip") {
  lb::test::TempDir tmp("wheel-test");
  std::string dir = tmp.path;
  std::string path = dir + "/" + kName;
  REQUIRE(lb::fs::write_file(path, TestWheel().build()).ok());

  auto md = read_wheel_metadata(path);
  REQUIRE(md.ok());
  CHECK(*md == TestWheel().metadata);

  MapSink sink;
  auto r = unpack_wheel(path, sink);
  REQUIRE(r.ok());
  std::string json = serialize_unpacked(*r);
  CHECK(json.rfind("{\"format\":\"lavabuild.unpacked.v1\"", 0) == 0);
  auto back = deserialize_unpacked(json);
  REQUIRE(back.ok());
  CHECK(serialize_unpacked(*back) == json);
  CHECK(back->members.size() == r->members.size());
  CHECK(back->members[5].executable == r->members[5].executable);
  CHECK(back->entry_points.console_scripts[0].module == "demo.cli");

  // Stored under another name (a cached download): pass the wheel file name separately.
  std::string cached = dir + "/blob";
  REQUIRE(lb::fs::rename_path(path, cached).ok());
  CHECK(unpack_wheel(cached, kName, sink).ok());
  CHECK_FALSE(unpack_wheel(cached, sink).ok());
  CHECK(read_wheel_metadata(cached).ok());
  CHECK_FALSE(unpack_wheel(dir + "/missing.whl", sink).ok());
}

TEST_CASE("deserialize_unpacked rejects bad input") {
  CHECK_FALSE(deserialize_unpacked("not json").ok());
  CHECK_FALSE(deserialize_unpacked("{\"format\":\"lavabuild.unpacked.v0\"}").ok());
  CHECK_FALSE(deserialize_unpacked("{\"format\":\"lavabuild.unpacked.v1\"}").ok());
  UnpackedWheel w;
  w.members.push_back({"../evil", "00", 1, false});
  CHECK_FALSE(deserialize_unpacked(serialize_unpacked(w)).ok());
}

TEST_CASE("real wheels from /usr/share/python-wheels unpack consistently") {
  auto names = lb::fs::list_dir("/usr/share/python-wheels");
  if (!names.ok()) return;  // not installed here
  int seen = 0;
  for (const auto& name : *names) {
    if (name.size() < 4 || name.substr(name.size() - 4) != ".whl") continue;
    INFO(name);
    std::string path = "/usr/share/python-wheels/" + name;
    MapSink sink;
    auto r = unpack_wheel(path, sink);
    REQUIRE(r.ok());
    auto record_member = find_member(*r, r->dist_info + "/RECORD");
    REQUIRE(record_member);
    auto rows = parse_record(sink.blobs.at(record_member->sha256).first);
    REQUIRE(rows.ok());
    CHECK(r->members.size() == rows->size());
    for (const auto& row : *rows) CHECK(find_member(*r, row.path));
    auto md = read_wheel_metadata(path);
    REQUIRE(md.ok());
    CHECK(parse_core_metadata(*md)->name == r->metadata.name);
    ++seen;
  }
  if (seen) SUCCEED("checked " << seen << " wheels");
}

namespace {

// Rewrite one central-directory entry of `zip` (found by name) in place.
void patch_central_entry(std::string& zip, const std::string& name,
                         const std::function<void(unsigned char* entry)>& fn) {
  for (size_t p = zip.find("PK\x01\x02"); p != std::string::npos;
       p = zip.find("PK\x01\x02", p + 4)) {
    auto* e = reinterpret_cast<unsigned char*>(zip.data() + p);
    size_t name_len = size_t(e[28] | (e[29] << 8));
    if (zip.compare(p + 46, name_len, name) == 0) return fn(e);
  }
  FAIL("no central-directory entry " << name);
}

}  // namespace

TEST_CASE("unpack refuses a FIFO member like a device or a socket") {
  TestWheel tw;
  tw.files.push_back({"demo/named_pipe", ""});
  std::string zip = tw.build();
  patch_central_entry(zip, "demo/named_pipe", [](unsigned char* e) {
    e[5] = 3;  // made by Unix
    uint32_t attr = uint32_t(0010644) << 16;
    for (int i = 0; i < 4; ++i) e[38 + i] = static_cast<unsigned char>(attr >> (8 * i));
  });
  MapSink sink;
  auto r = unpack_wheel_from_memory(zip, kName, sink);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("demo/named_pipe"));
  CHECK_THAT(r.error().message, Catch::Contains("a FIFO"));
  CHECK(sink.blobs.empty());
}

TEST_CASE("unpack refuses a member name that is not UTF-8, with a readable message") {
  TestWheel tw;
  tw.unlisted.push_back({"demo/PLACEHOLDER.py", ""});
  std::string zip = tw.build();
  for (size_t p = zip.find("PLACEHOLDER"); p != std::string::npos; p = zip.find("PLACEHOLDER"))
    zip.replace(p, 11, "bad\xff\xfe__name");
  MapSink sink;
  auto r = unpack_wheel_from_memory(zip, kName, sink);
  REQUIRE_FALSE(r.ok());
  INFO(r.error().to_string());
  CHECK_THAT(r.error().message, Catch::Contains("demo/bad\\xff\\xfe__name.py"));
  CHECK_THAT(r.error().message, Catch::Contains("not valid UTF-8"));
  CHECK(sink.blobs.empty());
}

TEST_CASE("unpack limits: member size, wheel size and compression ratio, before storing") {
  TestWheel tw;
  tw.files.push_back({"demo/zeros.bin", std::string(size_t(1) << 20, '\0')});
  tw.files.push_back(
      {"demo/more.bin", std::string(size_t(300) << 10, 'x'), 0644, Member::file, true});
  const std::string zip = tw.build();
  auto refused = [&](const WheelLimits& limits, const std::string& needle, const std::string& var) {
    MapSink sink;
    auto r = unpack_wheel_from_memory(zip, kName, sink, limits);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().to_string());
    CHECK_THAT(r.error().message, Catch::Contains(kName));
    CHECK_THAT(r.error().message, Catch::Contains(needle));
    CHECK_THAT(r.error().hint, Catch::Contains(var));
    CHECK(sink.blobs.empty());  // nothing of a refused wheel reaches the store
  };
  WheelLimits l;
  l.max_member_size = 512 << 10;
  refused(l, "demo/zeros.bin", "LAVABUILD_MAX_MEMBER_SIZE");
  l = WheelLimits();
  l.max_wheel_size = 1200 << 10;
  refused(l, "1228800 bytes limit per wheel", "LAVABUILD_MAX_WHEEL_SIZE");
  l = WheelLimits();
  l.ratio_floor = 64 << 10;
  refused(l, "demo/zeros.bin", "LAVABUILD_MAX_COMPRESSION_RATIO");
  l.max_ratio = 0;  // no ratio limit
  MapSink sink;
  CHECK(unpack_wheel_from_memory(zip, kName, sink, l).ok());
  CHECK(unpack_wheel_from_memory(zip, kName, sink, WheelLimits()).ok());  // the defaults
}

TEST_CASE("WheelLimits::from_env reads sizes with binary units and rejects garbage") {
  ::setenv("LAVABUILD_MAX_MEMBER_SIZE", "3M", 1);
  ::setenv("LAVABUILD_MAX_WHEEL_SIZE", "2GiB", 1);
  ::setenv("LAVABUILD_MAX_COMPRESSION_RATIO", "0", 1);
  auto l = WheelLimits::from_env();
  REQUIRE(l.ok());
  CHECK(l->max_member_size == (uint64_t(3) << 20));
  CHECK(l->max_wheel_size == (uint64_t(2) << 30));
  CHECK(l->max_ratio == 0);
  ::setenv("LAVABUILD_MAX_COMPRESSION_RATIO", "1.5", 1);
  auto bad = WheelLimits::from_env();
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("LAVABUILD_MAX_COMPRESSION_RATIO"));
  ::setenv("LAVABUILD_MAX_MEMBER_SIZE", "lots", 1);
  ::unsetenv("LAVABUILD_MAX_COMPRESSION_RATIO");
  bad = WheelLimits::from_env();
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("LAVABUILD_MAX_MEMBER_SIZE=lots"));
  ::unsetenv("LAVABUILD_MAX_MEMBER_SIZE");
  ::unsetenv("LAVABUILD_MAX_WHEEL_SIZE");
  auto d = WheelLimits::from_env();
  REQUIRE(d.ok());
  CHECK(d->max_member_size == WheelLimits().max_member_size);
}

TEST_CASE("unpack refuses members sharing their data (overlapping zip bomb)") {
  TestWheel tw;
  std::string zip = tw.build();
  // Point demo/cli.py's central entry at demo/__init__.py's local header.
  uint32_t first = 0;
  patch_central_entry(zip, "demo/__init__.py", [&](unsigned char* e) {
    first = uint32_t(e[42] | (e[43] << 8) | (e[44] << 16) | (uint32_t(e[45]) << 24));
  });
  patch_central_entry(zip, "demo/cli.py", [&](unsigned char* e) {
    for (int i = 0; i < 4; ++i) e[42 + i] = static_cast<unsigned char>(first >> (8 * i));
  });
  MapSink sink;
  auto r = unpack_wheel_from_memory(zip, kName, sink);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("share the same data"));
}
