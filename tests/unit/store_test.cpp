#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "store/compress.hpp"
#include "store/journal.hpp"
#include "store/store.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

using lb::store::Store;

namespace {

using lb::test::TempDir;

std::unique_ptr<Store> open_store(const std::string& dir) {
  auto s = Store::open(dir);
  REQUIRE(s.ok());
  return std::move(*s);
}

}  // namespace

TEST_CASE("store: layout and VERSION") {
  TempDir t;
  auto s = open_store(t.path);
  CHECK(lb::fs::read_file(t.path + "/VERSION").value() == "lavabuild-store 1\n");
  CHECK(lb::fs::is_dir(s->tmp_dir()));
  CHECK(lb::fs::write_file_atomic(t.path + "/VERSION", "lavabuild-store 99\n").ok());
  auto again = Store::open(t.path);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find("lavabuild-store 99") != std::string::npos);
}

TEST_CASE("store: blobs put/has/dup/exec variant") {
  TempDir t;
  auto s = open_store(t.path);
  std::string sha = lb::sha256_hex("hello");
  CHECK_FALSE(s->has_blob(sha, false));
  auto r = s->put_blob("hello", false);
  REQUIRE(r.ok());
  CHECK(*r == sha);
  CHECK(s->has_blob(sha, false));
  CHECK_FALSE(s->has_blob(sha, true));
  CHECK(s->blob_path(sha, false) == t.path + "/blobs/" + sha.substr(0, 2) + "/" + sha);
  CHECK(lb::fs::read_file(s->blob_path(sha, false)).value() == "hello");
  CHECK(lb::fs::stat_path(s->blob_path(sha, false)).mode == 0444);

  auto inode = lb::fs::stat_path(s->blob_path(sha, false)).inode;
  REQUIRE(s->put_blob("hello", false).ok());  // duplicate: kept, not replaced
  CHECK(lb::fs::stat_path(s->blob_path(sha, false)).inode == inode);

  REQUIRE(s->put_blob("hello", true).ok());
  CHECK(s->has_blob(sha, true));
  CHECK(lb::fs::stat_path(s->blob_path(sha, true)).mode == 0555);
  CHECK(s->blob_path(sha, true) == s->blob_path(sha, false) + ".x");

  CHECK_FALSE(s->put_blob_hashed("x", false, "nothex").ok());
  CHECK(lb::fs::list_dir(s->tmp_dir()).value().empty());  // no temp files left behind
}

TEST_CASE("store: put_blob_file moves the file in") {
  TempDir t;
  auto s = open_store(t.path);
  std::string tmp = s->tmp_dir() + "/download";
  REQUIRE(lb::fs::write_file(tmp, "wheel bytes").ok());
  auto r = s->put_blob_file(tmp, false);
  REQUIRE(r.ok());
  CHECK(*r == lb::sha256_hex("wheel bytes"));
  CHECK_FALSE(lb::fs::exists(tmp));
  CHECK(lb::fs::read_file(s->blob_path(*r, false)).value() == "wheel bytes");
  REQUIRE(lb::fs::write_file(tmp, "wheel bytes").ok());  // again: already present
  CHECK(s->put_blob_file(tmp, false).ok());
  CHECK_FALSE(lb::fs::exists(tmp));
  CHECK_FALSE(s->put_blob_file(tmp, false).ok());  // missing file: error
}

TEST_CASE("store: verify detects corruption") {
  TempDir t;
  auto s = open_store(t.path);
  auto a = s->put_blob("good", false).value();
  auto b = s->put_blob("also good", true).value();
  CHECK(s->verify_blob(a, false).value());
  CHECK(s->verify_blob(b, true).value());
  CHECK_FALSE(s->verify_blob(lb::sha256_hex("absent"), false).ok());

  std::string path = s->blob_path(a, false);
  REQUIRE(lb::fs::write_file_atomic(path, "evil", 0444).ok());
  CHECK_FALSE(s->verify_blob(a, false).value());
  REQUIRE(lb::fs::write_file(t.path + "/blobs/zz-stray", "?").ok());

  std::set<std::string> bad;
  REQUIRE(s->verify_all([&](std::string p) { bad.insert(p); }).ok());
  CHECK(bad.count(path) == 1);
  CHECK(bad.count(t.path + "/blobs/zz-stray") == 1);
  CHECK(bad.size() == 2);
}

