// Text of a known bound written into a string in one go: heads, answers' JSON headers, log lines.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "core/json_string.h"

namespace hir {

// Grows `out` once by `bound` bytes, writes through a pointer, and cuts `out` to what was written
// when it goes. Appending to a std::string piece by piece costs a capacity check, a size update and
// a call per piece; the texts on a request's path are made of many small pieces (docs/perf/proxy.md,
// "Twentieth pass" and "Twenty-first pass"). The bound is the caller's to get right: each caller
// adds up the most every piece it writes can take (json_string_bound for a JSON string, kMaxNumber
// for a number), and its tests write the largest pieces there are.
class TextWriter {
 public:
  // The most bytes number() writes: an int64's or uint64's digits and sign.
  static constexpr size_t kMaxNumber = 20;

  TextWriter(std::string& out, size_t bound) : out_(out) {
    const size_t at = out.size();
    out.resize(at + bound);
    p_ = out.data() + at;
  }
  ~TextWriter() { out_.resize(static_cast<size_t>(p_ - out_.data())); }
  TextWriter(const TextWriter&) = delete;
  TextWriter& operator=(const TextWriter&) = delete;

  void put(std::string_view s) {
    if (s.empty()) return;  // an empty view may hold no pointer, which memcpy may not be given
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void put(char c) { *p_++ = c; }
  // s as a JSON string literal: at most json_string_bound(s.size()) bytes.
  void json_string(std::string_view s) { p_ = write_json_string(p_, s); }
  template <std::integral T>
  void number(T v) {
    p_ = std::to_chars(p_, p_ + kMaxNumber, v).ptr;
  }
  // Where the next byte goes, for a piece written by other means (it must stay within the bound).
  char*& cursor() { return p_; }

 private:
  std::string& out_;
  char* p_;
};

}  // namespace hir
