#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "lock/pylock.hpp"
#include "util/strings.hpp"

using Catch::Matchers::Contains;
using lb::lock::ArchiveRef;
using lb::lock::DirectoryRef;
using lb::lock::FileRef;
using lb::lock::Lock;
using lb::lock::Package;
using lb::lock::parse_pylock;
using lb::lock::VcsRef;
using lb::lock::write_pylock;

namespace {

const std::string kHash(64, 'a');

Package package(const std::string& name, const std::string& version) {
  Package p;
  p.name = name;
  p.version = version;
  return p;
}

FileRef wheel(const std::string& name, uint64_t size) {
  return FileRef{name, "https://files.example/" + name, "", size, kHash, ""};
}

Lock sample() {
  Lock lock;
  lock.requires_python = ">=3.9";
  lock.environments = {"sys_platform == \"linux\"", "sys_platform == \"darwin\""};
  Package attrs = package("attrs", "25.1.0");
  attrs.requires_python = ">=3.8";
  attrs.index = "https://pypi.org/simple";
  attrs.wheels.push_back(wheel("attrs-25.1.0-py3-none-any.whl", 63152));
  attrs.wheels.back().upload_time = "2025-01-25T11:30:10.164985Z";
  Package cattrs = package("cattrs", "24.1.2");
  cattrs.marker = "python_version >= \"3.8\"";
  cattrs.dependencies = {"exceptiongroup", "attrs"};
  cattrs.wheels.push_back(wheel("cattrs-24.1.2-py3-none-any.whl", 66446));
  cattrs.sdist = FileRef{"cattrs-24.1.2.tar.gz", "", "dist/cattrs-24.1.2.tar.gz", 10, kHash, ""};
  Package numpy = package("numpy", "2.2.3");
  numpy.wheels.push_back(wheel("numpy-2.2.3-cp312-cp312-win_amd64.whl", 3));
  numpy.wheels.push_back(wheel("numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.whl", 2));
  Package old_numpy = package("numpy", "1.26.4");
  old_numpy.wheels.push_back(wheel("numpy-1.26.4-cp312-cp312-win_amd64.whl", 1));
  lock.packages = {numpy, attrs, old_numpy, cattrs};
  return lock;
}

std::string error_of(std::string_view text) {
  auto r = parse_pylock(text, "pylock.toml");
  if (r.ok()) FAIL("expected an error for:\n" << text);
  return r.error().message;
}

const char* kValidPackage = R"(
[[packages]]
name = "a"
version = "1.0"
wheels = [{name = "a-1.0-py3-none-any.whl", url = "https://x/a.whl", size = 1, hashes = {sha256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}]
)";

}  // namespace

TEST_CASE("lock: written form is canonical") {
  std::string text = write_pylock(sample());
  CHECK(
      text.rfind(
          "lock-version = \"1.0\"\n"
          "environments = [\"sys_platform == \\\"darwin\\\"\", \"sys_platform == \\\"linux\\\"\"]\n"
          "requires-python = \">=3.9\"\n"
          "created-by = \"lavabuild\"\n\n[[packages]]\nname = \"attrs\"\n",
          0) == 0);
  CHECK_THAT(text,
             Contains("wheels = [\n    {name = \"attrs-25.1.0-py3-none-any.whl\", upload-time = "
                      "2025-01-25T11:30:10.164985Z, url = \"https://files.example/"
                      "attrs-25.1.0-py3-none-any.whl\", size = 63152, hashes = {sha256 = \"" +
                      kHash + "\"}},\n]\n"));
  CHECK_THAT(
      text,
      Contains("dependencies = [\n    {name = \"attrs\"},\n    {name = \"exceptiongroup\"},\n]\n"));
  CHECK_THAT(
      text,
      Contains("sdist = {name = \"cattrs-24.1.2.tar.gz\", path = \"dist/cattrs-24.1.2.tar.gz\""));
  // numpy 1.26.4 sorts before 2.2.3 (PEP 440 order, not text order)
  CHECK(text.find("version = \"1.26.4\"") < text.find("version = \"2.2.3\""));
  CHECK(text.back() == '\n');
}

