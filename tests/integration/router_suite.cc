// shoal-router in front of a real 3-node cluster (shoald processes on loopback, s3rver origin):
// requests reach the owner of their first page (no hop between nodes), bodies, headers and
// trailers pass through unchanged, a killed node costs no failed request, the membership poll
// fails over across nodes, and no view means 503.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/beast/core/string.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "ring/base/page_key.h"
#include "router/view.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

constexpr std::uint64_t kPage = 64 * 1024;
const std::string kBucket = "routed";

// Three shoald members node0..node2 (64 KiB pages) that know each other.
class ThreeNodes {
 public:
  ThreeNodes(const std::string& endpoint, const std::string& key_file) {
    for (int i = 0; i < 3; ++i) peer_ports_.push_back(free_port());
    for (int i = 0; i < 3; ++i) {
      std::vector<std::string> flags = {
          "--page-size",
          "64KiB",
          "--memory",
          "64MiB",
          "--node-id",
          "node" + std::to_string(i),
          "--peer-listen",
          "127.0.0.1:" + std::to_string(peer_ports_[static_cast<std::size_t>(i)]),
          "--cluster-key-file",
          key_file,
          "--probe-interval-ms",
          "200",
          "--probe-timeout-ms",
          "100",
          "--gossip-interval-ms",
          "50"};
      for (auto p : peer_ports_) {
        flags.push_back("--seed");
        flags.push_back("127.0.0.1:" + std::to_string(p));
      }
      nodes_.push_back(std::make_unique<Shoald>(endpoint, flags));
    }
  }
  Shoald& node(int i) { return *nodes_[static_cast<std::size_t>(i)]; }
  std::string addr(int i) { return "127.0.0.1:" + std::to_string(node(i).port()); }
  // The index of the node listening on `client_addr`, or -1.
  int index_of(const std::string& client_addr) {
    for (int i = 0; i < 3; ++i) {
      if (addr(i) == client_addr) return i;
    }
    return -1;
  }
  bool converged(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int i = 0; i < 3; ++i) {
      while (alive(i) != 3) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(50ms);
      }
    }
    return true;
  }
  int alive(int i) {
    int n = 0;
    try {
      const nlohmann::json s = stats_json(node(i).port());  // outlives the loop
      for (const auto& m : s["members"]) n += m["state"] == "alive";
    } catch (const std::exception&) {
    }
    return n;
  }
  // Sums a /stats "cluster" counter over the running nodes.
  std::uint64_t cluster_total(const char* counter) {
    std::uint64_t n = 0;
    for (auto& s : nodes_) {
      if (s->process().running()) {
        n += stats_json(s->port())["cluster"][counter].get<std::uint64_t>();
      }
    }
    return n;
  }

 private:
  std::vector<std::uint16_t> peer_ports_;
  std::vector<std::unique_ptr<Shoald>> nodes_;
};

