#include "telemetry/trace.h"

#include <array>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "core/rng.h"

namespace hir::telemetry {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// A seed that differs per thread and per process: the entropy device when there is one, mixed
// with the time and the thread's identity (hir::Rng spreads it over its state with splitmix64).
uint64_t thread_seed() {
  uint64_t seed = 0;
  try {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) ^ rd();
  } catch (...) {
    // No entropy device: time and thread identity still make it distinct per thread.
  }
  seed ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  seed ^= std::hash<std::thread::id>{}(std::this_thread::get_id());
  return seed;
}

uint64_t random64() {
  thread_local Rng rng(thread_seed());
  return rng.next();
}

uint64_t random_nonzero64() {
  uint64_t v = 0;
  while (v == 0) v = random64();
  return v;
}

// Every byte's two hex digits: a request makes five ids, and a byte at a time is half the work
// of a nibble at a time.
constexpr std::array<char, 512> kHexPairs = [] {
  std::array<char, 512> t{};
  for (size_t i = 0; i < 256; ++i) {
    t[2 * i] = kHex[i >> 4];
    t[2 * i + 1] = kHex[i & 0xF];
  }
  return t;
}();

// v's 16 hex digits at p.
void put_hex64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) std::memcpy(p + 2 * i, &kHexPairs[2 * (v & 0xFF)], 2);
}

// Into a local buffer, then one append: 16 push_backs (a capacity check each) cost ~4x as much.
void append_hex64(std::string& out, uint64_t v) {
  char buf[16];
  put_hex64(buf, v);
  out.append(buf, sizeof buf);
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

bool lower_hex_not_all_zero(std::string_view s) {
  bool nonzero = false;
  for (char c : s) {
    if (!is_lower_hex(c)) return false;
    nonzero |= c != '0';
  }
  return nonzero;
}

constexpr size_t kVersion00Length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2

}  // namespace

bool usable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

std::string new_request_id() {
  std::string id;
  id.reserve(16);
  append_hex64(id, random64());
  return id;
}

std::optional<TraceContext> TraceContext::parse(std::string_view v) {
  if (v.size() < kVersion00Length) return std::nullopt;
  if (!is_lower_hex(v[0]) || !is_lower_hex(v[1])) return std::nullopt;
  const std::string_view version = v.substr(0, 2);
  if (version == "ff") return std::nullopt;  // the spec forbids version ff
  if (version == "00") {
    if (v.size() != kVersion00Length) return std::nullopt;
  } else if (v.size() > kVersion00Length && v[kVersion00Length] != '-') {
    return std::nullopt;  // later versions may only append "-..." after the flags
  }
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  const std::string_view trace_id = v.substr(3, 32);
  const std::string_view parent_id = v.substr(36, 16);
  if (!lower_hex_not_all_zero(trace_id) || !lower_hex_not_all_zero(parent_id)) return std::nullopt;
  if (!is_lower_hex(v[53]) || !is_lower_hex(v[54])) return std::nullopt;

  TraceContext ctx;
  ctx.trace_id = std::string(trace_id);
  ctx.parent_id = std::string(parent_id);
  ctx.flags = static_cast<uint8_t>(hex_value(v[53]) * 16 + hex_value(v[54]));
  // Flags of an unknown version may mean something else; only the sampled bit is understood.
  if (version != "00") ctx.flags &= 0x01;
  return ctx;
}

std::string TraceContext::new_header() {
  // Written in place, then one string: every request without a trace of its own makes one.
  char buf[kVersion00Length];
  std::memcpy(buf, "00-", 3);
  // Only the whole 128 bits must be non-zero; a non-zero high half is the simplest way to ensure it.
  put_hex64(buf + 3, random_nonzero64());
  put_hex64(buf + 19, random64());
  buf[35] = '-';
  put_hex64(buf + 36, random_nonzero64());
  std::memcpy(buf + 52, "-01", 3);
  return std::string(buf, sizeof buf);
}

TraceContext TraceContext::child() const {
  TraceContext ctx;
  ctx.trace_id = trace_id;
  ctx.parent_id.reserve(16);
  append_hex64(ctx.parent_id, random_nonzero64());
  ctx.flags = flags;
  return ctx;
}

std::string TraceContext::header() const {
  std::string out;
  out.reserve(kVersion00Length);
  out += "00-";
  out += trace_id;
  out += '-';
  out += parent_id;
  out += '-';
  out += kHex[flags >> 4];
  out += kHex[flags & 0xF];
  return out;
}

}  // namespace hir::telemetry
