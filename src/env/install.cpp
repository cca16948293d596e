#include "env/install.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "env/fileops.hpp"
#include "env/record.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace lb::env {
namespace {

using detail::DirMaker;
using detail::Placed;

std::string join_rel(const std::string& a, const std::string& b) {
  return a.empty() ? b : b.empty() ? a : a + "/" + b;
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// The dist (dist-info directory name) whose RECORD lists `rel`, or "".
std::string find_owner(const std::string& dir, const std::string& lib_dir, const std::string& rel,
                       const std::string& self_dist_info) {
  std::string site = dir + "/" + lib_dir;
  DIR* d = ::opendir(site.c_str());
  if (!d) return "";
  std::string owner;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!ends_with(name, ".dist-info") || name == self_dist_info) continue;
    auto text = detail::read_prefix(site + "/" + name + "/RECORD", size_t(64) << 20);
    if (!text.ok()) continue;
    for (const auto& row : parse_record(*text))
      if (normalize_rel(lib_dir + "/" + row.path) == rel) owner = name;
    if (!owner.empty()) break;
  }
  ::closedir(d);
  return owner;
}

/// pip's header dir in a venv: include/site/pythonX.Y/<name>.
std::string headers_dir(const interp::Interpreter& in, const std::string& name) {
  return "include/site/python" + std::to_string(in.major) + "." + std::to_string(in.minor) + "/" +
         name;
}

/// `text` is `prefix` + optional "<digits>" + optional ".<digits>"-style suffix, e.g. pip3.11
/// (sep '\0': digits[.digits]; sep '-': -digits.digits).
bool versioned_name(std::string_view text, std::string_view prefix, char sep) {
  if (!starts_with(text, prefix)) return false;
  std::string_view rest = text.substr(prefix.size());
  if (rest.empty()) return true;
  auto digits = [&](std::string_view& r) {
    size_t n = 0;
    while (n < r.size() && r[n] >= '0' && r[n] <= '9') ++n;
    r.remove_prefix(n);
    return n > 0;
  };
  if (sep == '-') {
    if (rest[0] != '-') return false;
    rest.remove_prefix(1);
    if (!digits(rest) || rest.empty() || rest[0] != '.') return false;
    rest.remove_prefix(1);
    return digits(rest) && rest.empty();
  }
  if (!digits(rest)) return false;
  if (rest.empty()) return true;
  if (rest[0] != '.') return false;
  rest.remove_prefix(1);
  return digits(rest) && rest.empty();
}

/// pip's get_console_script_specs: pip and easy_install get versioned wrappers.
std::vector<wheel::EntryPoint> console_specs(std::vector<wheel::EntryPoint> eps,
                                             const interp::Interpreter& in) {
  std::vector<wheel::EntryPoint> out;
  auto take = [&](const std::string& name, char sep, const std::vector<std::string>& names) {
    auto it = std::find_if(eps.begin(), eps.end(), [&](auto& e) { return e.name == name; });
    if (it == eps.end()) return;
    wheel::EntryPoint ep = *it;
    eps.erase(std::remove_if(eps.begin(), eps.end(),
                             [&](auto& e) { return versioned_name(e.name, name, sep); }),
              eps.end());
    for (const auto& n : names) out.push_back({n, ep.module, ep.attr});
  };
  std::string major = std::to_string(in.major);
  std::string xy = major + "." + std::to_string(in.minor);
  take("pip", '\0', {"pip", "pip" + major, "pip" + xy});
  take("easy_install", '-', {"easy_install", "easy_install-" + xy});
  out.insert(out.end(), eps.begin(), eps.end());
  return out;
}

/// setuptools-generated wrappers in .data/scripts that pip skips (EP, EP.exe, EP-script.py,
/// EP.pya).
bool is_entrypoint_wrapper(const std::string& file, const std::set<std::string>& names) {
  std::string lower = to_lower(file);
  std::string match = file;
  if (ends_with(lower, ".exe") || ends_with(lower, ".pya"))
    match = file.substr(0, file.size() - 4);
  else if (ends_with(lower, "-script.py"))
    match = file.substr(0, file.size() - 10);
  return names.count(match) > 0;
}

