#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdlib>
#include <map>

#include "reqfile/reqfile.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

using namespace lb;
using namespace lb::reqfile;

namespace {

using lb::test::TempDir;

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');

Getenv env(std::map<std::string, std::string> vars = {}) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Parsed ok(std::string_view text, const std::string& file = "req.txt", const Getenv& g = env()) {
  auto r = parse_text(text, file, g);
  INFO((r.ok() ? std::string() : r.error().to_string()));
  REQUIRE(r.ok());
  return std::move(r).value();
}

Error err(std::string_view text, const std::string& file = "req.txt") {
  auto r = parse_text(text, file, env());
  REQUIRE_FALSE(r.ok());
  return r.error();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("named requirements, markers and locations") {
  Parsed p = ok("requests>=2.0,<3\n\nfoo[Bar] == 1.0 ; python_version < '3.8'\n");
  REQUIRE(p.requirements.size() == 2);
  const Entry& a = p.requirements[0];
  CHECK(a.kind == EntryKind::named);
  CHECK(a.req.name == "requests");
  CHECK(a.req.specifier.specifiers().size() == 2);
  CHECK(a.loc.to_string() == "req.txt:1");
  CHECK(a.text == "requests>=2.0,<3");
  const Entry& b = p.requirements[1];
  CHECK(b.loc.line == 3);
  CHECK(b.req.extras == std::set<std::string>{"bar"});
  CHECK(b.req.marker.has_value());
  CHECK_FALSE(b.constraint);
  CHECK(p.files_read == std::vector<std::string>{fs::absolute("req.txt")});
}

TEST_CASE("continuations and comments") {
  Parsed p =
      ok("# a comment\n"
         "foo==1.0 \\\n"
         "    --hash=sha256:" +
         kHexA +
         " \\\n"
         "    --hash sha256:" +
         kHexB.substr(0, 60) +
         "BBBB  # trailing comment\n"
         "  # indented comment \\\n"
         "bar\t# tab before comment\r\n"
         "baz \\\n"
         "# comment ends the continuation\n"
         "https://example.com/x-1.0.tar.gz#sha256=" +
         kHexA + "\n");
  REQUIRE(p.requirements.size() == 4);
  CHECK(p.requirements[0].loc.line == 2);
  CHECK(p.requirements[0].hashes == std::vector<std::string>{"sha256:" + kHexA, "sha256:" + kHexB});
  CHECK(p.requirements[1].req.name == "bar");
  CHECK(p.requirements[1].loc.line == 6);
  CHECK(p.requirements[2].req.name == "baz");
  CHECK(p.requirements[2].loc.line == 7);
  // '#' not preceded by whitespace is not a comment: the URL fragment stays.
  CHECK(p.requirements[3].link == "https://example.com/x-1.0.tar.gz#sha256=" + kHexA);
  CHECK(p.requirements[3].hashes == std::vector<std::string>{"sha256:" + kHexA});
}

TEST_CASE("environment variables") {
  Parsed p =
      ok("--index-url https://${USER_NAME}:${TOKEN}@pypi.example/simple\n"
         "--extra-index-url https://${MISSING}/$HOME/${lower}/${EMPTY}\n",
         "req.txt",
         env({{"USER_NAME", "me"},
              {"TOKEN", "s#cret"},
              {"EMPTY", ""},
              {"HOME", "/h"},
              {"lower", "x"}}));
  CHECK(p.options.index_url == "https://me:s#cret@pypi.example/simple");
  CHECK(p.options.extra_index_urls ==
        std::vector<std::string>{"https://${MISSING}/$HOME/${lower}/${EMPTY}"});
}

TEST_CASE("file options in every form") {
  TempDir dir;
  dir.write("wheels/.keep", "");
  std::string req = dir.write("req.txt",
                              "-i https://a.example/simple\n"
                              "--index-url=https://b.example/simple\n"
                              "--extra-index-url https://c.example/simple\n"
                              "--extra-index=https://d.example/simple\n"
                              "--extra-index-url https://c.example/simple\n"
                              "-fwheels\n"
                              "--find-links https://e.example/links\n"
                              "--no-index --pre --prefer-binary --require-hashes\n"
                              "--only-binary=:all:\n"
                              "--no-binary Foo_Bar,baz\n"
                              "--trusted-host c.example:8080\n");
  auto r = parse_files({req}, env());
  REQUIRE(r.ok());
  const Options& o = r->options;
  CHECK(o.index_url == "https://b.example/simple");
  CHECK(o.extra_index_urls ==
        std::vector<std::string>{"https://c.example/simple", "https://d.example/simple"});
  CHECK(o.find_links == std::vector<std::string>{dir.path + "/wheels", "https://e.example/links"});
  CHECK(o.no_index);
  CHECK(o.pre);
  CHECK(o.prefer_binary);
  CHECK(o.require_hashes);
  CHECK(o.only_binary ==
        std::vector<std::string>{":all:"});  // as pip: names leave lists, :all: stays
  CHECK(o.no_binary == std::vector<std::string>{"foo-bar", "baz"});
  CHECK(o.trusted_hosts == std::vector<std::string>{"c.example:8080"});
  CHECK(r->requirements.empty());
}

TEST_CASE("--no-binary and --only-binary exclude each other") {
  Parsed p = ok("--no-binary :all:\n--only-binary foo\n--no-binary :none:,bar\n");
  CHECK(p.options.no_binary == std::vector<std::string>{"bar"});
  CHECK(p.options.only_binary == std::vector<std::string>{"foo"});
}

TEST_CASE("unknown and misplaced options are errors naming file:line") {
  Error e = err("foo\n--use-feature=truststore\n");
  CHECK(contains(e.message, "req.txt:2"));
  CHECK(contains(e.message, "--use-feature"));
  CHECK(contains(e.hint, "--index-url"));
  CHECK(contains(err("-x foo\n").message, "req.txt:1: unknown option -x"));
  CHECK(contains(err("foo==1 --pre\n").message, "req.txt:1: option --pre must be on its own line"));
  CHECK(contains(err("--hash=sha256:" + kHexA + "\n").message, "applies to a requirement"));
  CHECK(contains(err("--index-url\n").message, "needs a value"));
  CHECK(contains(err("--pre=yes\n").message, "does not take a value"));
  CHECK(contains(err("--re x\n").message, "ambiguous"));
  CHECK(contains(err("-r a.txt b.txt\n").message, "unexpected argument"));
  CHECK(contains(err("foo --hash='sha256:abc\n").message, "no closing quotation"));
}

TEST_CASE("per-requirement options") {
  Parsed p = ok("foo==1 --config-settings=a=b -C c=d=e --global-option=--x\n");
  REQUIRE(p.requirements.size() == 1);
  using KV = std::pair<std::string, std::string>;
  CHECK(p.requirements[0].config_settings == std::vector<KV>{{"a", "b"}, {"c", "d=e"}});
  REQUIRE(p.warnings.size() == 1);
  CHECK(p.warnings[0].loc.to_string() == "req.txt:1");
  CHECK(contains(p.warnings[0].message, "no effect"));
  CHECK(contains(err("foo --config-settings novalue\n").message, "KEY=VALUE"));
  CHECK(contains(err("foo --hash=md5:abc\n").message, "not allowed"));
  CHECK(contains(err("foo --hash=sha256:abc\n").message, "not a valid sha256"));
  CHECK(ok("foo --hash=sha512:" + std::string(128, 'F')).requirements[0].hashes[0] ==
        "sha512:" + std::string(128, 'f'));
}

TEST_CASE("invalid requirements report the pep error with the location") {
  Error e = err("\nfoo >>> 1\n");
  CHECK(contains(e.message, "req.txt:2: "));
  CHECK(contains(err("foo=1\n").hint, "=="));
  CHECK(contains(err("./no/such/dir\n").hint, "looks like a path"));
  CHECK(contains(err("bar#frag\n").message, "req.txt:1"));
}

TEST_CASE("URL requirements") {
  Parsed p =
      ok("https://files.example/p/foo_bar-1.2-py3-none-any.whl\n"
         "https://files.example/p/baz-2.0.tar.gz#egg=baz ; python_version >= '3'\n"
         "qux @ https://files.example/qux-3.0.tar.gz#sha256=" +
         kHexA +
         "\n"
         "file:///srv/dist/../dist/x-1.0.zip\n"
         "https://files.example/anon.tar.gz\n");
  REQUIRE(p.requirements.size() == 5);
  const Entry& whl = p.requirements[0];
  CHECK(whl.kind == EntryKind::url);
  CHECK(whl.link == "https://files.example/p/foo_bar-1.2-py3-none-any.whl");
  CHECK(whl.req.normalized_name() == "foo-bar");
  CHECK(whl.req.specifier.to_string() == "==1.2");
  CHECK(p.requirements[1].req.name == "baz");
  CHECK(p.requirements[1].req.marker.has_value());
  CHECK(p.requirements[1].link == "https://files.example/p/baz-2.0.tar.gz#egg=baz");
  CHECK(p.requirements[2].kind == EntryKind::url);
  CHECK(p.requirements[2].req.name == "qux");
  CHECK(p.requirements[2].hashes == std::vector<std::string>{"sha256:" + kHexA});
  CHECK(p.requirements[3].link == "file:///srv/dist/x-1.0.zip");
  CHECK(p.requirements[4].req.name.empty());
  CHECK(contains(err("https://x.example/not-a-wheel.whl\n").message, "not a valid wheel"));
}

TEST_CASE("VCS requirements") {
  Parsed p =
      ok("git+https://github.com/a/b.git@v1.0#egg=b&subdirectory=sub\n"
         "c @ git+ssh://git@github.com/a/c.git@abc123\n"
         "hg+https://hg.example/d\n");
  REQUIRE(p.requirements.size() == 3);
  CHECK(p.requirements[0].kind == EntryKind::vcs);
  CHECK(p.requirements[0].req.name == "b");
  CHECK(p.requirements[0].link == "git+https://github.com/a/b.git@v1.0#egg=b&subdirectory=sub");
  CHECK(p.requirements[1].kind == EntryKind::vcs);
  CHECK(p.requirements[1].req.name == "c");
  CHECK(p.requirements[1].link == "git+ssh://git@github.com/a/c.git@abc123");
  CHECK(p.requirements[2].kind == EntryKind::vcs);
  CHECK(p.requirements[2].req.name.empty());
}

TEST_CASE("local path requirements") {
  TempDir dir;
  std::string whl = dir.write("dist/pkg-0.1-py3-none-any.whl", "not really a zip");
  dir.write("proj/pyproject.toml", "[project]\n");
  dir.write("empty/README", "");
  Parsed p = ok(whl + "\n" + dir.path + "/proj[Dev] ; os_name == 'posix'\n" + dir.path +
                "/dist/../dist/missing-1.0.tar.gz\n");
  REQUIRE(p.requirements.size() == 3);
  CHECK(p.requirements[0].kind == EntryKind::path);
  CHECK(p.requirements[0].link == whl);
  CHECK(p.requirements[0].req.name == "pkg");
  CHECK(p.requirements[1].kind == EntryKind::path);
  CHECK(p.requirements[1].link == dir.path + "/proj");
  CHECK(p.requirements[1].req.extras == std::set<std::string>{"dev"});
  CHECK(p.requirements[1].req.marker.has_value());
  CHECK(p.requirements[2].link == dir.path + "/dist/missing-1.0.tar.gz");
  REQUIRE(p.warnings.size() == 1);
  CHECK(p.warnings[0].loc.line == 3);
  CHECK(contains(p.warnings[0].message, "does not exist"));
  CHECK(contains(err(dir.path + "/empty\n").message, "not installable"));
}

TEST_CASE("relative paths resolve against the CWD, as pip does") {
  TempDir dir;
  dir.write("proj/setup.py", "");
  char old[4096];
  REQUIRE(::getcwd(old, sizeof old) != nullptr);
  REQUIRE(::chdir(dir.path.c_str()) == 0);
  auto r = parse_text("./proj\n-e proj\n", "/elsewhere/req.txt", env());
  REQUIRE(::chdir(old) == 0);
  REQUIRE(r.ok());
  CHECK(r->requirements[0].link == fs::absolute(dir.path + "/proj"));
  CHECK(r->requirements[1].link == fs::absolute(dir.path + "/proj"));
}

TEST_CASE("editable requirements") {
  TempDir dir;
  dir.write("proj/setup.py", "");
  Parsed p = ok("-e " + dir.path +
                "/proj[test]\n"
                "--editable=git+https://github.com/a/b.git@main#egg=b\n"
                "-e git://github.com/a/c#egg=c\n"
                "-e 'hg+https://hg.example/d#egg=d' --config-settings editable_mode=compat\n");
  REQUIRE(p.requirements.size() == 4);
  for (const Entry& e : p.requirements) CHECK(e.kind == EntryKind::editable);
  CHECK(p.requirements[0].link == dir.path + "/proj");
  CHECK(p.requirements[0].req.extras == std::set<std::string>{"test"});
  CHECK(p.requirements[1].req.name == "b");
  CHECK(p.requirements[2].link == "git+git://github.com/a/c#egg=c");
  CHECK(p.requirements[3].link == "hg+https://hg.example/d#egg=d");
  CHECK(p.requirements[3].config_settings.size() == 1);
  CHECK(contains(err("-e git+https://github.com/a/b.git\n").hint, "#egg="));
  CHECK(contains(err("-e /no/such/dir\n").message, "not a valid editable"));
  CHECK(contains(err("-e\n").message, "needs a value"));
}

TEST_CASE("includes resolve relative to the including file") {
  TempDir dir;
  std::string top = dir.write("req.txt", "first\n-r sub/more.txt\nlast\n");
  dir.write("sub/more.txt", "-c ../constraints.txt\n--requirement=deeper/x.txt\nmiddle\n");
  dir.write("sub/deeper/x.txt", "deep==1\n");
  dir.write("constraints.txt", "first==2.0 --hash=sha256:" + kHexA + "\n");
  auto r = parse_files({top}, env());
  INFO((r.ok() ? std::string() : r.error().to_string()));
  REQUIRE(r.ok());
  std::vector<std::string> names;
  for (const Entry& e : r->requirements) names.push_back(e.req.name);
  CHECK(names == std::vector<std::string>{"first", "deep", "middle", "last"});
  CHECK(r->requirements[1].loc.to_string() == dir.path + "/sub/deeper/x.txt:1");
  CHECK(r->requirements[2].loc.to_string() == dir.path + "/sub/more.txt:3");
  REQUIRE(r->constraints.size() == 1);
  CHECK(r->constraints[0].constraint);
  CHECK(r->constraints[0].loc.to_string() == dir.path + "/sub/../constraints.txt:1");
  CHECK(r->files_read == std::vector<std::string>{top, dir.path + "/sub/more.txt",
                                                  dir.path + "/constraints.txt",
                                                  dir.path + "/sub/deeper/x.txt"});
  CHECK(r->hash_checking());
}

TEST_CASE("include errors") {
  TempDir dir;
  std::string a = dir.write("a.txt", "x\n-r b.txt\n");
  dir.write("b.txt", "\n\n-r a.txt\n");
  auto cyc = parse_files({a}, env());
  REQUIRE_FALSE(cyc.ok());
  CHECK(contains(cyc.error().message, dir.path + "/b.txt:3"));
  CHECK(contains(cyc.error().message, "includes itself"));

  std::string m = dir.write("m.txt", "\n\n-r nope.txt\n");
  auto missing = parse_files({m}, env());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message ==
        "cannot open requirements file " + dir.path + "/nope.txt (included from " + m + ":3)");
  auto top = parse_files({dir.path + "/absent.txt"}, env());
  REQUIRE_FALSE(top.ok());
  CHECK(contains(top.error().message, "cannot open requirements file"));

  std::string u = dir.write("u.txt", "-r https://example.com/r.txt\n");
  auto url = parse_files({u}, env());
  REQUIRE_FALSE(url.ok());
  CHECK(contains(url.error().message, "not supported"));
  CHECK(contains(url.error().message, u + ":1"));

  std::string bad = dir.write("bad.txt", "-r inner.txt\n");
  dir.write("inner.txt", "ok\nfoo >>> 1\n");
  auto inner = parse_files({bad}, env());
  REQUIRE_FALSE(inner.ok());
  CHECK(contains(inner.error().message, dir.path + "/inner.txt:2: "));
  CHECK_FALSE(contains(inner.error().message, "bad.txt"));

  // A file included twice (not a cycle) is fine, and read once: again it would add the same
  // lines (diamond-shaped includes 20 deep would otherwise read the last file a million times).
  std::string d = dir.write("d.txt", "-r c.txt\n-r c.txt\n-c c.txt\n");
  dir.write("c.txt", "c\n");
  auto diamond = parse_files({d}, env());
  REQUIRE(diamond.ok());
  CHECK(diamond->requirements.size() == 1);
  CHECK(diamond->constraints.size() == 1);  // as a constraints file it is read (once) too
  CHECK(diamond->files_read.size() == 2);
  for (int i = 0; i < 40; ++i)
    dir.write("l" + std::to_string(i) + ".txt",
              "-r l" + std::to_string(i + 1) + ".txt\n-r l" + std::to_string(i + 1) + ".txt\n");
  dir.write("l40.txt", "deep\n");
  auto deep = parse_files({dir.path + "/l0.txt"}, env());
  REQUIRE(deep.ok());
  CHECK(deep->requirements.size() == 1);
}

TEST_CASE("constraints files take named requirements only") {
  TempDir dir;
  auto check = [&](const std::string& line, const std::string& expect) {
    std::string c = dir.write("c.txt", line + "\n");
    std::string r = dir.write("r.txt", "-c c.txt\n");
    auto res = parse_files({r}, env());
    REQUIRE_FALSE(res.ok());
    CHECK(contains(res.error().message, c + ":1"));
    CHECK(contains(res.error().message, expect));
  };
  check("https://example.com/x-1.0-py3-none-any.whl", "not a URL or path");
  check("x @ https://example.com/x.tar.gz", "not a URL or path");
  check("-e git+https://example.com/x#egg=x", "editable");
  check("x[extra]==1", "extras");
}

TEST_CASE("hash-checking mode") {
  CHECK(check_hash_mode(ok("foo>=1\n-e git+https://x/y#egg=y\n")).ok());
  Parsed p =
      ok("--require-hashes\n"
         "foo>=1\n"
         "bar==1.0\n"
         "baz==1.0 --hash=sha256:" +
         kHexA +
         "\n"
         "qux===weird --hash=sha256:" +
         kHexA +
         "\n"
         "wild==1.* --hash=sha256:" +
         kHexA +
         "\n"
         "https://e.example/u-1.0.tar.gz --hash=sha256:" +
         kHexA +
         "\n"
         "https://e.example/v-1.0.tar.gz\n"
         "git+https://x/z#egg=z\n");
  Status st = check_hash_mode(p);
  REQUIRE_FALSE(st.ok());
  const std::string& m = st.error().message;
  CHECK(contains(m, "req.txt:2: foo>=1 (not pinned with == or ===, and no --hash)"));
  CHECK(contains(m, "req.txt:3: bar==1.0 (no --hash)"));
  CHECK_FALSE(contains(m, "req.txt:4"));
  CHECK_FALSE(contains(m, "req.txt:5"));
  CHECK(contains(m, "req.txt:6"));
  CHECK_FALSE(contains(m, "req.txt:7"));
  CHECK(contains(m, "req.txt:8"));
  CHECK(contains(m, "req.txt:9: git+https://x/z#egg=z (VCS"));
  CHECK_FALSE(st.error().hint.empty());

  // A single --hash switches the mode on; a constraint may supply pin and hash.
  TempDir dir;
  dir.write("c.txt", "foo==2 --hash=sha256:" + kHexB + "\n");
  std::string r = dir.write("r.txt", "-c c.txt\nfoo\nbar==1 --hash=sha256:" + kHexA + "\n");
  auto both = parse_files({r}, env());
  REQUIRE(both.ok());
  CHECK(both->hash_checking());
  CHECK(check_hash_mode(*both).ok());
  CHECK_FALSE(check_hash_mode(ok("a==1 --hash=sha256:" + kHexA + "\nb==1\n")).ok());
}

TEST_CASE("decoding: BOM, PEP 263, invalid UTF-8, CRLF") {
  Parsed bom =
      ok("\xEF\xBB\xBF"
         "foo\r\nbar\r\n");
  REQUIRE(bom.requirements.size() == 2);
  CHECK(bom.requirements[0].req.name == "foo");
  CHECK(bom.requirements[1].loc.line == 2);

  Parsed latin =
      ok("#!/usr/bin/env something\n# -*- coding: latin-1 -*-\n"
         "--extra-index-url https://caf\xE9.example/\n");
  CHECK(latin.options.extra_index_urls == std::vector<std::string>{"https://caf\xC3\xA9.example/"});
  Parsed utf8 = ok("# vim: set fileencoding=utf-8 :\n--extra-index-url https://caf\xC3\xA9/\n");
  CHECK(utf8.options.extra_index_urls == std::vector<std::string>{"https://caf\xC3\xA9/"});

  Error enc = err("# coding: shift_jis\nfoo\n");
  CHECK(contains(enc.message, "req.txt:1: encoding 'shift_jis' is not supported"));
  Error bad = err("foo\n--extra-index-url https://caf\xE9/\n");
  CHECK(contains(bad.message, "req.txt:2: not valid UTF-8"));
  CHECK(contains(err("\xFF\xFE"
                     "f\0o\0",
                     "u16.txt")
                     .message,
                 "UTF-16"));
}

TEST_CASE("-r/-c nesting deeper than kMaxIncludeDepth is an error naming file:line and the chain") {
  TempDir dir;
  const int n = 300;  // 5,000 crashed with SIGSEGV before the limit
  for (int i = 0; i < n; ++i)
    dir.write("r" + std::to_string(i) + ".txt",
              i + 1 < n ? "\n-r r" + std::to_string(i + 1) + ".txt\n" : "delta==0.5\n");
  auto deep = parse_files({dir.path + "/r0.txt"}, env());
  REQUIRE_FALSE(deep.ok());
  const std::string& msg = deep.error().message;
  CHECK(contains(msg, dir.path + "/r99.txt:2: "));
  CHECK(contains(msg, "deeper than 100"));
  CHECK(contains(msg, "r0.txt -> "));
  CHECK(contains(msg, "r100.txt"));
  CHECK(msg.size() < 2000);  // the chain is abbreviated

  // Exactly at the limit is fine.
  TempDir ok_dir;
  for (size_t i = 0; i < kMaxIncludeDepth; ++i)
    ok_dir.write("r" + std::to_string(i) + ".txt",
                 i + 1 < kMaxIncludeDepth ? "-r r" + std::to_string(i + 1) + ".txt\n" : "x\n");
  auto fine = parse_files({ok_dir.path + "/r0.txt"}, env());
  INFO((fine.ok() ? "" : fine.error().to_string()));
  CHECK(fine.ok());
}

TEST_CASE("many lines, many options and long lines stay linear") {
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    text += "--extra-index-url https://example.invalid/" + std::to_string(i) + "/simple\n";
    text += "--find-links https://example.invalid/links/" + std::to_string(i % 100) + "/\n";
  }
  text += "pkg==1.0";
  for (int i = 0; i < 20000; ++i) text += " --hash=sha256:" + std::string(60, 'a') + "abcd";
  text += " --hash=sha256:" + kHexB + "\n";
  text += "long==1.0 ; " + std::string(1 << 20, ' ') + "python_version >= '3'\n";
  Parsed p = ok(text);
  CHECK(p.options.extra_index_urls.size() == 20000);
  CHECK(p.options.find_links.size() == 100);
  REQUIRE(p.requirements.size() == 2);
  CHECK(p.requirements[0].hashes.size() == 2);
}
