// Internal to src/net (server.cc, client.cc): Beast parsers that fill HttpRequest/HttpResponse
// directly. Beast's request_parser<string_body> would build an http::fields list first and we
// would copy it again; STACK.md measured that message building and re-serializing costs ~3x the
// instructions of framing alone, so the parser stores straight into our own types.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>


#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "net/coro.h"
#include "net/timed_socket.h"

#include "net/fast_head.h"
#include "net/http.h"
#include "net/wire.h"

namespace hir::net::wire {

namespace http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

template <bool isRequest>
class Parser : public http::basic_parser<isRequest> {
 public:
  int version() const { return version_; }
  // True when the request asked for "100-continue" (RFC 9110 §10.1.1).
  bool expect_continue() const { return expect_continue_; }
  // The most bytes of fields the head (and a chunked message's trailer section) may hold, counted
  // whole: Beast's header_limit, also set here, bounds only what is buffered and not yet parsed,
  // and Beast parses each complete field as it comes, so a head sent as millions of tiny fields
  // passed it (and grew the headers without bound).
  void limit_head(std::uint32_t bytes) {
    this->header_limit(bytes);
    head_limit_ = bytes;
  }

 protected:
  Parser(Headers& headers, std::string& body) : headers_(headers), body_(body) {
    headers_.reserve(Headers::kTypicalCount, Headers::kTypicalBytes);
  }

  void on_field_impl(http::field f, string_view name, string_view value, error_code& ec) override {
    field_bytes_ += name.size() + value.size() + 4;  // "name: value\r\n"
    if (field_bytes_ > head_limit_) {
      ec = http::error::header_limit;
      return;
    }
    // A trailer field (after the body of a chunked message) is not merged into the head (RFC 9110
    // §6.5.1): none of hir's uses of a header may be changed from the end of a body, which a
    // front proxy that checked the head would not see.
    if (this->is_header_done()) return;
    if (f == http::field::expect && wire::iequals(value, "100-continue")) expect_continue_ = true;
    headers_.add(std::string_view(name.data(), name.size()), std::string_view(value.data(), value.size()));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const& length, error_code&) override {
    // The parser has already checked length against body_limit, so reserving is bounded.
    if (length) body_.reserve(static_cast<size_t>(*length));
  }
  size_t on_body_impl(string_view s, error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view s, error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_finish_impl(error_code&) override {}

  Headers& headers_;
  std::string& body_;
  int version_ = 11;
  bool expect_continue_ = false;
  size_t field_bytes_ = 0;
  size_t head_limit_ = SIZE_MAX;  // limit_head()
};

class RequestParser final : public Parser<true> {
 public:
  explicit RequestParser(HttpRequest& out) : Parser(out.headers, out.body), out_(out) {}

 private:
  void on_request_impl(http::verb, string_view method, string_view target, int version,
                       error_code&) override {
    out_.method.assign(method.data(), method.size());
    out_.target.assign(target.data(), target.size());
    version_ = version;
  }
  void on_response_impl(int, string_view, int, error_code& ec) override {
    ec = http::error::bad_version;  // never called for requests
  }
  HttpRequest& out_;
};

class ResponseParser final : public Parser<false> {
 public:
  explicit ResponseParser(HttpResponse& out) : Parser(out.headers, out.body), out_(out) {}

 private:
  void on_request_impl(http::verb, string_view, string_view, int, error_code& ec) override {
    ec = http::error::bad_version;  // never called for responses
  }
  void on_response_impl(int code, string_view, int version, error_code&) override {
    out_.status = code;
    version_ = version;
  }
  HttpResponse& out_;
};

// Feeds the parser what `buf` holds, reading more from `stream` only when it needs more, until
// done(). Beast's async_read would complete through the scheduler even when the bytes are
// already buffered (they nearly always are: one read takes a whole request or answer); parsing
// them in place saves those trips. Errors as Beast's reads report them: end_of_stream when the
// peer closed before a byte of this message, partial_message when it closed within one (a
// message that ends at the close, an answer without a length, completes).
// max_pending bounds the bytes the parser may leave unread while it waits for the rest of a
// piece it takes whole: a head, a chunk's size line (extensions included) or the trailer
// section. Beast bounds none of the last two, and body_limit counts chunk data only, so without
// it one endless chunk line would be buffered until the timeout. Past it, header_limit before
// the head is done, bad_chunk after.
template <typename Parser, typename Done>
coro::Awaitable<error_code> parse_until(coro::TimedSocket& stream, boost::beast::flat_buffer& buf, Parser& parser,
                                        size_t read_size, size_t max_pending, Done done) {
  for (;;) {
    if (buf.size() > 0) {
      error_code ec;
      const size_t n = parser.put(buf.data(), ec);
      buf.consume(n);
      if (ec && ec != http::error::need_more) co_return ec;
      if (done()) co_return error_code{};
      if (!ec && n > 0) continue;  // progress, and perhaps more to parse in what is left
      if (buf.size() >= max_pending)
        co_return error_code(parser.is_header_done() ? http::error::bad_chunk : http::error::header_limit);
    }
    auto [rec, m] = co_await stream.socket().async_read_some(buf.prepare(read_size), coro::kTuple);
    if (rec == boost::asio::error::eof) {
      if (!parser.got_some()) co_return error_code(http::error::end_of_stream);
      error_code ec;
      parser.put_eof(ec);
      if (!ec && done()) co_return error_code{};
      co_return ec ? ec : error_code(http::error::partial_message);
    }
    if (rec) co_return rec;
    buf.commit(m);
  }
}

// The body of a message whose head the fast reader took (net/fast_head.h): `length` bytes, first
// from what `buf` holds, then read through `buf` a chunk at a time. Each read asks for at least
// kMinRead bytes, as Beast's reads do, so bytes that came right after the body (a pipelined
// request; on a client, bytes that make the connection unfit for reuse) land in `buf` and stay
// there. The body grows by what arrives: a peer that announces a large body and sends little
// holds little memory. Room for the whole body is taken at once only up to kEager; past that it
// doubles as bytes come, so an announced length commits no more than twice what was sent (with
// strict overcommit, reserved room is memory taken). Errors as parse_until reports them:
// partial_message when the peer closed within the body.
inline coro::Awaitable<error_code> read_body(coro::TimedSocket& stream, boost::beast::flat_buffer& buf,
                                             std::string& body, size_t length) {
  constexpr size_t kMinRead = size_t{8} << 10, kChunk = size_t{64} << 10, kEager = size_t{1} << 20;
  body.clear();
  body.reserve(std::min(length, kEager));
  for (;;) {
    const size_t take = std::min(buf.size(), length - body.size());
    if (body.size() + take > body.capacity())
      body.reserve(std::min(length, std::max(body.size() + take, 2 * body.capacity())));
    body.append(static_cast<const char*>(buf.data().data()), take);
    buf.consume(take);
    if (body.size() == length) co_return error_code{};
    auto [ec, n] = co_await stream.socket().async_read_some(
        buf.prepare(std::clamp(length - body.size(), kMinRead, kChunk)), coro::kTuple);
    buf.commit(n);
    if (ec == boost::asio::error::eof) co_return error_code(http::error::partial_message);
    if (ec) co_return ec;
  }
}

}  // namespace hir::net::wire
