// Reading [build-system] with toml++ (kept private to this file).
#include "build/build_system.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include <toml++/toml.h>

#include "pep/requirement.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace lb::build {
namespace {

const char* kFixHint =
    "fix [build-system] in pyproject.toml (PEP 517 and PEP 518 say what it holds)";

/// "FILE:LINE" when toml++ knows the node's line, else "FILE".
std::string where(const std::string& file, const toml::node& node) {
  auto line = node.source().begin.line;
  return line ? file + ":" + std::to_string(line) : file;
}

Error fail(const std::string& file, const toml::node& node, const std::string& what,
           const std::string& hint = kFixHint) {
  return make_error(where(file, node) + ": " + what, hint);
}

/// A Python identifier: ASCII letters, digits and '_' (not first a digit); any non-ASCII byte
/// is let through (Python allows most of Unicode; importing is the real check).
bool is_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (!(u >= 0x80 || std::isalnum(u) || c == '_')) return false;
  }
  return true;
}

bool is_dotted_identifier(std::string_view s) {
  for (const auto& part : split(s, '.'))
    if (!is_identifier(part)) return false;
  return true;
}

/// `module` or `module:object`, each a dotted name (the entry point syntax PEP 517 names).
bool is_object_reference(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return is_dotted_identifier(s);
  return is_dotted_identifier(s.substr(0, colon)) && is_dotted_identifier(s.substr(colon + 1));
}

/// Lexically: relative, and no ".." climbs above the tree.
bool stays_inside(std::string_view rel) {
  if (rel.empty() || rel[0] == '/') return false;
  int depth = 0;
  for (const auto& part : split(rel, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (--depth < 0) return false;
    } else {
      ++depth;
    }
  }
  return true;
}

std::string size_text(size_t bytes) {
  return bytes % (1 << 20) == 0 ? std::to_string(bytes >> 20) + " MiB"
                                : std::to_string(bytes) + " bytes";
}

BuildSystem pip_defaults() {
  BuildSystem s;
  s.requirements = {std::string(kLegacyRequires)};
  s.backend = std::string(kLegacyBackend);
  return s;
}

/// An array of strings, or an error naming `key`.
Result<std::vector<std::string>> strings(const std::string& file, const toml::node& node,
                                         const std::string& key, size_t max) {
  const toml::array* arr = node.as_array();
  if (!arr) return fail(file, node, "[build-system] " + key + " must be an array of strings");
  if (arr->size() > max)
    return fail(file, node,
                "[build-system] " + key + " lists " + std::to_string(arr->size()) +
                    " entries; lavabuild reads at most " + std::to_string(max),
                "this is a fixed limit (docs/LIMITS.md)");
  std::vector<std::string> out;
  for (const auto& item : *arr) {
    auto s = item.value<std::string>();
    if (!item.is_string() || !s)
      return fail(file, item, "[build-system] " + key + " must be an array of strings");
    if (s->find('\0') != std::string::npos)
      return fail(file, item, "[build-system] " + key + " entry has a NUL character");
    out.push_back(std::move(*s));
  }
  return out;
}

/// Read a regular file of at most `limit` bytes; a FIFO or device is never opened for reading
/// (O_NONBLOCK, then fstat), and nothing past the limit is read.
Result<std::string> read_bounded(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return make_error("cannot read " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(path + " is not a regular file", "pyproject.toml must be a file");
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return make_error("cannot read " + path + ": " + why);
    }
    if (r == 0) break;
    data.append(buf, size_t(r));
    if (data.size() > limit) break;
  }
  ::close(fd);
  return data;
}

}  // namespace

