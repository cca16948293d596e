// Small string helpers shared by every module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lb {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
/// Split on runs of ASCII whitespace, dropping empties.
std::vector<std::string> split_ws(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
/// Replace every occurrence of `from` with `to`.
std::string replace_all(std::string s, std::string_view from, std::string_view to);
/// Percent-decode (URLs); invalid escapes are kept as-is.
std::string percent_decode(std::string_view s);
/// Quote a string for JSON / messages.
std::string quoted(std::string_view s);
/// Append `s` as a JSON string, escaped as nlohmann::json::dump() does (UTF-8 kept; \\b \\f
/// \\n \\r \\t, \\u00XX for other control characters).
void append_json_string(std::string& out, std::string_view s);

}  // namespace lb
