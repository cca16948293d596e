#include "store/compress.hpp"

#include <zstd.h>

#include <memory>

namespace lb::store {

std::string zstd_compress(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) return {};  // cannot happen: the buffer has the worst-case bound
  out.resize(n);
  return out;
}

Result<std::string> zstd_decompress(std::string_view data, size_t max_size) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  if (!ctx) return make_error("zstd: out of memory");
  std::string out;
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t last = 0;
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(ctx.get(), &ob, &in);
    if (ZSTD_isError(last))
      return make_error(std::string("zstd: corrupt data: ") + ZSTD_getErrorName(last));
    out.append(chunk.data(), ob.pos);
    if (out.size() > max_size)
      return make_error("zstd: decompressed data exceeds " + std::to_string(max_size) + " bytes");
  }
  // Flush whatever the decoder still holds for a frame whose input is fully consumed.
  while (last != 0) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(ctx.get(), &ob, &in);
    if (ZSTD_isError(last))
      return make_error(std::string("zstd: corrupt data: ") + ZSTD_getErrorName(last));
    if (ob.pos == 0 && last != 0) return make_error("zstd: truncated data");
    out.append(chunk.data(), ob.pos);
    if (out.size() > max_size)
      return make_error("zstd: decompressed data exceeds " + std::to_string(max_size) + " bytes");
  }
  return out;
}

}  // namespace lb::store
