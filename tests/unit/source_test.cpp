// Unit tests of src/source: tree digests and copies, archive unpacking, PKG-INFO, patches and
// recipes.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>

#include "source/links.hpp"
#include "source/patch.hpp"
#include "source/recipe.hpp"
#include "source/sdist.hpp"
#include "source/tree.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"
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

TEST_CASE("MemoryStatCache: one value per tree, keeping what the last walk used",
          "[source][tree]") {
  TempDir t("src-tree");
  make_project(t);
  t.write("proj/odd\nname: 12", "a file name with a newline\n");
  MemoryStatCache first;
  auto d1 = digest_tree(t / "proj", &first, later());
  REQUIRE(d1.ok());
  CHECK(first.changed());
  CHECK(first.size() == 5);
  std::string saved = first.serialize();
  CHECK(starts_with(saved, "lavabuild.statcache.v1\n"));

  auto second = MemoryStatCache::parse(saved);
  REQUIRE(second.ok());
  auto d2 = digest_tree(t / "proj", &*second, later());
  REQUIRE(d2.ok());
  CHECK(d2->hashed_bytes == 0);
  CHECK(d2->digest == d1->digest);
  CHECK_FALSE(second->changed());  // nothing to write back
  CHECK(second->serialize() == saved);

  // An edited and a removed file: their old entries are dropped, the new one kept.
  t.write("proj/src/app/main.py", "edited\n");
  REQUIRE(fs::remove_all(t / "proj/pyproject.toml").ok());
  auto third = MemoryStatCache::parse(saved);
  REQUIRE(third.ok());
  auto d3 = digest_tree(t / "proj", &*third, later());
  REQUIRE(d3.ok());
  CHECK(d3->hashed_bytes == 7);
  CHECK(third->changed());
  auto fourth = MemoryStatCache::parse(third->serialize());
  REQUIRE(fourth.ok());
  CHECK(fourth->size() == 4);
  CHECK(digest_tree(t / "proj", &*fourth, later())->hashed_bytes == 0);

  // Unused entries alone make it worth writing back (smaller).
  auto fifth = MemoryStatCache::parse(saved);
  REQUIRE(fifth.ok());
  REQUIRE(digest_tree(t / "proj", &*fifth, later()).ok());
  CHECK(fifth->changed());

  CHECK(MemoryStatCache::parse("")->size() == 0);
  CHECK_FALSE(MemoryStatCache::parse("lavabuild.statcache.v2\n").ok());
  CHECK_FALSE(MemoryStatCache::parse(saved.substr(0, saved.size() - 1)).ok());
  CHECK_FALSE(MemoryStatCache::parse(replace_all(saved, " 1", " x")).ok());
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

// --- unpack_archive ---------------------------------------------------------------------------

namespace {

/// One member of an archive written by the test (libarchive's writer: it keeps hostile names).
struct Member {
  std::string path;
  std::string data;
  enum Kind { file, dir, symlink, hardlink, fifo, device } kind = file;
  uint32_t mode = 0644;
  int64_t mtime = 1'600'000'000;
};

enum class Format { tar_gz, tar, tar_bz2, tar_xz, zip };

la_ssize_t append_cb(archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return la_ssize_t(n);
}

std::string make_archive(const std::vector<Member>& members, Format format = Format::tar_gz) {
  std::string out;
  archive* a = archive_write_new();
  if (format == Format::zip) {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    if (format == Format::tar_gz) archive_write_add_filter_gzip(a);
    if (format == Format::tar_bz2) archive_write_add_filter_bzip2(a);
    if (format == Format::tar_xz) archive_write_add_filter_xz(a);
  }
  archive_write_set_bytes_in_last_block(a, 1);
  REQUIRE(archive_write_open(a, &out, nullptr, append_cb, nullptr) == ARCHIVE_OK);
  for (const auto& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.path.c_str());
    archive_entry_set_mtime(e, m.mtime, 0);
    archive_entry_set_perm(e, m.mode);
    switch (m.kind) {
      case Member::dir:
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
      case Member::symlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, m.data.c_str());
        break;
      case Member::hardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, m.data.c_str());
        break;
      case Member::fifo:
        archive_entry_set_filetype(e, AE_IFIFO);
        break;
      case Member::device:
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_rdev(e, ::makedev(1, 3));
        break;
      case Member::file:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, la_int64_t(m.data.size()));
    }
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    if (m.kind == Member::file && !m.data.empty())
      REQUIRE(archive_write_data(a, m.data.data(), m.data.size()) == la_ssize_t(m.data.size()));
    archive_entry_free(e);
  }
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

const char* kPkgInfo =
    "Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: attrs>=22\n\nA demo.\n";

std::vector<Member> demo_sdist(const std::string& top = "demo-1.0/") {
  return {
      {top, "", Member::dir, 0755},
      {top + "PKG-INFO", kPkgInfo},
      {top + "pyproject.toml", "[build-system]\n"},
      {top + "src/demo/__init__.py", "print('demo')\n", Member::file, 0664},
      {top + "bin/tool", "#!/bin/sh\n", Member::file, 0700},
      {top + "docs/readme-link", "../pyproject.toml", Member::symlink, 0777},
      {top + "src/demo/copy.py", top + "src/demo/__init__.py", Member::hardlink},
  };
}

