#include "env/bytecode.hpp"

#include "util/strings.hpp"

namespace lb::env {

std::string pyc_path(std::string_view rel, std::string_view cache_tag) {
  if (cache_tag.empty() || !ends_with(rel, ".py")) return "";
  auto slash = rel.rfind('/');
  std::string_view dir = slash == std::string_view::npos ? "" : rel.substr(0, slash + 1);
  std::string_view tail = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  // tail.rpartition('.'): base "" (tail ".py") takes the part after the dot, as importlib does.
  std::string_view base = tail.substr(0, tail.size() - 3);
  if (base.empty()) base = "py";
  std::string out(dir);
  out += "__pycache__/";
  out += base;
  out += ".";
  out += cache_tag;
  out += ".pyc";
  return out;
}

std::string pyc_source(std::string_view rel) {
  constexpr std::string_view kDir = "__pycache__/";
  if (!ends_with(rel, ".pyc")) return "";
  auto slash = rel.rfind('/');
  if (slash == std::string_view::npos) return "";
  std::string_view head = rel.substr(0, slash + 1);  // ".../__pycache__/"
  if (!ends_with(head, kDir)) return "";
  std::string_view name = rel.substr(slash + 1);
  name.remove_suffix(4);  // ".pyc"
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  std::string out(head.substr(0, head.size() - kDir.size()));
  out += name.substr(0, dot);
  out += ".py";
  return out;
}

std::unordered_set<std::string> compiled_pycs(const std::vector<const FileEntry*>& files) {
  std::unordered_set<std::string> paths;
  for (const FileEntry* f : files) paths.insert(f->path);
  std::unordered_set<std::string> out;
  for (const FileEntry* f : files) {
    if (!ends_with(f->path, ".pyc")) continue;
    std::string src = pyc_source(f->path);
    if (!src.empty() && paths.count(src)) out.insert(f->path);
  }
  return out;
}

}  // namespace lb::env
