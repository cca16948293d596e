#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

using namespace lb;

namespace {
using lb::test::TempDir;
}  // namespace

TEST_CASE("sha256 of known vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("RECORD hash form round-trips") {
  std::string hex = sha256_hex("hello");
  std::string rec = record_hash_from_hex(hex);
  CHECK(rec == "sha256=LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ");
  CHECK(hex_from_record_hash(rec) == hex);
  CHECK(hex_from_record_hash("md5=abc").empty());
  CHECK(hex_from_record_hash("sha256=!!").empty());
}

TEST_CASE("KeyHasher separates fields") {
  CHECK(KeyHasher("d").field("a", "ab").field("b", "c").hex() !=
        KeyHasher("d").field("a", "a").field("b", "bc").hex());
  CHECK(KeyHasher("d").field("a", "x").hex() == KeyHasher("d").field("a", "x").hex());
  CHECK(KeyHasher("d1").field("a", "x").hex() != KeyHasher("d2").field("a", "x").hex());
}

TEST_CASE("string helpers") {
  CHECK(trim("  a b \n") == "a b");
  CHECK(split("a,b,,c", ',') == std::vector<std::string>{"a", "b", "", "c"});
  CHECK(split_ws("  a\tb  c ") == std::vector<std::string>{"a", "b", "c"});
  CHECK(percent_decode("a%20b%2") == "a b%2");
  CHECK(replace_all("aXbXc", "X", "--") == "a--b--c");
  CHECK(quoted("a\"b\n") == "\"a\\\"b\\n\"");
}

TEST_CASE("relative paths that stay below their directory, and symlinked components") {
  for (const char* ok : {"a", "a/b.py", "lib/python3.11/site-packages/x-1.0.dist-info/RECORD"})
    CHECK(fs::is_safe_rel(ok));
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "a\nb"})
    CHECK_FALSE(fs::is_safe_rel(bad));
  CHECK_FALSE(fs::is_safe_rel(std::string_view("a\0b", 3)));
  TempDir tmp("util");
  REQUIRE(fs::create_dirs(tmp.path + "/real/sub").ok());
  REQUIRE(fs::create_dirs(tmp.path + "/elsewhere").ok());
  REQUIRE(::symlink((tmp.path + "/elsewhere").c_str(), (tmp.path + "/real/link").c_str()) == 0);
  REQUIRE(fs::write_file(tmp.path + "/real/file", "x").ok());
  std::set<std::string> checked;
  CHECK(fs::non_dir_component(tmp.path, "real/sub", checked).empty());
  CHECK(fs::non_dir_component(tmp.path, "real/missing/deeper", checked).empty());  // made later
  CHECK(fs::non_dir_component(tmp.path, "real/link/pkg", checked) == "real/link");
  CHECK(fs::non_dir_component(tmp.path, "real/file/x", checked) == "real/file");
  CHECK(checked.count("real") == 1);
  // copy_file refuses what is not a regular file, and does not wait on a FIFO.
  REQUIRE(::mkfifo((tmp.path + "/fifo.whl").c_str(), 0644) == 0);
  auto fifo = fs::copy_file(tmp.path + "/fifo.whl", tmp.path + "/copy");
  REQUIRE_FALSE(fifo.ok());
  CHECK_THAT(fifo.error().message, Catch::Contains("is not a regular file"));
  CHECK_FALSE(fs::copy_file(tmp.path + "/real", tmp.path + "/copy").ok());
  CHECK_FALSE(fs::exists(tmp.path + "/copy"));
}