/// The unpack error for `members`, which must be refused; nothing may be left at `dest`.
std::string refused(const std::vector<Member>& members, const ArchiveLimits& limits = {},
                    Format format = Format::tar_gz) {
  TempDir t("src-unpack");
  std::string bytes = make_archive(members, format);
  auto r = unpack_archive_bytes(bytes, "evil.tar.gz", t / "dest", limits);
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(fs::exists(t / "dest"));
  CHECK(fs::list_dir(t.path)->empty());
  CHECK(starts_with(r.error().message, "evil.tar.gz: "));
  return r.error().to_string();
}

}  // namespace

TEST_CASE("unpack_archive: an sdist made as a .tar.gz", "[source][sdist]") {
  TempDir t("src-unpack");
  std::string bytes = make_archive(demo_sdist());
  auto top = unpack_archive_bytes(bytes, "demo-1.0.tar.gz", t / "u");
  REQUIRE(top.ok());
  CHECK(*top == t / "u/demo-1.0");
  CHECK(*fs::read_file(*top + "/src/demo/__init__.py") == "print('demo')\n");
  CHECK(*fs::read_file(*top + "/src/demo/copy.py") == "print('demo')\n");
  CHECK((fs::stat_path(*top + "/src/demo/__init__.py").mode & 0777) == 0644);
  CHECK((fs::stat_path(*top + "/bin/tool").mode & 0777) == 0755);
  CHECK(fs::stat_path(*top + "/docs/readme-link").is_symlink);
  CHECK(*fs::read_file(*top + "/docs/readme-link") == "[build-system]\n");
  CHECK(fs::stat_path(*top + "/pyproject.toml").mtime_ns == 1'600'000'000LL * 1'000'000'000);
  // The unpacked tree is a source tree like any other.
  auto d = digest_tree(*top, nullptr);
  REQUIRE(d.ok());
  CHECK(d->files == 6);
  CHECK(d->newest_mtime == 1'600'000'000);

  // From a file, the same.
  std::string file = t.write("demo-1.0.tar.gz", bytes);
  auto again = unpack_archive(file, t / "v");
  REQUIRE(again.ok());
  CHECK(*again == t / "v/demo-1.0");
  CHECK(digest_tree(*again, nullptr)->digest == d->digest);

  // dest must be new.
  CHECK(error_of(unpack_archive(file, t / "v")).find("already exists") != std::string::npos);
  CHECK(fs::exists(t / "v/demo-1.0/PKG-INFO"));  // and is left alone
}

TEST_CASE("unpack_archive: every format, and the top directory rule", "[source][sdist]") {
  TempDir t("src-unpack");
  int n = 0;
  for (Format f : {Format::tar, Format::tar_gz, Format::tar_bz2, Format::tar_xz, Format::zip}) {
    std::string dest = t / ("f" + std::to_string(n++));
    auto top = unpack_archive_bytes(make_archive(demo_sdist(), f), "demo-1.0", dest);
    REQUIRE(top.ok());
    CHECK(*top == dest + "/demo-1.0");
    CHECK(*fs::read_file(*top + "/PKG-INFO") == kPkgInfo);
    CHECK(fs::stat_path(*top + "/docs/readme-link").is_symlink);
  }
  // "./name-version/..." as `tar czf x.tgz ./dir` writes it.
  auto dotted = unpack_archive_bytes(make_archive(demo_sdist("./demo-1.0/")), "x", t / "dot");
  REQUIRE(dotted.ok());
  CHECK(*dotted == t / "dot/demo-1.0");
  // No directory entry for the top: still one top directory.
  auto implied = unpack_archive_bytes(
      make_archive({{"demo-2.0/setup.py", "x"}, {"demo-2.0/a/b.py", "y"}}, Format::zip), "x",
      t / "implied");
  REQUIRE(implied.ok());
  CHECK(*implied == t / "implied/demo-2.0");
  // Two top-level entries, or a file at the top: the tree is dest itself.
  auto flat = unpack_archive_bytes(make_archive({{"setup.py", "x"}, {"pkg/__init__.py", ""}}), "x",
                                   t / "flat");
  REQUIRE(flat.ok());
  CHECK(*flat == t / "flat");
  auto one_file = unpack_archive_bytes(make_archive({{"setup.py", "x"}}), "x", t / "one");
  REQUIRE(one_file.ok());
  CHECK(*one_file == t / "one");
  auto two = unpack_archive_bytes(make_archive({{"a-1/x", "x"}, {"b-1/y", "y"}}), "x", t / "two");
  REQUIRE(two.ok());
  CHECK(*two == t / "two");
  // An empty tar.
  auto empty = unpack_archive_bytes(make_archive({}, Format::tar), "x", t / "empty");
  REQUIRE(empty.ok());
  CHECK(*empty == t / "empty");
}

TEST_CASE("unpack_archive: a tar.gz and a zip made by Python", "[source][sdist]") {
  if (!lb::test::have_program("/usr/bin/python3"))
    LB_MISSING_PREREQUISITE("/usr/bin/python3 is not installed");
  TempDir t("src-unpack");
  const char* script = R"(
import io, sys, tarfile, zipfile
out = sys.argv[1]
files = {"pkg-3.0/PKG-INFO": b"Metadata-Version: 2.1\nName: pkg\nVersion: 3.0\n",
         "pkg-3.0/setup.py": b"from setuptools import setup\nsetup()\n",
         "pkg-3.0/pkg/__init__.py": b"",
         "pkg-3.0/tests/donn\u00e9es/\u00fcber.txt": b"UTF-8 names"}
with tarfile.open(out + "/pkg-3.0.tar.gz", "w:gz", format=tarfile.PAX_FORMAT) as tar:
    for name, data in files.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 1700000000
        tar.addfile(info, io.BytesIO(data))
with zipfile.ZipFile(out + "/pkg-3.0.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for name, data in files.items():
        z.writestr(name, data)
)";
  auto py = run_process({"/usr/bin/python3", "-c", script, t.path});
  REQUIRE(py.ok());
  REQUIRE(py->exit_code == 0);
  for (const char* name : {"pkg-3.0.tar.gz", "pkg-3.0.zip"}) {
    auto top = unpack_archive(t / name, t / (std::string(name) + ".d"));
    REQUIRE(top.ok());
    CHECK(fs::basename(*top) == "pkg-3.0");
    auto info = read_pkg_info(*top);
    REQUIRE(info.ok());
    REQUIRE(info->has_value());
    CHECK((*info)->core.version == "3.0");
    CHECK(*fs::read_file(*top + "/tests/donn\xc3\xa9"
                                "es/\xc3\xbc"
                                "ber.txt") == "UTF-8 names");
  }
}

TEST_CASE("unpack_archive refuses hostile archives", "[source][sdist]") {
  SECTION("a path with ..") {
    auto msg = refused({{"demo-1.0/", "", Member::dir}, {"demo-1.0/../../x", "pwned"}});
    CHECK(msg.find("member 'demo-1.0/../../x': \"..\" in the path") != std::string::npos);
    CHECK(msg.find("hostile") != std::string::npos);
  }
  SECTION("an absolute path") {
    CHECK(refused({{"/tmp/lb-abs-x", "pwned"}}).find("absolute path") != std::string::npos);
  }
  SECTION("a control character in a name") {
    CHECK(refused({{"demo/a\x1b[2Jb", "x"}}).find("control character") != std::string::npos);
  }
  SECTION("a symlink out of the tree") {
    auto msg = refused({{"demo/etc", "../../../etc", Member::symlink}});
    CHECK(msg.find("member 'demo/etc': is a symlink to '../../../etc': it leads out of the tree") !=
          std::string::npos);
  }
  SECTION("an absolute symlink") {
    CHECK(refused({{"demo/etc", "/etc", Member::symlink}}).find("absolute") != std::string::npos);
  }
  SECTION("a symlink, then a file through it") {
    auto msg = refused({{"demo/sub/", "", Member::dir},
                        {"demo/link", "sub", Member::symlink},
                        {"demo/link/file", "x"}});
    CHECK(msg.find("member 'demo/link/file': its path goes through the symlink member "
                   "'demo/link'") != std::string::npos);
  }
  SECTION("a file, then a symlink over its directory") {
    auto msg = refused({{"demo/d/file", "x"}, {"demo/d", "..", Member::symlink}});
    CHECK(msg.find("member 'demo/d': is a symlink, and other members lie below it") !=
          std::string::npos);
  }
  SECTION("a symlink, then a symlink over its directory") {
    auto msg = refused({{"demo/d/l", "x", Member::symlink}, {"demo/d", "/etc", Member::symlink}});
    CHECK(msg.find("member 'demo/d'") != std::string::npos);
  }
  SECTION("symlinks that climb out together") {
    auto msg = refused({{"demo/a/up", "..", Member::symlink},
                        {"demo/up2", "a/up/..", Member::symlink},
                        {"demo/esc", "up2/..", Member::symlink}});
    CHECK(msg.find("leads out of the tree") != std::string::npos);
  }
  SECTION("a hard link outside") {
    auto msg = refused({{"demo/h", "../../etc/passwd", Member::hardlink}});
    CHECK(msg.find("member 'demo/h': hard link to '../../etc/passwd'") != std::string::npos);
    msg = refused({{"demo/h", "/etc/passwd", Member::hardlink}});
    CHECK(msg.find("absolute path") != std::string::npos);
  }
  SECTION("a hard link to a member that is not an earlier file") {
    auto msg = refused({{"demo/h", "demo/later", Member::hardlink}, {"demo/later", "x"}});
    CHECK(msg.find("not a regular file met earlier") != std::string::npos);
    msg = refused({{"demo/d/", "", Member::dir}, {"demo/h", "demo/d", Member::hardlink}});
    CHECK(msg.find("not a regular file met earlier") != std::string::npos);
  }
  SECTION("a device and a FIFO") {
    CHECK(refused({{"demo/null", "", Member::device}}).find("is a device") != std::string::npos);
    CHECK(refused({{"demo/fifo", "", Member::fifo}}).find("is a FIFO") != std::string::npos);
  }
  SECTION("a file and a directory of the same name") {
    CHECK(refused({{"demo/x", "1"}, {"demo/x/y", "2"}}).find("is both a file and a directory") !=
          std::string::npos);
    CHECK(refused({{"demo/x/y", "1"}, {"demo/x", "2"}}).find("is both a directory and a file") !=
          std::string::npos);
  }
  SECTION("too many members") {
    ArchiveLimits limits;
    limits.max_members = 10;
    std::vector<Member> many;
    for (int i = 0; i < 11; ++i) many.push_back({"demo/f" + std::to_string(i), "x"});
    CHECK(refused(many, limits).find("more than 10 members") != std::string::npos);
    many.pop_back();
    TempDir t("src-unpack");
    CHECK(unpack_archive_bytes(make_archive(many), "ok.tar.gz", t / "d", limits).ok());
  }
  SECTION("too deep") {
    ArchiveLimits limits;
    limits.max_depth = 3;
    CHECK(refused({{"a/b/c/d", "x"}}, limits).find("deeper than 3 directories") !=
          std::string::npos);
  }
  SECTION("a member too large, the archive too large") {
    ArchiveLimits limits;
    limits.max_member_size = 1000;
    auto msg = refused({{"demo/big", std::string(2000, 'x')}}, limits);
    CHECK(msg.find("exceeds the 1000 bytes limit per member") != std::string::npos);
    CHECK(msg.find("LAVABUILD_MAX_MEMBER_SIZE") != std::string::npos);
    limits = {};
    limits.max_total_size = 3000;
    msg = refused({{"demo/a", std::string(2000, 'x')}, {"demo/b", std::string(2000, 'y')}}, limits);
    CHECK(msg.find("limit per archive") != std::string::npos);
  }
  SECTION("a compression bomb") {
    ArchiveLimits limits;
    limits.ratio_floor = 1 << 20;
    std::string zeros(size_t(8) << 20, '\0');
    for (Format f : {Format::tar_gz, Format::zip}) {
      auto msg = refused({{"demo/zeros", zeros}}, limits, f);
      CHECK(msg.find("100:1 compression-ratio limit") != std::string::npos);
      CHECK(msg.find("LAVABUILD_MAX_COMPRESSION_RATIO") != std::string::npos);
    }
    // Under the floor, compressible files are fine.
    TempDir t("src-unpack");
    CHECK(unpack_archive_bytes(make_archive({{"demo/zeros", std::string(100000, '\0')}}), "x",
                               t / "d", limits)
              .ok());
  }
  SECTION("garbage") {
    TempDir t("src-unpack");
    auto r = unpack_archive_bytes("this is not an archive at all", "junk.tar.gz", t / "d");
    CHECK(error_of(r).find("junk.tar.gz: not a readable tar or zip archive") != std::string::npos);
    CHECK_FALSE(fs::exists(t / "d"));
    std::string gz = make_archive(demo_sdist());
    r = unpack_archive_bytes(std::string_view(gz).substr(0, gz.size() / 2), "cut.tar.gz", t / "d");
    CHECK_FALSE(r.ok());
    CHECK_FALSE(fs::exists(t / "d"));
  }
}

TEST_CASE("unpack_archive: a repeated file replaces the earlier one (tar's rule)",
          "[source][sdist]") {
  TempDir t("src-unpack");
  auto top =
      unpack_archive_bytes(make_archive({{"demo/a", "first"}, {"demo/a", "second"}}), "x", t / "d");
  REQUIRE(top.ok());
  CHECK(*fs::read_file(*top + "/a") == "second");
}

// --- PKG-INFO ---------------------------------------------------------------------------------

TEST_CASE("parse_pkg_info: PEP 643 static requirements", "[source][sdist]") {
  SECTION("2.1: never static") {
    auto m = parse_pkg_info("Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: b\n", "x");
    REQUIRE(m.ok());
    CHECK_FALSE(m->static_requires());
    CHECK(m->core.requires_dist == std::vector<std::string>{"b"});
  }
  SECTION("2.2 with Requires-Dist dynamic") {
    auto m = parse_pkg_info(
        "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: Requires-Dist\nDynamic: "
        "Summary\n",
        "x");
    REQUIRE(m.ok());
    CHECK(m->dynamic == std::vector<std::string>{"requires-dist", "summary"});
    CHECK_FALSE(m->static_requires());
  }
  SECTION("2.2 without: static, with or without requirements") {
    auto m = parse_pkg_info(
        "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: Summary\nRequires-Dist: b>=1\n"
        "Requires-Dist: c; extra == 'x'\nProvides-Extra: x\n\nlong description\nDynamic: "
        "Requires-Dist\n",
        "x");
    REQUIRE(m.ok());
    CHECK(m->static_requires());
    CHECK(m->core.requires_dist.size() == 2);
    auto none = parse_pkg_info("Metadata-Version: 2.4\nName: a\nVersion: 1\n", "x");
    REQUIRE(none.ok());
    CHECK(none->static_requires());
    CHECK(none->core.requires_dist.empty());
    CHECK(parse_pkg_info("Metadata-Version: 2.10\nName: a\nVersion: 1\n", "x")->static_requires());
    CHECK(parse_pkg_info("Metadata-Version: 3.0\nName: a\nVersion: 1\n", "x")->static_requires());
    CHECK_FALSE(
        parse_pkg_info("Metadata-Version: 1.2\nName: a\nVersion: 1\n", "x")->static_requires());
    CHECK_FALSE(
        parse_pkg_info("Metadata-Version: two\nName: a\nVersion: 1\n", "x")->static_requires());
    CHECK_FALSE(parse_pkg_info("Name: a\nVersion: 1\n", "x")->static_requires());
  }
  SECTION("garbage") {
    auto m = parse_pkg_info("\x01\x02 not metadata\n", "demo-1.0.tar.gz: PKG-INFO");
    CHECK(error_of(m).find("demo-1.0.tar.gz: PKG-INFO: core metadata has no Name") !=
          std::string::npos);
  }
}

TEST_CASE("read_pkg_info reads the top of an unpacked sdist", "[source][sdist]") {
  TempDir t("src-pkginfo");
  auto top = unpack_archive_bytes(make_archive(demo_sdist()), "demo-1.0.tar.gz", t / "u");
  REQUIRE(top.ok());
  auto info = read_pkg_info(*top);
  REQUIRE(info.ok());
  REQUIRE(info->has_value());
  CHECK((*info)->core.name == "demo");
  CHECK((*info)->static_requires());
  CHECK((*info)->core.requires_dist == std::vector<std::string>{"attrs>=22"});

  auto none = read_pkg_info(t.path);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  REQUIRE(fs::create_dirs(t / "odd/PKG-INFO").ok());
  CHECK(error_of(read_pkg_info(t / "odd")).find("not a regular file") != std::string::npos);
  t.write("bad/PKG-INFO", "Metadata-Version: 2.2\n");
  CHECK(error_of(read_pkg_info(t / "bad")).find(t / "bad/PKG-INFO") != std::string::npos);
}

// --- apply_patch ------------------------------------------------------------------------------

namespace {

std::string lines(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) out += "line " + std::to_string(i) + "\n";
  return out;
}

/// A tree with src/x.py (20 lines) and the patch fix.patch changing lines 3 and 14 and
/// adding new/file.txt.
void make_patch_case(const TempDir& t) {
  t.write("tree/src/x.py", lines(1, 20));
  t.write("fix.patch",
          "Changes two lines and adds a file.\n"
          "\n"
          "diff -ru a/src/x.py b/src/x.py\n"
          "--- a/src/x.py\t2024-01-01 00:00:00.000000000 +0000\n"
          "+++ b/src/x.py\t2024-01-01 00:00:00.000000000 +0000\n"
          "@@ -1,5 +1,5 @@\n"
          " line 1\n"
          " line 2\n"
          "-line 3\n"
          "+line three\n"
          " line 4\n"
          " line 5\n"
          "@@ -12,5 +12,5 @@\n"
          " line 12\n"
          " line 13\n"
          "-line 14\n"
          "+line fourteen\n"
          " line 15\n"
          " line 16\n"
          "diff -ruN a/new/file.txt b/new/file.txt\n"
          "--- a/new/file.txt\t1970-01-01 00:00:00.000000000 +0000\n"
          "+++ b/new/file.txt\t2024-01-01 00:00:00.000000000 +0000\n"
          "@@ -0,0 +1 @@\n"
          "+created\n");
}

bool have_patch() {
  return !find_program("patch").empty();
}

}  // namespace