// A shoal-router process on a free port.
class RouterProcess {
 public:
  explicit RouterProcess(const std::vector<std::string>& nodes, std::vector<std::string> extra = {})
      : port_(free_port()) {
    std::vector<std::string> argv = {bin_dir() + "/shoal-router",
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--poll-ms",
                                     "100",
                                     "--threads",
                                     "2"};
    for (const auto& n : nodes) {
      argv.push_back("--node");
      argv.push_back(n);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = Process::spawn(argv, {}, dir_.path() + "/router.log");
    if (!wait_for_port(port_, 20s)) {
      throw std::runtime_error("shoal-router did not open its port; log:\n" + process_.log());
    }
  }
  ~RouterProcess() { check_child_log(process_, "shoal-router :" + std::to_string(port_)); }
  std::uint16_t port() const { return port_; }
  nlohmann::json stats() {
    auto r = http_request(port_, "GET", "/router/stats");
    if (r.status != 200) throw std::runtime_error("/router/stats: " + std::to_string(r.status));
    return nlohmann::json::parse(r.body);
  }
  // Waits until the router's view has `alive` alive members (and `absent` not alive, if set).
  bool wait_for_view(int alive, std::chrono::milliseconds timeout, const std::string& dead = "") {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = stats();
      int n = 0;
      bool dead_gone = dead.empty();
      for (auto& m : s["members"]) {
        n += m["state"] == "alive";
        if (m["id"] == dead && m["state"] != "alive") dead_gone = true;
      }
      if (n == alive && dead_gone) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  HttpResponse fetch(const std::string& object, std::uint64_t first, std::uint64_t last,
                     std::vector<std::pair<std::string, std::string>> headers = {},
                     const std::string& method = "GET") {
    headers.emplace_back("Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last));
    return http_request(port_, method, "/fetch/" + kBucket + "/" + object, headers);
  }
  std::string log() const { return process_.log(); }
  Process& process() { return process_; }

 private:
  TempDir dir_;
  std::uint16_t port_;
  Process process_;
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_ = std::make_unique<S3Server>();
    s3_->create_bucket(kBucket);
    key_ = dir_.path() + "/cluster.key";
    std::ofstream(key_) << "router-test-secret-0123456789abcdef\n";
    nodes_ = std::make_unique<ThreeNodes>(s3_->endpoint(), key_);
    ASSERT_TRUE(nodes_->converged(20s));
  }
  std::string put(const std::string& key, std::uint64_t size, std::uint64_t seed) {
    std::string data = random_bytes(size, seed);
    s3_->put_object(kBucket, key, data);
    return data;
  }
  std::vector<std::string> all_nodes() {
    return {nodes_->addr(0), nodes_->addr(1), nodes_->addr(2)};
  }
  // The owner of `page` of `object` according to node 0's /stats and the ring code.
  std::string owner_of(const std::string& object, std::uint64_t page) {
    std::string error;
    auto v = router::View::from_stats(stats_json(nodes_->node(0).port()), nodes_->addr(0), &error);
    EXPECT_TRUE(v) << error;
    return v->owner(base::page_hash(kBucket, object, page))->id;
  }

  TempDir dir_;
  std::string key_;
  std::unique_ptr<S3Server> s3_;
  std::unique_ptr<ThreeNodes> nodes_;
};

TEST_F(RouterTest, SinglePageRequestsReachTheOwnerWithoutAHop) {
  const std::string data = put("pages.bin", 24 * kPage, 1);
  RouterProcess router(all_nodes());
  ASSERT_TRUE(router.wait_for_view(3, 10s)) << router.log();
  const std::uint64_t out_before = nodes_->cluster_total("forwarded_out");
  const std::uint64_t in_before = nodes_->cluster_total("forwarded_in");
  std::map<std::string, std::uint64_t> owned;
  for (std::uint64_t p = 0; p < 24; ++p) {
    const std::uint64_t first = p * kPage + 100, last = p * kPage + kPage - 7;
    auto r = router.fetch("pages.bin", first, last);
    ASSERT_EQ(r.status, 206) << r.body << router.log();
    ASSERT_TRUE(r.body == data.substr(first, last - first + 1)) << "page " << p;
    ++owned[owner_of("pages.bin", p)];
  }
  EXPECT_EQ(nodes_->cluster_total("forwarded_out"), out_before);
  EXPECT_EQ(nodes_->cluster_total("forwarded_in"), in_before);
  // Each page was cached by the node the ring names as its owner, and only there.
  for (int i = 0; i < 3; ++i) {
    auto s = stats_json(nodes_->node(i).port());
    EXPECT_EQ(s["memory"]["pages"].get<std::uint64_t>(), owned["node" + std::to_string(i)])
        << "node" << i;
  }
  auto rs = router.stats();
  EXPECT_EQ(rs["to_owner"], 24);
  EXPECT_EQ(rs["fallbacks"], 0);

  // The control: the same kind of requests straight to one node do cost hops.
  const std::string other = put("direct.bin", 24 * kPage, 2);
  for (std::uint64_t p = 0; p < 24; ++p) {
    auto r = nodes_->node(0).fetch(
        kBucket, "direct.bin",
        "bytes=" + std::to_string(p * kPage) + "-" + std::to_string(p * kPage + 9));
    ASSERT_EQ(r.status, 206);
  }
  EXPECT_GT(nodes_->cluster_total("forwarded_out"), out_before);
}

TEST_F(RouterTest, HeadersTrailersAndBodiesPassThroughUnchanged) {
  const std::string data = put("multi.bin", 5 * kPage + 1234, 3);
  RouterProcess router(all_nodes());
  ASSERT_TRUE(router.wait_for_view(3, 10s)) << router.log();
  const std::uint64_t first = kPage + 10, last = 4 * kPage + 20;  // pages 1..4
  const std::vector<std::pair<std::string, std::string>> te = {{"TE", "trailers"}};
  auto cold = router.fetch("multi.bin", first, last, te);  // fills the cache
  ASSERT_EQ(cold.status, 206) << cold.body;
  ASSERT_TRUE(cold.complete) << cold.error;
  ASSERT_TRUE(cold.body == data.substr(first, last - first + 1));
  EXPECT_EQ(cold.trailers.size(), 3u);  // one C0-Status per later page

  // Hot: through the router and straight from the first page's owner, the same answer.
  auto via = router.fetch("multi.bin", first, last, te);
  const int owner = std::stoi(owner_of("multi.bin", 1).substr(4));
  auto direct = nodes_->node(owner).fetch(
      kBucket, "multi.bin", "bytes=" + std::to_string(first) + "-" + std::to_string(last), te);
  ASSERT_EQ(via.status, 206);
  ASSERT_EQ(direct.status, 206);
  EXPECT_TRUE(via.body == direct.body);
  EXPECT_EQ(via.trailers, direct.trailers);
  auto without = [](const HttpResponse& r, std::initializer_list<std::string_view> skip) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& h : r.headers) {
      bool skipped = false;
      for (auto s : skip) skipped = skipped || boost::beast::iequals(h.first, s);
      if (!skipped) out.push_back(h);
    }
    return out;
  };
  EXPECT_EQ(without(via, {"Via", "Connection", "Date"}), without(direct, {"Connection", "Date"}));
  EXPECT_EQ(via.header("Via"), "1.1 shoal-router");
  EXPECT_EQ(via.header("Transfer-Encoding"), "chunked");

