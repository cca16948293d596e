#include "env/venv.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "env/fileops.hpp"
#include "env/record.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::env {
namespace {

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

/// "3.13.0rc1" -> "3.13.0": venv writes sys.version_info[:3].
std::string three_part_version(const interp::Interpreter& in) {
  std::string v;
  int parts = 0;
  for (char c : in.version) {
    if (c == '.') {
      if (++parts == 3) break;
      v += c;
    } else if (c >= '0' && c <= '9') {
      v += c;
    } else {
      break;
    }
  }
  return v;
}

class VenvWriter {
 public:
  VenvWriter(const std::string& dir, const std::string& final_dir, std::vector<FileEntry>* files)
      : dir_(dir), final_(final_dir), files_(files) {}

  Status symlink(const std::string& target, const std::string& rel) {
    std::string path = dir_ + "/" + rel;
    if (::symlink(target.c_str(), path.c_str()) != 0)
      return make_error("cannot create symlink " + path + ": " + detail::errno_text(errno));
    if (files_)
      files_->push_back({rel, kModeSymlink, sha256_hex(target), target.size(), false, target});
    return {};
  }

  Status write(const std::string& rel, const std::string& content, unsigned perm, bool per_env) {
    detail::Placed placed;
    LB_TRY(detail::write_new_file(dir_ + "/" + rel, content, perm, placed));
    if (placed.existed) return make_error(dir_ + "/" + rel + " already exists");
    if (files_) {
      std::string canon = per_env ? canonical_content(rel, content, final_) : std::string();
      const std::string& hashed = per_env ? canon : content;
      files_->push_back({rel,
                         (perm & 0111) ? kModeExec : kModeFile,
                         sha256_hex(hashed),
                         hashed.size(),
                         per_env,
                         {}});
    }
    return {};
  }

 private:
  const std::string& dir_;
  const std::string& final_;
  std::vector<FileEntry>* files_;
};

/// Python's shlex.quote.
std::string shell_quote(const std::string& s) {
  if (s.empty()) return "''";
  bool safe = std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
  });
  return safe ? s : "'" + replace_all(s, "'", "'\"'\"'") + "'";
}

/// Newer venv modules (gh-124651, also backported by distributions) quote each value for the
/// script's shell; older ones substitute verbatim into quoted templates.
bool venv_quotes_values(const std::string& scripts_dir) {
  auto init = fs::read_file(fs::dirname(scripts_dir) + "/__init__.py");
  return init.ok() && (init->find("gh-124651") != std::string::npos ||
                       init->find("shlex.quote") != std::string::npos);
}

/// venv's install_scripts: templates from common/ and posix/ with placeholders replaced.
Status install_activate_scripts(VenvWriter& w, const std::string& final_dir,
                                const interp::Interpreter& in, const std::string& bin,
                                const std::string& exe_name) {
  const std::string& root = in.venv_scripts_dir;
  if (root.empty() || !fs::is_dir(root)) return {};
  const bool quoting = venv_quotes_values(root);
  std::string name = fs::basename(final_dir);
  std::string prompt = in.minor >= 13 || in.major > 3 ? name : "(" + name + ") ";
  for (const char* sub : {"common", "posix"}) {
    std::string src_dir = root + "/" + sub;
    if (!fs::is_dir(src_dir)) continue;
    LB_ASSIGN(auto entries, fs::list_dir(src_dir));
    for (const auto& entry : entries) {
      std::string src = src_dir + "/" + entry;
      auto info = fs::stat_path(src);
      if (!info.is_regular) continue;
      LB_ASSIGN(std::string text, fs::read_file(src));
      auto quote = [&](const std::string& v) {
        if (!quoting || ends_with(entry, ".bat")) return v;
        if (ends_with(entry, ".ps1")) return "'" + replace_all(v, "'", "''") + "'";
        return shell_quote(v);
      };
      std::string out = text;
      out = replace_all(std::move(out), "__VENV_DIR__", quote(final_dir));
      out = replace_all(std::move(out), "__VENV_NAME__", quote(name));
      out = replace_all(std::move(out), "__VENV_PROMPT__", quote(prompt));
      out = replace_all(std::move(out), "__VENV_BIN_NAME__", quote(bin));
      out = replace_all(std::move(out), "__VENV_PYTHON__",
                        quote(final_dir + "/" + bin + "/" + exe_name));
      LB_TRY(w.write(bin + "/" + entry, out, info.mode & 07777, out != text));
    }
  }
  return {};
}

}  // namespace

std::string venv_include_dir(const interp::Interpreter& in) {
  if (!in.include.empty() && !starts_with(in.include, "include/site")) return in.include;
  if (in.major == 3 && in.minor < 11) return "include";
  return "include/python" + std::to_string(in.major) + "." + std::to_string(in.minor);
}

std::string pyvenv_cfg(const std::string& final_dir, const interp::Interpreter& in) {
  std::string home = in.home.empty() ? fs::dirname(in.executable) : in.home;
  std::string cfg = "home = " + home + "\n" + "include-system-site-packages = false\n" +
                    "version = " + three_part_version(in) + "\n";
  if (in.major > 3 || in.minor >= 11) {
    cfg += "executable = " + real_path(in.executable) + "\n";
    cfg += "command = " + in.executable + " -m venv --without-pip " + final_dir + "\n";
  }
  return cfg;
}

Status create_venv(const std::string& dir, const std::string& final_dir,
                   const interp::Interpreter& in, std::vector<FileEntry>* files) {
  if (in.executable.empty() || in.purelib.empty())
    return make_error("cannot create a venv in " + dir +
                      ": the interpreter description is "
                      "incomplete (no executable or purelib)");
  LB_TRY(fs::create_dirs(fs::dirname(dir)));
  // `dir` is new, or an empty directory the caller just created (and holds locked).
  auto existing = fs::list_dir(dir);
  if (!(existing.ok() && existing->empty()) && ::mkdir(dir.c_str(), 0755) != 0)
    return make_error("cannot create the env directory " + dir + ": " + detail::errno_text(errno),
                      errno == EEXIST ? "remove it first or choose another path" : "");
  if (files) files->clear();
  detail::DirMaker dirs(dir);
  VenvWriter w(dir, final_dir, files);
  const std::string bin = in.scripts.empty() ? "bin" : in.scripts;

  LB_TRY(dirs.ensure(venv_include_dir(in)));
  LB_TRY(dirs.ensure(in.purelib));
  if (!in.platlib.empty()) LB_TRY(dirs.ensure(in.platlib));
  if (sizeof(void*) == 8 && starts_with(in.purelib, "lib/")) LB_TRY(w.symlink("lib", "lib64"));
  LB_TRY(dirs.ensure(bin));

  // setup_python: bin/<exe> -> executable, then python, python3, python3.X -> <exe>.
  std::string exe_name = fs::basename(in.executable);
  LB_TRY(w.symlink(in.executable, bin + "/" + exe_name));
  for (std::string link :
       {std::string("python"), std::string("python3"), "python3." + std::to_string(in.minor)})
    if (link != exe_name) LB_TRY(w.symlink(exe_name, bin + "/" + link));

  LB_TRY(w.write("pyvenv.cfg", pyvenv_cfg(final_dir, in), 0644, true));
  LB_TRY(install_activate_scripts(w, final_dir, in, bin, exe_name));
  if (in.major > 3 || in.minor >= 13)
    LB_TRY(w.write(".gitignore",
                   "# Created by venv; see https://docs.python.org/3/library/venv.html\n*\n", 0644,
                   false));
  if (files)
    std::sort(files->begin(), files->end(),
              [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return {};
}

}  // namespace lb::env