TEST_CASE("lock: round trip") {
  std::string text = write_pylock(sample());
  auto parsed = parse_pylock(text, "pylock.toml");
  REQUIRE(parsed.ok());
  CHECK(parsed->packages.size() == 4);
  CHECK(parsed->packages[0].name == "attrs");
  CHECK(parsed->packages[0].wheels[0].upload_time == "2025-01-25T11:30:10.164985Z");
  CHECK(parsed->packages[1].sdist->path == "dist/cattrs-24.1.2.tar.gz");
  CHECK(parsed->packages[1].marker == "python_version >= \"3.8\"");
  CHECK(write_pylock(*parsed) == text);
}

TEST_CASE("lock: shuffled input gives the same bytes") {
  Lock lock = sample();
  std::string expected = write_pylock(lock);
  std::mt19937 rng(42);
  for (int i = 0; i < 20; ++i) {
    std::shuffle(lock.packages.begin(), lock.packages.end(), rng);
    std::shuffle(lock.environments.begin(), lock.environments.end(), rng);
    for (auto& p : lock.packages) {
      std::shuffle(p.wheels.begin(), p.wheels.end(), rng);
      std::shuffle(p.dependencies.begin(), p.dependencies.end(), rng);
    }
    CHECK(write_pylock(lock) == expected);
  }
}

TEST_CASE("lock: strings are escaped") {
  Lock lock;
  Package p = package("a", "1.0");
  p.marker = "extra == \"x\\y\"";
  p.requires_python = ">=3\n\t\x01\"";
  p.wheels.push_back(wheel("a-1.0-py3-none-any.whl", 1));
  lock.packages.push_back(p);
  auto back = parse_pylock(write_pylock(lock), "x.toml");
  REQUIRE(back.ok());
  CHECK(back->packages[0].marker == p.marker);
  CHECK(back->packages[0].requires_python == p.requires_python);
}

TEST_CASE("lock: parses the example of the specification") {
  const char* text = R"(lock-version = '1.0'
environments = ["sys_platform == 'win32'", "sys_platform == 'linux'"]
requires-python = '== 3.12.*'
created-by = 'mousebender'

[[packages]]
name = 'attrs'
version = '25.1.0'
requires-python = '>= 3.8'

    [[packages.wheels]]
    name = 'attrs-25.1.0-py3-none-any.whl'
    upload-time = 2025-01-25T11:30:10.164985+00:00
    url = 'https://files.pythonhosted.org/packages/fc/30/d4986a882011f9df997a55e6becd864812ccfcd821d64aac8570ee39f719/attrs-25.1.0-py3-none-any.whl'
    size = 63152
    hashes = {sha256 = 'c75a69e28a550a7e93789579c22aa26b0f5b83b75dc4e08fe092980051e1090a'}

    [[packages.attestation-identities]]
    environment = 'release-pypi'
    kind = 'GitHub'
    repository = 'python-attrs/attrs'
    workflow = 'pypi-package.yml'

[[packages]]
name = 'cattrs'
version = '24.1.2'
requires-python = '>= 3.8'
dependencies = [
    {name = 'attrs'},
]

    [[packages.wheels]]
    name = 'cattrs-24.1.2-py3-none-any.whl'
    upload-time = 2024-09-22T14:58:34.812643+00:00
    url = 'https://files.pythonhosted.org/packages/c8/d5/867e75361fc45f6de75fe277dd085627a9db5ebb511a87f27dc1396b5351/cattrs-24.1.2-py3-none-any.whl'
    size = 66446
    hashes = {sha256 = '67c7495b760168d931a10233f979b28dc04daf853b30752246f4f8471c6d68d0'}

[tool.mousebender]
command = ['.', 'lock', 'cattrs']
run-on = 2025-03-06T12:28:57.760769
)";
  auto lock = parse_pylock(text, "pylock.toml");
  REQUIRE(lock.ok());
  CHECK(lock->created_by == "mousebender");
  CHECK(lock->requires_python == "== 3.12.*");
  CHECK(lock->environments.size() == 2);
  REQUIRE(lock->packages.size() == 2);
  const Package& cattrs = lock->packages[1];
  CHECK(cattrs.dependencies == std::vector<std::string>{"attrs"});
  REQUIRE(cattrs.wheels.size() == 1);
  CHECK(cattrs.wheels[0].size == 66446);
  CHECK(cattrs.wheels[0].sha256 ==
        "67c7495b760168d931a10233f979b28dc04daf853b30752246f4f8471c6d68d0");
  CHECK(cattrs.wheels[0].upload_time == "2024-09-22T14:58:34.812643Z");
}