TEST_CASE("atomic writes, links and listing") {
  TempDir tmp("util");
  std::string dir = tmp.path;
  std::string f = fs::join_path(dir, "sub/dir/file.txt");
  REQUIRE(fs::create_dirs(fs::dirname(f)).ok());
  REQUIRE(fs::write_file_atomic(f, "content", 0640).ok());
  CHECK(*fs::read_file(f) == "content");
  CHECK(fs::stat_path(f).mode == 0640);
  REQUIRE(fs::hard_link(f, f + ".lnk").ok());
  CHECK(fs::stat_path(f).inode == fs::stat_path(f + ".lnk").inode);
  REQUIRE(fs::copy_file(f, f + ".copy").ok());
  CHECK(fs::stat_path(f).inode != fs::stat_path(f + ".copy").inode);
  CHECK(*fs::read_file(f + ".copy") == "content");
  auto names = fs::list_dir(fs::dirname(f));
  REQUIRE(names.ok());
  CHECK(names->size() == 3);
  CHECK_FALSE(fs::read_file(dir + "/missing").ok());
  CHECK(fs::dirname("/a/b/") == "/a");
  CHECK(fs::basename("/a/b") == "b");

  std::string a = dir + "/A", b = dir + "/B";
  REQUIRE(fs::create_dirs(a).ok());
  REQUIRE(fs::create_dirs(b).ok());
  REQUIRE(fs::write_file(a + "/x", "a").ok());
  REQUIRE(fs::exchange_paths(a, b).ok());
  CHECK(fs::exists(b + "/x"));
  CHECK_FALSE(fs::exists(a + "/x"));
  REQUIRE(fs::remove_all(dir).ok());  // remove_all of a tree
  CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("file lock excludes a second holder") {
  std::string path = "/tmp/lb-util-lock-" + std::to_string(::getpid());
  auto first = fs::FileLock::acquire(path);
  REQUIRE(first.ok());
  // flock locks are per open file description, so a second open in this process conflicts.
  auto second = fs::FileLock::try_acquire(path);
  REQUIRE(second.ok());
  CHECK_FALSE(second->held());
  ::unlink(path.c_str());
}

TEST_CASE("run_process captures output and exit code") {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(r.ok());
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
  CHECK(r->exit_code == 3);
  ProcessOptions opt;
  opt.stdin_data = "piped";
  opt.env["LB_TEST_VAR"] = "v";
  auto c = run_process({"sh", "-c", "cat; echo $LB_TEST_VAR"}, opt);
  REQUIRE(c.ok());
  CHECK(c->out == "pipedv\n");
  CHECK_FALSE(run_process({"definitely-not-a-program-lb"}).ok());
}

TEST_CASE("writes never go through an existing file or link") {
  TempDir tmp("util");
  std::string dir = tmp.path;
  std::string blob = dir + "/blob", env_file = dir + "/env-file";
  REQUIRE(fs::write_file(blob, "stored", 0444).ok());
  REQUIRE(fs::hard_link(blob, env_file).ok());
  // write_file creates: an existing path (here a hard link to the blob) is an error.
  CHECK_FALSE(fs::write_file(env_file, "evil").ok());
  CHECK(*fs::read_file(blob) == "stored");
  // write_file_atomic replaces the link with a new file; the blob keeps its content.
  REQUIRE(fs::write_file_atomic(env_file, "fresh").ok());
  CHECK(*fs::read_file(blob) == "stored");
  CHECK(*fs::read_file(env_file) == "fresh");
  CHECK(fs::stat_path(blob).inode != fs::stat_path(env_file).inode);
  // A symlink planted at the path is not followed either.
  REQUIRE(fs::symlink(blob, dir + "/planted").ok());
  CHECK_FALSE(fs::write_file(dir + "/planted", "evil").ok());
  CHECK(*fs::read_file(blob) == "stored");
  CHECK(fs::list_dir(dir)->size() == 3);  // no temp file left behind
}

TEST_CASE("write_file_new creates with its mode and never replaces") {
  TempDir tmp("util");
  std::string key = tmp / "key";
  REQUIRE(fs::write_file_new(key, "secret", 0600).ok());
  CHECK(*fs::read_file(key) == "secret");
  CHECK(fs::stat_path(key).mode == 0600);
  CHECK(fs::stat_path(key).is_regular);
  auto again = fs::write_file_new(key, "other", 0600);
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.error().message, Catch::Contains(key) && Catch::Contains("already exists"));
  CHECK(*fs::read_file(key) == "secret");
  // Nor through a symlink, dangling or not.
  REQUIRE(fs::symlink(tmp / "nowhere", tmp / "planted").ok());
  CHECK_FALSE(fs::write_file_new(tmp / "planted", "evil").ok());
  CHECK_FALSE(fs::exists(tmp / "nowhere"));
  CHECK(fs::list_dir(tmp.path)->size() == 2);  // no temp file left behind
}

TEST_CASE("standard base64: RFC 4648 vectors, strict decoding") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : vectors) {
    CHECK(base64_encode(plain) == enc);
    CHECK(base64_decode(enc) == std::optional<std::string>(plain));
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  CHECK(base64_encode(all).find_first_of("-_") == std::string::npos);  // not urlsafe
  CHECK(base64_decode(base64_encode(all)) == all);
  for (const char* bad : {"Zg", "Zg=", "Zm9", "Z===", "Zg=a", "Zm=v", "Zh==", "Zm9=", "Zm9v\n",
                          " Zm9v", "Zm-v", "Zm_v", "Zg==Zg==", "===="})
    CHECK_FALSE(base64_decode(bad).has_value());
}

