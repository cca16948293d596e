#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "env/install.hpp"
#include "env/manifest.hpp"
#include "env/record.hpp"
#include "env/venv.hpp"
#include "fake_interpreter.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"
#include "wheel/metadata.hpp"

using namespace lb;
using namespace lb::env;

namespace {

using lb::test::TempDir;

/// A content-addressed folder of read-only blobs, like the store.
struct FakeStore : BlobSource {
  std::string dir;
  explicit FakeStore(std::string d) : dir(std::move(d)) { REQUIRE(fs::create_dirs(dir).ok()); }
  std::string blob_path(const std::string& sha, bool exec) const override {
    return dir + "/" + sha + (exec ? ".x" : "");
  }
  std::string put(const std::string& content, bool exec) {
    std::string sha = sha256_hex(content);
    std::string p = blob_path(sha, exec);
    if (!fs::exists(p)) REQUIRE(fs::write_file(p, content, exec ? 0555 : 0444).ok());
    return sha;
  }
};

struct WheelBuilder {
  wheel::UnpackedWheel w;
  FakeStore& store;
  WheelBuilder(FakeStore& s, const std::string& name, const std::string& version) : store(s) {
    w.dist_info = name + "-" + version + ".dist-info";
    w.data_dir = name + "-" + version + ".data";
    w.metadata.name = name;
    w.metadata.version = version;
    w.wheel_version = "1.0";
    add(w.dist_info + "/METADATA",
        "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n");
    add(w.dist_info + "/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n");
    add(w.dist_info + "/RECORD", "original RECORD, must not be linked\n");
  }
  WheelBuilder& add(const std::string& path, const std::string& content, bool exec = false) {
    w.members.push_back({path, store.put(content, exec), content.size(), exec});
    return *this;
  }
};

interp::Interpreter fake_interp() {
  return test::fake_cpython311();
}

std::string read(const std::string& path) {
  auto r = fs::read_file(path);
  REQUIRE(r.ok());
  return *r;
}

/// "type path [-> target]" for everything under root, sorted.
std::vector<std::string> listing(const std::string& root, const std::string& rel = "") {
  std::vector<std::string> out;
  auto names = fs::list_dir(rel.empty() ? root : root + "/" + rel);
  REQUIRE(names.ok());
  for (const auto& n : *names) {
    std::string child = rel.empty() ? n : rel + "/" + n;
    auto info = fs::stat_path(root + "/" + child);
    if (info.is_symlink) {
      char buf[4096];
      ssize_t len = ::readlink((root + "/" + child).c_str(), buf, sizeof buf);
      out.push_back("l " + child + " -> " + std::string(buf, len > 0 ? size_t(len) : 0));
    } else if (info.is_dir) {
      out.push_back("d " + child);
      for (auto& s : listing(root, child)) out.push_back(s);
    } else {
      out.push_back("f " + child);
    }
  }
  return out;
}

WheelBuilder sample_wheel(FakeStore& store) {
  WheelBuilder b(store, "foo", "1.0");
  b.add("foo/__init__.py", "def main(): pass\n")
      .add("foo/_native.so", "ELF...", true)
      .add("foo-1.0.data/scripts/foo-tool", "#!python -u\nprint('tool')\n", true)
      .add("foo-1.0.data/scripts/plain.sh", "#!/bin/sh\necho plain\n", true)
      .add("foo-1.0.data/scripts/foo-cli", "setuptools wrapper, skipped\n", true)
      .add("foo-1.0.data/headers/foo.h", "int foo;\n")
      .add("foo-1.0.data/data/share/foo/x.txt", "data\n")
      .add("foo-1.0.data/purelib/foo_extra.py", "x = 1\n")
      .add("foo-1.0.dist-info/entry_points.txt", "[console_scripts]\nfoo-cli = foo:main\n");
  b.w.entry_points.console_scripts.push_back({"foo-cli", "foo", "main"});
  b.w.entry_points.gui_scripts.push_back({"foo-gui", "foo.app", "App.run"});
  return b;
}

Manifest make_manifest(const interp::Interpreter& in, const std::string& final_dir,
                       std::vector<FileEntry> venv_files, std::vector<InstalledDist> dists) {
  Manifest m;
  m.stamp = "stamp-1";
  m.env_path = final_dir;
  m.interpreter_executable = in.executable;
  m.interpreter_version = in.version;
  m.interpreter_key = in.key;
  m.venv_files = std::move(venv_files);
  m.dists = std::move(dists);
  return m;
}

/// An activate template folder like the stdlib's venv/scripts.
std::string fake_templates(const TempDir& t) {
  std::string root = t / "templates";
  REQUIRE(fs::create_dirs(root + "/common").ok());
  REQUIRE(fs::create_dirs(root + "/posix").ok());
  REQUIRE(
      fs::write_file(root + "/common/activate",
                     "VIRTUAL_ENV=\"__VENV_DIR__\"\nPATH=\"$VIRTUAL_ENV/__VENV_BIN_NAME__:$PATH\"\n"
                     "PS1=\"__VENV_PROMPT__${PS1:-}\"\nVIRTUAL_ENV_PROMPT=\"__VENV_PROMPT__\"\n")
          .ok());
  REQUIRE(fs::write_file(root + "/common/Activate.ps1", "# no placeholders\n").ok());
  REQUIRE(fs::write_file(
              root + "/posix/activate.csh",
              "setenv VIRTUAL_ENV \"__VENV_DIR__\"\nset prompt = \"__VENV_PROMPT__$prompt\"\n")
              .ok());
  return root;
}

}  // namespace