TEST_CASE("lock: validation errors name the file and package") {
  CHECK_THAT(error_of("lock-version = '2.0'\n"),
             Contains("unsupported lock-version 2.0 in pylock.toml; this lavabuild reads 1.x"));
  CHECK_THAT(error_of("created-by = 'x'\n"), Contains("pylock.toml: missing lock-version"));
  CHECK_THAT(error_of("lock-version = '1.0'\nfoo = [\n"), Contains("pylock.toml:"));
  CHECK_THAT(error_of("lock-version = '1.0'\nfoo = [\n"), Contains("invalid TOML"));
  std::string head = "lock-version = '1.0'\n";
  CHECK_THAT(error_of(head + "[[packages]]\nversion = '1'\n"), Contains("package #1: has no name"));
  CHECK_THAT(error_of(head + "[[packages]]\nname = 'a'\nwheels = []\n"),
             Contains("pylock.toml: package 'a': has no version"));
  CHECK_THAT(error_of(head + "[[packages]]\nname = 'a'\nversion = '1'\n"),
             Contains("package 'a' 1: has no source (vcs, directory, archive, sdist or wheels)"));
  CHECK_THAT(error_of(head + "[[packages]]\nname = 'a'\nversion = '1'\nwheels = []\n"),
             Contains("package 'a' 1: has no wheels and no sdist"));
  CHECK_THAT(error_of(head +
                      "[[packages]]\nname = 'a'\nversion = '1'\nsdist = {name = 'a.tar.gz', size = "
                      "1, hashes = {sha256 = '" +
                      kHash + "'}}\n"),
             Contains("sdist 'a.tar.gz' has neither url nor path"));
  CHECK_THAT(error_of(head +
                      "[[packages]]\nname = 'a'\nversion = '1'\nwheels = [{url = "
                      "'https://x/a-1-py3-none-any.whl', hashes = {sha256 = '" +
                      kHash + "'}}]\n"),
             Contains("wheel 'a-1-py3-none-any.whl' has no size"));
  CHECK_THAT(error_of(head + "[[packages]]\nname = 'a'\nversion = '1'\nwheels = [{name = 'a.whl', "
                             "path = 'a.whl', size = 3}]\n"),
             Contains("wheel 'a.whl' has no valid hashes.sha256"));
  CHECK_THAT(error_of(head + "[[packages]]\nname = 'a'\nversion = '1'\nwheels = [{name = 'a.whl', "
                             "path = 'a.whl', size = 3, hashes = {sha256 = 'abc'}}]\n"),
             Contains("has no valid hashes.sha256"));
  CHECK_THAT(error_of(head +
                      "[[packages]]\nname = 'a'\nversion = '1'\nwheels = [{name = 'a.whl', path = "
                      "'a.whl', size = 3, upload-time = 'yesterday', hashes = {sha256 = '" +
                      kHash + "'}}]\n"),
             Contains("upload-time must be a TOML datetime"));
  CHECK_THAT(error_of(head + kValidPackage + kValidPackage),
             Contains("package 'a' 1.0 is listed twice"));
  CHECK_THAT(error_of(head + "packages = 3\n"), Contains("'packages' must be an array of tables"));
}

TEST_CASE("lock: accepts 1.x and normalises hashes") {
  auto r = parse_pylock(std::string("lock-version = '1.1'\n") + kValidPackage, "pylock.toml");
  REQUIRE(r.ok());
  CHECK(r->packages[0].wheels[0].sha256 == kHash);
}

