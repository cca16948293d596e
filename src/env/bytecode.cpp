#include "env/bytecode.hpp"

#include <algorithm>
#include <type_traits>

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

std::string pyc_source(std::string_view rel, std::string_view cache_tag) {
  constexpr std::string_view kDir = "__pycache__/";
  if (cache_tag.empty()) return "";
  std::string suffix = "." + std::string(cache_tag) + ".pyc";
  auto slash = rel.rfind('/');
  std::string_view head = slash == std::string_view::npos ? "" : rel.substr(0, slash + 1);
  std::string_view name = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  if (!ends_with(head, kDir) || !ends_with(name, suffix) || name.size() == suffix.size()) return "";
  std::string out(head.substr(0, head.size() - kDir.size()));
  out += name.substr(0, name.size() - suffix.size());
  out += ".py";
  return out;
}

namespace {
bool listed(const InstalledDist& dist, const std::string& path) {
  return std::binary_search(dist.files.begin(), dist.files.end(), path,
                            [](const auto& a, const auto& b) {
                              if constexpr (std::is_same_v<std::decay_t<decltype(a)>, FileEntry>) {
                                return a.path < b;
                              } else {
                                return a < b.path;
                              }
                            });
}
}  // namespace

bool is_compiled_pyc(const InstalledDist& dist, std::string_view rel) {
  std::string src = pyc_source(rel, dist.bytecode_tag);
  return !src.empty() && listed(dist, src);
}

std::unordered_set<std::string> compiled_pycs(const InstalledDist& dist) {
  std::unordered_set<std::string> out;
  if (dist.bytecode_tag.empty()) return out;
  for (const auto& f : dist.files)
    if (ends_with(f.path, ".pyc") && is_compiled_pyc(dist, f.path)) out.insert(f.path);
  return out;
}

}  // namespace lb::env