TEST_CASE("RECORD rendering, parsing and relative paths") {
  std::string text = render_record({{"b.py", "sha256=x", "1"},
                                    {"../../../bin/tool", "sha256=y", "2"},
                                    {"a,b.py", "sha256=z", "3"},
                                    {"pkg.dist-info/RECORD", "", ""}});
  CHECK(text ==
        "../../../bin/tool,sha256=y,2\r\n\"a,b.py\",sha256=z,3\r\nb.py,sha256=x,1\r\n"
        "pkg.dist-info/RECORD,,\r\n");
  auto rows = parse_record(text);
  REQUIRE(rows.size() == 4);
  CHECK(rows[1].path == "a,b.py");
  CHECK(rows[3].hash.empty());
  CHECK(relative_path("lib/python3.11/site-packages", "bin/tool") == "../../../bin/tool");
  CHECK(relative_path("lib/python3.11/site-packages", "lib/python3.11/site-packages/a/b.py") ==
        "a/b.py");
  CHECK(relative_path("lib/python3.11/site-packages", "share/x") == "../../../share/x");
  CHECK(normalize_rel("lib/python3.11/site-packages/../../../bin/tool") == "bin/tool");
  CHECK(normalize_rel("../x").empty());
}

TEST_CASE("direct_url.json is what pip writes") {
  DirectUrl archive{"file:///w/foo-1.0-py3-none-any.whl", "abc", false, false, {}, {}, {}, {}};
  CHECK(direct_url_json(archive) ==
        R"({"archive_info": {"hash": "sha256=abc", "hashes": {"sha256": "abc"}}, )"
        R"("url": "file:///w/foo-1.0-py3-none-any.whl"})");
  DirectUrl dir{"file:///src/foo", "", true, false, {}, {}, {}, {}};
  CHECK(direct_url_json(dir) == R"({"dir_info": {}, "url": "file:///src/foo"})");
  dir.editable = true;
  CHECK(direct_url_json(dir) == R"({"dir_info": {"editable": true}, "url": "file:///src/foo"})");
  DirectUrl vcs{"https://h/r.git", "", false, false, "git", "deadbeef", "main", {}};
  CHECK(direct_url_json(vcs) == R"({"url": "https://h/r.git", "vcs_info": {"commit_id": )"
                                R"("deadbeef", "requested_revision": "main", "vcs": "git"}})");
  DirectUrl uni{"file:///caf\xc3\xa9/\"q\"", "", true, false, {}, {}, {}, {}};
  CHECK(direct_url_json(uni) == R"({"dir_info": {}, "url": "file:///caf\u00e9/\"q\""})");
}

TEST_CASE("create_venv writes the layout of a venv") {
  TempDir t;
  auto in = fake_interp();
  in.venv_scripts_dir = fake_templates(t);
  std::string dir = t / "envs/myenv";
  std::vector<FileEntry> files;
  REQUIRE(create_venv(dir, dir, in, &files).ok());
  CHECK(listing(dir) == std::vector<std::string>{
                            "d bin", "f bin/Activate.ps1", "f bin/activate", "f bin/activate.csh",
                            "l bin/python -> python3.11", "l bin/python3 -> python3.11",
                            "l bin/python3.11 -> /usr/bin/python3.11", "d include",
                            "d include/python3.11", "d lib", "d lib/python3.11",
                            "d lib/python3.11/site-packages", "l lib64 -> lib", "f pyvenv.cfg"});
  CHECK(read(dir + "/bin/activate") ==
        "VIRTUAL_ENV=\"" + dir +
            "\"\nPATH=\"$VIRTUAL_ENV/bin:$PATH\"\n"
            "PS1=\"(myenv) ${PS1:-}\"\nVIRTUAL_ENV_PROMPT=\"(myenv) \"\n");
  std::string cfg = read(dir + "/pyvenv.cfg");
  CHECK(starts_with(cfg,
                    "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"));
  CHECK(ends_with(cfg, "command = /usr/bin/python3.11 -m venv --without-pip " + dir + "\n"));
  REQUIRE(files.size() == 8);
  std::map<std::string, FileEntry> by_path;
  for (auto& f : files) by_path[f.path] = f;
  CHECK(by_path["bin/activate"].per_env);
  CHECK_FALSE(by_path["bin/Activate.ps1"].per_env);
  CHECK(by_path["lib64"].mode == kModeSymlink);
  CHECK(by_path["lib64"].link_target == "lib");
  CHECK(by_path["pyvenv.cfg"].per_env);
  // The directory must not exist yet.
  CHECK_FALSE(create_venv(dir, dir, in).ok());
}

TEST_CASE("create_venv matches python -m venv --without-pip") {
  std::string py = find_program("/usr/bin/python3");
  if (py.empty()) LB_MISSING_PREREQUISITE("/usr/bin/python3 is missing");
  auto probed = interp::probe(py, "");
  REQUIRE(probed.ok());
  TempDir t;
  std::string ref = t / "ref/venv", ours = t / "ours/venv";
  REQUIRE(fs::create_dirs(t / "ref").ok());
  auto r = run_process({probed->executable, "-m", "venv", "--without-pip", ref});
  REQUIRE(r.ok());
  REQUIRE(r->exit_code == 0);
  REQUIRE(create_venv(ours, ours, *probed).ok());
  CHECK(listing(ours) == listing(ref));
  for (const char* f : {"pyvenv.cfg", "bin/activate", "bin/activate.csh", "bin/activate.fish",
                        "bin/Activate.ps1"}) {
    if (!fs::exists(ref + "/" + f)) continue;
    INFO(f);
    CHECK(read(ours + "/" + f) == replace_all(read(ref + "/" + f), ref, ours));
  }
  auto run = run_process({ours + "/bin/python", "-c", "import sys; print(sys.prefix)"});
  REQUIRE(run.ok());
  CHECK(run->out == ours + "\n");

  // The real activate templates canonicalise: same digest for envs of other paths and names.
  std::vector<FileEntry> a, b;
  REQUIRE(create_venv(t / "x/prod", t / "x/prod", *probed, &a).ok());
  REQUIRE(create_venv(t / "y/z/staging-2", t / "y/z/staging-2", *probed, &b).ok());
  CHECK(manifest_digest(make_manifest(*probed, t / "x/prod", a, {})) ==
        manifest_digest(make_manifest(*probed, t / "y/z/staging-2", b, {})));
}

TEST_CASE("install_wheel routes files, rewrites scripts and writes a pip RECORD") {
  TempDir t;
  FakeStore store(t / "store");
  auto in = fake_interp();
  std::string dir = t / "env";
  REQUIRE(create_venv(dir, dir, in).ok());
  auto b = sample_wheel(store);
  LinkReport report;
  DirectUrl direct{"file:///w/foo-1.0-py3-none-any.whl", "abc", false, false, {}, {}, {}, {}};
  auto dist = install_wheel(dir, dir, in, b.w, store, LinkMode::hardlink, true, direct, report);
  REQUIRE(dist.ok());
  const std::string site = dir + "/lib/python3.11/site-packages";
  CHECK(dist->dist_info_rel == "lib/python3.11/site-packages/foo-1.0.dist-info");
  CHECK(read(site + "/foo/__init__.py") == "def main(): pass\n");
  CHECK(read(site + "/foo_extra.py") == "x = 1\n");
  CHECK(read(dir + "/include/site/python3.11/foo/foo.h") == "int foo;\n");
  CHECK(read(dir + "/share/foo/x.txt") == "data\n");
  CHECK(read(dir + "/bin/plain.sh") == "#!/bin/sh\necho plain\n");
  CHECK(read(dir + "/bin/foo-tool") == "#!" + dir + "/bin/python\nprint('tool')\n");
  CHECK((fs::stat_path(dir + "/bin/foo-tool").mode & 0777) == 0755);
  CHECK(read(dir + "/bin/foo-cli") ==
        wheel::render_script({"foo-cli", "foo", "main"}, dir + "/bin/python"));
  CHECK(read(dir + "/bin/foo-gui") ==
        wheel::render_script({"foo-gui", "foo.app", "App.run"}, dir + "/bin/python"));
  CHECK((fs::stat_path(dir + "/bin/foo-cli").mode & 0777) == 0755);
  CHECK(read(site + "/foo-1.0.dist-info/INSTALLER") == "lavabuild\n");
  CHECK(read(site + "/foo-1.0.dist-info/REQUESTED").empty());
  CHECK(read(site + "/foo-1.0.dist-info/direct_url.json") == direct_url_json(direct));
  CHECK(report.linked == 9);
  CHECK(report.copied == 0);

  // RECORD: pip's format, every listed file exists with that hash and size.
  std::string record = read(site + "/foo-1.0.dist-info/RECORD");
  CHECK(record.find("original RECORD") == std::string::npos);
  auto rows = parse_record(record);
  CHECK(render_record(rows) == record);  // sorted like pip
  std::set<std::string> listed;
  for (const auto& row : rows) {
    std::string rel = normalize_rel("lib/python3.11/site-packages/" + row.path);
    listed.insert(rel);
    INFO(row.path);
    if (row.path == "foo-1.0.dist-info/RECORD") {
      CHECK(row.hash.empty());
      CHECK(row.size.empty());
      continue;
    }
    std::string content = read(dir + "/" + rel);
    CHECK(row.hash == record_hash_from_hex(sha256_hex(content)));
    CHECK(row.size == std::to_string(content.size()));
  }
  CHECK(listed.count("bin/foo-tool") == 1);
  CHECK(record.find("../../../bin/foo-cli,") != std::string::npos);
  CHECK(listed.size() == dist->files.size());
  for (const auto& f : dist->files) CHECK(listed.count(f.path) == 1);
  CHECK_FALSE(fs::exists(dir + "/bin/foo-cli.exe"));

  std::map<std::string, FileEntry> by_path;
  for (auto& f : dist->files) by_path[f.path] = f;
  CHECK(by_path["bin/foo-tool"].per_env);
  CHECK(by_path["bin/foo-cli"].per_env);
  CHECK(by_path["bin/foo-cli"].mode == kModeExec);
  CHECK_FALSE(by_path["bin/plain.sh"].per_env);
  CHECK(by_path["lib/python3.11/site-packages/foo-1.0.dist-info/RECORD"].per_env);
  CHECK(by_path["lib/python3.11/site-packages/foo/_native.so"].mode == kModeExec);
  CHECK(by_path["lib/python3.11/site-packages/foo/__init__.py"].sha256 ==
        sha256_hex("def main(): pass\n"));
}

TEST_CASE("Root-Is-Purelib false installs to platlib, .data/purelib to purelib") {
  TempDir t;
  FakeStore store(t / "store");
  auto in = fake_interp();
  in.platlib = "plat/site-packages";
  WheelBuilder b(store, "bar", "2.0");
  b.w.root_is_purelib = false;
  b.add("bar/core.py", "core\n").add("bar-2.0.data/purelib/bar_pure.py", "pure\n");
  LinkReport report;
  auto dist =
      install_wheel(t / "env", t / "env", in, b.w, store, LinkMode::hardlink, false, {}, report);
  REQUIRE(dist.ok());
  CHECK(fs::exists(t / "env/plat/site-packages/bar/core.py"));
  CHECK(fs::exists(t / "env/lib/python3.11/site-packages/bar_pure.py"));
  CHECK(dist->dist_info_rel == "plat/site-packages/bar-2.0.dist-info");
  CHECK_FALSE(fs::exists(t / "env/plat/site-packages/bar-2.0.dist-info/REQUESTED"));
  CHECK_FALSE(fs::exists(t / "env/plat/site-packages/bar-2.0.dist-info/direct_url.json"));
  std::string record = read(t / "env/plat/site-packages/bar-2.0.dist-info/RECORD");
  CHECK(record.find("../../lib/python3.11/site-packages/bar_pure.py,") != std::string::npos);
}

TEST_CASE("install_wheel refuses to overwrite another dist's file") {
  TempDir t;
  FakeStore store(t / "store");
  auto in = fake_interp();
  std::string dir = t / "env";
  REQUIRE(create_venv(dir, dir, in).ok());
  WheelBuilder a(store, "alpha", "1.0"), b(store, "beta", "2.0");
  a.add("common/x.py", "a\n");
  b.add("common/x.py", "b\n");
  LinkReport report;
  REQUIRE(install_wheel(dir, dir, in, a.w, store, LinkMode::hardlink, false, {}, report).ok());
  auto second = install_wheel(dir, dir, in, b.w, store, LinkMode::copy, false, {}, report);
  REQUIRE_FALSE(second.ok());
  INFO(second.error().to_string());
  CHECK(second.error().message.find("beta") != std::string::npos);
  CHECK(second.error().message.find("alpha-1.0") != std::string::npos);
  CHECK(second.error().message.find("common/x.py") != std::string::npos);
  CHECK(read(dir + "/lib/python3.11/site-packages/common/x.py") == "a\n");
}

TEST_CASE("hard links share the stored inode; copies and clones do not") {
  TempDir t;
  FakeStore store(t / "store");
  auto in = fake_interp();
  WheelBuilder b(store, "foo", "1.0");
  b.add("foo/a.py", "aaa\n");
  std::string blob = store.blob_path(sha256_hex("aaa\n"), false);
  for (auto mode : {LinkMode::hardlink, LinkMode::copy, LinkMode::clone}) {
    std::string dir = t / (std::string("env-") + link_mode_name(mode));
    LinkReport report;
    REQUIRE(install_wheel(dir, dir, in, b.w, store, mode, false, {}, report).ok());
    auto info = fs::stat_path(dir + "/lib/python3.11/site-packages/foo/a.py");
    CHECK(read(dir + "/lib/python3.11/site-packages/foo/a.py") == "aaa\n");
    if (mode == LinkMode::hardlink) {
      CHECK(info.inode == fs::stat_path(blob).inode);
      CHECK(report.linked == 3);
    } else {
      CHECK(info.inode != fs::stat_path(blob).inode);
      CHECK((info.mode & 0777) == 0644);
      CHECK(report.linked + report.copied == 3);
      if (mode == LinkMode::copy) CHECK(report.copied == 3);
      if (report.copied > 0 && mode == LinkMode::clone) CHECK(report.fell_back_to_copy);
    }
  }
}

TEST_CASE("linking across filesystems falls back to copies, reported once") {
  TempDir t;
  char tmpl[] = "/dev/shm/lb-env-test-XXXXXX";
  if (!fs::is_dir("/dev/shm") || !::mkdtemp(tmpl))
    LB_MISSING_PREREQUISITE("a writable /dev/shm (a second filesystem)");
  std::string shm = tmpl;
  if (fs::stat_path(shm).device == fs::stat_path(t.path).device) {
    (void)fs::remove_all(shm);
    LB_MISSING_PREREQUISITE("/dev/shm on a filesystem of its own");
  }
  FakeStore store(shm + "/store");
  WheelBuilder b(store, "foo", "1.0");
  b.add("foo/a.py", "aaa\n").add("foo/b.py", "bbb\n");
  LinkReport report;
  auto dist = install_wheel(t / "env", t / "env", fake_interp(), b.w, store, LinkMode::hardlink,
                            false, {}, report);
  (void)fs::remove_all(shm);
  REQUIRE(dist.ok());
  CHECK(report.fell_back_to_copy);
  CHECK(report.fallback_reason.find("copying") != std::string::npos);
  CHECK(report.copied == 4);
  CHECK(read(t / "env/lib/python3.11/site-packages/foo/b.py") == "bbb\n");
}

TEST_CASE("relink_dist reuses an old env's files") {
  TempDir t;
  FakeStore store(t / "store");
  auto in = fake_interp();
  auto b = sample_wheel(store);
  LinkReport report;
  auto dist =
      install_wheel(t / "old", t / "final", in, b.w, store, LinkMode::hardlink, false, {}, report);
  REQUIRE(dist.ok());
  LinkReport report2;
  REQUIRE(relink_dist(t / "old", t / "new", *dist, report2).ok());
  CHECK(report2.linked == dist->files.size());
  for (const auto& f : dist->files) {
    INFO(f.path);
    CHECK(fs::stat_path(t / ("new/" + f.path)).inode == fs::stat_path(t / ("old/" + f.path)).inode);
  }
}

TEST_CASE("manifest round-trip and location-independent digest") {
  TempDir t;
  FakeStore store(t / "store");
  auto in = fake_interp();
  in.venv_scripts_dir = fake_templates(t);
  auto b = sample_wheel(store);
  std::vector<std::string> digests;
  std::vector<Manifest> manifests;
  for (std::string where : {"one/envA", "two/deeper/envB"}) {
    std::string dir = t / where;
    std::vector<FileEntry> venv_files;
    REQUIRE(create_venv(dir, dir, in, &venv_files).ok());
    LinkReport report;
    auto dist = install_wheel(dir, dir, in, b.w, store, LinkMode::hardlink, true, {}, report);
    REQUIRE(dist.ok());
    dist->link_key = "link-key";
    Manifest m = make_manifest(in, dir, venv_files, {*dist});
    REQUIRE(write_manifest(dir, m).ok());
    auto back = read_manifest(dir);
    REQUIRE(back.ok());
    CHECK(serialize_manifest(*back) == serialize_manifest(m));
    // The direct writer gives what json::dump() of the same document gives.
    std::string text = serialize_manifest(m);
    CHECK(nlohmann::json::parse(text).dump() + "\n" == text);
    Manifest odd = m;
    odd.stamp = "q\"b\\s\n\t\b\f\r\x01\x1f caf\xc3\xa9";
    text = serialize_manifest(odd);
    CHECK(nlohmann::json::parse(text).dump() + "\n" == text);
    CHECK(parse_manifest(text).value().stamp == odd.stamp);
    // The fast reader and the json reader agree on what the writer writes; the fast one
    // leaves non-ASCII to the json one.
    odd.stamp = "q\"b\\s\n\t\b\f\r\x01\x1f/";
    text = serialize_manifest(odd);
    auto fast = detail::parse_manifest_fast(text);
    REQUIRE(fast.has_value());
    CHECK(serialize_manifest(*fast) ==
          serialize_manifest(detail::parse_manifest_json(text).value()));
    CHECK(fast->stamp == odd.stamp);
    CHECK_FALSE(detail::parse_manifest_fast(serialize_manifest(m) + " ").has_value());
    odd.stamp = "caf\xc3\xa9";
    CHECK_FALSE(detail::parse_manifest_fast(serialize_manifest(odd)).has_value());
    CHECK(parse_manifest(serialize_manifest(odd)).value().stamp == odd.stamp);
    CHECK(back->dists.at(0).link_key == "link-key");
    CHECK(back->dists.at(0).files.size() == dist->files.size());
    CHECK(back->venv_files.size() == venv_files.size());
    CHECK(manifest_digest(*back) == manifest_digest(m));
    // Read lazily, the file lists stay text: written back byte for byte, digested alike, and
    // load_files / for_each_path give the same files as the eager reader.
    auto lazy = read_manifest(dir, /*lazy_files=*/true);
    REQUIRE(lazy.ok());
    CHECK(lazy->dists.at(0).files.empty());
    CHECK_FALSE(lazy->dists.at(0).files_json.empty());
    CHECK(serialize_manifest(*lazy) == serialize_manifest(m));
    CHECK(manifest_digest(*lazy) == manifest_digest(m));
    std::vector<std::string> paths;
    for_each_path(lazy->dists.at(0), [&](std::string_view p) { paths.emplace_back(p); });
    REQUIRE(paths.size() == back->dists.at(0).files.size());
    for (size_t k = 0; k < paths.size(); ++k) CHECK(paths[k] == back->dists.at(0).files[k].path);
    // for_each_file gives what a stat check needs (no sha256 or link target from the text).
    size_t n = 0;
    for_each_file(lazy->dists.at(0), [&](const FileEntry& f) {
      const FileEntry& want = back->dists.at(0).files.at(n++);
      CHECK(f.path == want.path);
      CHECK(f.mode == want.mode);
      CHECK(f.size == want.size);
      CHECK(f.per_env == want.per_env);
      CHECK(f.sha256.empty());
    });
    CHECK(n == paths.size());
    REQUIRE(load_files(lazy->dists.at(0)).ok());
    CHECK(lazy->dists.at(0).files == back->dists.at(0).files);
    // The text stays (it is what put_files gives): a manifest written again copies it.
    CHECK_FALSE(lazy->dists.at(0).files_json.empty());
    CHECK(serialize_manifest(*lazy) == serialize_manifest(m));
    REQUIRE(load_files(lazy->dists.at(0)).ok());  // loading again changes nothing
    CHECK(lazy->dists.at(0).files == back->dists.at(0).files);
    CHECK(dist_digest(lazy->dists.at(0)) == back->dists.at(0).digest);
    // A path that leaves the env (an env is input: a repository may ship one) is refused, by
    // the fast reader and the general one alike.
    std::string text_out = serialize_manifest(m);
    for (const char* bad : {"../outside.txt", "/etc/passwd", "a/../../b"}) {
      std::string evil = text_out;
      const std::string first = m.dists.at(0).files.at(0).path;
      evil.replace(evil.find("\"" + first + "\""), first.size() + 2,
                   "\"" + std::string(bad) + "\"");
      CHECK_FALSE(parse_manifest(evil).ok());
      CHECK_FALSE(parse_manifest(evil, /*lazy_files=*/true).ok());
    }
    // A v1 manifest (no per-dist digest) is still read; its digest is computed from the files.
    std::string v1 = serialize_manifest(m);
    v1.replace(v1.find(kManifestFormat), std::string(kManifestFormat).size(), kManifestFormatV1);
    v1.erase(v1.find("\"digest\":"), 10 + 64 + 2);
    auto old = parse_manifest(v1, true);
    REQUIRE(old.ok());
    CHECK(old->dists.at(0).digest.empty());
    CHECK(manifest_digest(*old) == manifest_digest(m));
    CHECK(nlohmann::json::parse(v1).dump() + "\n" == v1);
    digests.push_back(manifest_digest(m));
    manifests.push_back(m);
  }
  CHECK(digests[0] == digests[1]);
  CHECK(digests[0].size() == 64);
  // Any file change changes the digest.
  Manifest changed = manifests[0];
  changed.dists[0].files[0].sha256 = sha256_hex("other");
  CHECK(manifest_digest(changed) != digests[0]);
  changed = manifests[0];
  for (auto& f : changed.dists[0].files)
    if (f.path == "lib/python3.11/site-packages/foo/__init__.py") f.mode = kModeExec;
  CHECK(manifest_digest(changed) != digests[0]);
  // Malformed manifests are errors.
  CHECK_FALSE(parse_manifest("{}").ok());
  CHECK_FALSE(parse_manifest("not json").ok());
  CHECK_FALSE(
      parse_manifest(R"({"format": "lavabuild.env-manifest.v1", "venv_files": [[1]]})").ok());
}

TEST_CASE("verify_env detects added, removed, changed and mode-changed files") {
  TempDir t;
  FakeStore store(t / "store");
  auto in = fake_interp();
  in.venv_scripts_dir = fake_templates(t);
  std::string dir = t / "env";
  std::vector<FileEntry> venv_files;
  REQUIRE(create_venv(dir, dir, in, &venv_files).ok());
  auto b = sample_wheel(store);
  LinkReport report;
  auto dist = install_wheel(dir, dir, in, b.w, store, LinkMode::copy, false, {}, report);
  REQUIRE(dist.ok());
  REQUIRE(write_manifest(dir, make_manifest(in, dir, venv_files, {*dist})).ok());

  auto clean = verify_env(dir);
  REQUIRE(clean.ok());
  for (auto& d : *clean) UNSCOPED_INFO(d.path << ": " << d.detail);
  CHECK(clean->empty());

  const std::string site = dir + "/lib/python3.11/site-packages";
  // Ignored: bytecode caches.
  REQUIRE(fs::create_dirs(site + "/foo/__pycache__").ok());
  REQUIRE(fs::write_file(site + "/foo/__pycache__/__init__.cpython-311.pyc", "pyc").ok());
  REQUIRE(fs::write_file(site + "/stray.pyc", "pyc").ok());
  // Differences.
  REQUIRE(fs::write_file(site + "/extra.py", "new\n").ok());
  REQUIRE(fs::remove_all(site + "/foo_extra.py").ok());
  REQUIRE(fs::set_mode(site + "/foo/__init__.py", 0644).ok());
  REQUIRE(fs::write_file_atomic(site + "/foo/__init__.py", "def main(): return 1\n").ok());
  REQUIRE(fs::set_mode(dir + "/bin/plain.sh", 0644).ok());
  REQUIRE(fs::remove_all(dir + "/bin/foo-cli").ok());
  REQUIRE(fs::write_file(dir + "/bin/foo-cli", "#!/elsewhere/python\n", 0755).ok());
  REQUIRE(fs::remove_all(dir + "/lib64").ok());
  REQUIRE(fs::symlink("lib32", dir + "/lib64").ok());

  auto diffs = verify_env(dir);
  REQUIRE(diffs.ok());
  std::vector<std::string> got;
  for (auto& d : *diffs) got.push_back(std::string(difference_kind_name(d.kind)) + " " + d.path);
  CHECK(got == std::vector<std::string>{"changed bin/foo-cli", "mode changed bin/plain.sh",
                                        "added lib/python3.11/site-packages/extra.py",
                                        "changed lib/python3.11/site-packages/foo/__init__.py",
                                        "removed lib/python3.11/site-packages/foo_extra.py",
                                        "changed lib64"});
}

TEST_CASE("verify_env without a manifest is an error") {
  TempDir t;
  auto r = verify_env(t.path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("manifest") != std::string::npos);
}

namespace {

struct StoreSink : wheel::BlobSink {
  FakeStore& store;
  explicit StoreSink(FakeStore& s) : store(s) {}
  Result<std::string> put_blob(std::string_view content, bool executable) override {
    return store.put(std::string(content), executable);
  }
};

// Writes a small wheel with root files, .data/{scripts,headers,data} and entry points.
constexpr const char* kMakeWheel = R"PY(
import base64, hashlib, sys, zipfile
path = sys.argv[1]
files = {
    "demo/__init__.py": b"def main():\n    print('hi')\n",
    "demo-1.0.data/scripts/demo-script": b"#!python\nimport demo\n",
    "demo-1.0.data/headers/demo.h": b"int demo;\n",
    "demo-1.0.data/data/share/demo/readme.txt": b"readme\n",
    "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    "demo-1.0.dist-info/entry_points.txt": b"[console_scripts]\ndemo = demo:main\n[gui_scripts]\ndemo-gui = demo:main\n",
}
record = ""
with zipfile.ZipFile(path, "w") as z:
    for name, data in files.items():
        info = zipfile.ZipInfo(name)
        info.external_attr = (0o755 if "scripts" in name else 0o644) << 16
        z.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(data)}\n"
    record += "demo-1.0.dist-info/RECORD,,\n"
    z.writestr("demo-1.0.dist-info/RECORD", record)
)PY";

}  // namespace

TEST_CASE("install_wheel gives the same files and RECORD as pip") {
  std::string py = find_program("/usr/bin/python3");
  std::string pip_py = find_program("python3");
  if (py.empty() || pip_py.empty()) LB_MISSING_PREREQUISITE("python3 is missing");
  auto has_pip = run_process({pip_py, "-m", "pip", "--version"});
  if (!has_pip.ok() || has_pip->exit_code != 0)
    LB_MISSING_PREREQUISITE("pip is missing (python3 -m pip)");
  auto probed = interp::probe(py, "");
  REQUIRE(probed.ok());
  TempDir t;
  std::string whl = t / "demo-1.0-py3-none-any.whl";
  auto made = run_process({py, "-c", kMakeWheel, whl});
  REQUIRE(made.ok());
  REQUIRE(made->exit_code == 0);

  std::string ref = t / "pip/venv", ours = t / "ours/venv";
  REQUIRE(create_venv(ref, ref, *probed).ok());
  auto pip =
      run_process({pip_py, "-m", "pip", "--python", ref + "/bin/python", "install", "--no-deps",
                   "--no-index", "--no-compile", "--disable-pip-version-check", whl},
                  ProcessOptions{{}, {{"PIP_NO_INPUT", "1"}}, {}, {}});
  REQUIRE(pip.ok());
  INFO(pip->out << pip->err);
  REQUIRE(pip->exit_code == 0);

  FakeStore store(t / "store");
  StoreSink sink(store);
  auto unpacked = wheel::unpack_wheel(whl, sink);
  REQUIRE(unpacked.ok());
  REQUIRE(create_venv(ours, ours, *probed).ok());
  LinkReport report;
  auto sha = sha256_file_hex(whl);
  REQUIRE(sha.ok());
  DirectUrl direct{"file://" + whl, *sha, false, false, {}, {}, {}, {}};
  REQUIRE(
      install_wheel(ours, ours, *probed, *unpacked, store, LinkMode::hardlink, true, direct, report)
          .ok());

  CHECK(listing(ours) == listing(ref));
  std::string info = probed->purelib + "/demo-1.0.dist-info/";
  for (std::string f :
       std::vector<std::string>{"bin/demo", "bin/demo-gui", "bin/demo-script",
                                info + "direct_url.json", info + "REQUESTED", info + "METADATA",
                                "include/site/python" + std::to_string(probed->major) + "." +
                                    std::to_string(probed->minor) + "/demo/demo.h"}) {
    INFO(f);
    CHECK(read(ours + "/" + f) == replace_all(read(ref + "/" + f), ref, ours));
  }
  // RECORD: identical except the INSTALLER row ("pip\n" vs "lavabuild\n") and script hashes.
  auto normalise = [](const std::string& text) {
    std::vector<RecordRow> rows;
    for (auto row : parse_record(text)) {
      if (ends_with(row.path, "/INSTALLER") || starts_with(row.path, "../../../bin/"))
        row.hash = row.size = "-";
      rows.push_back(row);
    }
    return render_record_rows(rows);
  };
  CHECK(normalise(read(ours + "/" + info + "RECORD")) ==
        normalise(read(ref + "/" + info + "RECORD")));
}

TEST_CASE("pip's own entry points get pip's versioned wrappers") {
  TempDir t;
  FakeStore store(t / "store");
  WheelBuilder b(store, "pip", "24.0");
  b.w.entry_points.console_scripts = {{"pip", "pip._internal.cli.main", "main"},
                                      {"pip3", "pip._internal.cli.main", "main"},
                                      {"pip3.9", "pip._internal.cli.main", "main"},
                                      {"pipx-like", "other", "main"}};
  LinkReport report;
  REQUIRE(install_wheel(t / "env", t / "env", fake_interp(), b.w, store, LinkMode::hardlink, false,
                        {}, report)
              .ok());
  auto names = fs::list_dir(t / "env/bin");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"pip", "pip3", "pip3.11", "pipx-like"});
}

