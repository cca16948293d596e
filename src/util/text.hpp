// Small text rules more than one module writes or checks: TOML basic strings (pylock.toml,
// an instance's instance.toml) and environment variable names (build recipes' [env], instance
// recipes' [environment]).
#pragma once

#include <string>
#include <string_view>

namespace lb {

/// `s` as a TOML basic string, quotes included: \" \\ \n \t \r escaped, other control
/// characters as \u and four hex digits.
std::string toml_basic_string(std::string_view s);

/// [A-Za-z_][A-Za-z0-9_]*
bool is_env_var_name(std::string_view name);

}  // namespace lb
