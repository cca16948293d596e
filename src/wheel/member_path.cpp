// Which member paths a wheel may contain.
#include <algorithm>
#include <string>

#include "util/strings.hpp"
#include "wheel/wheel.hpp"

namespace lb::wheel {

Status check_member_path(std::string_view path, bool allow_dir) {
  if (allow_dir && ends_with(path, "/")) path.remove_suffix(1);
  if (path.empty()) return make_error("empty path");
  // What a file system takes (PATH_MAX, NAME_MAX), and the depth the sdist reader allows:
  // longer or deeper names cannot be installed, and checking their parents would cost time
  // quadratic in their length.
  if (path.size() > kMaxMemberPath)
    return make_error("path longer than " + std::to_string(kMaxMemberPath) + " bytes");
  if (size_t(std::count(path.begin(), path.end(), '/')) >= kMaxMemberDepth)
    return make_error("path deeper than " + std::to_string(kMaxMemberDepth) + " components");
  if (path[0] == '/') return make_error("absolute path");
  if (path.find('\\') != std::string_view::npos) return make_error("backslash in path");
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return make_error("control character in path");
  if (path.size() >= 2 && path[1] == ':' &&
      ((path[0] >= 'a' && path[0] <= 'z') || (path[0] >= 'A' && path[0] <= 'Z')))
    return make_error("drive letter in path");
  for (const auto& part : split(path, '/')) {
    if (part.empty()) return make_error("empty path component");
    if (part == "." || part == "..") return make_error("\"" + part + "\" path component");
    if (part.size() > kMaxMemberName)
      return make_error("path component longer than " + std::to_string(kMaxMemberName) + " bytes");
  }
  return {};
}

}  // namespace lb::wheel