TEST_CASE("install_wheel refuses members that claim paths lavabuild writes itself") {
  // Linked from the store, such a member would let lavabuild's own later write reach the
  // shared stored file (issue 6): it is refused, naming the member.
  struct Case {
    std::string member, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"foo-1.0.data/purelib/foo-1.0.dist-info/RECORD", "installer writes"},
           {"foo-1.0.data/platlib/foo-1.0.dist-info/INSTALLER", "installer writes"},
           {"foo-1.0.data/purelib/other-2.0.dist-info/direct_url.json", "installer writes"},
           {"foo-1.0.data/data/.lavabuild/stamp", "lavabuild's own state"},
           {"foo-1.0.data/data/.lavabuild/manifest.json", "lavabuild's own state"},
           {"foo-1.0.data/data/pyvenv.cfg", "venv"},
           {"foo-1.0.data/scripts/python3", "venv"},
           {"foo-1.0.data/data/bin/activate", "venv"},
           {"foo-1.0.data/data/bin/foo-cli", "console script"},
       }) {
    INFO(c.member);
    TempDir t;
    FakeStore store(t / "store");
    auto in = fake_interp();
    WheelBuilder b(store, "foo", "1.0");
    b.add(c.member, "");
    b.w.entry_points.console_scripts.push_back({"foo-cli", "foo", "main"});
    LinkReport report;
    auto r =
        install_wheel(t / "env", t / "env", in, b.w, store, LinkMode::hardlink, false, {}, report);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().to_string());
    CHECK(r.error().message.find("'" + c.member + "'") != std::string::npos);
    CHECK(r.error().message.find(c.expect) != std::string::npos);
    CHECK(r.error().message.find("foo 1.0") != std::string::npos);
  }
}