TEST_CASE("lock: names, markers and sizes are checked (issue 6)") {
  std::string head = "lock-version = '1.0'\n";
  auto pkg = [&](const std::string& name, const std::string& extra, const std::string& wheel,
                 const std::string& size) {
    return head + "[[packages]]\nname = '" + name + "'\nversion = '1.0'\n" + extra +
           "wheels = [{name = '" + wheel + "', url = 'https://x/" + wheel + "', size = " + size +
           ", hashes = {sha256 = '" + kHash + "'}}]\n";
  };
  const std::string good = "a-1.0-py3-none-any.whl";
  REQUIRE(parse_pylock(pkg("a", "", good, "3"), "pylock.toml").ok());
  CHECK_THAT(error_of(pkg("../x", "", good, "3")),
             Contains("pylock.toml: package #1: name \"../x\" is not a valid package name"));
  CHECK_THAT(error_of(pkg("b", "", good, "3")),
             Contains("package 'b' 1.0: wheel 'a-1.0-py3-none-any.whl' is a file of a, not of b"));
  CHECK_THAT(error_of(pkg("a", "", "a-2.0-py3-none-any.whl", "3")),
             Contains("is version 2.0, not 1.0"));
  CHECK_THAT(error_of(pkg("a", "", "../a-1.0-py3-none-any.whl", "3")),
             Contains("must be a plain file name"));
  CHECK_THAT(error_of(pkg("a", "", "a.whl", "3")), Contains("not a valid wheel file name"));
  CHECK_THAT(error_of(pkg("a", "marker = 'python_version >>> \"3\"'\n", good, "3")),
             Contains("package 'a' 1.0: 'marker' is not a valid marker"));
  CHECK_THAT(error_of(head + "environments = ['os_name ==']\n"),
             Contains("pylock.toml: 'environments' entry \"os_name ==\" is not a valid marker"));
  CHECK_THAT(error_of(pkg("a", "", good, "-1")),
             Contains("package 'a' 1.0: wheel '" + good + "': 'size' -1 is negative"));
  CHECK_THAT(error_of(pkg("a", "", good, "1.0e30")), Contains("'size' must be a whole number"));
  CHECK_THAT(error_of(pkg("a", "", good, "3.0")), Contains("'size' must be a whole number"));
  CHECK_THAT(error_of(pkg("a", "", good, "'3'")), Contains("'size' must be a whole number"));
  // Beyond int64: TOML itself cannot hold it; an error naming the file, not UB.
  CHECK_THAT(error_of(pkg("a", "", good, "99999999999999999999")), Contains("pylock.toml"));
}

TEST_CASE("lock: PEP 751 extras and dependency_groups markers (issue 11)") {
  std::string head = "lock-version = '1.0'\ndefault-groups = ['dev']\n";
  auto pkg = [&](const std::string& name, const std::string& marker) {
    std::string wheel = name + "-1.0-py3-none-any.whl";
    return "[[packages]]\nname = '" + name + "'\nversion = '1.0'\nmarker = \"" + marker +
           "\"\nwheels = [{name = '" + wheel + "', url = 'https://x/" + wheel +
           "', size = 1, hashes = {sha256 = '" + kHash + "'}}]\n";
  };
  std::string text = head + pkg("a", "'dev' in dependency_groups") +
                     pkg("b", "'docs' in dependency_groups") + pkg("c", "'socks' in extras") +
                     pkg("d", "'socks' not in extras and python_version >= '3'") +
                     pkg("e", "sys_platform == 'nowhere' or 'Dev' in dependency_groups");
  auto lock = parse_pylock(text, "pylock.toml");
  if (!lock.ok()) FAIL(lock.error().message);
  CHECK(lock->default_groups == std::vector<std::string>{"dev"});
  lb::pep::MarkerEnv env;
  env.values = {{"python_version", "3.11"}, {"sys_platform", "linux"}};
  std::vector<std::string> chosen;
  for (const auto& p : lock->packages)
    if (lb::lock::selected(*lock, p, env)) chosen.push_back(p.name);
  CHECK(chosen == std::vector<std::string>{"a", "d", "e"});
  chosen.clear();
  for (const auto& p : lock->packages)
    if (lb::lock::selected(*lock, p, env, {"socks"})) chosen.push_back(p.name);
  CHECK(chosen == std::vector<std::string>{"a", "c", "e"});
  // Only the membership form; and `default-groups` must be strings.
  CHECK_THAT(error_of(head + pkg("a", "extras == 'socks'")),
             Contains("package 'a' 1.0: 'marker' is not a valid marker"));
  CHECK_THAT(error_of("lock-version = '1.0'\ndefault-groups = 'dev'\n"),
             Contains("'default-groups' must be an array of strings"));
}

namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

