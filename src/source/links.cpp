// Resolving a symlink inside a tree without touching the filesystem.
#include "source/links.hpp"

#include <deque>
#include <vector>

namespace lb::source::detail {
namespace {

constexpr int kMaxHops = 40;  // Linux's MAXSYMLINKS

/// Puts the components of `target` in front of `pending`, in order.
void prepend(std::deque<std::string_view>& pending, std::string_view target) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    parts.push_back(target.substr(start, slash - start));
    start = slash + 1;
  }
  pending.insert(pending.begin(), parts.begin(), parts.end());
}

std::string joined(const std::vector<std::string_view>& stack) {
  std::string out;
  for (auto part : stack) {
    if (!out.empty()) out += '/';
    out.append(part);
  }
  return out;
}

}  // namespace

std::optional<std::string> symlink_escape(std::string_view link, std::string_view target,
                                          const LinkMap& links) {
  if (target.empty()) return std::string("its target is empty");
  if (target.front() == '/') return std::string("its target is an absolute path");
  // The directory holding the link is where resolution starts.
  std::vector<std::string_view> stack;
  std::deque<std::string_view> pending;
  size_t last_slash = link.rfind('/');
  if (last_slash != std::string_view::npos) prepend(pending, link.substr(0, last_slash));
  // Walk to the link's directory first (its components are plain directories), then the target.
  while (!pending.empty()) {
    if (!pending.front().empty()) stack.push_back(pending.front());
    pending.pop_front();
  }
  prepend(pending, target);
  int hops = 0;
  while (!pending.empty()) {
    std::string_view part = pending.front();
    pending.pop_front();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (stack.empty()) return std::string("it leads out of the tree");
      stack.pop_back();
      continue;
    }
    stack.push_back(part);
    auto it = links.find(joined(stack));
    if (it == links.end()) continue;
    if (++hops > kMaxHops)
      return "it resolves through more than " + std::to_string(kMaxHops) + " symlinks (a loop?)";
    stack.pop_back();
    if (it->second.empty() || it->second.front() == '/')
      return "it resolves through the symlink '" + it->first + "', whose target is " +
             (it->second.empty() ? "empty" : "an absolute path");
    prepend(pending, it->second);
  }
  return std::nullopt;
}

}  // namespace lb::source::detail
