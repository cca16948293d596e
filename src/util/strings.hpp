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

/// toml++ 3.3 recurses once per part of a dotted key or table name ("a.a.a..." = 1) and
/// overflows the stack at ~50,000 parts (a 100 KB file): every TOML reader of untrusted text
/// calls this first. Outside strings and comments, a run of '.' separated only by bare-key
/// characters, blanks and one-line strings is a key (a float or a time has one '.', and ',' or
/// ':' ends the run). Returns the 1-based line of the first key with `max_parts` or more
/// parts, or 0 when there is none.
size_t toml_deep_key_line(std::string_view text, size_t max_parts);
/// What the TOML readers allow (docs/LIMITS.md): no real file needs more.
inline constexpr size_t kMaxTomlKeyParts = 64;

}  // namespace lb