class Installer {
 public:
  Installer(const std::string& dir, const std::string& final_dir, const interp::Interpreter& in,
            const wheel::UnpackedWheel& w, const BlobSource& blobs, LinkMode mode,
            LinkReport& report, const Bytecode* bytecode)
      : dir_(dir),
        final_(final_dir),
        in_(in),
        w_(w),
        blobs_(blobs),
        mode_(mode),
        report_(report),
        bytecode_(bytecode && !bytecode->by_member.empty() ? bytecode : nullptr),
        dirs_(dir) {
    lib_dir_ = w.root_is_purelib ? in.purelib : in.platlib;
    python_ = final_dir + "/" + in.scripts + "/python";
  }

  Result<InstalledDist> run(bool requested, const DirectUrl& direct);

 private:
  struct Target {
    std::string rel;  // env-relative destination
    bool is_script = false;
  };
  Result<Target> route(const std::string& member) const;
  Status conflict(const std::string& rel) const;
  /// Why `rel` (where `member` would go) is a path lavabuild writes itself, or "".
  std::string installer_owned(const std::string& member, const std::string& rel,
                              const std::set<std::string>& script_rels) const;
  Status place_member(const wheel::WheelMember& m, const std::string& rel, bool is_script);
  Status place_pyc(const std::string& rel, const CompiledPyc& pyc);
  /// Put the stored blob at env path `rel`: hard links go relative to directory descriptors
  /// (the blobs root, the destination's parent), so the kernel walks one or two path
  /// components per file instead of two whole paths; anything else goes through place_file.
  Status place_blob(const std::string& sha, bool executable, const std::string& rel,
                    Placed& placed);
  Status add_generated(const std::string& rel, const std::string& content, bool exec, bool per_env);

  const std::string& dir_;
  const std::string& final_;
  const interp::Interpreter& in_;
  const wheel::UnpackedWheel& w_;
  const BlobSource& blobs_;
  LinkMode mode_;
  LinkReport& report_;
  const Bytecode* bytecode_;
  DirMaker dirs_;
  struct BlobsRoot {  // O_PATH fd of the store's blobs/ dir, opened on first use
    int fd = -2;
    ~BlobsRoot() {
      if (fd >= 0) ::close(fd);
    }
  } blobs_root_;
  std::string lib_dir_, python_;
  std::vector<FileEntry> files_;
  std::vector<RecordRow> rows_;
  std::unordered_map<std::string, std::pair<std::string, uint64_t>> canonical_;
};

Result<Installer::Target> Installer::route(const std::string& member) const {
  auto slash = member.find('/');
  if (slash == std::string::npos || !ends_with(member.substr(0, slash), ".data"))
    return Target{lib_dir_ + "/" + member, false};
  std::string rest = member.substr(slash + 1);
  auto slash2 = rest.find('/');
  std::string key = rest.substr(0, slash2);
  auto bad = [&] {
    return make_error(w_.dist_info + ": unexpected file " + member +
                          " (.data contents must be <key>/<path> with key purelib, platlib, "
                          "scripts, headers or data)",
                      "the wheel is malformed; report it to the package's maintainers");
  };
  if (slash2 == std::string::npos || slash2 + 1 >= rest.size()) return bad();
  std::string base;
  if (key == "purelib")
    base = in_.purelib;
  else if (key == "platlib")
    base = in_.platlib;
  else if (key == "scripts")
    base = in_.scripts;
  else if (key == "data")
    base = in_.data;
  else if (key == "headers")
    base = headers_dir(in_, w_.metadata.name);
  else
    return bad();
  std::string rel = normalize_rel(join_rel(base, rest.substr(slash2 + 1)));
  if (rel.empty())
    return make_error(w_.dist_info + ": " + member + " would be installed outside the env");
  // lib64 is a symlink to lib in a 64-bit venv (create_venv): record the real path, which is
  // what `verify` walks (it does not follow symlinks).
  if (starts_with(rel, "lib64/") && sizeof(void*) == 8 && starts_with(in_.purelib, "lib/"))
    rel = "lib/" + rel.substr(6);
  return Target{rel, key == "scripts"};
}

