#include "protocol/v2_path.h"

#include <array>
#include <optional>

#include "core/percent.h"

namespace hir::protocol {
namespace {

// The longest path served has six segments (v2/models/m/versions/v/infer); one of more than
// kMaxParts matches nothing. A fixed array: this runs for every request, and a vector grown one
// segment at a time cost three allocations.
constexpr size_t kMaxParts = 7;
struct Parts {
  std::array<std::string_view, kMaxParts> at;
  size_t n = 0;
  bool too_many = false;
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  std::string_view operator[](size_t i) const { return at[i]; }
};

Parts split(std::string_view path) {
  Parts parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') { ++i; continue; }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (parts.n == kMaxParts) {
      parts.too_many = true;
      return parts;
    }
    parts.at[parts.n++] = path.substr(i, j - i);
    i = j;
  }
  return parts;
}

// Whether the path goes on from the end of segment `seg` (a view into it) with an empty segment:
// "//" next, or "/" and nothing more. Slashes elsewhere collapse, but read as one here, the
// segment after the empty one took its place.
bool empty_segment_after(std::string_view path, std::string_view seg) {
  const std::string_view after = path.substr(static_cast<size_t>(seg.data() + seg.size() - path.data()));
  return after == "/" || after.starts_with("//");
}

// What the 404 says of a model name or version that does not decode: a part holding an encoded
// slash says so (percent_decode refuses it: no model name or version holds one, so no path can
// reach what it would name); any other is a broken escape or a %00.
struct PartErrors {
  std::string_view slash, undecodable;
};
constexpr PartErrors kNameErrors{"the model name in the path holds an encoded '/' (%2F), which no model name has",
                                 "the model name in the path does not decode (a broken %-escape or %00)"};
constexpr PartErrors kVersionErrors{"the model version in the path holds an encoded '/' (%2F), which no version has",
                                    "the model version in the path does not decode (a broken %-escape or %00)"};

std::string_view decode_error(std::string_view part, const PartErrors& says) {
  const bool slash = part.find("%2F") != std::string_view::npos || part.find("%2f") != std::string_view::npos;
  return slash ? says.slash : says.undecodable;
}

// Paths longer than this are read every time rather than kept.
constexpr size_t kMaxKeptPath = 256;

V2Path read_v2_path(std::string_view path) {
  V2Path r;
  const Parts p = split(path);
  if (p.too_many || p.empty() || p[0] != "v2") return r;
  if (p.size() == 1) { r.endpoint = V2Endpoint::kServerMetadata; return r; }
  if (p[1] == "health" && p.size() == 3) {
    if (p[2] == "live") r.endpoint = V2Endpoint::kLive;
    if (p[2] == "ready") r.endpoint = V2Endpoint::kReady;
    return r;
  }
  if (p[1] != "models") return r;
  // `/v2/models//infer` named model "infer" (its metadata, so a POST got 405). `/v2/models/` and
  // `/v2/models//` are an empty name too, not the list: the list is `/v2/models` as documented
  // (docs/worker.md), and a slash after `models` starts a model's path.
  if (empty_segment_after(path, p[1])) {
    r.error = "the model name in the path is empty";
    return r;
  }
  if (p.size() == 2) { r.endpoint = V2Endpoint::kModelList; return r; }
  auto model = percent_decode(p[2]);
  if (!model) {
    r.error = decode_error(p[2], kNameErrors);
    return r;
  }
  size_t next = 3;
  std::string version;
  if (p.size() >= 4 && p[3] == "versions") {
    // `versions//infer` named version "infer", and a POST there was answered 405 (GET only)
    // instead of what was wrong.
    if (empty_segment_after(path, p[3])) {
      r.error = "the model version in the path is empty";
      return r;
    }
    if (p.size() >= 5) {
      auto v = percent_decode(p[4]);
      if (!v) {
        r.error = decode_error(p[4], kVersionErrors);
        return r;
      }
      version = *v;
      next = 5;
    }
  }
  V2Endpoint e = V2Endpoint::kUnknown;
  if (p.size() == next) e = V2Endpoint::kModelMetadata;
  else if (p.size() == next + 1 && p[next] == "ready") e = V2Endpoint::kModelReady;
  else if (p.size() == next + 1 && p[next] == "infer") e = V2Endpoint::kInfer;
  else if (p.size() == next + 1 && p[next] == "config") e = V2Endpoint::kModelConfig;
  if (e == V2Endpoint::kUnknown) return r;
  r.endpoint = e;
  r.model = std::move(*model);
  r.version = std::move(version);
  return r;
}

}  // namespace

V2Path parse_v2_path(std::string_view path) {
  // A client posts to one model's path again and again: the last path read on this thread is kept
  // with what it read, and the same path is not split and decoded again (~600 instructions and
  // ~30 lines of code on every request, docs/perf/proxy.md, "Twenty-sixth pass").
  struct Last {
    bool set = false;
    std::string path;
    V2Path read;
  };
  thread_local Last last;
  if (last.set && path == last.path) return last.read;
  V2Path r = read_v2_path(path);
  if (path.size() <= kMaxKeptPath) {
    last.path.assign(path);
    last.read = r;
    last.set = true;
  }
  return r;
}

std::string_view v2_method(V2Endpoint e) {
  return e == V2Endpoint::kInfer ? "POST" : "GET";
}

}  // namespace hir::protocol