/// One package from each kind of source, in the writer's order (so that parsing the written
/// text gives this very value back).
Lock sources_sample() {
  Lock lock;
  Package app = package("app", "");
  app.directory = DirectoryRef{"../app", true, "src/app"};
  Package attrs = package("attrs", "25.1.0");
  attrs.archive = ArchiveRef{
      "https://example.org/attrs-25.1.0.tar.gz", "", 805000, kHash, "", "2025-01-25T11:30:10Z"};
  Package cattrs = package("cattrs", "");
  cattrs.dependencies = {"attrs"};
  cattrs.vcs =
      VcsRef{"git", "https://github.com/python-attrs/cattrs.git", "", "main", kCommit, "sub/dir"};
  Package legacy = package("legacy", "");
  legacy.vcs = VcsRef{"bzr", "", "../branches/legacy", "", "jo@example.org-20240101-abc", ""};
  Package local = package("local-tool", "");
  local.archive = ArchiveRef{"", "dist/local-tool.zip", 0, kHash, "", ""};
  lock.packages = {app, attrs, cattrs, legacy, local};
  return lock;
}

/// write → parse → equal → write gives the same bytes.
void check_round_trip(const Lock& lock) {
  std::string text = write_pylock(lock);
  auto parsed = parse_pylock(text, "pylock.toml");
  if (!parsed.ok()) FAIL(parsed.error().message << "\n" << text);
  CHECK(*parsed == lock);
  CHECK(write_pylock(*parsed) == text);
}

std::string with_package(const std::string& body) {
  return "lock-version = '1.0'\n[[packages]]\nname = 'a'\n" + body;
}

}  // namespace

TEST_CASE("lock: vcs, directory and archive sources in canonical form") {
  std::string text = write_pylock(sources_sample());
  CHECK(text ==
        "lock-version = \"1.0\"\n"
        "created-by = \"lavabuild\"\n"
        "\n[[packages]]\nname = \"app\"\n"
        "directory = {path = \"../app\", editable = true, subdirectory = \"src/app\"}\n"
        "\n[[packages]]\nname = \"attrs\"\nversion = \"25.1.0\"\n"
        "archive = {url = \"https://example.org/attrs-25.1.0.tar.gz\", size = 805000, "
        "upload-time = 2025-01-25T11:30:10Z, hashes = {sha256 = \"" +
            kHash +
            "\"}}\n"
            "\n[[packages]]\nname = \"cattrs\"\n"
            "dependencies = [\n    {name = \"attrs\"},\n]\n"
            "vcs = {type = \"git\", url = \"https://github.com/python-attrs/cattrs.git\", "
            "requested-revision = \"main\", commit-id = \"" +
            kCommit +
            "\", subdirectory = \"sub/dir\"}\n"
            "\n[[packages]]\nname = \"legacy\"\n"
            "vcs = {type = \"bzr\", path = \"../branches/legacy\", "
            "commit-id = \"jo@example.org-20240101-abc\"}\n"
            "\n[[packages]]\nname = \"local-tool\"\n"
            "archive = {path = \"dist/local-tool.zip\", hashes = {sha256 = \"" +
            kHash + "\"}}\n");
}

TEST_CASE("lock: vcs, directory and archive sources round trip") {
  Lock all = sources_sample();
  check_round_trip(all);
  for (const auto& p : all.packages) {
    Lock one;
    one.packages = {p};
    check_round_trip(one);
  }
  // A version kept as written when a source tree has one; an archive with both url and path.
  Lock more;
  Package app = package("app", "0.1.dev0");
  app.directory = DirectoryRef{"/srv/app", false, ""};
  Package both = package("both", "2.0");
  both.archive = ArchiveRef{
      "https://example.org/both-2.0.tar.gz", "dist/both-2.0.tar.gz", 7, kHash, "pkg", ""};
  Package hg = package("hg-project", "");
  hg.vcs = VcsRef{"hg", "https://hg.example.org/p", "", "stable", std::string(40, 'f'), ""};
  more.packages = {app, both, hg};
  check_round_trip(more);
  CHECK_THAT(write_pylock(more), Contains("name = \"app\"\nversion = \"0.1.dev0\"\n"));
}