TEST_CASE("install_wheel: .data/data/lib64 lands in lib, bytecode members verify") {
  TempDir t;
  FakeStore store(t / "store");
  auto in = fake_interp();
  std::string dir = t / "env";
  std::vector<FileEntry> venv_files;
  REQUIRE(create_venv(dir, dir, in, &venv_files).ok());
  WheelBuilder b(store, "foo", "1.0");
  b.add("foo/__init__.py", "")
      .add("foo/__pycache__/__init__.cpython-311.pyc", "pyc")
      .add("foo/legacy.pyc", "old pyc")
      .add("foo-1.0.data/data/lib64/foo-extra.txt", "via lib64\n");
  LinkReport report;
  auto dist = install_wheel(dir, dir, in, b.w, store, LinkMode::hardlink, false, {}, report);
  REQUIRE(dist.ok());
  bool lib_path = false;
  for (const auto& f : dist->files) {
    CHECK_FALSE(f.path.rfind("lib64/", 0) == 0);
    lib_path = lib_path || f.path == "lib/foo-extra.txt";
  }
  CHECK(lib_path);
  Manifest m;
  m.env_path = dir;
  m.venv_files = venv_files;
  m.dists.push_back(*dist);
  REQUIRE(write_manifest(dir, m).ok());
  auto diffs = verify_env(dir);
  REQUIRE(diffs.ok());
  std::string found;
  for (const auto& d : *diffs) found += d.path + ": " + d.detail + "\n";
  INFO(found);
  CHECK(diffs->empty());
  // Python may replace or drop shipped bytecode; verify ignores it either way.
  REQUIRE(fs::remove_all(dir + "/lib/python3.11/site-packages/foo/__pycache__").ok());
  diffs = verify_env(dir);
  REQUIRE(diffs.ok());
  CHECK(diffs->empty());
}

