// Compressing a request body in tests, as tritonclient's request_compression_algorithm does:
// the whole body, gzip or deflate. Shared by the HTTP server's and the router's tests.
#pragma once

#include <zlib.h>

#include <string>
#include <string_view>

namespace hir::testing {

// window_bits: 15 + 16 gzip, 15 zlib (HTTP's "deflate"), -15 raw deflate. "" if zlib fails.
inline std::string compress(std::string_view in, int window_bits) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const bool done = deflate(&z, Z_FINISH) == Z_STREAM_END;
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return done ? out : std::string();
}

}  // namespace hir::testing