TEST_CASE("apply_patch applies a unified diff with -p1", "[source][patch]") {
  if (!have_patch()) LB_MISSING_PREREQUISITE("GNU patch is not installed (apt-get install patch)");
  TempDir t("src-patch");
  make_patch_case(t);
  REQUIRE(apply_patch(t / "tree", t / "fix.patch", "recipe recipes/x.toml, patch fix.patch").ok());
  std::string want = lines(1, 20);
  want = replace_all(want, "line 3\n", "line three\n");
  want = replace_all(want, "line 14\n", "line fourteen\n");
  CHECK(*fs::read_file(t / "tree/src/x.py") == want);
  CHECK(*fs::read_file(t / "tree/new/file.txt") == "created\n");
  CHECK(fs::list_dir(t / "tree/src")->size() == 1);  // no .orig or .rej files

  // Applied twice: refused, and the tree is unchanged.
  auto msg = error_of(apply_patch(t / "tree", t / "fix.patch", "recipe r.toml, patch fix.patch"));
  CHECK(msg.find("recipe r.toml, patch fix.patch: does not apply: src/x.py: the patch is reversed "
                 "or already applied") != std::string::npos);
  CHECK(*fs::read_file(t / "tree/src/x.py") == want);

  // Context that moved or changed upstream: offsets apply quietly, fuzz is applied and said.
  TempDir u("src-patch");
  make_patch_case(u);
  u.write("tree/src/x.py", "added upstream\n" + replace_all(lines(1, 20), "line 13\n", "13\n"));
  std::vector<std::string> warnings;
  REQUIRE(apply_patch(u / "tree", u / "fix.patch", "p", &warnings).ok());
  CHECK(warnings == std::vector<std::string>{"src/x.py: Hunk #2 succeeded at 13 with fuzz 2 "
                                             "(offset 1 line)."});
}