TEST_CASE("bytecode paths: importlib's cache_from_source and back") {
  CHECK(pyc_path("lib/a/mod.py", "cpython-311") == "lib/a/__pycache__/mod.cpython-311.pyc");
  CHECK(pyc_path("mod.py", "cpython-311") == "__pycache__/mod.cpython-311.pyc");
  CHECK(pyc_path("a/x.y.py", "cpython-311") == "a/__pycache__/x.y.cpython-311.pyc");
  CHECK(pyc_path("a/mod.pyw", "cpython-311").empty());
  CHECK(pyc_path("a/mod.PY", "cpython-311").empty());
  CHECK(pyc_path("a/mod.py", "").empty());
  CHECK(pyc_source("a/__pycache__/x.y.cpython-311.pyc", "cpython-311") == "a/x.y.py");
  CHECK(pyc_source("a/__pycache__/mod.cpython-311.opt-1.pyc", "cpython-311").empty());
  CHECK(pyc_source("a/__pycache__/mod.cpython-37.pyc", "cpython-311").empty());
  CHECK(pyc_source("a/mod.cpython-311.pyc", "cpython-311").empty());

  InstalledDist d;
  d.files = {{"a/__pycache__/mod.cpython-311.pyc", kModeFile, "", 0, false, {}},
             {"a/__pycache__/shipped.cpython-311.pyc", kModeFile, "", 0, false, {}},
             {"a/mod.py", kModeFile, "", 0, false, {}}};
  CHECK(compiled_pycs(d).empty());  // no bytecode_tag: nothing was compiled
  d.bytecode_tag = "cpython-311";
  auto c = compiled_pycs(d);
  CHECK(c.size() == 1);
  CHECK(c.count("a/__pycache__/mod.cpython-311.pyc") == 1);
}

TEST_CASE("a script's canonical content does not depend on how long the env's path is") {
  wheel::EntryPoint ep{"tool", "pkg.cli", "main"};
  std::string short_dir = "/srv/e", long_dir = "/srv/" + std::string(130, 'x');
  std::string a = wheel::render_script(ep, short_dir + "/bin/python");
  std::string b = wheel::render_script(ep, long_dir + "/bin/python");
  REQUIRE(b.rfind("#!/bin/sh\n", 0) == 0);  // the trampoline past 127 bytes
  CHECK(env::canonical_content("bin/tool", a, short_dir) ==
        env::canonical_content("bin/tool", b, long_dir));
  // An activate script quotes a path with a space (venv's shlex.quote): the same content.
  CHECK(env::canonical_content("bin/activate", "VIRTUAL_ENV='/srv/a b/env'\n", "/srv/a b/env") ==
        env::canonical_content("bin/activate", "VIRTUAL_ENV=/srv/ab/env\n", "/srv/ab/env"));
  // A trampoline naming another interpreter stays as it is.
  std::string other = wheel::render_script(ep, "/opt/" + std::string(130, 'y') + "/python");
  CHECK(env::canonical_content("bin/tool", other, long_dir) == other);
}
