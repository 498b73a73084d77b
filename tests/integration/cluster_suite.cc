// A cluster of real shoald processes on loopback in front of s3rver (through the counting fault
// proxy): placement, cluster-wide coalescing, failure detection and failover, rejoin, graceful
// leave, authentication of the peer port, and the never-forward-twice rule.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <random>
#include <thread>

#include "peer/codec.h"
#include "peer/stream.h"
#include "tests/integration/harness/cluster.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t kPage = 64 * 1024;
const std::string kBucket = "cluster";

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_ = std::make_unique<S3Server>();
    s3_->create_bucket(kBucket);
    proxy_ = std::make_unique<FaultProxy>(s3_->port());
    key_ = key_file(dir_, "cluster.key", "0123456789abcdef0123456789abcdef-test-secret");
  }
  std::string put(const std::string& key, std::uint64_t size, std::uint64_t seed) {
    std::string data = random_bytes(size, seed);
    s3_->put_object(kBucket, key, data);
    return data;
  }
  std::string range(std::uint64_t a, std::uint64_t b) {
    return "bytes=" + std::to_string(a) + "-" + std::to_string(b);
  }

  TempDir dir_;
  std::unique_ptr<S3Server> s3_;
  std::unique_ptr<FaultProxy> proxy_;
  std::string key_;
};

TEST_F(ClusterTest, EveryNodeServesTheSameBytesAndEachPageIsFetchedOnce) {
  Cluster c(proxy_->endpoint(), 3, key_);
  ASSERT_TRUE(c.converged(15s));
  const std::string data = put("same.bin", 10 * kPage + 99, 1);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3; ++i) {
      auto r = c.node(i).fetch(kBucket, "same.bin", range(100, data.size() - 1));
      ASSERT_EQ(r.status, 206) << r.body;
      ASSERT_TRUE(r.body == data.substr(100)) << "node " << i;
    }
  }
  // 11 pages, each fetched from the origin once in the whole cluster.
  EXPECT_EQ(proxy_->count("GET", "/" + kBucket + "/same.bin"), 11);
  // Pages are spread over the owners, and every node forwarded what it does not own.
  std::uint64_t pages = 0;
  for (int i = 0; i < 3; ++i) {
    auto s = stats_json(c.node(i).port());
    pages += s["memory"]["pages"].get<std::uint64_t>();
    EXPECT_GT(s["cluster"]["forwarded_out"].get<std::uint64_t>(), 0u) << "node " << i;
    ASSERT_EQ(s["members"].size(), 3u);
    for (auto& m : s["members"]) {
      for (const char* field :
           {"id", "state", "incarnation", "weight", "client_addr", "owned_share"}) {
        EXPECT_TRUE(m.contains(field)) << field;
      }
    }
    EXPECT_GT(s["epoch"].get<std::uint64_t>(), 0u);
  }
  EXPECT_EQ(pages, 11u);
}

TEST_F(ClusterTest, ConcurrentClientsOnAllNodesCauseOneOriginGetPerPage) {
  Cluster c(proxy_->endpoint(), 3, key_);
  ASSERT_TRUE(c.converged(15s));
  const std::string data = put("cold.bin", 8 * kPage, 2);
  proxy_->add_rule({{"match", {{"method", "GET"}}}, {"action", "delay_first_byte"}, {"ms", 500}});
  std::vector<HttpResponse> results(64);
  std::vector<std::thread> clients;
  for (int i = 0; i < 64; ++i) {
    clients.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          c.node(i % 3).fetch(kBucket, "cold.bin", range(0, data.size() - 1));
    });
  }
  for (auto& t : clients) t.join();
  for (auto& r : results) {
    ASSERT_EQ(r.status, 206);
    ASSERT_TRUE(r.body == data);
  }
  EXPECT_EQ(proxy_->count("GET", "/" + kBucket + "/cold.bin"), 8);
}