TEST_CASE("apply_patch names the hunk that failed, and changes nothing", "[source][patch]") {
  if (!have_patch()) LB_MISSING_PREREQUISITE("GNU patch is not installed (apt-get install patch)");
  TempDir t("src-patch");
  make_patch_case(t);
  std::string drifted = replace_all(lines(1, 20), "line 14\n", "line 14 changed upstream\n");
  t.write("tree/src/x.py", drifted);
  auto st = apply_patch(t / "tree", t / "fix.patch", "recipe recipes/app.toml, patch fix.patch");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message ==
        "recipe recipes/app.toml, patch fix.patch: does not apply: src/x.py: Hunk #2 FAILED at "
        "12.");
  CHECK(st.error().hint.find("refresh the patch") != std::string::npos);
  // The dry run found it: the first hunk, which applies, was not written either.
  CHECK(*fs::read_file(t / "tree/src/x.py") == drifted);
  CHECK_FALSE(fs::exists(t / "tree/new"));
  CHECK(fs::list_dir(t / "tree/src")->size() == 1);

  // A file the patch needs is missing.
  REQUIRE(fs::remove_all(t / "tree/src").ok());
  auto missing = error_of(apply_patch(t / "tree", t / "fix.patch", "patch fix.patch"));
  CHECK(missing.find("can't find the file to patch, b/src/x.py (patch line 6)") !=
        std::string::npos);

  // Not a patch at all.
  t.write("junk.patch", "@@ nothing here\n");
  CHECK(error_of(apply_patch(t / "tree", t / "junk.patch", "junk")).find("junk: does not apply") !=
        std::string::npos);
  CHECK(error_of(apply_patch(t / "tree", t / "none.patch", "none"))
            .find("none: " + t / "none.patch" + " does not exist") != std::string::npos);
}

