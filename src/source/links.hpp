// Internal: where a symlink inside a tree leads, resolved the way the kernel would but against
// the tree's own list of symlinks. Shared by copy_tree and the archive unpacker; not part of
// the module's public API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace lb::source::detail {

/// The tree's symlinks: relative path ('/'-separated, no "." or ".." components) -> target.
using LinkMap = std::unordered_map<std::string, std::string>;

/// Why the symlink at `link` (relative path) with `target` leads out of the tree, or nullopt
/// when it stays inside. Resolution follows the other symlinks of `links` component by
/// component ("a/b/.." where b is a link resolves b first), so a chain of links that each look
/// harmless cannot climb out. Absolute targets, ".." above the top and more than 40 links in
/// one resolution (the kernel's own limit) are refused. A component that does not exist is
/// taken as a directory: the conservative reading.
std::optional<std::string> symlink_escape(std::string_view link, std::string_view target,
                                          const LinkMap& links);

}  // namespace lb::source::detail
