// Plain HTTP messages shared by the server, the client and every handler. No Asio here, so the
// router and worker compile without Beast; only src/net/*.cc includes it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace hir::net {

// Header names compare case-insensitively (RFC 9110 §5.1), in the order they were added. Names
// and values are kept back to back in one string, so a message's headers cost two allocations
// (that text and the index) however many there are; one std::string per name and value cost an
// allocation for each longer than the small-string buffer — a content type, a trace context, a
// request id: seven per proxied request.
class Headers {
 public:
  // Room made on the first insert: a v2 request or answer carries about this many, and growing
  // one by one cost an allocation for each growth.
  static constexpr size_t kTypicalCount = 10;
  static constexpr size_t kTypicalBytes = 384;

  std::optional<std::string_view> get(std::string_view name) const;  // the first of that name
  void set(std::string_view name, std::string_view value);  // replaces every one of that name
  void add(std::string_view name, std::string_view value);
  void reserve(size_t count, size_t bytes);
  // A parsed head's fields in one copy: `block` becomes the text, replacing any headers there
  // were, and each field is then added by its offsets into it.
  void adopt(std::string_view block, size_t count) {
    text_.assign(block);
    slots_.clear();
    slots_.reserve(count < kTypicalCount ? kTypicalCount : count);
  }
  void add_adopted(size_t name_at, size_t name_len, size_t value_at, size_t value_len) {
    slots_.push_back({static_cast<uint32_t>(name_at), static_cast<uint32_t>(name_len),
                      static_cast<uint32_t>(value_at), static_cast<uint32_t>(value_len)});
  }

  size_t size() const { return slots_.size(); }
  bool empty() const { return slots_.empty(); }
  // The i-th header, name and value, valid until the next change.
  std::pair<std::string_view, std::string_view> operator[](size_t i) const {
    const Slot& x = slots_[i];
    return {std::string_view(text_.data() + x.name_at, x.name_len),
            std::string_view(text_.data() + x.value_at, x.value_len)};
  }

  class const_iterator {
   public:
    const_iterator(const Headers* h, size_t i) : h_(h), i_(i) {}
    std::pair<std::string_view, std::string_view> operator*() const { return (*h_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const Headers* h_;
    size_t i_;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, slots_.size()}; }

 private:
  struct Slot {
    uint32_t name_at, name_len, value_at, value_len;
  };
  uint32_t put(std::string_view a, std::string_view b);  // appends a then b to text_: where a starts
  bool inside(std::string_view s) const;  // s points into text_
  std::string_view name_of(const Slot& x) const { return {text_.data() + x.name_at, x.name_len}; }

  std::string text_;
  std::vector<Slot> slots_;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, e.g. "/v2/models/m/infer"
  Headers headers;
  std::string body;
  std::string remote;  // peer address, for logs
};

struct HttpResponse {
  int status = 200;
  Headers headers;
  std::string body;
  // Header lines ("Name: value\r\n" each) its maker wrote whole and vouches for: none is a framing
  // field (Content-Length, Transfer-Encoding, Connection) or Server, and no name or value holds a
  // byte header_safe refuses. Written as they are, before `headers`, and not seen by
  // headers.get(). For an answer's few fixed fields on a hot path: a header list built, then
  // written and checked field by field, cost ~500 instructions an answer (docs/perf/proxy.md,
  // "Twenty-sixth pass").
  std::string prewritten;
};

// A JSON response {"error": message} with the given status (the v2 error shape).
HttpResponse error_response(int status, std::string_view message);
// 405 with the Allow header RFC 9110 §15.5.6 requires: the methods the resource does take.
HttpResponse method_not_allowed(std::string_view allow);
HttpResponse json_response(int status, std::string body);
// The path without the query string.
std::string_view path_of(std::string_view target);

// Completes one request. Call it exactly once, from any thread; later calls are ignored. The
// response is taken by reference to an rvalue: it passes through the layers of the server to the
// connection's coroutine without being moved at each one.
using Responder = std::function<void(HttpResponse&&)>;
// Handles one request. May respond before returning or later (from another thread).
using Handler = std::function<void(HttpRequest&&, Responder)>;

}  // namespace hir::net