TEST_CASE("apply_patch refuses paths outside the tree before running patch", "[source][patch]") {
  TempDir t("src-patch");
  t.write("tree/a.txt", "a\n");
  t.write("evil.patch",
          "--- a/../../outside.txt\n+++ b/../../outside.txt\n@@ -0,0 +1 @@\n+pwned\n");
  auto st = apply_patch(t / "tree", t / "evil.patch", "recipe r.toml, patch evil.patch");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message ==
        "recipe r.toml, patch evil.patch: refused, line 1: 'a/../../outside.txt' is a path with "
        "a \"..\" component, outside the tree");
  CHECK_FALSE(fs::exists(t / "outside.txt"));

  CHECK(check_patch_paths("--- /etc/passwd\n+++ /etc/passwd\n").error().message ==
        "line 1: '/etc/passwd' is an absolute path, outside the tree");
  CHECK(check_patch_paths("--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+x\n").ok());
  CHECK_FALSE(check_patch_paths("diff --git a/x b/../x\n").ok());
  CHECK_FALSE(check_patch_paths("rename from ../x\n").ok());
  CHECK_FALSE(check_patch_paths("rename to a/../../x\n").ok());
  CHECK_FALSE(check_patch_paths("Index: ../x\n").ok());
  CHECK_FALSE(check_patch_paths("*** ../x\t2024-01-01\n").ok());
  CHECK_FALSE(check_patch_paths("+++ \"b/\\056\\056/x\"\n").ok());       // octal escapes
  CHECK_FALSE(check_patch_paths("+++ b/x/.. 2024-01-01 10:00\n").ok());  // a date after a space
  // Inside a hunk, lines are content: removing a line "-- ../x" writes "--- ../x".
  CHECK(check_patch_paths("--- a/f\n+++ b/f\n@@ -1,2 +1,1 @@\n--- ../x\n keep\n").ok());
  CHECK_FALSE(check_patch_paths("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+y\n--- ../x\n").ok());
  // Context-diff ranges are not names.
  CHECK(check_patch_paths("*** a/f\n--- b/f\n***************\n*** 1,2 ****\n--- 1,2 ----\n").ok());
}