TEST_F(ClusterTest, KillingANodeUnderLoadFailsNoRequestAndItsPagesMoveToRankTwo) {
  Cluster c(proxy_->endpoint(), 3, key_);
  ASSERT_TRUE(c.converged(15s));
  const std::string data = put("load.bin", 12 * kPage, 3);
  // Four clients on the survivors only.
  RangeLoad load(
      4, [&](int t) -> const Shoald& { return c.node(t % 2); }, kBucket, "load.bin", data,
      3 * kPage);
  std::this_thread::sleep_for(1s);
  c.node(2).process().kill();  // kill -9
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.wait_for_state(0, 1, "dead", 20s));
  auto detected = std::chrono::steady_clock::now() - killed_at;
  std::this_thread::sleep_for(1s);
  load.stop();
  EXPECT_EQ(load.failures(), 0);
  EXPECT_GT(load.successes(), 0);
  std::cout << "detection took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(detected).count() << " ms\n";
  // Once it is dead, its pages live on their rank-2 nodes: a full read fetches nothing new.
  ASSERT_EQ(c.node(0).fetch(kBucket, "load.bin", range(0, data.size() - 1)).status, 206);
  proxy_->reset();
  auto r = c.node(1).fetch(kBucket, "load.bin", range(0, data.size() - 1));
  ASSERT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == data);
  EXPECT_EQ(proxy_->count("GET", "/" + kBucket + "/load.bin"), 0);

  // Restart it: it rejoins and owns pages again.
  c.start(2);
  ASSERT_TRUE(c.converged(20s));
  auto again = c.node(2).fetch(kBucket, "load.bin", range(0, data.size() - 1));
  ASSERT_EQ(again.status, 206);
  EXPECT_TRUE(again.body == data);
  auto s = stats_json(c.node(2).port());
  EXPECT_GT(s["memory"]["pages"].get<std::uint64_t>(), 0u);
}

TEST_F(ClusterTest, GracefulLeaveIsLeftNotDead) {
  Cluster c(proxy_->endpoint(), 3, key_);
  ASSERT_TRUE(c.converged(15s));
  c.node(1).process().signal(SIGTERM);
  EXPECT_EQ(c.node(1).process().wait(15s), 0);
  ASSERT_TRUE(c.wait_for_state(0, 1, "left", 10s));
  EXPECT_TRUE(c.wait_for_state(0, 0, "dead", 1s));
  const std::string data = put("after-leave.bin", 3 * kPage, 4);
  auto r = c.node(0).fetch(kBucket, "after-leave.bin", range(0, data.size() - 1));
  ASSERT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == data);
}

TEST_F(ClusterTest, ANodeWithAWrongKeyIsKeptOut) {
  Cluster c(proxy_->endpoint(), 2, key_);
  ASSERT_TRUE(c.converged(15s));
  std::string wrong = key_file(dir_, "wrong.key", "another-secret-another-secret-another-secret");
  std::uint16_t peer_port = free_port();
  auto seeds = c.seeds();
  std::vector<std::string> flags = {"--page-size",        "64KiB",
                                    "--node-id",          "intruder",
                                    "--peer-listen",      "127.0.0.1:" + std::to_string(peer_port),
                                    "--cluster-key-file", wrong};
  flags.insert(flags.end(), seeds.begin(), seeds.end());
  Shoald intruder(proxy_->endpoint(), flags);
  std::this_thread::sleep_for(4s);
  for (int i = 0; i < 2; ++i) {
    auto s = stats_json(c.node(i).port());
    for (auto& m : s["members"]) EXPECT_NE(m["id"], "intruder");
  }
  // The intruder's joins fail the handshake (it cannot prove the key) and it stays alone; each
  // refused handshake counts as an authentication failure and a peer error, the signal
  // operators watch for a wrong key (docs/operations.md).
  auto s = stats_json(intruder.port());
  EXPECT_EQ(s["members"].size(), 1u);
  EXPECT_GT(s["cluster"]["join_failures"].get<std::uint64_t>(), 0u);
  EXPECT_GT(s["cluster"]["auth_failures"].get<std::uint64_t>(), 0u) << s["cluster"].dump();
  EXPECT_GT(metric_value(metrics(intruder.port()), "shoal_peer_errors_total"), 0)
      << s["cluster"].dump();
}

