// Wheels for unit tests, built in memory with libarchive's zip writer (no Python): a zip of
// members, and a wheel whose RECORD, WHEEL and METADATA are generated (fields can be spoiled).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/hash.hpp"
#include "wheel/record.hpp"

namespace lb::test {

struct Member {
  std::string path;
  std::string data;
  uint32_t mode = 0644;
  enum Kind { file, dir, symlink } kind = file;
  bool stored = false;  // store instead of deflate
};

inline la_ssize_t zip_append_cb(archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return la_ssize_t(n);
}

inline std::string make_zip(const std::vector<Member>& members) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  REQUIRE(archive_write_open(a, &out, nullptr, zip_append_cb, nullptr) == ARCHIVE_OK);
  for (const auto& m : members) {
    if (m.stored)
      archive_write_zip_set_compression_store(a);
    else
      archive_write_zip_set_compression_deflate(a);
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname_utf8(e, m.path.c_str());
    archive_entry_set_mtime(e, 315532800, 0);
    if (m.kind == Member::dir) {
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
    } else if (m.kind == Member::symlink) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_perm(e, 0777);
      archive_entry_set_symlink(e, m.data.c_str());
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, m.mode);
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

// A wheel "demo-1.0": payload files plus generated dist-info; fields can be spoiled per test.
struct TestWheel {
  std::string dist_info = "demo-1.0.dist-info";
  std::vector<Member> files = {
      {"demo/__init__.py", "print('hi')\n"},
      {"demo/", "", 0755, Member::dir},
      {"demo/cli.py", "def main():\n    return 0\n", 0644, Member::file, true},
      {"demo/odd,name \"q\".txt", "quoted in RECORD\n"},
      {"demo/donn\xC3\xA9"
       "es.txt",
       "UTF-8 name\n"},
      {"demo-1.0.data/scripts/run.sh", "#!/bin/sh\necho run\n", 0755},
  };
  std::string wheel =
      "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
  std::string metadata =
      "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: Demo\nRequires-Dist: six\n";
  std::string entry_points = "[console_scripts]\ndemo = demo.cli:main\n";
  std::vector<wheel::RecordRow> extra_rows;  // appended to RECORD
  std::vector<Member> unlisted;              // added to the zip after RECORD is computed
  std::function<void(std::vector<wheel::RecordRow>&)> spoil_record;

  std::string build() const {
    std::vector<Member> all = files;
    all.push_back({dist_info + "/WHEEL", wheel});
    all.push_back({dist_info + "/METADATA", metadata});
    if (!entry_points.empty()) all.push_back({dist_info + "/entry_points.txt", entry_points});
    std::vector<wheel::RecordRow> rows;
    for (const auto& m : all)
      if (m.kind == Member::file)
        rows.push_back({m.path, lb::record_hash_from_hex(lb::sha256_hex(m.data)), m.data.size()});
    rows.insert(rows.end(), extra_rows.begin(), extra_rows.end());
    rows.push_back({dist_info + "/RECORD", "", std::nullopt});
    if (spoil_record) spoil_record(rows);
    std::string record;
    for (const auto& r : rows) record += wheel::render_record_row(r);
    all.insert(all.begin() + 1, {dist_info + "/RECORD", record});  // not last, like Debian's pip
    all.insert(all.end(), unlisted.begin(), unlisted.end());
    return make_zip(all);
  }
};

/// A pure-Python wheel NAME-VERSION with `files` (path -> content) and Requires-Dist lines.
inline TestWheel simple_wheel(const std::string& name, const std::string& version,
                              const std::vector<std::pair<std::string, std::string>>& files,
                              const std::vector<std::string>& requires_dist = {}) {
  TestWheel w;
  w.dist_info = name + "-" + version + ".dist-info";
  w.files.clear();
  for (const auto& [path, data] : files) w.files.push_back({path, data});
  w.metadata = "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n";
  for (const auto& r : requires_dist) w.metadata += "Requires-Dist: " + r + "\n";
  w.entry_points.clear();
  return w;
}

}  // namespace lb::test
