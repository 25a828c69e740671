#include "net/content_coding.h"

#include <zlib.h>

#include <algorithm>
#include <string>

namespace hir::net {
namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// window_bits: 15 + 32 reads a zlib or a gzip stream (the header says which); -15 raw deflate.
Status inflate_into(std::string_view in, int window_bits, size_t max_bytes, std::string& out) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return Internal("inflate: cannot start");
  struct End {
    z_stream& z;
    ~End() { inflateEnd(&z); }
  } end{z};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  out.clear();
  // Grows as it inflates, never past max_bytes + 1: a small body that inflates to gigabytes
  // (a "zip bomb") is refused at the limit, not after it has taken the memory.
  out.resize(std::min(max_bytes + 1, std::max<size_t>(in.size() * 4, 4096)));
  size_t have = 0;
  for (;;) {
    if (have == out.size()) {
      if (out.size() > max_bytes) return ResourceExhausted("the request body inflates past the limit of " + std::to_string(max_bytes) + " bytes");
      out.resize(std::min(max_bytes + 1, out.size() * 2));
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data() + have);
    z.avail_out = static_cast<uInt>(out.size() - have);
    const int rc = inflate(&z, Z_NO_FLUSH);
    have = out.size() - z.avail_out;
    if (rc == Z_STREAM_END) {
      if (z.avail_in != 0) return InvalidArgument("bytes after the end of the compressed body");
      if (have > max_bytes) return ResourceExhausted("the request body inflates past the limit of " + std::to_string(max_bytes) + " bytes");
      out.resize(have);
      return Status::Ok();
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) return InvalidArgument("the compressed body ends early");
    if (rc != Z_OK && rc != Z_BUF_ERROR) return InvalidArgument(std::string("the compressed body is corrupt: ") + (z.msg ? z.msg : "inflate failed"));
  }
}

}  // namespace

Status decode_request_body(HttpRequest& req, size_t max_bytes) {
  const auto coding = req.headers.get("Content-Encoding");
  if (!coding) return Status::Ok();
  const std::string_view c = trim(*coding);
  if (c.empty() || iequal(c, "identity")) return Status::Ok();
  const bool gzip = iequal(c, "gzip") || iequal(c, "x-gzip");
  if (!gzip && !iequal(c, "deflate"))
    return Unimplemented("Content-Encoding '" + std::string(c.substr(0, 64)) + "' is not supported (gzip, deflate or identity)");
  std::string plain;
  Status s = inflate_into(req.body, 15 + 32, max_bytes, plain);
  // HTTP's deflate is the zlib format (RFC 9110 §8.4.1.2), but some clients send raw deflate.
  if (!s.ok() && !gzip && s.code() == Code::kInvalidArgument) s = inflate_into(req.body, -15, max_bytes, plain);
  if (!s.ok()) return s;
  req.body = std::move(plain);
  req.headers.set("Content-Encoding", "identity");
  return Status::Ok();
}

}  // namespace hir::net