TEST_CASE("store: key-value index") {
  TempDir t;
  auto s = open_store(t.path);
  CHECK_FALSE(s->get("ac/missing").value().has_value());
  REQUIRE(s->put("ac/one", "1").ok());
  CHECK(s->get("ac/one").value() == std::optional<std::string>("1"));
  REQUIRE(s->put("ac/one", "uno").ok());
  CHECK(*s->get("ac/one").value() == "uno");
  std::string big(100000, 'q');
  REQUIRE(s->put_many({{"page/a", big}, {"page/b", ""}, {"page/c", std::string("\0x", 2)}}).ok());
  CHECK(*s->get("page/a").value() == big);
  CHECK(*s->get("page/b").value() == "");
  CHECK(*s->get("page/c").value() == std::string("\0x", 2));
  CHECK(lb::fs::exists(t.path + "/index.lock"));
  CHECK_FALSE(lb::fs::exists(t.path + "/index/LOG"));

  std::vector<std::string> keys;
  REQUIRE(s->scan("page/", [&](std::string_view k, std::string_view) {
             keys.emplace_back(k);
             return true;
           }).ok());
  CHECK(keys == std::vector<std::string>{"page/a", "page/b", "page/c"});
  REQUIRE(s->erase("page/b").ok());
  CHECK_FALSE(s->get("page/b").value().has_value());

  auto st = s->stats().value();
  CHECK(st.index_entries == 3);
  CHECK(st.blobs == 0);
}

TEST_CASE("store: session keeps the index open and is shared") {
  TempDir t;
  auto s = open_store(t.path);
  {
    auto session = s->session();
    REQUIRE(session.ok());
    CHECK_FALSE(session->degraded());
    // While the session lives the index is held: another store must time out.
    lb::store::StoreOptions quick;
    quick.lock_timeout = std::chrono::milliseconds(50);
    std::vector<std::string> warnings;
    quick.warn = [&](const std::string& w) { warnings.push_back(w); };
    auto other = Store::open(t.path, quick).value();
    REQUIRE(other->put("ac/parked", "later").ok());  // journalled
    CHECK_FALSE(other->get("ac/parked").value().has_value());
    CHECK(std::count_if(warnings.begin(), warnings.end(), [](const std::string& w) {
            return w.find("continuing without the cache index") != std::string::npos;
          }) == 2);

    // Our own store reuses the open session, from several threads.
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&, i] {
        for (int j = 0; j < 50; ++j)
          CHECK(s->put("ac/t" + std::to_string(i) + "-" + std::to_string(j), "v").ok());
      });
    for (auto& th : threads) th.join();
    auto nested = s->session();
    REQUIRE(nested.ok());
    CHECK(*s->get("ac/t3-49").value() == "v");
  }
  // Session closed: the journal is replayed by the next opener.
  CHECK(*s->get("ac/parked").value() == "later");
  CHECK(lb::fs::list_dir(t.path + "/journal").value().empty());
  CHECK(s->stats().value().index_entries == 201);
}

TEST_CASE("store: a write while a read session lives is parked, not lost") {
  // The read session is the process's: two source builds making their build envs at once
  // write (one flushes its batch) while the other reads. That write used to fail ("index write
  // while a read session is open") and its batch was dropped.
  TempDir t;
  auto s = open_store(t.path);
  REQUIRE(s->put("ac/old", "1").ok());
  {
    auto reads = s->read_session();
    REQUIRE(reads.ok());
    std::thread writer([&] {
      CHECK(s->put_many({{"ac/old", "2"}, {"ac/new", "3"}}).ok());
      CHECK(s->put("ac/one", "4").ok());
    });
    writer.join();
    CHECK(*s->get("ac/old").value() == "1");  // the session's view, until it ends
    CHECK_FALSE(lb::fs::list_dir(t.path + "/journal").value().empty());
  }
  CHECK(*s->get("ac/old").value() == "2");
  CHECK(*s->get("ac/new").value() == "3");
  CHECK(*s->get("ac/one").value() == "4");
  CHECK(lb::fs::list_dir(t.path + "/journal").value().empty());
}

TEST_CASE("store: journal format round-trip") {
  using lb::store::detail::JournalRecord;
  std::vector<JournalRecord> in{{"a", "1"}, {"b\nc", std::string("x\0y\n", 4)}, {"gone", {}}};
  auto text = lb::store::detail::encode_journal(in);
  auto out = lb::store::detail::decode_journal(text, "j.jnl");
  REQUIRE(out.ok());
  REQUIRE(out->size() == 3);
  CHECK((*out)[1].value == std::string("x\0y\n", 4));
  CHECK_FALSE((*out)[2].value.has_value());
  CHECK_FALSE(lb::store::detail::decode_journal(text.substr(0, text.size() - 2), "j").ok());
  CHECK_FALSE(lb::store::detail::decode_journal("garbage", "j").ok());
}

TEST_CASE("store: zstd round-trip") {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i % 17) + "\n";
  auto z = lb::store::zstd_compress(text);
  CHECK(z.size() < text.size() / 4);
  CHECK(lb::store::zstd_decompress(z).value() == text);
  CHECK(lb::store::zstd_decompress(lb::store::zstd_compress("")).value().empty());
  CHECK_FALSE(lb::store::zstd_decompress("not zstd at all").ok());
  CHECK_FALSE(lb::store::zstd_decompress(z.substr(0, z.size() / 2)).ok());
  CHECK_FALSE(lb::store::zstd_decompress(z, 100).ok());
}