// --- recipes ----------------------------------------------------------------------------------

namespace {

const char* kRecipe = R"(# a full recipe
version = ">=1.0,<2"
patches = ["my-app/one.patch", "my-app/two.patch"]
build-requires = ["cython >=3", "wheel"]

[env]
CFLAGS = "-O2 -g0"
MY_APP_NO_EXT = "1"
)";

/// recipes/my-app.toml with two patches beside it.
std::string make_recipe(const TempDir& t, const std::string& text = kRecipe) {
  t.write("recipes/my-app/one.patch", "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+one\n");
  t.write("recipes/my-app/two.patch", "--- a/y\n+++ b/y\n@@ -1 +1 @@\n-2\n+two\n");
  return t.write("recipes/my-app.toml", text);
}

Result<Recipe> parse_file(const std::string& path) {
  return parse_recipe(*fs::read_file(path), path);
}

}  // namespace

TEST_CASE("parse_recipe reads every key", "[source][recipe]") {
  TempDir t("src-recipe");
  std::string file = make_recipe(t);
  auto r = parse_file(file);
  REQUIRE(r.ok());
  CHECK(r->name == "my-app");
  CHECK(r->file == file);
  CHECK(r->version == ">=1.0,<2");
  CHECK(r->patches ==
        std::vector<std::string>{t / "recipes/my-app/one.patch", t / "recipes/my-app/two.patch"});
  CHECK(r->patch_sha256.size() == 2);
  CHECK(r->patch_sha256[0] == sha256_hex(*fs::read_file(r->patches[0])));
  CHECK(r->build_requires == std::vector<std::string>{"cython >=3", "wheel"});
  CHECK(r->env ==
        std::map<std::string, std::string>{{"CFLAGS", "-O2 -g0"}, {"MY_APP_NO_EXT", "1"}});
  CHECK(r->digest.size() == 64);

  auto empty = parse_recipe("# nothing to change\n", t / "recipes/other.toml");
  REQUIRE(empty.ok());
  CHECK(empty->patches.empty());
  CHECK(empty->applies_to("0.1"));
  CHECK(empty->digest.size() == 64);
}