  // HEAD: the header only.
  auto head = router.fetch("multi.bin", 0, 99, {}, "HEAD");
  EXPECT_EQ(head.status, 206);
  EXPECT_EQ(head.header("Content-Length"), "100");
  EXPECT_EQ(head.body, "");
  // Errors from the node come back as they are.
  auto missing = router.fetch("nope.bin", 0, 9);
  EXPECT_EQ(missing.status, 404);
  auto no_range = http_request(router.port(), "GET", "/fetch/" + kBucket + "/multi.bin");
  EXPECT_EQ(no_range.status, 400);
  EXPECT_EQ(http_request(router.port(), "GET", "/elsewhere").status, 404);
}

TEST_F(RouterTest, KillingTheChosenNodeFailsNoRequest) {
  const std::uint64_t pages = 30;
  const std::string data = put("failover.bin", pages * kPage, 4);
  // The first seed is dead: the view must come from the next one.
  RouterProcess router({"127.0.0.1:" + std::to_string(free_port()), nodes_->addr(0),
                        nodes_->addr(1), nodes_->addr(2)});
  ASSERT_TRUE(router.wait_for_view(3, 10s)) << router.log();
  EXPECT_GE(router.stats()["polls"]["failed"].get<int>(), 1);

  // Kill the node the router polls: both its data path and its view must fail over.
  const int victim = nodes_->index_of(router.stats()["view_from"].get<std::string>());
  ASSERT_GE(victim, 0);
  const std::string victim_id = "node" + std::to_string(victim);
  auto fetch_all = [&](int round) {
    for (std::uint64_t p = 0; p < pages; ++p) {
      const std::uint64_t first = p * kPage + static_cast<std::uint64_t>(round), last = first + 999;
      auto r = router.fetch("failover.bin", first, last);
      ASSERT_EQ(r.status, 206) << "round " << round << " page " << p << ": " << r.body;
      ASSERT_TRUE(r.complete && r.body == data.substr(first, last - first + 1));
    }
  };
  fetch_all(0);  // warm keep-alive connections to every node
  nodes_->node(victim).process().kill();
  const auto killed_at = std::chrono::steady_clock::now();
  fetch_all(1);  // before the cluster has declared the node dead
  const auto after_kill = std::chrono::steady_clock::now() - killed_at;
  EXPECT_LT(after_kill, 10s);
  auto rs = router.stats();
  EXPECT_GE(rs["upstream_failures"].get<int>(), 1);
  EXPECT_GE(rs["fallbacks"].get<int>(), 1);
  // The view moves to a live node and sees the victim go.
  ASSERT_TRUE(router.wait_for_view(2, 30s, victim_id)) << router.stats().dump();
  EXPECT_NE(router.stats()["view_from"], nodes_->addr(victim));
  fetch_all(2);
}

TEST_F(RouterTest, NoReachableNodeMeans503) {
  RouterProcess router({"127.0.0.1:" + std::to_string(free_port())});
  auto r = router.fetch("any.bin", 0, 9);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "no live node known\n");
  for (int i = 0; i < 100 && router.stats()["polls"]["failed"].get<int>() == 0; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE(router.stats()["polls"]["failed"].get<int>(), 1);
  EXPECT_NE(router.stats()["polls"]["last_error"].get<std::string>().find("connect"),
            std::string::npos);
}

