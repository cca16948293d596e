// Just enough HTML for PEP 503 pages: start tags with their attributes, and entities.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lb::net {

/// A start tag: lowercase name and its attributes (lowercase names, unescaped values).
struct HtmlTag {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;
  /// The attribute's value, or nullptr when absent.
  const std::string* attr(std::string_view name) const;
};

/// Calls `on_tag` with each start tag named in `wanted` (lowercase), in document order, until it
/// returns false; only one tag is held at a time, so a caller that stops at a limit bounds the
/// memory. Comments, doctype and the contents of <script>/<style> are skipped. Never fails:
/// malformed markup is skipped.
void scan_tags(std::string_view html, const std::vector<std::string>& wanted,
               const std::function<bool(HtmlTag&)>& on_tag);
/// Every such tag at once (for small documents: memory grows with the tags).
std::vector<HtmlTag> scan_tags(std::string_view html, const std::vector<std::string>& wanted);
/// Decode character references: named (&amp; &lt; &gt; &quot; &apos; &nbsp;), decimal and hex.
/// Unknown or malformed references are kept as written.
std::string html_unescape(std::string_view s);

}  // namespace lb::net