// A request that arrives forwarded (hop set) is served by the receiver even when it is not the
// owner: sent here straight to a node's peer port, as a peer with a different view would.
TEST_F(ClusterTest, AForwardedRequestIsNeverForwardedAgain) {
  Cluster c(proxy_->endpoint(), 3, key_);
  ASSERT_TRUE(c.converged(15s));
  const std::string data = put("hop.bin", 6 * kPage, 5);
  auto key = peer::ClusterKey::load_file(key_);
  ASSERT_TRUE(key.has_value());
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), c.member(0).peer_port});
  auto stream =
      peer::FrameStream::create(std::move(socket), *key, peer::FrameStream::Role::kClient);
  boost::system::error_code hec = boost::asio::error::would_block;
  stream->async_handshake([&](boost::system::error_code ec) { hec = ec; });
  io.run_for(5s);
  ASSERT_FALSE(hec) << hec.message();
  auto before = stats_json(c.node(0).port());
  // Ask node 0 for every page; most are owned by the others.
  int answered = 0;
  for (std::uint64_t page = 0; page < 6; ++page) {
    peer::ForwardRequest req;
    req.request_id = page + 1;
    req.kind = kBucket;
    req.object = "hop.bin";
    req.page = page;
    req.hop = true;
    req.sender_epoch = 1;
    io.restart();
    stream->async_write_frame(peer::encode_frame_header(req), {}, nullptr,
                              [](boost::system::error_code) {});
    // The answer is a stream: a head (ForwardResponse) with the first bytes, ForwardData frames
    // with the rest, until the head's length arrived.
    auto read_frame = [&](peer::FrameHeader* header) -> std::string {
      peer::Frame frame;
      boost::system::error_code rec = boost::asio::error::would_block;
      stream->async_read_frame(kPage, [&](boost::system::error_code ec, peer::Frame f) {
        rec = ec;
        frame = std::move(f);
      });
      io.restart();
      io.run_for(10s);
      EXPECT_FALSE(rec) << rec.message();
      EXPECT_TRUE(peer::decode_frame_header(frame.header, header).ok());
      return std::string(frame.payload.view());
    };
    peer::FrameHeader header;
    std::string bytes = read_frame(&header);
    auto* resp = std::get_if<peer::ForwardResponse>(&header);
    ASSERT_NE(resp, nullptr);
    EXPECT_EQ(resp->request_id, page + 1);
    ASSERT_EQ(resp->outcome, base::Outcome::kOk) << resp->message;
    ASSERT_EQ(resp->length, kPage);
    while (bytes.size() < kPage) {
      peer::FrameHeader more;
      const std::string chunk = read_frame(&more);
      auto* d = std::get_if<peer::ForwardData>(&more);
      ASSERT_NE(d, nullptr);
      EXPECT_EQ(d->request_id, page + 1);
      EXPECT_EQ(d->at, bytes.size());
      bytes += chunk;
    }
    EXPECT_TRUE(bytes == data.substr(page * kPage, kPage));
    ++answered;
  }
  EXPECT_EQ(answered, 6);
  auto after = stats_json(c.node(0).port());
  EXPECT_EQ(after["cluster"]["forwarded_out"], before["cluster"]["forwarded_out"]);
  EXPECT_EQ(after["cluster"]["forwarded_in"].get<std::uint64_t>(),
            before["cluster"]["forwarded_in"].get<std::uint64_t>() + 6);
  EXPECT_EQ(proxy_->count("GET", "/" + kBucket + "/hop.bin"), 6);
}

}  // namespace
}  // namespace shoal::test
