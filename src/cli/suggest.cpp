#include "cli/suggest.hpp"

#include <algorithm>
#include <vector>

namespace lb::cli {

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions and adjacent swaps.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string closest_word(std::string_view typed, const std::vector<std::string>& choices) {
  std::string best;
  size_t best_d = 3;  // at most 2 edits (one for a 1-3 letter word), else no suggestion
  size_t limit = typed.size() <= 3 ? 2 : 3;
  for (const auto& c : choices) {
    size_t d = edit_distance(typed, c);
    if (d < best_d && d < limit) best = c, best_d = d;
  }
  return best;
}

}  // namespace lb::cli