// Runs only in the child processes of the test below (selected by name, env set).
TEST_CASE("store: concurrent writer child", "[.child]") {
  const char* dir = std::getenv("LB_STORE_CHILD_DIR");
  const char* id = std::getenv("LB_STORE_CHILD_ID");
  REQUIRE(dir);
  REQUIRE(id);
  auto s = open_store(dir);
  for (int i = 0; i < 200; ++i)
    REQUIRE(s->put("ac/" + std::string(id) + "-" + std::to_string(i), id).ok());
}

TEST_CASE("store: two processes on one cache at once") {
  TempDir t;
  std::vector<pid_t> pids;
  for (const char* id : {"p1", "p2"}) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // exec a fresh image: RocksDB's background threads do not survive fork().
      ::setenv("LB_STORE_CHILD_DIR", t.path.c_str(), 1);
      ::setenv("LB_STORE_CHILD_ID", id, 1);
      ::execl("/proc/self/exe", "test_store", "store: concurrent writer child", "-o", "/dev/null",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto s = open_store(t.path);
  auto session = s->session();
  REQUIRE(session.ok());
  int found = 0;
  for (const char* id : {"p1", "p2"})
    for (int i = 0; i < 200; ++i)
      found += s->get("ac/" + std::string(id) + "-" + std::to_string(i)).value() ==
               std::optional<std::string>(id);
  CHECK(found == 400);
}

TEST_CASE("store: blobs have mtime 1; an edited blob is damaged and replaced") {
  TempDir t;
  auto s = open_store(t.path);
  auto sha = s->put_blob("print('hello')\n", false).value();
  std::string path = s->blob_path(sha, false);
  CHECK(lb::fs::stat_path(path).mtime_ns == 1000000000LL);
  CHECK(s->blob_state(sha, false, 15) == lb::store::BlobState::intact);
  CHECK(s->blob_state(sha, false, 14) == lb::store::BlobState::damaged);
  CHECK(s->blob_state(lb::sha256_hex("x"), false) == lb::store::BlobState::missing);
  // Root edits it in place through a link (same size, new content).
  REQUIRE(lb::fs::set_mode(path, 0644).ok());
  { std::ofstream(path, std::ios::in | std::ios::out) << "print('pwned')\n"; }
  REQUIRE(lb::fs::set_mode(path, 0444).ok());
  CHECK(s->blob_state(sha, false, 15) == lb::store::BlobState::damaged);
  CHECK_FALSE(s->has_blob(sha, false));
  // Putting the content again replaces the damaged blob instead of trusting it.
  REQUIRE(s->put_blob("print('hello')\n", false).ok());
  CHECK(*lb::fs::read_file(path) == "print('hello')\n");
  CHECK(s->blob_state(sha, false, 15) == lb::store::BlobState::intact);
  // A blob stored by an older lavabuild (real mtime, right content) is re-hashed once.
  struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), now, 0) == 0);
  CHECK(s->blob_state(sha, false, 15) == lb::store::BlobState::intact);
  CHECK(lb::fs::stat_path(path).mtime_ns == 1000000000LL);
}

TEST_CASE("store: temp files live in a per-process dir; dead runs' leftovers are removed") {
  TempDir t;
  std::string dead_dir;
  {
    auto killed = open_store(t.path);
    dead_dir = killed->tmp_dir();
    REQUIRE(lb::fs::write_file(dead_dir + "/partial-download", std::string(1000, 'x')).ok());
    // Simulate SIGKILL: the flock goes away with the process, the directory stays.
    auto again = lb::fs::OwnedDir::create(t.path + "/tmp/run");
    REQUIRE(again.ok());
    dead_dir = again->path();
    REQUIRE(lb::fs::write_file(dead_dir + "/partial", std::string(500, 'y')).ok());
    again->release();
  }
  auto s = open_store(t.path);
  std::string mine = s->tmp_dir();
  CHECK(mine != dead_dir);
  auto stats = s->stats().value();
  CHECK(stats.leftover_entries == 1);
  CHECK(stats.leftover_bytes == 500);
  auto [entries, bytes] = s->clean_leftovers();
  CHECK(entries == 1);
  CHECK(bytes == 500);
  CHECK_FALSE(lb::fs::exists(dead_dir));
  CHECK(lb::fs::exists(mine));  // our own is kept while we live
  CHECK(s->stats().value().leftover_entries == 0);
  s.reset();
  CHECK_FALSE(lb::fs::exists(mine));  // and removed when the store closes
}
