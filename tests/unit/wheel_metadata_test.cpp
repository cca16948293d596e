// Core metadata, entry points, script rendering and RECORD parsing.
#include <catch2/catch.hpp>

#include "wheel/metadata.hpp"
#include "wheel/record.hpp"

using namespace lb::wheel;

TEST_CASE("core metadata: fields, continuations, repeats, body ignored") {
  const char* text =
      "Metadata-Version: 2.1\r\n"
      "Name: Demo_Pkg\r\n"
      "Version: 1.0.post1\r\n"
      "Summary: A summary that\r\n"
      "  continues here\r\n"
      "Requires-Python: >=3.8\r\n"
      "Requires-Dist: requests (>=2.0)\r\n"
      "Requires-Dist: colorama; sys_platform == \"win32\"\r\n"
      "requires-dist: pytest>=7 ; extra == 'test'\r\n"
      "Provides-Extra: test\r\n"
      "Name: Second\r\n"
      "Description: first line\r\n"
      "        |second line\r\n"
      "\r\n"
      "Requires-Dist: not-a-header-this-is-the-body\r\n";
  auto m = parse_core_metadata(text);
  REQUIRE(m.ok());
  CHECK(m->metadata_version == "2.1");
  CHECK(m->name == "Demo_Pkg");  // first occurrence wins
  CHECK(m->version == "1.0.post1");
  CHECK(m->summary == "A summary that  continues here");
  CHECK(m->requires_python == ">=3.8");
  REQUIRE(m->requires_dist.size() == 3);
  CHECK(m->requires_dist[1] == "colorama; sys_platform == \"win32\"");
  CHECK(m->requires_dist[2] == "pytest>=7 ; extra == 'test'");
  CHECK(m->provides_extra == std::vector<std::string>{"test"});
}

TEST_CASE("core metadata: a non-header line ends the headers; BOM is skipped") {
  auto m = parse_core_metadata("\xEF\xBB\xBFName: a\nVersion: 1\nthis is no header\nSummary: x\n");
  REQUIRE(m.ok());
  CHECK(m->name == "a");
  CHECK(m->summary.empty());
}

TEST_CASE("core metadata: Name and Version are required") {
  auto no_name = parse_core_metadata("Metadata-Version: 2.1\nVersion: 1.0\n");
  REQUIRE_FALSE(no_name.ok());
  CHECK_THAT(no_name.error().message, Catch::Contains("Name"));
  auto no_version = parse_core_metadata("Name: x\n\nVersion: 1.0\n");  // Version is in the body
  REQUIRE_FALSE(no_version.ok());
  CHECK_THAT(no_version.error().message, Catch::Contains("Version"));
  CHECK_FALSE(parse_core_metadata("").ok());
}

TEST_CASE("email headers: folded values and leading continuation") {
  auto h =
      parse_email_headers("  orphan\nWheel-Version: 1.0\nTag: py2-none-any\nTag: py3-none-any\n");
  REQUIRE(h.size() == 3);
  CHECK(h[0] == Header{"Wheel-Version", "1.0"});
  CHECK(h[2].second == "py3-none-any");
}

TEST_CASE("entry points: script groups, extras stripped, other groups ignored") {
  const char* text =
      "# comment\n"
      "[console_scripts]\n"
      "demo = demo.cli:main\n"
      "demo-extra = demo.cli : Runner.run [fast, slow]\n"
      "  spaced=demo:go\n"
      "demo = demo.cli:main2\n"
      "\n"
      "[gui_scripts]\n"
      "demo-gui = demo.gui:start\n"
      "[demo.plugins]\n"
      "plain = demo.plugins\n"
      "anything goes here\n";
  auto eps = parse_entry_points(text);
  REQUIRE(eps.ok());
  REQUIRE(eps->console_scripts.size() == 3);
  CHECK(eps->console_scripts[0].name == "demo");
  CHECK(eps->console_scripts[0].attr == "main2");  // later entry wins, like pip's dict
  CHECK(eps->console_scripts[1].module == "demo.cli");
  CHECK(eps->console_scripts[1].attr == "Runner.run");
  CHECK(eps->console_scripts[2].name == "spaced");
  REQUIRE(eps->gui_scripts.size() == 1);
  CHECK(eps->gui_scripts[0].module == "demo.gui");
}

TEST_CASE("entry points: bad script entries are errors naming the line") {
  auto no_attr = parse_entry_points("[console_scripts]\nx = module_only\n");
  REQUIRE_FALSE(no_attr.ok());
  CHECK_THAT(no_attr.error().message, Catch::Contains("entry_points.txt:2"));
  CHECK_FALSE(parse_entry_points("[console_scripts]\n../../evil = m:f\n").ok());
  CHECK_FALSE(parse_entry_points("[gui_scripts]\na/b = m:f\n").ok());
  CHECK_FALSE(parse_entry_points("[console_scripts]\n.. = m:f\n").ok());
  CHECK_FALSE(parse_entry_points("[console_scripts]\nx = m:f; import os\n").ok());
  CHECK_FALSE(parse_entry_points("[console_scripts]\nx = m:f [extra\n").ok());
  CHECK_FALSE(parse_entry_points("[console_scripts]\nx = m:\n").ok());
  CHECK_FALSE(parse_entry_points("[console_scripts]\nx = a..b:f\n").ok());
  CHECK_FALSE(parse_entry_points("[console_scripts]\njust a line\n").ok());
  CHECK(parse_entry_points("stray = before:section\n[other]\nx = y\n").ok());
}

