// Shared by router_poller_test.cc and router_router_test.cc: an in-process fake node that
// serves a fixed /stats document on loopback, a stats document with three members, and a Router
// polling it on its own thread.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "ring/base/page_key.h"
#include "router/router.h"

namespace shoal::test {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

// A loopback HTTP server answering every request with 200 and the current body, on its own
// thread (an accept loop; each connection is answered synchronously and closed).
class FakeNode {
 public:
  FakeNode() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    do_accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeNode() { stop(); }

  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  void set_body(std::string b) {
    std::lock_guard lock(mu_);
    body_ = std::move(b);
  }
  // Closes the port; later connections are refused.
  void stop() {
    if (!thread_.joinable()) return;
    net::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    thread_.join();  // run() returns once the aborted accept was the last work
  }

 private:
  void do_accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      answer(std::move(s));
      do_accept();
    });
  }

  void answer(tcp::socket s) {
    boost::system::error_code ec;
    boost::beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::read(s, buf, req, ec);
    if (ec) return;
    http::response<http::string_body> res(http::status::ok, 11);
    {
      std::lock_guard lock(mu_);
      res.body() = body_;
    }
    res.prepare_payload();
    http::write(s, res, ec);
    s.shutdown(tcp::socket::shutdown_both, ec);
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = acceptor_.local_endpoint().port();
  std::mutex mu_;
  std::string body_;
  std::thread thread_;
};

// A /stats document with three alive members (client addresses 10.0.0.x, never contacted).
inline std::string three_members() {
  nlohmann::json members = nlohmann::json::array();
  for (int i = 1; i <= 3; ++i) {
    members.push_back({{"id", "node" + std::to_string(i)},
                       {"state", "alive"},
                       {"weight", 1.0},
                       {"client_addr", "10.0.0." + std::to_string(i) + ":8080"},
                       {"in_flight", 0}});
  }
  return nlohmann::json{
      {"node_id", "node1"}, {"page_size_bytes", 65536}, {"epoch", 4}, {"members", members}}
      .dump();
}

// A port nothing listens on.
inline std::string dead_addr() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return "127.0.0.1:" + std::to_string(a.local_endpoint().port());
}

inline bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A Router polling `seeds`, run on its own io_context thread.
class RunningRouter {
 public:
  RunningRouter(std::vector<std::string> seeds, double bounded_load = 0,
                std::chrono::milliseconds quarantine = 2000ms) {
    router::RouterOptions o;
    o.poller.seeds = std::move(seeds);
    o.poller.interval = 50ms;
    o.poller.timeout = 500ms;
    o.poller.min_backoff = 10ms;
    o.poller.max_backoff = 100ms;
    o.bounded_load = bounded_load;
    o.quarantine = quarantine;
    EXPECT_EQ(o.validate(), std::nullopt);
    router_ = std::make_unique<router::Router>(io_.get_executor(), o);
    net::post(io_, [this] { router_->start(); });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningRouter() {
    net::post(io_, [this] { router_->stop(); });
    guard_.reset();
    thread_.join();
  }
  router::Router& operator*() { return *router_; }
  router::Router* operator->() { return router_.get(); }

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_ = net::make_work_guard(io_);
  std::unique_ptr<router::Router> router_;
  std::thread thread_;
};

// The id of the owner of page 0 of /fetch/k/o according to the router's view.
inline std::string owner_id(router::Router& r) {
  return r.view()->owner(base::page_hash("k", "o", 0))->id;
}

}  // namespace shoal::test
