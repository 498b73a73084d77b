// Tests for router/poller.h and router/router.h against an in-process fake node that serves a
// fixed /stats document on loopback: seed failover, keeping the last view, and the router's
// accounting (bounded load from its own in-flight counts, quarantine of failed members,
// round-robin for suffix ranges).
#include "router/router.h"

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

namespace shoal::test {
namespace {

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
std::string three_members() {
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
std::string dead_addr() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return "127.0.0.1:" + std::to_string(a.local_endpoint().port());
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5s) {
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
std::string owner_id(router::Router& r) {
  return r.view()->owner(base::page_hash("k", "o", 0))->id;
}

TEST(ViewPoller, FailsOverFromADeadSeedAndLearnsTheMembers) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({dead_addr(), node.addr()});
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  EXPECT_GE(r->poller().polls_failed(), 1u);
  EXPECT_EQ(r->view()->epoch(), 4u);
  EXPECT_EQ(r->view()->source(), node.addr());
  auto known = r->poller().known();
  EXPECT_EQ(known[0], "10.0.0.1:8080");  // the members first, then the seeds
  EXPECT_EQ(known.size(), 5u);
}

TEST(ViewPoller, KeepsTheLastViewWhileNoNodeAnswers) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({node.addr()});
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  node.stop();
  const auto failed = r->poller().polls_failed();
  ASSERT_TRUE(eventually([&] { return r->poller().polls_failed() > failed + 2; }));
  EXPECT_NE(r->view(), nullptr);
  EXPECT_EQ(r->view()->epoch(), 4u);
  EXPECT_FALSE(r->poller().last_error().empty());
}

TEST(ViewPoller, RejectsAnswersThatAreNotStats) {
  FakeNode node;
  node.set_body("{\"hello\": 1}");
  RunningRouter r({node.addr()});
  ASSERT_TRUE(eventually([&] { return r->poller().polls_failed() >= 2; }));
  EXPECT_EQ(r->view(), nullptr);
  EXPECT_NE(r->poller().last_error().find("page_size_bytes"), std::string::npos)
      << r->poller().last_error();
  EXPECT_TRUE(r->plan("/fetch/k/o", "bytes=0-9").empty());
  EXPECT_EQ(r->counters().unrouted, 1u);
}

TEST(Router, BoundedLoadSendsRequestsPastABusyOwner) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({node.addr()}, 1.25);
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  const std::string owner = owner_id(*r);
  auto plan = r->plan("/fetch/k/o", "bytes=10-20");
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].id, owner);
  EXPECT_TRUE(plan[0].owner);
  r->served(plan, 0);
  EXPECT_EQ(r->counters().to_owner, 1u);

  for (int i = 0; i < 4; ++i) r->begin(owner);  // cap with total 4: ceil(1.25 * 5 / 3) = 3
  plan = r->plan("/fetch/k/o", "bytes=10-20");
  EXPECT_NE(plan[0].id, owner);
  EXPECT_EQ(plan[2].id, owner);
  EXPECT_TRUE(plan[2].overloaded);
  r->served(plan, 0);
  EXPECT_EQ(r->counters().load_skips, 1u);

  for (int i = 0; i < 4; ++i) r->end(owner);
  EXPECT_EQ(r->plan("/fetch/k/o", "bytes=10-20")[0].id, owner);
}

TEST(Router, AFailedMemberGoesLastUntilItsQuarantineEnds) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({node.addr()}, 0, 200ms);
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  const std::string owner = owner_id(*r);
  r->failed(owner);
  auto plan = r->plan("/fetch/k/o", "bytes=0-0");
  EXPECT_EQ(plan[2].id, owner);
  EXPECT_TRUE(plan[2].quarantined);
  r->served(plan, 1);  // the second candidate answered after the first failed
  EXPECT_EQ(r->counters().fallbacks, 1u);
  EXPECT_EQ(r->counters().upstream_failures, 1u);
  ASSERT_TRUE(eventually([&] { return r->plan("/fetch/k/o", "bytes=0-0")[0].id == owner; }));
  EXPECT_EQ(r->stats_json()["upstream_failures"], 1);
}

TEST(Router, SuffixRangesAreSpreadOverTheMembers) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({node.addr()});
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  std::set<std::string> first;
  for (int i = 0; i < 6; ++i) first.insert(r->plan("/fetch/k/o", "bytes=-100")[0].id);
  EXPECT_EQ(first.size(), 3u);
  EXPECT_EQ(r->counters().spread, 6u);
}

}  // namespace
}  // namespace shoal::test