TEST_CASE("render_script: byte-for-byte what pip 23 writes") {
  // Copied from the bin/pip a venv made with Debian's pip 23.0.1.
  const std::string pip_script =
      "#!/tmp/v/bin/python3\n"
      "# -*- coding: utf-8 -*-\n"
      "import re\n"
      "import sys\n"
      "from pip._internal.cli.main import main\n"
      "if __name__ == '__main__':\n"
      "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
      "    sys.exit(main())\n";
  CHECK(render_script({"pip", "pip._internal.cli.main", "main"}, "/tmp/v/bin/python3") ==
        pip_script);
  std::string dotted = render_script({"x", "pkg.mod", "Klass.run"}, "/p");
  CHECK_THAT(dotted, Catch::Contains("from pkg.mod import Klass\n"));
  CHECK_THAT(dotted, Catch::Contains("    sys.exit(Klass.run())\n"));
}

TEST_CASE("render_shebang: spaces and long paths use distlib's /bin/sh trampoline") {
  CHECK(render_shebang("/srv/my env/bin/python3") ==
        "#!/bin/sh\n'''exec' \"/srv/my env/bin/python3\" \"$0\" \"$@\"\n' '''\n");
  std::string p124 = "/" + std::string(123, 'a');
  CHECK(render_shebang(p124) == "#!" + p124 + "\n");
  std::string p125 = p124 + "b";
  CHECK(render_shebang(p125) == "#!/bin/sh\n'''exec' " + p125 + " \"$0\" \"$@\"\n' '''\n");
}

TEST_CASE("RECORD: quoted fields, CRLF, blank lines") {
  auto rows = parse_record(
      "\"pkg/a,b.py\",sha256=abc,12\r\n"
      "\"pkg/q\"\"q\",sha256=def,3\n"
      "\n"
      "\"multi\nline\",sha256=x,1\n"
      "pkg-1.0.dist-info/RECORD,,");
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 4);
  CHECK((*rows)[0].path == "pkg/a,b.py");
  CHECK((*rows)[0].hash == "sha256=abc");
  CHECK((*rows)[0].size == 12u);
  CHECK((*rows)[1].path == "pkg/q\"q");
  CHECK((*rows)[2].path == "multi\nline");
  CHECK((*rows)[3].hash.empty());
  CHECK_FALSE((*rows)[3].size.has_value());
}

TEST_CASE("RECORD: malformed rows are errors naming the line") {
  auto two = parse_record("a,sha256=x,1\nb,sha256=y\n");
  REQUIRE_FALSE(two.ok());
  CHECK_THAT(two.error().message, Catch::Contains("RECORD:2"));
  CHECK_FALSE(parse_record("a,sha256=x,1,extra\n").ok());
  CHECK_FALSE(parse_record("a,sha256=x,12kb\n").ok());
  CHECK_FALSE(parse_record("a,sha256=x,-1\n").ok());
  CHECK_FALSE(parse_record("\"never closed,sha256=x,1\n").ok());
}

TEST_CASE("RECORD: rows render like Python's csv.writer") {
  // Expected text from python3: csv.writer(io.StringIO()).writerow(...)
  CHECK(render_record_row({"a,b", "sha256=x", std::nullopt}) == "\"a,b\",sha256=x,\r\n");
  CHECK(render_record_row({"q\"q", "", std::nullopt}) == "\"q\"\"q\",,\r\n");
  CHECK(render_record_row({" x ", "h", 1}) == " x ,h,1\r\n");
  auto back = parse_record(render_record_row({"we\"ird,\npath", "sha256=z", 7}));
  REQUIRE(back.ok());
  CHECK((*back)[0].path == "we\"ird,\npath");
  CHECK((*back)[0].size == 7u);
}

TEST_CASE("core metadata: hostile sizes parse in linear time") {
  // A 2 MB folded header took minutes when each fold copied the value.
  std::string folded = "Metadata-Version: 2.1\nName: x\nVersion: 1\nSummary: start  \n";
  for (int i = 0; i < 100000; ++i) folded += "  folded line  \n";
  auto m = parse_core_metadata(folded);
  REQUIRE(m.ok());
  CHECK(m->summary.size() == 5 + 100000 * std::string("  folded line").size());
  CHECK(m->summary.substr(0, 20) == "start  folded line  ");
  std::string extras = "Metadata-Version: 2.1\nName: x\nVersion: 1\n";
  for (int i = 0; i < 100000; ++i)
    extras += "Provides-Extra: e" + std::to_string(i) + "\nRequires-Dist: d; extra == 'e" +
              std::to_string(i) + "'\n";
  m = parse_core_metadata(extras);
  REQUIRE(m.ok());
  CHECK(m->provides_extra.size() == 100000);
  CHECK(m->requires_dist.size() == 100000);
  std::string eps = "[console_scripts]\n";
  for (int i = 0; i < 100000; ++i) eps += "s" + std::to_string(i % 50000) + " = m:f\n";
  auto parsed = parse_entry_points(eps);
  REQUIRE(parsed.ok());
  CHECK(parsed->console_scripts.size() == 50000);
}

TEST_CASE("folding keeps Python's unfolding: inner blanks kept, outer trimmed") {
  auto h = parse_email_headers("A:  x  \n  y  \n\tz \nB:\n   \n  w\n");
  REQUIRE(h.size() == 2);
  CHECK(h[0].second == "x  y\tz");
  CHECK(h[1].second == "w");
}

TEST_CASE("entry points: a script name that is not UTF-8 is refused") {
  auto r = parse_entry_points("[console_scripts]\nbad\xff = m:f\n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("entry_points.txt:2"));
}
