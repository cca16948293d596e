#include "engine/journal.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <set>
#include <vector>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::engine {

namespace {

/// Every directory the journal writes in or deletes from (and .lavabuild/) is a real
/// directory of the env: a symlink planted there (or in a parent) would send a delete or a
/// rename outside it. Checked before the journal is written, and before one found is replayed.
Status check_env_dirs(const std::string& env_dir, const Journal& j) {
  std::set<std::string> checked, parents{".lavabuild"};
  for (const auto* list : {&j.deletes, &j.moves})
    for (const auto& rel : *list)
      if (auto slash = rel.rfind('/'); slash != std::string::npos)
        parents.insert(rel.substr(0, slash));
  for (const auto& dir : parents)
    if (std::string bad = fs::non_dir_component(env_dir, dir, checked); !bad.empty())
      return make_error(
          env_dir + "/" + bad + " is not a directory (" +
              (fs::stat_path(env_dir + "/" + bad).is_symlink ? "a symlink" : "a file") +
              ") where lavabuild keeps one; nothing was changed",
          "remove it and run again (the env is then repaired from the store)");
  return {};
}

/// Remove the bytecode Python wrote for the deleted modules `stems` ("mod." for "mod.py") of
/// the directory `dir` (pip's uninstall does the same): one listing of its __pycache__.
void remove_bytecode_of(const std::string& env_dir, const std::string& dir,
                        const std::vector<std::string>& stems) {
  std::string cache = env_dir + "/" + dir + "/__pycache__";
  if (!fs::stat_path(cache).is_dir) return;  // (lstat: not through a symlink)
  auto names = fs::list_dir(cache);
  if (!names.ok()) return;
  for (const auto& n : *names)
    if (ends_with(n, ".pyc"))
      for (const auto& stem : stems)
        if (starts_with(n, stem)) {
          (void)::remove((cache + "/" + n).c_str());
          break;
        }
  (void)::rmdir(cache.c_str());  // only when now empty
}

/// rmdir the directories of `dirs` that became empty, and then their parents, up to (not
/// including) a kept directory: deepest first (a directory sorts before everything below
/// it), each once.
void remove_empty_dirs(const std::string& env_dir, std::set<std::string> dirs,
                       const std::set<std::string>& keep) {
  while (!dirs.empty()) {
    auto last = std::prev(dirs.end());
    std::string rel = std::move(dirs.extract(last).value());
    if (rel.empty() || rel == "." || keep.count(rel)) continue;
    if (::rmdir((env_dir + "/" + rel).c_str()) == 0) dirs.insert(fs::dirname(rel));
  }
}

/// How many files (regular files and symlinks) are under `dir`, directories not counted;
/// -1 when it cannot be read whole.
long count_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  long n = 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      auto st = fs::stat_path(dir + "/" + name);
      type = st.is_dir ? DT_DIR : DT_REG;
    }
    if (type == DT_DIR) {
      long below = count_files(dir + "/" + name);
      if (below < 0) {
        n = -1;
        break;
      }
      n += below;
    } else {
      ++n;
    }
  }
  ::closedir(d);
  return n;
}

/// For the black-box tests of recovery only: LAVABUILD_TEST_KILL_IN_JOURNAL=N makes the
/// process SIGKILL itself after N operations of the journal (a deterministic crash point).
void maybe_die(size_t& done) {
  static const char* at = std::getenv("LAVABUILD_TEST_KILL_IN_JOURNAL");
  if (at && std::to_string(done++) == at) ::raise(SIGKILL);
}

Status apply_journal(const std::string& env_dir, const Journal& j) {
  size_t done = 0;
  std::set<std::string> keep(j.keep_dirs.begin(), j.keep_dirs.end());
  keep.insert(".lavabuild");
  // Deleted files first, then (once per directory) the bytecode Python wrote for deleted
  // modules, then the directories that became empty.
  std::map<std::string, std::vector<std::string>> modules;  // dir -> stems of deleted .py
  std::set<std::string> parents;
  for (const auto& rel : j.deletes) {
    maybe_die(done);
    std::string path = env_dir + "/" + rel;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      if (errno == EISDIR || fs::stat_path(path).is_dir)
        LB_TRY(fs::remove_all(path));  // a directory where a file was: remove it whole
      else
        return make_error("cannot remove " + path + ": " + std::string(std::strerror(errno)));
    }
    std::string dir = fs::dirname(rel);
    if (ends_with(rel, ".py")) {
      std::string stem = fs::basename(rel);
      modules[dir].push_back(stem.substr(0, stem.size() - 2));  // "mod."
    }
    parents.insert(std::move(dir));
  }
  for (const auto& [dir, stems] : modules) remove_bytecode_of(env_dir, dir, stems);
  remove_empty_dirs(env_dir, std::move(parents), keep);
  std::set<std::string> made;  // parent dirs known to exist: one mkdir per directory
  for (const auto& rel : j.moves) {
    maybe_die(done);
    std::string from = j.staging + "/" + rel, to = env_dir + "/" + rel;
    if (!fs::stat_path(from).exists) continue;  // moved before the previous run was killed
    if (std::string parent = fs::dirname(to); made.insert(parent).second)
      LB_TRY(fs::create_dirs(parent));
    if (fs::stat_path(to).is_dir) LB_TRY(fs::remove_all(to));
    LB_TRY(fs::rename_path(from, to));
  }
  return {};
}

}  // namespace