TEST_CASE("temp names are random and created exclusively") {
  std::string a = fs::temp_sibling("/x/env"), b = fs::temp_sibling("/x/env");
  CHECK(a != b);
  CHECK(a.rfind("/x/env.tmp-", 0) == 0);
  CHECK(a.size() == std::string("/x/env.tmp-").size() + 16);
  CHECK(a.find(std::to_string(::getpid())) == std::string::npos);
  CHECK(fs::random_hex(4).size() == 8);
}

TEST_CASE("owned temp dirs: a live owner's dir is kept, a dead owner's is removed") {
  TempDir tmp("util");
  std::string dir = tmp.path;
  std::string base = dir + "/env";
  auto live = fs::OwnedDir::create(base);
  REQUIRE(live.ok());
  REQUIRE(fs::write_file(live->path() + "/f", "x").ok());
  auto dead = fs::OwnedDir::create(base);
  REQUIRE(dead.ok());
  std::string dead_path = dead->path();
  dead->release();  // as if its process was killed: the flock is gone
  auto found = fs::temp_siblings_of(base);
  CHECK(found.size() == 2);
  CHECK_FALSE(fs::is_abandoned(live->path()));
  CHECK_FALSE(fs::remove_if_abandoned(live->path()));
  CHECK(fs::exists(live->path() + "/f"));
  CHECK(fs::is_abandoned(dead_path));
  CHECK(fs::remove_if_abandoned(dead_path));
  CHECK_FALSE(fs::exists(dead_path));
  // The lock follows the directory through a rename.
  std::string moved = dir + "/final";
  REQUIRE(fs::rename_path(live->path(), moved).ok());
  CHECK_FALSE(fs::remove_if_abandoned(moved));
  // A temp file nobody holds (its writer was killed) goes; one a writer holds stays.
  std::string orphan = base + ".tmp-0123456789abcdef";
  REQUIRE(fs::write_file(orphan, "partial").ok());
  std::string held = base + ".tmp-fedcba9876543210";
  REQUIRE(fs::write_file(held, "being written").ok());
  auto writer = fs::FileLock::acquire(held);
  REQUIRE(writer.ok());
  CHECK(fs::temp_siblings_of(base).size() == 2);  // the live dir was renamed, the dead one removed
  CHECK(fs::remove_if_abandoned(orphan));
  CHECK_FALSE(fs::remove_if_abandoned(held));
  CHECK(fs::exists(held));
  // Only exact temp names are taken for temp entries: a user's "env.tmp-old" is not.
  REQUIRE(fs::create_dirs(base + ".tmp-old").ok());
  CHECK(fs::is_temp_name_of("env.tmp-0123456789abcdef", "env"));
  CHECK_FALSE(fs::is_temp_name_of("env.tmp-old", "env"));
  CHECK_FALSE(fs::is_temp_name_of("env.tmp-0123456789ABCDEF", "env"));
  CHECK_FALSE(fs::is_temp_name_of("env2.tmp-0123456789abcdef", "env"));
  for (const auto& p : fs::temp_siblings_of(base)) CHECK(p != base + ".tmp-old");
}

TEST_CASE("acquire_or_wait says when it waits") {
  std::string path = "/tmp/lb-util-wait-" + fs::random_hex();
  int waited = 0;
  {
    auto first = fs::FileLock::acquire_or_wait(path, [&] { ++waited; });
    REQUIRE(first.ok());
    CHECK(waited == 0);
  }
  auto holder = fs::FileLock::acquire(path);
  REQUIRE(holder.ok());
  // The holder lets go only once the waiter has said it waits: no timing involved.
  auto second = fs::FileLock::acquire_or_wait(path, [&] {
    ++waited;
    *holder = fs::FileLock();
  });
  REQUIRE(second.ok());
  CHECK(second->held());
  CHECK(waited == 1);
  ::unlink(path.c_str());
}

TEST_CASE("toml_deep_key_line: counts parts of keys, not of strings, comments or floats") {
  using lb::toml_deep_key_line;
  CHECK(toml_deep_key_line("a.b.c = 1.5\n# x.x.x.x.x\ns = \"a.a.a.a.a\"\n", 4) == 0);
  CHECK(toml_deep_key_line("x = 1\n[a.b.c.d.e]\n", 4) == 2);
  CHECK(toml_deep_key_line("a . \"q.q\" . b = 1\n", 3) == 0);
  CHECK(toml_deep_key_line("a.'q'.b.c = 1\n", 3) == 1);
}
