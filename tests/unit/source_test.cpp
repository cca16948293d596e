// Unit tests of src/source: tree digests and copies, archive unpacking, PKG-INFO, patches and
// recipes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>

#include "source/links.hpp"
#include "source/tree.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

using namespace lb;
using namespace lb::source;
using lb::test::TempDir;

namespace {

/// A stat cache in a map, counting what it is asked.
struct MapCache : StatCache {
  std::map<std::string, std::string> entries;
  int lookups = 0, hits = 0;
  std::optional<std::string> lookup(const std::string& key) override {
    ++lookups;
    auto it = entries.find(key);
    if (it == entries.end()) return std::nullopt;
    ++hits;
    return it->second;
  }
  void record(const std::string& key, const std::string& sha) override { entries[key] = sha; }
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Options for a walk "later": files made by the test are no longer racy.
DigestOptions later() {
  DigestOptions o;
  o.now_ns = now_ns() + 60'000'000'000;
  return o;
}

void set_mtime(const std::string& path, int64_t seconds) {
  struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

/// A small project: files, an executable, a symlink, and what the digest must ignore.
void make_project(const TempDir& t, const std::string& top = "proj") {
  t.write(top + "/pyproject.toml", "[build-system]\nrequires = [\"setuptools\"]\n");
  t.write(top + "/src/app/__init__.py", "VERSION = '1.0'\n");
  t.write(top + "/src/app/main.py", "def main():\n    print('hello')\n");
  t.write(top + "/bin/run.sh", "#!/bin/sh\nexec python3 -m app\n");
  REQUIRE(fs::set_mode(t / (top + "/bin/run.sh"), 0755).ok());
  REQUIRE(fs::symlink("src/app/main.py", t / (top + "/main-link.py")).ok());
  t.write(top + "/.git/HEAD", "ref: refs/heads/main\n");
  t.write(top + "/src/app/__pycache__/main.cpython-311.pyc", "bytecode");
  t.write(top + "/.bzr/branch-format", "Bazaar-NG meta directory, format 1\n");
}

std::string digest_of(const std::string& dir, StatCache* cache = nullptr,
                      const DigestOptions& o = later()) {
  auto d = digest_tree(dir, cache, o);
  REQUIRE(d.ok());
  return d->digest;
}

std::string error_of(const Status& s) {
  REQUIRE_FALSE(s.ok());
  return s.error().to_string();
}
template <class T>
std::string error_of(const Result<T>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().to_string();
}

}  // namespace

// --- digest_tree ------------------------------------------------------------------------------

TEST_CASE("digest_tree follows the documented lavabuild.tree.v1 format", "[source][tree]") {
  TempDir t("src-tree");
  t.write("p/a.txt", "alpha\n");
  t.write("p/d/x.sh", "#!/bin/sh\n");
  REQUIRE(fs::set_mode(t / "p/d/x.sh", 0700).ok());
  REQUIRE(fs::symlink("d/x.sh", t / "p/l").ok());
  REQUIRE(fs::create_dirs(t / "p/empty").ok());
  auto d = digest_tree(t / "p", nullptr, later());
  REQUIRE(d.ok());
  auto record = [](char kind, const std::string& path, const std::string& value) {
    return std::string(1, kind) + " " + std::to_string(path.size()) + ":" + path + " " +
           std::to_string(value.size()) + ":" + value + "\n";
  };
  Sha256 sha;
  sha.update("lavabuild.tree.v1\n");
  sha.update(record('f', "a.txt", sha256_hex("alpha\n")));
  sha.update(record('x', "d/x.sh", sha256_hex("#!/bin/sh\n")));
  sha.update(record('l', "l", "d/x.sh"));
  CHECK(d->digest == sha.hex_digest());
  CHECK(d->files == 3);
  CHECK(d->bytes == 6 + 10);
  CHECK(d->hashed_bytes == 16);
}

TEST_CASE("digest_tree is stable across copies and mtime changes", "[source][tree]") {
  TempDir t("src-tree");
  make_project(t);
  std::string before = digest_of(t / "proj");
  set_mtime(t / "proj/src/app/main.py", 1'000'000'000);
  set_mtime(t / "proj/main-link.py", 1'000'000'000);
  CHECK(digest_of(t / "proj") == before);
  REQUIRE(copy_tree(t / "proj", t / "copy").ok());
  CHECK(digest_of(t / "copy") == before);
  // The same content written again (a new inode, new times) is the same tree.
  t.write("proj/src/app/main.py", "def main():\n    print('hello')\n");
  CHECK(digest_of(t / "proj") == before);
}

TEST_CASE("digest_tree changes with content, mode, a new file and a symlink target",
          "[source][tree]") {
  TempDir t("src-tree");
  make_project(t);
  std::string d0 = digest_of(t / "proj");

  t.write("proj/src/app/main.py", "def main():\n    print('hot-fix')\n");
  std::string d1 = digest_of(t / "proj");
  CHECK(d1 != d0);

  REQUIRE(fs::set_mode(t / "proj/pyproject.toml", 0755).ok());
  std::string d2 = digest_of(t / "proj");
  CHECK(d2 != d1);
  REQUIRE(fs::set_mode(t / "proj/pyproject.toml", 0600).ok());  // no x bit: as 0644
  CHECK(digest_of(t / "proj") == d1);

  t.write("proj/src/app/new.py", "");
  std::string d3 = digest_of(t / "proj");
  CHECK(d3 != d1);

  REQUIRE(fs::remove_all(t / "proj/main-link.py").ok());
  REQUIRE(fs::symlink("src/app/new.py", t / "proj/main-link.py").ok());
  CHECK(digest_of(t / "proj") != d3);

  // A file and a symlink with the same text are different entries; so are renames.
  TempDir u("src-tree");
  u.write("a/x", "y");
  REQUIRE(fs::create_dirs(u / "b").ok());
  REQUIRE(fs::symlink("y", u / "b/x").ok());
  CHECK(digest_of(u / "a") != digest_of(u / "b"));
  u.write("c/z", "y");
  CHECK(digest_of(u / "a") != digest_of(u / "c"));
}

TEST_CASE("digest_tree ignores VCS metadata and __pycache__", "[source][tree]") {
  TempDir t("src-tree");
  make_project(t);
  std::string d0 = digest_of(t / "proj");
  t.write("proj/.git/index", "changed");
  t.write("proj/.bzr/checkout/dirstate", "changed");
  t.write("proj/.hg/store/x", "x");
  t.write("proj/.svn/wc.db", "x");
  t.write("proj/src/app/__pycache__/other.pyc", "x");
  t.write("proj/src/__pycache__/deep/x.pyc", "x");
  CHECK(digest_of(t / "proj") == d0);
  // A .git file (a git worktree or submodule) too.
  t.write("proj/src/.git", "gitdir: ../.git/modules/src\n");
  CHECK(digest_of(t / "proj") == d0);
  CHECK(is_excluded_name(".git"));
  CHECK(is_excluded_name("__pycache__"));
  CHECK_FALSE(is_excluded_name(".github"));
  CHECK_FALSE(is_excluded_name("build"));
}

TEST_CASE("digest_tree: the stat cache answers unchanged files of an old tree", "[source][tree]") {
  TempDir t("src-tree");
  make_project(t);
  MapCache cache;
  auto first = digest_tree(t / "proj", &cache, later());
  REQUIRE(first.ok());
  CHECK(first->hashed_bytes == first->bytes);
  CHECK(cache.entries.size() == 4);  // the regular files; symlinks are read, not hashed
  for (const auto& [key, sha] : cache.entries) {
    CHECK(starts_with(key, "1 "));
    CHECK(key.find(t.path) != std::string::npos);
  }

  auto second = digest_tree(t / "proj", &cache, later());
  REQUIRE(second.ok());
  CHECK(second->hashed_bytes == 0);
  CHECK(second->digest == first->digest);
  CHECK(cache.hits == 4);

  // One file edited: only it is read again.
  t.write("proj/src/app/__init__.py", "VERSION = '1.1'\n");
  auto third = digest_tree(t / "proj", &cache, later());
  REQUIRE(third.ok());
  CHECK(third->hashed_bytes == 16);
  CHECK(third->digest != first->digest);

  // A cache answer that is not a sha256 is not believed.
  for (auto& [key, sha] : cache.entries) sha = "garbage";
  auto fourth = digest_tree(t / "proj", &cache, later());
  REQUIRE(fourth.ok());
  CHECK(fourth->digest == third->digest);
  CHECK(fourth->hashed_bytes == fourth->bytes);
}

TEST_CASE("digest_tree does not record racy files in the stat cache", "[source][tree]") {
  TempDir t("src-tree");
  make_project(t);
  MapCache cache;
  // Files written just now (ctime within the racy window of the real clock).
  auto d = digest_tree(t / "proj", &cache);
  REQUIRE(d.ok());
  CHECK(d->hashed_bytes == d->bytes);
  CHECK(cache.entries.empty());
  // An mtime in the future (a clock skew, an archive's dates) is racy as well.
  DigestOptions o = later();
  set_mtime(t / "proj/pyproject.toml", o.now_ns / 1'000'000'000 + 3600);
  REQUIRE(digest_tree(t / "proj", &cache, o).ok());
  CHECK(cache.entries.size() == 3);
  // Once the window has passed, a later walk records them.
  o.now_ns += 7200LL * 1'000'000'000;
  REQUIRE(digest_tree(t / "proj", &cache, o).ok());
  CHECK(cache.entries.size() == 4);
}

TEST_CASE("digest_tree: newest_mtime, counts and the stat cache key", "[source][tree]") {
  TempDir t("src-tree");
  t.write("p/a", "1");
  t.write("p/b/c", "22");
  set_mtime(t / "p/a", 1'500'000'000);
  set_mtime(t / "p/b/c", 1'600'000'000);
  REQUIRE(fs::symlink("a", t / "p/l").ok());
  set_mtime(t / "p/l", 1'400'000'000);
  set_mtime(t / "p", 1'700'000'000);  // directories do not count
  auto d = digest_tree(t / "p", nullptr, later());
  REQUIRE(d.ok());
  CHECK(d->newest_mtime == 1'600'000'000);
  CHECK(d->files == 3);
  CHECK(d->bytes == 3);
  TempDir empty("src-tree");
  auto e = digest_tree(empty.path, nullptr);
  REQUIRE(e.ok());
  CHECK(e->newest_mtime == 0);
  CHECK(e->files == 0);

  FileStamp s{12, 3, 4, 5, 6};
  CHECK(stat_cache_key("/a b/c", s) == "1 12 3 4 5 6 /a b/c");
}

TEST_CASE("digest_tree refuses special files and enforces its limits", "[source][tree]") {
  TempDir t("src-tree");
  make_project(t);
  REQUIRE(::mkfifo((t / "proj/src/fifo").c_str(), 0644) == 0);
  auto msg = error_of(digest_tree(t / "proj", nullptr));
  CHECK(msg.find("proj/src/fifo is a FIFO") != std::string::npos);
  REQUIRE(::unlink((t / "proj/src/fifo").c_str()) == 0);

  DigestOptions o = later();
  o.limits.max_files = 5;
  CHECK(error_of(digest_tree(t / "proj", nullptr, o)).find("more than 5 entries") !=
        std::string::npos);
  o = later();
  o.limits.max_bytes = 20;
  CHECK(error_of(digest_tree(t / "proj", nullptr, o)).find("more than 20 bytes") !=
        std::string::npos);
  o = later();
  o.limits.max_depth = 2;  // src/app is at depth 2: fine
  CHECK(digest_tree(t / "proj", nullptr, o).ok());
  o.limits.max_depth = 1;
  CHECK(error_of(digest_tree(t / "proj", nullptr, o)).find("deeper than 1 directories") !=
        std::string::npos);
  // Excluded names count for nothing.
  o = later();
  o.limits.max_files = 8;  // 4 files, 1 symlink, 3 directories
  CHECK(digest_tree(t / "proj", nullptr, o).ok());

  CHECK(error_of(digest_tree(t / "missing", nullptr)).find("cannot open source tree") !=
        std::string::npos);
}

// --- copy_tree --------------------------------------------------------------------------------

TEST_CASE("copy_tree: the copy has the same digest and is private", "[source][tree]") {
  TempDir t("src-copy");
  make_project(t);
  REQUIRE(fs::set_mode(t / "proj/src/app/__init__.py", 0444).ok());
  set_mtime(t / "proj/src/app/main.py", 1'234'567'890);
  REQUIRE(copy_tree(t / "proj", t / "out/build/copy").ok());
  std::string copy = t / "out/build/copy";
  CHECK(digest_of(copy) == digest_of(t / "proj"));

  CHECK_FALSE(fs::exists(copy + "/.git"));
  CHECK_FALSE(fs::exists(copy + "/.bzr"));
  CHECK_FALSE(fs::exists(copy + "/src/app/__pycache__"));
  CHECK(fs::stat_path(copy + "/main-link.py").is_symlink);
  CHECK((fs::stat_path(copy + "/bin/run.sh").mode & 0777) == 0755);
  CHECK((fs::stat_path(copy + "/src/app/__init__.py").mode & 0777) == 0644);  // + owner write
  CHECK(fs::stat_path(copy + "/src/app/main.py").mtime_ns == 1'234'567'890LL * 1'000'000'000);
  CHECK(fs::stat_path(copy + "/src/app/main.py").inode !=
        fs::stat_path(t / "proj/src/app/main.py").inode);

  // The build writes in its copy: the original stays as it was.
  {
    int fd = ::open((copy + "/src/app/__init__.py").c_str(), O_WRONLY | O_TRUNC);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "changed\n", 8) == 8);
    ::close(fd);
  }
  t.write("out/build/copy/build/lib/app.py", "x");
  CHECK(*fs::read_file(t / "proj/src/app/__init__.py") == "VERSION = '1.0'\n");
  CHECK_FALSE(fs::exists(t / "proj/build"));

  // The destination must be new, and outside the tree.
  CHECK(error_of(copy_tree(t / "proj", copy)).find("already exists") != std::string::npos);
  CHECK(error_of(copy_tree(t / "proj", t / "proj/sub/copy")).find("inside the tree") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(t / "proj/sub"));
  // ... also when a symlink hides it.
  REQUIRE(fs::symlink(t / "proj/src", t / "src-link").ok());
  CHECK(error_of(copy_tree(t / "proj", t / "src-link/copy")).find("inside the tree") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(t / "proj/src/copy"));
}

TEST_CASE("copy_tree refuses symlinks that lead out of the tree", "[source][tree]") {
  TempDir t("src-copy");
  make_project(t);
  t.write("secret", "x");
  SECTION("relative, climbing out") {
    REQUIRE(fs::symlink("../../secret", t / "proj/src/out").ok());
    auto msg = error_of(copy_tree(t / "proj", t / "copy"));
    CHECK(msg.find("symlink " + t.path + "/proj/src/out -> ../../secret") != std::string::npos);
    CHECK(msg.find("leads out of the tree") != std::string::npos);
  }
  SECTION("absolute") {
    REQUIRE(fs::symlink(t / "proj/pyproject.toml", t / "proj/abs").ok());
    CHECK(error_of(copy_tree(t / "proj", t / "copy")).find("absolute") != std::string::npos);
  }
  SECTION("through another link") {
    // up -> .. stays inside; s -> up/.. is "." lexically, but the kernel resolves up first.
    REQUIRE(fs::create_dirs(t / "proj/a").ok());
    REQUIRE(fs::symlink("..", t / "proj/a/up").ok());
    REQUIRE(fs::symlink("a/up/..", t / "proj/s").ok());
    CHECK(error_of(copy_tree(t / "proj", t / "copy")).find("proj/s -> a/up/..") !=
          std::string::npos);
  }
  CHECK_FALSE(fs::exists(t / "copy"));  // nothing half-made is left
}

TEST_CASE("symlink_escape resolves through the tree's own links", "[source][tree]") {
  detail::LinkMap links = {{"a/up", ".."}, {"loop", "loop"}, {"d", "sub/dir"}};
  CHECK_FALSE(detail::symlink_escape("a/up", "..", links));
  CHECK(detail::symlink_escape("s", "a/up/..", links));
  CHECK_FALSE(detail::symlink_escape("s", "a/up/a", links));
  CHECK_FALSE(detail::symlink_escape("x/y/z", "../../d/..", links));
  CHECK(detail::symlink_escape("x/y/z", "../../../d", links));
  CHECK(detail::symlink_escape("loop", "loop", links)->find("more than 40") != std::string::npos);
  CHECK(detail::symlink_escape("x", "", links));
  CHECK(detail::symlink_escape("x", "/etc", links));
  CHECK_FALSE(detail::symlink_escape("x", "d/../../a", links));  // d -> sub/dir: sub/dir/../.. = .
  CHECK(detail::symlink_escape("x", "d/../../..", links));
}
