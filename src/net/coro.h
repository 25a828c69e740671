// Internal to src/net (server.cc, client.cc): the Asio types every connection uses, bound by type
// to the executor of the io_context the connection lives on (event_loop.h: one thread per
// context, so no strand is needed). With Asio's defaults (any_io_executor) each asynchronous step
// copies, converts and destroys type-erased executors; that was ~5% of the router's CPU per
// proxied request (docs/perf/proxy.md). Naming the executor type lets the compiler see through it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace hir::net::coro {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

using Executor = asio::io_context::executor_type;
template <typename T>
using Awaitable = asio::awaitable<T, Executor>;
// Completions as (error_code, ...) tuples: errors are values here, not exceptions.
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable_t<Executor>{});
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;

// A head and a body, as both sides write them.
using TwoBuffers = std::array<asio::const_buffer, 2>;

// Writes what the socket takes at once, without waiting: how many bytes, and ec set only for an
// error other than "would block". A message of a few KB fits the send buffer, and an
// asynchronous write that completes at once still goes through the reactor's queue and the
// scheduler before its coroutine resumes; the caller awaits async_write only for the rest
// (after()), when there is any.
inline size_t write_now(Socket& sock, const TwoBuffers& bufs, boost::system::error_code& ec) {
  if (!sock.non_blocking()) {
    sock.non_blocking(true, ec);  // once per connection: synchronous calls then never block
    if (ec) return 0;
  }
  const size_t n = sock.write_some(bufs, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
  return ec ? 0 : n;
}

// bufs without their first n bytes.
inline TwoBuffers after(const TwoBuffers& bufs, size_t n) {
  const size_t first = bufs[0].size();
  if (n < first) return {bufs[0] + n, bufs[1]};
  return {asio::const_buffer(), bufs[1] + (n - first)};
}

}  // namespace hir::net::coro
