// "Did you mean": the nearest known word to a mistyped command or config key.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lb::cli {

/// Edits (insert, delete, substitute, swap two adjacent letters) between `a` and `b`.
size_t edit_distance(std::string_view a, std::string_view b);

/// The word of `choices` that `typed` was most likely meant to be ("evn" -> "env"): at most
/// two edits away (one for words of 1-3 letters); "" when none is that close.
std::string closest_word(std::string_view typed, const std::vector<std::string>& choices);

}  // namespace lb::cli
