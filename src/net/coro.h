// Internal to src/net (server.cc, client.cc): the Asio types every connection uses, bound by type
// to the executor of the io_context the connection lives on (event_loop.h: one thread per
// context, so no strand is needed). With Asio's defaults (any_io_executor) each asynchronous step
// copies, converts and destroys type-erased executors; that was ~5% of the router's CPU per
// proxied request (docs/perf/proxy.md). Naming the executor type lets the compiler see through it.
#pragma once

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
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

}  // namespace hir::net::coro