TEST_CASE("parse_recipe: errors name the file and line", "[source][recipe]") {
  TempDir t("src-recipe");
  make_recipe(t);
  std::string file = t / "recipes/my-app.toml";
  auto fails = [&](const std::string& text) {
    auto r = parse_recipe(text, file);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(fails("version = \">=1\"\n\npatch = [\"x\"]\n") == file + ":3: unknown key 'patch'");
  CHECK(fails("patches = \"my-app/one.patch\"\n") ==
        file + ":1: 'patches' must be an array of strings, not a string");
  CHECK(fails("patches = [\"my-app/one.patch\", 3]\n") ==
        file + ":1: 'patches[1]' must be a string, not an integer");
  CHECK(starts_with(fails("\nversion = \">>1\"\n"),
                    file + ":2: 'version' is not a PEP 440 specifier set"));
  CHECK(fails("version = \"\"\n") ==
        file + ":1: 'version' must not be empty (leave the key out instead)");
  CHECK(fails("patches = [\n  \"my-app/one.patch\",\n  \"my-app/missing.patch\",\n]\n") ==
        file + ":3: patch 'my-app/missing.patch' does not exist (looked for " +
            t / "recipes/my-app/missing.patch)");
  CHECK(fails("patches = [\"../outside.patch\"]\n") ==
        file + ":1: patch '../outside.patch' is outside the recipe's folder " + t / "recipes");
  CHECK(fails("patches = [\"/etc/passwd\"]\n") ==
        file + ":1: patch '/etc/passwd' is an absolute path");
  t.write("elsewhere.patch", "x");
  REQUIRE(fs::symlink(t / "elsewhere.patch", t / "recipes/my-app/link.patch").ok());
  CHECK(fails("patches = [\"my-app/link.patch\"]\n").find("leads outside the recipe's folder") !=
        std::string::npos);
  CHECK(fails("patches = [\"my-app\"]\n") == file + ":1: patch 'my-app' is not a regular file");
  CHECK(fails("patches = [\"my-app/one.patch\", \"my-app/../my-app/one.patch\"]\n") ==
        file + ":1: patch 'my-app/../my-app/one.patch' is listed twice");
  CHECK(starts_with(fails("build-requires = [\"ok\", \"not a requirement!\"]\n"),
                    file + ":1: build requirement 'not a requirement!' is not a PEP 508 "
                           "requirement: "));
  CHECK(fails("[env]\nOK = \"1\"\n1BAD = \"2\"\n") ==
        file + ":3: '1BAD' is not an environment variable name");
  CHECK(fails("[env]\nJOBS = 4\n") == file + ":2: env.JOBS must be a string, not an integer");
  CHECK(fails("env = \"CFLAGS=-O2\"\n") == file + ":1: 'env' must be a table, not a string");
  CHECK(starts_with(fails("version = \n"), file + ":1:"));  // TOML syntax: line and column
  auto misnamed = parse_recipe("", t / "recipes/My_App.toml");
  CHECK(error_of(misnamed).find("rename it to my-app.toml") != std::string::npos);
}

TEST_CASE("Recipe::applies_to", "[source][recipe]") {
  Recipe r;
  r.version = ">=1.0,<2";
  CHECK(r.applies_to("1.0"));
  CHECK(r.applies_to("1.9.3"));
  CHECK(r.applies_to("1.5rc1"));  // pre-releases inside the range are included
  CHECK_FALSE(r.applies_to("2.0"));
  CHECK_FALSE(r.applies_to("0.9"));
  CHECK_FALSE(r.applies_to("not a version"));
  r.version = "==1.4.*";
  CHECK(r.applies_to("1.4.2"));
  CHECK_FALSE(r.applies_to("1.5"));
  r.version = "";
  CHECK(r.applies_to("anything"));
}

TEST_CASE("Recipe digest: what changes a build changes it", "[source][recipe]") {
  TempDir t("src-recipe");
  std::string file = make_recipe(t);
  std::string d0 = parse_file(file)->digest;
  CHECK(parse_file(file)->digest == d0);  // deterministic

  // A patch's content.
  t.write("recipes/my-app/two.patch", "--- a/y\n+++ b/y\n@@ -1 +1 @@\n-2\n+TWO\n");
  std::string d1 = parse_file(file)->digest;
  CHECK(d1 != d0);
  // Patch order, build requirements, environment.
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = replace_all(kRecipe, from, to);
    return parse_recipe(text, file)->digest;
  };
  CHECK(with("[\"my-app/one.patch\", \"my-app/two.patch\"]",
             "[\"my-app/two.patch\", \"my-app/one.patch\"]") != d1);
  CHECK(with("\"wheel\"", "\"wheel>=0.40\"") != d1);
  CHECK(with("-O2 -g0", "-O3") != d1);
  // Not: the version range, the spelling of a requirement, a patch's file name.
  CHECK(with(">=1.0,<2", ">=1.0,<3") == d1);
  CHECK(with("cython >=3", "Cython>=3") != d1);  // names are kept as written: a new build
  CHECK(with("cython >=3", "cython>=3") == d1);
  t.write("recipes/my-app/renamed.patch", *fs::read_file(t / "recipes/my-app/two.patch"));
  CHECK(with("my-app/two.patch", "my-app/renamed.patch") == d1);
}

