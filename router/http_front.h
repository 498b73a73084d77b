// shoal-router's HTTP front: accepts client connections and relays each GET|HEAD /fetch request
// to the node Router (router/router.h) picks, streaming the answer back.
//
// Relay rules (RFC 9110 §7.6 for an intermediary, RFC 9112 for framing):
//   - The request goes upstream with its method, target, version and every header field except
//     the hop-by-hop ones (Connection, Keep-Alive, Proxy-Connection, Upgrade and the fields that
//     Connection names, except TE and Transfer-Encoding: the router relays chunked framing and
//     trailers unchanged, so "TE: trailers" keeps its meaning end to end); the upstream connection
//     is kept alive and reused (an idle pool per worker thread and node). A request with a body is
//     refused with 400 (shoald takes none).
//   - The response comes back with its status, reason and every header field except the
//     hop-by-hop ones, plus "Via: 1.1 shoal-router". Its body is streamed in pieces of at most
//     `relay_buffer_bytes` (read one piece, write it, read the next: the router holds two such
//     buffers per connection, no more).
//     A chunked response stays chunked, and its trailer fields (C0-Status) are passed on in the
//     last chunk. A HEAD response has no body.
//   - Failover: when a node cannot be reached or fails before its response header arrived
//     (connect error, reset, timeout), the next candidate gets the request; a reused idle
//     connection that fails first is retried once on a fresh connection to the same node. After
//     the response header went to the client nothing can be retried: a broken upstream body
//     closes the client connection (the client sees a short body, as from the node itself).
//   - No candidate (no view yet, nobody alive): 503 "no live node known". Every candidate
//     failed: 502 naming the last error.
// Other routes: GET /router/stats (Router::stats_json(), 200 application/json); anything else
// 404.
//
// Threads: `threads` workers, each with its own io_context; connections are spread round-robin
// and stay on one worker, with that worker's upstream pool (no locks on the data path). Worker 0
// also runs the membership poller.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "router/router.h"

namespace shoal::router {

struct FrontOptions {
  std::string listen = "127.0.0.1:8090";            // HOST:PORT the front listens on (port 0: any)
  int threads = 2;                                  // worker threads, 1..64
  std::chrono::milliseconds connect_timeout{2000};  // to a node
  std::chrono::milliseconds io_timeout{60000};      // any single read or write, either side
  std::chrono::milliseconds idle_timeout{60000};    // a client's keep-alive wait for a request
  std::chrono::milliseconds pool_idle{30000};       // an idle upstream connection is closed after
  std::size_t max_idle_per_node = 32;           // idle upstream connections kept per node+worker
  std::size_t relay_buffer_bytes = 512 * 1024;  // body piece and upstream read size (bytes)
  std::size_t max_header_bytes = 16 * 1024;     // client request header limit (431 above)

  // One-line reason for the first invalid setting naming it ("listen: expected HOST:PORT",
  // "threads: must be in [1, 64]", "relay_buffer_bytes: must be in [4KiB, 16MiB]", timeouts
  // "must be >= 1 ms"), or nullopt.
  std::optional<std::string> validate() const;
};

class HttpFront {
 public:
  HttpFront(RouterOptions router, FrontOptions front);
  ~HttpFront();
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  // Binds and listens. Returns a one-line error ("listen 127.0.0.1:1: Permission denied") or
  // nullopt.
  std::optional<std::string> open();
  // The bound port (after open()).
  std::uint16_t port() const;

  // Starts the poller and serves until SIGTERM/SIGINT or stop(); then stops accepting, lets the
  // requests in progress finish for at most `drain` and returns. Call open() first.
  void run(std::chrono::milliseconds drain = std::chrono::milliseconds(10000));
  // Makes run() return as after a signal. Any thread.
  void stop();

  Router& router() { return *router_; }

 private:
  class Session;
  struct Worker;

  void do_accept();
  void begin_drain();
  void check_drained();

  FrontOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Router> router_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::size_t next_worker_ = 0;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::chrono::milliseconds drain_{10000};
  std::atomic<bool> draining_{false};
};

}  // namespace shoal::router