std::string Installer::installer_owned(const std::string& member, const std::string& rel,
                                       const std::set<std::string>& script_rels) const {
  if (rel == ".lavabuild" || starts_with(rel, ".lavabuild/")) return "lavabuild's own state";
  if (rel == "pyvenv.cfg" || rel == ".gitignore") return "a file of the venv";
  if (script_rels.count(rel)) return "a console script generated from entry_points.txt";
  const std::string dir = rel.substr(0, rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/'));
  const std::string base = base_name(rel);
  if (dir == in_.scripts &&
      (versioned_name(base, "python", '\0') || base == base_name(in_.executable) ||
       base == "activate" || starts_with(base, "activate.") || base == "Activate.ps1"))
    return "a file of the venv";
  // RECORD, INSTALLER, REQUESTED and direct_url.json of any dist; the wheel's own top-level
  // copies are skipped or installed as they are, never written over.
  if (ends_with(dir, ".dist-info") && !starts_with(member, w_.dist_info + "/") &&
      (base == "RECORD" || base == "INSTALLER" || base == "REQUESTED" || base == "direct_url.json"))
    return "a file the installer writes";
  return "";
}

Status Installer::conflict(const std::string& rel) const {
  std::string owner = find_owner(dir_, lib_dir_, rel, w_.dist_info);
  std::string who = owner.empty() ? "another file" : owner.substr(0, owner.size() - 10);
  return make_error("cannot install " + w_.metadata.name + " " + w_.metadata.version + ": " + rel +
                        " already exists in " + dir_ + " (installed by " + who + ")",
                    "two distributions provide the same file; drop one of them from the "
                    "requirements");
}

Status Installer::place_member(const wheel::WheelMember& m, const std::string& rel,
                               bool is_script) {
  LB_TRY(dirs_.ensure_parent(rel));
  std::string src = blobs_.blob_path(m.sha256, m.executable);
  std::string dst = dir_ + "/" + rel;
  Placed placed;
  if (is_script) {
    LB_ASSIGN(std::string head, detail::read_prefix(src, 8));
    if (starts_with(head, "#!python")) {
      LB_ASSIGN(std::string body, detail::read_prefix(src, m.size + 1));
      auto eol = body.find('\n');
      std::string text =
          "#!" + python_ + "\n" + (eol == std::string::npos ? std::string() : body.substr(eol + 1));
      return add_generated(rel, text, true, true);
    }
  }
  LB_TRY(place_blob(m.sha256, m.executable, rel, placed));
  if (placed.existed) return conflict(rel);
  files_.push_back({rel, m.executable ? kModeExec : kModeFile, m.sha256, m.size, false, {}});
  rows_.push_back(
      {relative_path(lib_dir_, rel), record_hash_from_hex(m.sha256), std::to_string(m.size)});
  // Only a source linked from the store: its pyc records the stored file's mtime and size.
  if (bytecode_)
    if (auto it = bytecode_->by_member.find(m.path); it != bytecode_->by_member.end())
      LB_TRY(place_pyc(rel, it->second));
  return {};
}

Status Installer::place_pyc(const std::string& rel, const CompiledPyc& pyc) {
  std::string pyc_rel = pyc_path(rel, bytecode_->cache_tag);
  if (pyc_rel.empty()) return {};
  LB_TRY(dirs_.ensure_parent(pyc_rel));
  Placed placed;
  LB_TRY(place_blob(pyc.sha256, false, pyc_rel, placed));
  if (placed.existed) return conflict(pyc_rel);
  files_.push_back({pyc_rel, kModeFile, pyc.sha256, pyc.size, false, {}});
  rows_.push_back({relative_path(lib_dir_, pyc_rel), "", ""});
  return {};
}

Status Installer::place_blob(const std::string& sha, bool executable, const std::string& rel,
                             Placed& placed) {
  std::string src = blobs_.blob_path(sha, executable);
  if (mode_ == LinkMode::hardlink && !report_.fell_back_to_copy) {
    // src is <root>/<aa>/<name>: link "<aa>/<name>" relative to <root>.
    auto last = src.rfind('/');
    auto prev =
        last == std::string::npos || last == 0 ? std::string::npos : src.rfind('/', last - 1);
    if (prev != std::string::npos) {
      if (blobs_root_.fd == -2)
        blobs_root_.fd = ::open(src.substr(0, prev).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      auto slash = rel.rfind('/');
      const char* name = rel.c_str() + (slash == std::string::npos ? 0 : slash + 1);
      if (detail::link_at(blobs_root_.fd, src.c_str() + prev + 1, dirs_.parent_fd(rel), name)) {
        placed.existed = false;
        ++report_.linked;
        return {};
      }
      if (errno == EEXIST) {
        placed.existed = true;
        return {};
      }
    }  // anything else: the general path says what went wrong, or falls back to copies
  }
  return detail::place_file(src, dir_ + "/" + rel, mode_, executable, report_, placed);
}

Status Installer::add_generated(const std::string& rel, const std::string& content, bool exec,
                                bool per_env) {
  LB_TRY(dirs_.ensure_parent(rel));
  Placed placed;
  LB_TRY(detail::write_new_file(dir_ + "/" + rel, content, exec ? 0755 : 0644, placed));
  if (placed.existed) return conflict(rel);
  std::string sha = sha256_hex(content);
  FileEntry f{rel, exec ? kModeExec : kModeFile, sha, content.size(), per_env, {}};
  if (per_env) {
    std::string canon = canonical_content(rel, content, final_);
    f.sha256 = sha256_hex(canon);
    f.size = canon.size();
    canonical_[rel] = {f.sha256, f.size};
  }
  files_.push_back(std::move(f));
  rows_.push_back(
      {relative_path(lib_dir_, rel), record_hash_from_hex(sha), std::to_string(content.size())});
  return {};
}

Result<InstalledDist> Installer::run(bool requested, const DirectUrl& direct) {
  LB_TRY(fs::create_dirs(dir_));
  const std::string info = w_.dist_info + "/";
  std::set<std::string> skip = {info + "RECORD", info + "INSTALLER"};
  if (requested) skip.insert(info + "REQUESTED");
  if (!direct.url.empty()) skip.insert(info + "direct_url.json");

  // Entry points: console (with pip's versioned wrappers), then GUI (wins on a name clash).
  std::map<std::string, wheel::EntryPoint> scripts;
  for (auto& ep : console_specs(w_.entry_points.console_scripts, in_)) scripts[ep.name] = ep;
  for (auto& ep : w_.entry_points.gui_scripts) scripts[ep.name] = ep;
  std::set<std::string> ep_names, script_rels;
  for (auto& [name, ep] : scripts) {
    ep_names.insert(name);
    script_rels.insert(join_rel(in_.scripts, name));
  }

  // The wheel's own files where compiled bytecode goes: pip's compileall overwrites them.
  std::set<std::string> pyc_rels;
  if (bytecode_)
    for (const auto& m : w_.members)
      if (bytecode_->by_member.count(m.path))
        if (auto t = route(m.path); t.ok()) pyc_rels.insert(pyc_path(t->rel, bytecode_->cache_tag));

  for (const auto& m : w_.members) {
    if (skip.count(m.path)) continue;
    LB_ASSIGN(Target t, route(m.path));
    if (pyc_rels.count(t.rel)) continue;
    if (t.is_script && is_entrypoint_wrapper(base_name(m.path), ep_names)) continue;
    // Such a member would be linked from the store, and lavabuild's own write there would
    // then fail or, worse, reach the shared stored file.
    if (std::string why = installer_owned(m.path, t.rel, script_rels); !why.empty())
      return make_error("cannot install " + w_.metadata.name + " " + w_.metadata.version +
                            ": wheel member '" + m.path + "' would be installed at " + t.rel +
                            ", " + why,
                        "the wheel is malformed or hostile; do not install it");
    LB_TRY(place_member(m, t.rel, t.is_script));
  }
  for (const auto& [name, ep] : scripts) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
      return make_error(w_.dist_info + "/entry_points.txt: invalid script name " +
                        lb::quoted(name));
    LB_TRY(
        add_generated(join_rel(in_.scripts, name), wheel::render_script(ep, python_), true, true));
  }

  const std::string info_rel = lib_dir_ + "/" + w_.dist_info;
  LB_TRY(dirs_.ensure(info_rel));
  LB_TRY(add_generated(info_rel + "/INSTALLER", "lavabuild\n", false, false));
  if (!direct.url.empty())
    LB_TRY(add_generated(info_rel + "/direct_url.json", direct_url_json(direct), false, false));
  if (requested) LB_TRY(add_generated(info_rel + "/REQUESTED", "", false, false));

  // RECORD lists itself without hash or size.
  const std::string record_rel = info_rel + "/RECORD";
  rows_.push_back({relative_path(lib_dir_, record_rel), "", ""});
  std::string record = render_record(std::move(rows_));
  Placed placed;
  LB_TRY(detail::write_new_file(dir_ + "/" + record_rel, record, 0644, placed));
  if (placed.existed) return conflict(record_rel).error();
  FileEntry rec{record_rel, kModeFile, sha256_hex(record), record.size(), false, {}};
  if (!canonical_.empty()) {
    std::string canon = canonical_record(record, lib_dir_, [this](const std::string& rel) {
      auto it = canonical_.find(rel);
      return it == canonical_.end() ? std::optional<std::pair<std::string, uint64_t>>()
                                    : std::optional<std::pair<std::string, uint64_t>>(it->second);
    });
    rec.per_env = true;
    rec.sha256 = sha256_hex(canon);
    rec.size = canon.size();
  }
  files_.push_back(std::move(rec));

  InstalledDist dist;
  dist.name = w_.metadata.name;
  dist.version = w_.metadata.version;
  dist.dist_info_rel = info_rel;
  if (bytecode_) dist.bytecode_tag = bytecode_->cache_tag;
  std::sort(files_.begin(), files_.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  dist.files = std::move(files_);
  return dist;
}

}  // namespace

Result<InstalledDist> install_wheel(const std::string& dir, const std::string& final_dir,
                                    const interp::Interpreter& interp,
                                    const wheel::UnpackedWheel& wheel, const BlobSource& blobs,
                                    LinkMode mode, bool requested, const DirectUrl& direct,
                                    LinkReport& report, const Bytecode* bytecode) {
  Installer inst(dir, final_dir, interp, wheel, blobs, mode, report, bytecode);
  return inst.run(requested, direct);
}

Status relink_dist(const std::string& old_dir, const std::string& dir, const InstalledDist& dist,
                   LinkReport& report) {
  LB_TRY(fs::create_dirs(dir));
  DirMaker dirs(dir);
  for (const auto& f : dist.files) {
    LB_TRY(dirs.ensure_parent(f.path));
    std::string dst = dir + "/" + f.path;
    if (f.mode == kModeSymlink) {
      if (::symlink(f.link_target.c_str(), dst.c_str()) != 0)
        return make_error("cannot create symlink " + dst + ": " + detail::errno_text(errno));
      continue;
    }
    Placed placed;
    LB_TRY(detail::place_file(old_dir + "/" + f.path, dst, LinkMode::hardlink, f.mode == kModeExec,
                              report, placed));
    if (placed.existed)
      return make_error(
          "cannot relink " + dist.name + " " + dist.version + ": " + dst + " already exists",
          "two distributions provide the same file; drop one of them");
  }
  return {};
}

}  // namespace lb::env