TEST_CASE("lock: source trees of one name are ordered by marker and source") {
  Lock lock;
  for (const char* sys : {"win32", "linux", "darwin"}) {
    Package p = package("app", "");
    p.marker = std::string("sys_platform == \"") + sys + "\"";
    p.directory = DirectoryRef{std::string("../app-") + sys, false, ""};
    lock.packages.push_back(p);
  }
  Package same_marker = package("app", "");
  same_marker.marker = lock.packages[0].marker;
  same_marker.vcs = VcsRef{"git", "https://example.org/app.git", "", "", kCommit, ""};
  lock.packages.push_back(same_marker);
  std::string expected = write_pylock(lock);
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    std::shuffle(lock.packages.begin(), lock.packages.end(), rng);
    CHECK(write_pylock(lock) == expected);
  }
  CHECK(expected.find("darwin") < expected.find("linux"));
  CHECK(expected.find("directory = {path = \"../app-win32\"}") < expected.find("vcs = "));
  auto parsed = parse_pylock(expected, "pylock.toml");
  REQUIRE(parsed.ok());
  CHECK(write_pylock(*parsed) == expected);
}

TEST_CASE("lock: reads sources in the spelling of other lockers") {
  // Sub-tables, single quotes, upper-case hex, `editable = false` and an empty subdirectory:
  // read to the same values as lavabuild's own spelling.
  auto lock = parse_pylock(
      "lock-version = '1.0'\ncreated-by = 'uv'\n"
      "[[packages]]\nname = 'cattrs'\n"
      "[packages.vcs]\ntype = 'git'\n"
      "url = 'https://github.com/python-attrs/cattrs.git'\n"
      "requested-revision = 'main'\n"
      "commit-id = '0123456789ABCDEF0123456789ABCDEF01234567'\n"
      "[[packages]]\nname = 'app'\nversion = '1.0'\n"
      "[packages.directory]\npath = '.'\neditable = false\n"
      "subdirectory = ''\n"
      "[[packages]]\nname = 'attrs'\n"
      "[packages.archive]\nurl = 'https://example.org/attrs.tar.gz'\n"
      "size = 12\nupload-time = 2025-01-25T11:30:10.164985+00:00\n"
      "[packages.archive.hashes]\nsha256 = '" +
          std::string(64, 'A') + "'\nmd5 = 'abc'\n",
      "pylock.toml");
  if (!lock.ok()) FAIL(lock.error().message);
  REQUIRE(lock->packages.size() == 3);
  CHECK(*lock->packages[0].vcs ==
        VcsRef{"git", "https://github.com/python-attrs/cattrs.git", "", "main", kCommit, ""});
  CHECK(lock->packages[0].version.empty());
  CHECK(*lock->packages[1].directory == DirectoryRef{".", false, ""});
  CHECK(lock->packages[1].version == "1.0");
  CHECK(*lock->packages[2].archive == ArchiveRef{"https://example.org/attrs.tar.gz", "", 12, kHash,
                                                 "", "2025-01-25T11:30:10.164985Z"});
  CHECK(lb::lock::describe_source(lock->packages[0]) ==
        "git https://github.com/python-attrs/cattrs.git@" + kCommit);
  CHECK(lb::lock::describe_source(lock->packages[1]) == "directory .");
  CHECK(lb::lock::describe_source(lock->packages[2]) == "archive https://example.org/attrs.tar.gz");
}

TEST_CASE("lock: a package has exactly one source") {
  std::string wheels =
      "wheels = [{name = 'a-1-py3-none-any.whl', url = 'https://x/a.whl', "
      "size = 1, hashes = {sha256 = '" +
      kHash + "'}}]\n";
  std::string sdist =
      "sdist = {name = 'a-1.tar.gz', path = 'a-1.tar.gz', size = 1, hashes = {sha256 = '" + kHash +
      "'}}\n";
  std::string vcs =
      "vcs = {type = 'git', url = 'https://x/a.git', commit-id = '" + kCommit + "'}\n";
  std::string directory = "directory = {path = '.'}\n";
  std::string archive = "archive = {path = 'a.zip', hashes = {sha256 = '" + kHash + "'}}\n";
  REQUIRE(parse_pylock(with_package("version = '1'\n" + sdist + wheels), "pylock.toml").ok());
  CHECK_THAT(error_of(with_package("version = '1'\n" + vcs + wheels)),
             Contains("pylock.toml: package 'a' 1: has more than one source ('vcs', 'wheels'); "
                      "a package comes from exactly one"));
  CHECK_THAT(error_of(with_package(directory + archive)),
             Contains("package 'a': has more than one source ('directory', 'archive')"));
  CHECK_THAT(error_of(with_package("version = '1'\n" + archive + sdist + wheels)),
             Contains("('archive', 'sdist', 'wheels')"));
  CHECK_THAT(error_of(with_package(vcs + "wheels = []\n")),
             Contains("has more than one source ('vcs', 'wheels')"));
  // The version may be left out for a source tree or an archive, not for sdist and wheels.
  CHECK(parse_pylock(with_package(vcs), "pylock.toml").ok());
  CHECK(parse_pylock(with_package(directory), "pylock.toml").ok());
  CHECK(parse_pylock(with_package(archive), "pylock.toml").ok());
  CHECK_THAT(error_of(with_package(sdist)), Contains("pylock.toml: package 'a': has no version"));
  CHECK_THAT(error_of(with_package(wheels)), Contains("package 'a': has no version"));
  CHECK_THAT(error_of(with_package("")), Contains("package 'a': has no source"));
}

