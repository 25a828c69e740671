// Internal to src/net (server.cc, client.cc): Beast parsers that fill HttpRequest/HttpResponse
// directly. Beast's request_parser<string_body> would build an http::fields list first and we
// would copy it again; STACK.md measured that message building and re-serializing costs ~3x the
// instructions of framing alone, so the parser stores straight into our own types.
#pragma once

#include <cstdint>
#include <string>

#include <boost/beast/http/basic_parser.hpp>

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

 protected:
  Parser(Headers& headers, std::string& body) : headers_(headers), body_(body) {
    headers_.items.reserve(Headers::kTypicalCount);
  }

  void on_field_impl(http::field f, string_view name, string_view value, error_code&) override {
    if (f == http::field::expect && wire::iequals(value, "100-continue")) expect_continue_ = true;
    headers_.items.emplace_back(std::string(name), std::string(value));
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

}  // namespace hir::net::wire