Result<BuildSystem> parse_build_system(std::string_view text, const std::string& filename) {
  if (text.size() > kMaxPyprojectBytes)
    return make_error(filename + " is larger than " + size_text(kMaxPyprojectBytes) +
                          ", the most lavabuild reads of a pyproject.toml",
                      "this is a fixed limit (docs/LIMITS.md)");
  if (size_t line = toml_deep_key_line(text, kMaxKeyParts))
    return make_error(filename + ":" + std::to_string(line) +
                          ": a dotted key or table name with more than " +
                          std::to_string(kMaxKeyParts) + " parts",
                      "this is a fixed limit (docs/LIMITS.md); no pyproject.toml needs so many");
  toml::table doc;
  try {
    doc = toml::parse(text, filename);
  } catch (const toml::parse_error& e) {
    return make_error(filename + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) +
                          ": invalid TOML: " + std::string(e.description()),
                      "fix the file (pyproject.toml is TOML 1.0)");
  }
  const toml::node* table_node = doc.get("build-system");
  if (!table_node) return pip_defaults();
  const toml::table* table = table_node->as_table();
  if (!table) return fail(filename, *table_node, "build-system must be a table ([build-system])");

  BuildSystem s;
  s.declared = true;
  const toml::node* requires_node = table->get("requires");
  if (!requires_node)
    return fail(filename, *table_node,
                "[build-system] has no 'requires' (PEP 518 makes it mandatory)",
                "add the packages the build needs, e.g. requires = [\"setuptools>=61\"]");
  LB_ASSIGN(s.requirements, strings(filename, *requires_node, "requires", kMaxBuildRequires));
  for (size_t i = 0; i < s.requirements.size(); ++i) {
    auto req = pep::Requirement::parse(s.requirements[i]);
    if (!req.ok())
      return fail(filename, *requires_node->as_array()->get(i),
                  "[build-system] requires: " + lb::quoted(s.requirements[i]) +
                      " is not a valid requirement: " + req.error().message);
  }

  if (const toml::node* backend = table->get("build-backend")) {
    auto name = backend->value<std::string>();
    if (!backend->is_string() || !name)
      return fail(filename, *backend, "[build-system] build-backend must be a string");
    if (!is_object_reference(*name))
      return fail(filename, *backend,
                  "[build-system] build-backend " + lb::quoted(*name) +
                      " is not a Python object reference ('module' or 'module:object')");
    s.backend = *name;
  } else {
    s.backend = std::string(kLegacyBackend);  // pip's rule
  }

  if (const toml::node* path = table->get("backend-path")) {
    LB_ASSIGN(s.backend_path, strings(filename, *path, "backend-path", kMaxBackendPath));
    for (size_t i = 0; i < s.backend_path.size(); ++i) {
      const std::string& entry = s.backend_path[i];
      if (!stays_inside(entry))
        return fail(
            filename, *path->as_array()->get(i),
            "[build-system] backend-path entry " + lb::quoted(entry) +
                (!entry.empty() && entry[0] == '/' ? " is absolute" : " leaves the source tree") +
                "; PEP 517 wants directories inside the project",
            "use a path relative to the directory of pyproject.toml, such as \"_build\"");
    }
  }
  return s;
}

Result<std::vector<std::string>> resolve_backend_path(const BuildSystem& system,
                                                      const std::string& source_dir) {
  std::vector<std::string> out;
  if (system.backend_path.empty()) return out;
  std::string root_abs = fs::absolute(source_dir);
  char buf[PATH_MAX];
  std::string root_real = ::realpath(root_abs.c_str(), buf) ? std::string(buf) : root_abs;
  auto inside = [](const std::string& path, const std::string& root) {
    return path == root || (starts_with(path, root) && (root == "/" || path[root.size()] == '/'));
  };
  for (const auto& entry : system.backend_path) {
    std::string abs = fs::absolute(fs::join_path(root_abs, entry));
    bool ok = stays_inside(entry) && inside(abs, root_abs);
    if (ok && ::realpath(abs.c_str(), buf)) ok = inside(buf, root_real);
    if (!ok)
      return make_error(fs::join_path(source_dir, "pyproject.toml") +
                            ": [build-system] backend-path entry " + lb::quoted(entry) +
                            " resolves outside the source tree " + source_dir,
                        "backend-path must name directories inside the project (no symlink "
                        "out of it)");
    out.push_back(abs);
  }
  return out;
}

Result<BuildSystem> read_build_system(const std::string& source_dir) {
  if (!fs::is_dir(source_dir))
    return make_error("the source tree " + source_dir + " is not a directory");
  std::string path = fs::join_path(source_dir, "pyproject.toml");
  if (!fs::exists(path)) {
    if (!fs::exists(fs::join_path(source_dir, "setup.py")))
      return make_error(source_dir +
                            " has neither pyproject.toml nor setup.py, so it is not a "
                            "Python project lavabuild can build",
                        "point at the directory that holds pyproject.toml or setup.py (a "
                        "subdirectory is given with #subdirectory= in a URL)");
    return pip_defaults();
  }
  LB_ASSIGN(std::string text, read_bounded(path, kMaxPyprojectBytes));
  LB_ASSIGN(BuildSystem s, parse_build_system(text, path));
  LB_TRY(resolve_backend_path(s, source_dir));
  return s;
}

}  // namespace lb::build