TEST_CASE("lock: vcs entries are checked") {
  auto vcs = [](const std::string& fields) {
    return error_of(with_package("vcs = {" + fields + "}\n"));
  };
  const std::string commit = "commit-id = '" + kCommit + "'";
  CHECK_THAT(vcs("url = 'https://x/a.git', " + commit),
             Contains("pylock.toml: package 'a': vcs has no type (git, hg, bzr or svn)"));
  CHECK_THAT(vcs("type = 'cvs', url = 'https://x/a', " + commit),
             Contains("package 'a': vcs type \"cvs\" is not one of git, hg, bzr or svn"));
  CHECK_THAT(vcs("type = 'git', " + commit), Contains("package 'a': git has neither url nor path"));
  CHECK_THAT(vcs("type = 'git', url = 'https://x/a.git', path = '../a', " + commit),
             Contains("git has both url and path; a vcs source is one repository"));
  CHECK_THAT(vcs("type = 'git', url = 'https://x/a.git'"),
             Contains("package 'a': git has no commit-id (the revision to check out)"));
  CHECK_THAT(vcs("type = 'git', url = 'https://x/a.git', commit-id = 'main'"),
             Contains("git commit-id \"main\" is not a full commit hash (40 or 64 hex digits)"));
  CHECK_THAT(vcs("type = 'git', url = 'https://x/a.git', commit-id = '" + kCommit.substr(1) + "'"),
             Contains("is not a full commit hash"));
  CHECK_THAT(
      vcs("type = 'git', url = 'https://x/a.git', commit-id = '" + std::string(40, 'g') + "'"),
      Contains("is not a full commit hash"));
  REQUIRE(parse_pylock(with_package("vcs = {type = 'git', url = 'https://x/a.git', commit-id = '" +
                                    std::string(64, 'b') + "'}\n"),
                       "pylock.toml")
              .ok());
  CHECK_THAT(vcs("type = 'bzr', url = 'bzr+ssh://x/a', commit-id = '--config=x'"),
             Contains("bzr commit-id \"--config=x\" must not start with '-' or contain spaces"));
  CHECK_THAT(vcs("type = 'bzr', url = 'lp:a', commit-id = 'a b'"),
             Contains("must not start with '-' or contain spaces or control characters"));
  // The URL reaches a VCS client's command line.
  for (const char* url : {"ext::sh -c touch% /tmp/pwned", "ext::sh", "-uhttps://x", "x",
                          "https://x/a b", "git@github.com:a/b.git", "1http://x"})
    CHECK_THAT(vcs("type = 'git', url = '" + std::string(url) + "', " + commit),
               Contains("git url " + lb::quoted(url) + " is not a URL"));
  CHECK_THAT(vcs("type = 'git', url = \"https://x/a\\u0000.git\", " + commit),
             Contains("git: url and path must not contain control characters"));
  CHECK_THAT(error_of(with_package("vcs = 'git+https://x/a.git'\n")),
             Contains("package 'a': 'vcs' must be a table"));
}