TEST_CASE("load_recipe finds the recipe by the normalised name", "[source][recipe]") {
  TempDir t("src-recipe");
  make_recipe(t);
  for (const char* spelled : {"my-app", "My_App", "my.app", "MY__APP"}) {
    auto r = load_recipe(t / "recipes", spelled);
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->name == "my-app");
  }
  auto none = load_recipe(t / "recipes", "other");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  // A recipe spelled otherwise is said, not ignored.
  t.write("recipes/Other_Project.toml", "");
  CHECK(error_of(load_recipe(t / "recipes", "other-project"))
            .find("rename it to other-project.toml") != std::string::npos);
  CHECK(error_of(load_recipe(t / "missing", "x")).find("does not exist") != std::string::npos);
  CHECK(error_of(load_recipe(t / "recipes", "../my-app")).find("not a valid project name") !=
        std::string::npos);
  // A broken recipe is an error when it is used.
  t.write("recipes/broken.toml", "patches = 1\n");
  CHECK(error_of(load_recipe(t / "recipes", "Broken")).find("broken.toml:1:") != std::string::npos);
  CHECK_FALSE(load_recipes(t / "recipes").ok());
  REQUIRE(fs::remove_all(t / "recipes/broken.toml").ok());
  REQUIRE(fs::remove_all(t / "recipes/Other_Project.toml").ok());
  auto all = load_recipes(t / "recipes");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK(all->front().name == "my-app");
}

TEST_CASE("the example recipe in recipes/ parses and its patch applies", "[source][recipe]") {
  std::string dir = std::string(LAVABUILD_SOURCE_DIR) + "/recipes";
  auto r = load_recipe(dir, "Example_Project");
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  const Recipe& recipe = **r;
  CHECK(recipe.applies_to("1.2.0"));
  CHECK_FALSE(recipe.applies_to("1.3.0"));
  REQUIRE(recipe.patches.size() == 1);
  CHECK(recipe.build_requires == std::vector<std::string>{"wheel"});
  CHECK(recipe.env.at("EXAMPLE_PROJECT_NO_EXTENSIONS") == "1");
  auto all = load_recipes(dir);
  REQUIRE(all.ok());
  CHECK(all->size() == 1);

  if (!have_patch()) LB_MISSING_PREREQUISITE("GNU patch is not installed (apt-get install patch)");
  TempDir t("src-recipe");
  t.write("example-project-1.2.0/src/example_project/greeting.py",
          "\"\"\"The greeting example-project shows on its home page.\"\"\"\n"
          "\n"
          "\n"
          "def greet(name=None):\n"
          "    \"\"\"Say hello to `name`, or to the world when no name is given.\"\"\"\n"
          "    return \"Hello, %s!\" % name\n");
  REQUIRE(apply_patch(t / "example-project-1.2.0", recipe.patches[0],
                      "recipe " + recipe.file + ", patch fix-greeting.patch")
              .ok());
  CHECK(fs::read_file(t / "example-project-1.2.0/src/example_project/greeting.py")
            ->find("(name or \"world\")") != std::string::npos);
}
