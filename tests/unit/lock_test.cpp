#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "lock/pylock.hpp"

using Catch::Matchers::Contains;
using lb::lock::FileRef;
using lb::lock::Lock;
using lb::lock::Package;
using lb::lock::parse_pylock;
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
             Contains("package 'a' 1: has no wheels and no sdist"));
  CHECK_THAT(error_of(head + "[[packages]]\nname = 'a'\nversion = '1'\ndirectory = {path = '.'}\n"),
             Contains("'directory' source"));
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
