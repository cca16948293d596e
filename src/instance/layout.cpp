#include "instance/layout.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::instance {

Status check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 29 && name[0] != '-';
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok)
    return make_error(
        "usage: '" + name + "' is not an instance name",
        "use 1-29 of a-z, 0-9 and '-', starting with a letter or digit (the user lb-NAME "
        "must fit useradd's 32)");
  return {};
}

Paths paths_of(const std::string& root, const std::string& name) {
  Paths p;
  p.root = fs::absolute(root);
  p.dir = p.root + "/instances/" + name;
  p.etc = p.dir + "/etc";
  p.var = p.dir + "/var";
  p.run = p.dir + "/run";
  p.log = p.dir + "/log";
  p.generations = p.dir + "/generations";
  p.current = p.dir + "/current";
  return p;
}

Status check_root(const std::string& root) {
  auto text = fs::read_file(root + "/LAYOUT");
  if (!text.ok()) return {};
  if (trim(*text) != kLayoutFormat)
    return make_error(
        root + "/LAYOUT says '" + std::string(trim(*text)) + "', not '" + kLayoutFormat + "'",
        "this root was written by another version of lavabuild; use that version "
        "or another --root");
  return {};
}

Status ensure_root(const std::string& root) {
  LB_TRY(check_root(root));
  LB_TRY(fs::create_dirs(root + "/instances"));
  LB_TRY(fs::create_dirs(root + "/backups"));
  if (!fs::exists(root + "/LAYOUT"))
    LB_TRY(fs::write_file_atomic(root + "/LAYOUT", std::string(kLayoutFormat) + "\n"));
  return {};
}

std::vector<std::string> list_instances(const std::string& root) {
  std::vector<std::string> out;
  auto names = fs::list_dir(root + "/instances");
  if (!names.ok()) return out;
  for (const auto& n : *names)
    if (check_name(n).ok() && fs::is_dir(root + "/instances/" + n + "/etc")) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {
std::optional<int> generation_number(const std::string& s) {
  if (s.empty() || s.size() > 9 || s[0] == '0') return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  return std::stoi(s);
}
}  // namespace

std::vector<int> list_generations(const Paths& p) {
  std::vector<int> out;
  auto names = fs::list_dir(p.generations);
  if (!names.ok()) return out;
  for (const auto& n : *names)
    if (auto g = generation_number(n); g && fs::exists(p.generation(*g) + "/generation.json"))
      out.push_back(*g);
  std::sort(out.begin(), out.end());
  return out;
}

Result<int> live_generation(const Paths& p) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(p.current.c_str(), buf, sizeof buf - 1);
  if (n < 0) return make_error(p.current + " is missing: the instance has no live generation");
  std::string target(buf, size_t(n));
  std::string prefix = "generations/";
  auto g =
      starts_with(target, prefix) ? generation_number(target.substr(prefix.size())) : std::nullopt;
  if (!g) return make_error(p.current + " points at '" + target + "', not a generation");
  return *g;
}

Status switch_current(const Paths& p, int n) {
  std::string tmp = fs::temp_sibling(p.current);
  if (::symlink(("generations/" + std::to_string(n)).c_str(), tmp.c_str()) != 0)
    return make_error("cannot create " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), p.current.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error("cannot switch " + p.current + ": " + std::strerror(e));
  }
  return {};
}

void remove_unfinished_generations(const Paths& p) {
  auto live = live_generation(p);
  auto names = fs::list_dir(p.generations);
  if (!names.ok()) return;
  for (const auto& n : *names) {
    auto g = generation_number(n);
    if (g && live.ok() && *g == *live) continue;
    std::string dir = p.generations + "/" + n;
    if (!fs::exists(dir + "/generation.json")) (void)fs::remove_all(dir);
  }
}

}  // namespace lb::instance