// Runs `command` with sh; {exit status, stdout+stderr}.
std::pair<int, std::string> run_shell(const std::string& command) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST(LoadBalancerExamples, HaproxyAcceptsTheExampleConfig) {
  if (run_shell("command -v haproxy").first != 0) GTEST_SKIP() << "haproxy is not installed";
  auto [code, out] = run_shell("haproxy -c -f " + source_dir() + "/docs/examples/haproxy.cfg");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.find("WARNING"), std::string::npos) << out;
}

TEST(LoadBalancerExamples, NginxAcceptsTheExampleConfig) {
  if (run_shell("command -v nginx").first != 0) GTEST_SKIP() << "nginx is not installed";
  TempDir prefix;
  auto [code, out] = run_shell("nginx -t -p " + prefix.path() + " -e " + prefix.path() +
                               "/error.log -c " + source_dir() + "/docs/examples/nginx.conf");
  EXPECT_EQ(code, 0) << out;
}

// docs/examples/NAME with each `replace` key (exact text, which must be there) replaced by its
// value: the examples' addresses pointed at the test's processes.
std::string example_config(const std::string& name,
                           const std::vector<std::pair<std::string, std::string>>& replace) {
  std::ifstream in(source_dir() + "/docs/examples/" + name);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  for (const auto& [from, to] : replace) {
    const auto at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error(name + " has no '" + from + "'");
    text.replace(at, from.size(), to);
  }
  return text;
}

// Clients reading random ranges of `data` (object lbs/obj) through 127.0.0.1:port, each request
// on a fresh connection, until stop(); a success is a complete, byte-exact 206.
class ThroughBalancer {
 public:
  ThroughBalancer(std::uint16_t port, const std::string& data, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, port, &data, t] {
        std::mt19937_64 rng(static_cast<std::uint64_t>(t));
        while (!stop_) {
          const std::uint64_t a = rng() % data.size();
          const std::uint64_t b = std::min<std::uint64_t>(data.size() - 1, a + rng() % (2 * kPage));
          auto r =
              http_request(port, "GET", "/fetch/lbs/obj",
                           {{"Range", "bytes=" + std::to_string(a) + "-" + std::to_string(b)}});
          if (r.status == 206 && r.complete && r.body == data.substr(a, b - a + 1)) {
            ++successes_;
            continue;
          }
          std::lock_guard lock(mu_);
          if (failures_++ == 0) first_failure_ = std::to_string(r.status) + " " + r.error;
        }
      });
    }
  }
  ~ThroughBalancer() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  int successes() const { return successes_; }
  int failures() const { return failures_; }
  std::string first_failure() {
    std::lock_guard lock(mu_);
    return first_failure_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> successes_{0}, failures_{0};
  std::mutex mu_;
  std::string first_failure_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// /fetch requests node `port` answered 206 (its own count, read from its /metrics).
double fetches_served(std::uint16_t port) {
  const double v =
      metric_value(metrics(port), R"(shoal_requests_total{kind="lbs",method="GET",status="206"})");
  return std::isnan(v) ? 0 : v;
}

// Two standalone nodes on one origin (every node serves every page) behind a load balancer
// started from its example config; node a gets SIGTERM while clients read through the
// balancer. `a_flags` go to node a.
class LoadBalancerDrain : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_ = std::make_unique<S3Server>();
    s3_->create_bucket("lbs");
    data_ = random_bytes(6 * kPage + 100, 31);
    s3_->put_object("lbs", "obj", data_);
    for (auto* node : {&a_, &b_}) {
      *node = std::make_unique<Shoald>(
          s3_->endpoint(),
          std::vector<std::string>{"--page-size", "64KiB", "--drain-notice-ms", "3000"});
    }
  }
  std::string server(const std::unique_ptr<Shoald>& n) const {
    return "127.0.0.1:" + std::to_string(n->port());
  }
  // Starts clients through the balancer on `port`, SIGTERMs node a once both nodes served
  // requests, and checks that the balancer stops sending a /fetch requests while a still runs
  // (it saw "draining": true, or `passive`: a refused connection), that a exits 0, and that no
  // client request failed.
  void drain_a_behind(std::uint16_t port, bool passive) {
    ThroughBalancer load(port, data_, 4);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while ((fetches_served(a_->port()) == 0 || fetches_served(b_->port()) == 0) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_GT(fetches_served(a_->port()), 0) << "the balancer never sent node a a request";
    ASSERT_GT(fetches_served(b_->port()), 0) << "the balancer never sent node b a request";
    const auto signalled = std::chrono::steady_clock::now();
    a_->process().signal(SIGTERM);
    if (!passive) {
      // Checks every 200 ms, down after 2: out of rotation well within the 3 s notice, while a
      // still answers.
      std::this_thread::sleep_for(1500ms);
      const double before = fetches_served(a_->port());
      std::this_thread::sleep_for(1000ms);
      EXPECT_EQ(fetches_served(a_->port()), before) << "the balancer still sends node a requests";
      EXPECT_TRUE(a_->process().running());
    }
    auto code = a_->process().wait(20s);
    ASSERT_TRUE(code.has_value()) << "node a did not exit";
    EXPECT_EQ(*code, 0);
    EXPECT_GE(std::chrono::steady_clock::now() - signalled, 3000ms);
    const double b_before = fetches_served(b_->port());
    std::this_thread::sleep_for(1000ms);
    load.stop();
    EXPECT_GT(fetches_served(b_->port()), b_before) << "node b took no traffic after a left";
    EXPECT_EQ(load.failures(), 0) << "first failure: " << load.first_failure();
    EXPECT_GT(load.successes(), 0);
  }

  std::unique_ptr<S3Server> s3_;
  std::string data_;
  std::unique_ptr<Shoald> a_, b_;
  TempDir dir_;
};