TEST_CASE("lock: directory and archive entries are checked") {
  CHECK_THAT(error_of(with_package("directory = {editable = true}\n")),
             Contains("pylock.toml: package 'a': directory has no path"));
  CHECK_THAT(error_of(with_package("directory = {path = '.', editable = 'yes'}\n")),
             Contains("package 'a': directory 'editable' must be true or false"));
  CHECK_THAT(error_of(with_package("directory = {path = \"a\\u0001\"}\n")),
             Contains("directory path must not contain control characters"));
  const std::string hashes = "hashes = {sha256 = '" + kHash + "'}";
  CHECK_THAT(error_of(with_package("archive = {" + hashes + "}\n")),
             Contains("package 'a': archive has neither url nor path"));
  CHECK_THAT(error_of(with_package("archive = {url = 'https://x/a.zip'}\n")),
             Contains("package 'a': archive has no valid hashes.sha256 (64 hex digits)"));
  CHECK_THAT(error_of(with_package("archive = {url = 'https://x/a.zip', hashes = {md5 = 'x'}}\n")),
             Contains("archive has no valid hashes.sha256"));
  CHECK_THAT(
      error_of(with_package("archive = {url = 'https://x/a.zip', size = -2, " + hashes + "}\n")),
      Contains("package 'a': archive: 'size' -2 is negative"));
  CHECK_THAT(
      error_of(with_package("archive = {url = 'https://x/a.zip', size = 2.5, " + hashes + "}\n")),
      Contains("archive: 'size' must be a whole number of bytes, not a float"));
  CHECK_THAT(error_of(with_package("archive = {url = 'https://x/a.zip', upload-time = 'now', " +
                                   hashes + "}\n")),
             Contains("archive: upload-time must be a TOML datetime"));
  CHECK_THAT(error_of(with_package("archive = [{path = 'a.zip', " + hashes + "}]\n")),
             Contains("'archive' must be a table"));
}

TEST_CASE("lock: a subdirectory stays inside its source tree") {
  const std::string hashes = "hashes = {sha256 = '" + kHash + "'}";
  const std::vector<std::string> sources = {
      "vcs = {type = 'git', url = 'https://x/a.git', commit-id = '" + kCommit + "', ",
      "directory = {path = '.', ", "archive = {path = 'a.zip', " + hashes + ", "};
  const std::vector<std::string> kinds = {"git", "directory", "archive"};
  for (size_t i = 0; i < sources.size(); ++i) {
    for (const char* bad : {"/etc", "..", "../x", "a/../../x", "a/..", "a\\..\\x"}) {
      std::string text = with_package(sources[i] + "subdirectory = '" + bad + "'}\n");
      CHECK_THAT(error_of(text),
                 Contains("package 'a': " + kinds[i] + ": subdirectory " + lb::quoted(bad) +
                          " must be a relative path inside the source tree"));
    }
    for (const char* good : {"a", "a/b", "./a", "a..b", "..a/b"}) {
      auto r = parse_pylock(with_package(sources[i] + "subdirectory = '" + good + "'}\n"),
                            "pylock.toml");
      if (!r.ok()) FAIL(r.error().message);
    }
  }
}

TEST_CASE("lock: a source tree is listed once") {
  std::string dir = "[[packages]]\nname = 'app'\ndirectory = {path = '../app'}\n";
  CHECK_THAT(error_of("lock-version = '1.0'\n" + dir + dir),
             Contains("pylock.toml: package 'app' (directory ../app) is listed twice"));
  // Two trees of one name are two entries (the spec: markers choose one at install time).
  std::string other = "[[packages]]\nname = 'app'\ndirectory = {path = '../app2'}\n";
  CHECK(parse_pylock("lock-version = '1.0'\n" + dir + other, "pylock.toml").ok());
}

TEST_CASE("lock: the fuzz seeds parse and write back to themselves") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(LAVABUILD_SOURCE_DIR) / "tests/fuzz/seeds/pylock_fuzzer";
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    INFO(entry.path().string());
    auto lock = parse_pylock(text.str(), entry.path().filename().string());
    if (!lock.ok()) FAIL(lock.error().message);
    std::string once = write_pylock(*lock);
    auto again = parse_pylock(once, "pylock.toml");
    REQUIRE(again.ok());
    CHECK(*again == *lock);
    CHECK(write_pylock(*again) == once);
    ++seen;
  }
  CHECK(seen >= 4);
}

TEST_CASE("pylock: a dotted key of 50,000 parts is refused before toml++ recurses on it") {
  std::string text = "lock-version = \"1.0\"\n";
  for (int i = 0; i < 50000; ++i) text += "a.";
  text += "b = 1\n";
  auto l = lb::lock::parse_pylock(text, "pylock.toml");
  REQUIRE_FALSE(l.ok());
  CHECK_THAT(l.error().message, Catch::Contains("pylock.toml:2: a dotted key"));
}
