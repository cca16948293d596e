// zstd helpers: whole-buffer compression for index values (and HTTP bodies elsewhere).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace lb::store {

/// Compress `data` into one zstd frame (level 3, content size recorded in the frame).
std::string zstd_compress(std::string_view data, int level = 3);

/// Decompress one or more concatenated zstd frames. Fails on data that is not zstd, on a
/// truncated frame, or when the output would exceed `max_size` bytes.
Result<std::string> zstd_decompress(std::string_view data, size_t max_size = size_t{1} << 31);

}  // namespace lb::store
