#include <catch2/catch.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

using namespace lb;

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

TEST_CASE("atomic writes, links and listing") {
  char tmpl[] = "/tmp/lb-util-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
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
  REQUIRE(fs::remove_all(dir).ok());
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
