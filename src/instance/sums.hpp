// A backup's SHA256SUMS (sha256sum's format: "<64 hex>  <file name>" per line). A backup is
// hostile until checked: only plain file names (no '/', not "." or ".."), at most kMaxSumLines
// lines, every name once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace lb::instance {

inline constexpr size_t kMaxSumLines = 1000;

struct SumLine {
  std::string sha256, file;
};

Result<std::vector<SumLine>> parse_sha256sums(std::string_view text, const std::string& path);

}  // namespace lb::instance