// HAProxy with docs/examples/haproxy.cfg (checks every 200 ms instead of 2 s, fewer connections
// for the descriptors a test has): its /stats check
// takes a node that got SIGTERM out of rotation while the node still serves, and no request
// through it fails.
TEST_F(LoadBalancerDrain, HaproxyTakesADrainingNodeOutWithoutFailedRequests) {
  if (run_shell("command -v haproxy").first != 0) GTEST_SKIP() << "haproxy is not installed";
  const std::uint16_t port = free_port();
  const std::string cfg = dir_.path() + "/haproxy.cfg";
  std::ofstream(cfg) << example_config(
      "haproxy.cfg",
      {{"bind 127.0.0.1:8000", "bind 127.0.0.1:" + std::to_string(port)},
       {"inter 2s", "inter 200ms"},
       // 20000 connections need about 40000 descriptors; a test may have fewer.
       {"\n  maxconn 20000\n", "\n  maxconn 4000\n"},
       {"  server node-a 10.0.0.1:8080 check\n", "  server a " + server(a_) + " check\n"},
       {"  server node-b 10.0.0.2:8080 check\n", "  server b " + server(b_) + " check\n"},
       {"  server node-c 10.0.0.3:8080 check\n", ""}});
  Process haproxy = Process::spawn({"haproxy", "-db", "-f", cfg}, {}, dir_.path() + "/haproxy.log");
  ASSERT_TRUE(wait_for_port(port, 20s)) << haproxy.log();
  drain_a_behind(port, false);
  EXPECT_TRUE(haproxy.running()) << haproxy.log();
}

// nginx with docs/examples/nginx.conf: passive checks only, so it keeps sending a draining node
// requests (which it serves) until the node's port closes; the refused connection is passed to
// the next node, and no request through it fails.
TEST_F(LoadBalancerDrain, NginxPassesOverADrainingNodeWithoutFailedRequests) {
  if (run_shell("command -v nginx").first != 0) GTEST_SKIP() << "nginx is not installed";
  const std::uint16_t port = free_port();
  const std::string cfg = dir_.path() + "/nginx.conf";
  std::ofstream(cfg) << example_config(
      "nginx.conf", {{"listen 127.0.0.1:8000;", "listen 127.0.0.1:" + std::to_string(port) + ";"},
                     {"server 10.0.0.1:8080 ", "server " + server(a_) + " "},
                     {"server 10.0.0.2:8080 ", "server " + server(b_) + " "},
                     {"    server 10.0.0.3:8080 max_fails=1 fail_timeout=5s;\n", ""}});
  Process nginx =
      Process::spawn({"nginx", "-p", dir_.path(), "-e", dir_.path() + "/error.log", "-c", cfg, "-g",
                      "daemon off; pid " + dir_.path() + "/nginx.pid;"},
                     {}, dir_.path() + "/nginx.log");
  ASSERT_TRUE(wait_for_port(port, 20s)) << nginx.log();
  drain_a_behind(port, true);
  EXPECT_TRUE(nginx.running()) << nginx.log();
}

}  // namespace
}  // namespace shoal::test