std::vector<std::string> plan_moves(const std::string& env_dir, const std::string& staging,
                                    const std::vector<std::string>& files) {
  std::map<std::string, bool> env_has;  // directory prefix -> whether env_dir has it
  auto has = [&](const std::string& rel) {
    auto [it, fresh] = env_has.emplace(rel, false);
    if (fresh) it->second = fs::stat_path(env_dir + "/" + rel).exists;
    return it->second;
  };
  std::vector<std::string> out;
  std::set<std::string> split;  // directories found to hold more: their files move one by one
  std::string whole;            // the directory being moved whole: its files are skipped
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i];
    if (!whole.empty() && starts_with(path, whole + "/")) continue;
    whole.clear();
    // The shallowest directory of `path` the env does not have.
    std::string dir;
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1))
      if (!has(path.substr(0, slash))) {
        dir = path.substr(0, slash);
        break;
      }
    if (!dir.empty() && !split.count(dir)) {
      // The files of `files` below it are the next ones (sorted); all it holds must be among
      // them, or it moves file by file (decided once per directory).
      long listed = 0;
      for (size_t k = i; k < files.size() && starts_with(files[k], dir + "/"); ++k) ++listed;
      if (count_files(staging + "/" + dir) == listed) {
        out.push_back(dir);
        whole = dir;
        continue;
      }
      split.insert(dir);
    }
    out.push_back(path);
  }
  return out;
}

std::string render_journal(const Journal& j) {
  std::string out = std::string(kJournalFormat) + "\nstaging " + j.staging + "\n";
  for (const auto& d : j.keep_dirs) out += "keep " + d + "\n";
  for (const auto& d : j.deletes) out += "delete " + d + "\n";
  for (const auto& m : j.moves) out += "move " + m + "\n";
  return out;
}

Result<Journal> parse_journal(const std::string& text, const std::string& where) {
  auto lines = split(text, '\n');
  if (lines.empty() || lines[0] != kJournalFormat)
    return make_error(where + ": not a " + std::string(kJournalFormat) + " file",
                      "remove it and run again; the env is then rebuilt from the store");
  Journal j;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty()) continue;
    auto sp = l.find(' ');
    std::string op = l.substr(0, sp), arg = sp == std::string::npos ? "" : l.substr(sp + 1);
    bool ok = op == "staging" ? (!arg.empty() && arg.front() == '/') : fs::is_safe_rel(arg);
    if (!ok || (op != "staging" && op != "keep" && op != "delete" && op != "move"))
      return make_error(where + ":" + std::to_string(i + 1) + ": malformed line",
                        "remove the journal and run again");
    if (op == "staging") j.staging = arg;
    if (op == "keep") j.keep_dirs.push_back(arg);
    if (op == "delete") j.deletes.push_back(arg);
    if (op == "move") j.moves.push_back(arg);
  }
  if (j.staging.empty()) return make_error(where + ": no staging line");
  return j;
}

Status commit_journal(const std::string& env_dir, const Journal& j) {
  LB_TRY(check_env_dirs(env_dir, j));
  std::string path = env_dir + "/" + kJournalRel;
  LB_TRY(fs::create_dirs(fs::dirname(path)));  // a venv being taken over has no .lavabuild yet
  LB_TRY(fs::write_file_atomic(path, render_journal(j)));
  LB_TRY(apply_journal(env_dir, j));
  LB_TRY(fs::remove_all(path));
  return fs::remove_all(j.staging);
}

Result<std::string> recover_journal(const std::string& env_dir) {
  std::string path = env_dir + "/" + kJournalRel;
  auto text = fs::read_file(path);
  if (!text.ok()) return std::string();
  auto j = parse_journal(*text, path);
  // Its staging dir must be what this env's runs make: "<env>.tmp-<hex>" beside it, a real
  // directory. A journal naming another (planted, or an env moved since) is not replayed:
  // nothing is moved out of or removed with a directory lavabuild did not make here.
  if (j.ok() && (fs::dirname(j->staging) != fs::dirname(env_dir) ||
                 !fs::is_temp_name_of(fs::basename(j->staging), fs::basename(env_dir)) ||
                 !fs::stat_path(j->staging).is_dir))
    j = make_error("its staging directory is not this env's");
  if (j.ok()) LB_TRY(check_env_dirs(env_dir, *j));
  if (!j.ok()) {
    // The decided change cannot be finished: make the env count as not built by lavabuild's
    // stamp, so this run rebuilds it whole.
    if (fs::stat_path(env_dir + "/.lavabuild").is_dir) {  // (lstat: not through a symlink)
      (void)fs::remove_all(env_dir + "/.lavabuild/stamp");
      (void)fs::remove_all(path);
    }
    return "an interrupted change of " + env_dir + " could not be finished; rebuilding it";
  }
  LB_TRY(apply_journal(env_dir, *j));
  LB_TRY(fs::remove_all(path));
  (void)fs::remove_all(j->staging);
  return "finished an interrupted change of " + env_dir;
}

}  // namespace lb::engine
