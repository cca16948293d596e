#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "env/bytecode.hpp"
#include "env/fileops.hpp"
#include "env/manifest.hpp"
#include "env/record.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::env {
namespace {

/// A .pyc file or anything inside a __pycache__ directory.
bool is_bytecode(const std::string& rel) {
  return ends_with(rel, ".pyc") || starts_with(rel, "__pycache__/") ||
         rel.find("/__pycache__/") != std::string::npos;
}

struct DiskEntry {
  std::string rel;
  struct stat st;
};

/// Every non-directory below root (no symlinks followed), skipping .lavabuild/ at the top.
Status walk(const std::string& root, const std::string& rel, std::vector<DiskEntry>& out) {
  std::string path = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(path.c_str());
  if (!d) return make_error("cannot read directory " + path + ": " + detail::errno_text(errno));
  std::vector<std::string> subdirs;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (rel.empty() && name == ".lavabuild") continue;
    std::string child = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      subdirs.push_back(child);
    } else {
      out.push_back({child, st});
    }
  }
  ::closedir(d);
  for (const auto& s : subdirs) LB_TRY(walk(root, s, out));
  return {};
}

class Verifier {
 public:
  Verifier(const std::string& dir, const Manifest& m) : dir_(dir) {
    final_ = m.env_path.empty() ? fs::absolute(dir) : m.env_path;
    for (const auto& f : m.venv_files) expected_[f.path] = &f;
    for (const auto& d : m.dists) {
      compiled_.merge(compiled_pycs(d));
      for (const auto& f : d.files) {
        expected_[f.path] = &f;
        if (f.per_env && f.path == d.dist_info_rel + "/RECORD")
          record_lib_dir_[f.path] = fs::dirname(d.dist_info_rel);
      }
    }
  }

  Result<std::vector<Difference>> run() {
    std::vector<DiskEntry> disk;
    LB_TRY(walk(dir_, "", disk));
    std::vector<Difference> diffs;
    for (const auto& e : disk) {
      // Bytecode lavabuild compiled is checked like any file. Bytecode a wheel shipped is
      // listed (relinking needs it) but, like the bytecode Python writes at run time (other
      // optimisation levels, modules outside any dist), not checked: Python replaces a .pyc
      // whose source mtime differs.
      bool checked = !is_bytecode(e.rel) || compiled_.count(e.rel);
      if (!checked) continue;
      auto it = expected_.find(e.rel);
      if (it == expected_.end()) {
        diffs.push_back({Difference::added, e.rel, "not in the manifest"});
        continue;
      }
      seen_.insert(e.rel);
      LB_TRY(compare(e, *it->second, diffs));
    }
    for (const auto& [path, f] : expected_)
      if (!seen_.count(path) && (!is_bytecode(path) || compiled_.count(path)))
        diffs.push_back({Difference::removed, path, "missing from the env"});
    std::sort(diffs.begin(), diffs.end(), [](const Difference& a, const Difference& b) {
      return a.path != b.path ? a.path < b.path : a.kind < b.kind;
    });
    return diffs;
  }

 private:
  /// Hash and size of the file's content as the manifest records it (canonical for per-env).
  Result<std::pair<std::string, uint64_t>> digest(const std::string& rel, const FileEntry& f) {
    std::string path = dir_ + "/" + rel;
    if (!f.per_env) {
      LB_ASSIGN(std::string hex, sha256_file_hex(path));
      return std::pair{hex, uint64_t(fs::stat_path(path).size)};
    }
    LB_ASSIGN(std::string text, fs::read_file(path));
    std::string canon;
    if (auto lib = record_lib_dir_.find(rel); lib != record_lib_dir_.end()) {
      // Rows of per-env files take their canonical hash from the manifest: a changed script
      // is reported once, as itself, not again through RECORD.
      canon = canonical_record(text, lib->second, [this](const std::string& target) {
        auto it = expected_.find(target);
        std::optional<std::pair<std::string, uint64_t>> none;
        if (it == expected_.end() || !it->second->per_env || record_lib_dir_.count(target))
          return none;
        return std::optional(std::pair{it->second->sha256, it->second->size});
      });
    } else {
      canon = canonical_content(rel, text, final_);
    }
    return std::pair{sha256_hex(canon), uint64_t(canon.size())};
  }

  Status compare(const DiskEntry& e, const FileEntry& f, std::vector<Difference>& diffs) {
    bool is_link = S_ISLNK(e.st.st_mode);
    if (is_link != (f.mode == kModeSymlink)) {
      diffs.push_back({Difference::changed, e.rel,
                       is_link ? "a regular file was expected, found a symlink"
                               : "a symlink was expected, found a file"});
      return {};
    }
    if (is_link) {
      std::string path = dir_ + "/" + e.rel;
      std::string target(static_cast<size_t>(e.st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      target.resize(n < 0 ? 0 : static_cast<size_t>(n));
      if (target != f.link_target)
        diffs.push_back({Difference::changed, e.rel,
                         "symlink to " + f.link_target + " expected, found " + target});
      return {};
    }
    bool exec_expected = (f.mode & 0111) != 0, exec_found = (e.st.st_mode & 0111) != 0;
    if (exec_expected != exec_found)
      diffs.push_back({Difference::mode_changed, e.rel,
                       std::string(exec_expected ? "executable" : "not executable") +
                           " expected, found mode " + mode_string(e.st.st_mode)});
    if (!f.per_env && static_cast<uint64_t>(e.st.st_size) != f.size) {
      diffs.push_back(
          {Difference::changed, e.rel,
           "size " + std::to_string(f.size) + " expected, found " + std::to_string(e.st.st_size)});
      return {};
    }
    LB_ASSIGN(auto got, digest(e.rel, f));
    if (got.first != f.sha256)
      diffs.push_back(
          {Difference::changed, e.rel, "sha256 " + f.sha256 + " expected, found " + got.first});
    return {};
  }

  static std::string mode_string(mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%03o", static_cast<unsigned>(m & 07777));
    return buf;
  }

  const std::string& dir_;
  std::string final_;
  std::unordered_map<std::string, const FileEntry*> expected_;
  std::unordered_map<std::string, std::string> record_lib_dir_;
  std::unordered_set<std::string> seen_;
  std::unordered_set<std::string> compiled_;  ///< bytecode lavabuild compiled (compiled_pycs)
};

}  // namespace

const char* difference_kind_name(Difference::Kind kind) {
  switch (kind) {
    case Difference::added:
      return "added";
    case Difference::removed:
      return "removed";
    case Difference::changed:
      return "changed";
    case Difference::mode_changed:
      return "mode changed";
  }
  return "?";
}

Result<std::vector<Difference>> verify_env(const std::string& env_dir) {
  LB_ASSIGN(Manifest m, read_manifest(env_dir));
  Verifier v(env_dir, m);
  return v.run();
}

}  // namespace lb::env
