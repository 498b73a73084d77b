// Gray failures in a cluster of real shoald processes on loopback (node/forward_race.h,
// node/forwarding.h): a member frozen with SIGSTOP (a long GC pause, a stalled VM) must not hang
// the requests the others forward to it, and a page stream that stalls mid-page is resumed from
// another member with If-Match on its ETag, or the client's response is aborted: never a byte of
// another version.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "tests/integration/harness/cluster.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr std::uint64_t kPage = 64 * 1024;
const std::string kBucket = "gray";

class GrayFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_ = std::make_unique<S3Server>();
    s3_->create_bucket(kBucket);
    proxy_ = std::make_unique<FaultProxy>(s3_->port());
    key_ = key_file(dir_, "cluster.key", "0123456789abcdef0123456789abcdef-gray-secret");
  }
  std::string put(const std::string& key, std::uint64_t size, std::uint64_t seed) {
    std::string data = random_bytes(size, seed);
    s3_->put_object(kBucket, key, data);
    return data;
  }
  static std::string range(std::uint64_t a, std::uint64_t b) {
    return "bytes=" + std::to_string(a) + "-" + std::to_string(b);
  }
  // A page of `object` owned by member `owner` (by the test's own ring), of `pages`.
  static std::uint64_t page_owned_by(const Cluster& c, const std::string& object, int owner,
                                     std::uint64_t pages) {
    for (std::uint64_t p = 0; p < pages; ++p) {
      if (c.owner_of(kBucket, object, p) == "node" + std::to_string(owner)) return p;
    }
    ADD_FAILURE() << "no page of " << object << " owned by node" << owner;
    return 0;
  }
  // The next origin GET of `object` sends 20000 body bytes, then nothing for `pause`.
  void stall_first_get(const std::string& object, std::chrono::milliseconds pause) {
    proxy_->add_rule({{"match", {{"method", "GET"}, {"path_contains", object}}},
                      {"action", "stall_mid_body"},
                      {"after_bytes", 20000},
                      {"ms", pause.count()},
                      {"times", 1}});
  }
  static std::uint64_t forward_count(const nlohmann::json& stats, const std::string& peer,
                                     const char* field) {
    const auto& peers = stats["cluster"]["forward_peers"];
    return peers.contains(peer) ? peers[peer][field].get<std::uint64_t>() : 0;
  }

  TempDir dir_;
  std::unique_ptr<S3Server> s3_;
  std::unique_ptr<FaultProxy> proxy_;
  std::string key_;
};

// The measure: one member frozen for 12 s while clients read its pages through the
// others. Every request answers in under 3 s with the exact bytes, and the member rejoins after
// SIGCONT.
TEST_F(GrayFailureTest, AFrozenOwnerHangsNoRequest) {
  // No hot copies (node/hot_copies.h): they would serve node2's hot pages on the survivors, and
  // this test is about the reads that must still go to it.
  Cluster c(proxy_->endpoint(), 3, key_, {"--hot-copy-memory", "0"});
  ASSERT_TRUE(c.converged(15s));
  const std::uint64_t pages = 24;
  const std::string data = put("frozen.bin", pages * kPage, 11);
  // Warm: every page cached on its owner, and every node has latencies of every peer.
  for (int i = 0; i < 3; ++i) {
    auto r = c.node(i).fetch(kBucket, "frozen.bin", range(0, data.size() - 1));
    ASSERT_EQ(r.status, 206);
    ASSERT_TRUE(r.body == data);
  }
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      while (!stop) {
        const std::uint64_t first = rng() % data.size();
        const std::uint64_t last =
            std::min<std::uint64_t>(data.size() - 1, first + rng() % (3 * kPage));
        const auto start = Clock::now();
        auto r = c.node(t % 2).fetch(kBucket, "frozen.bin", range(first, last));
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        std::lock_guard lock(mu);
        latencies_ms.push_back(ms);
        if (r.status != 206 || !r.complete || r.body != data.substr(first, last - first + 1)) {
          failures.push_back(std::to_string(r.status) + " " + r.error + " for " +
                             range(first, last));
        }
      }
    });
  }
  std::this_thread::sleep_for(1s);
  c.node(2).process().signal(SIGSTOP);
  std::this_thread::sleep_for(12s);
  c.node(2).process().signal(SIGCONT);
  std::this_thread::sleep_for(1s);
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  ASSERT_FALSE(latencies_ms.empty());
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double max = latencies_ms.back();
  std::cout << latencies_ms.size() << " requests, p50 " << latencies_ms[latencies_ms.size() / 2]
            << " ms, p99 " << latencies_ms[latencies_ms.size() * 99 / 100] << " ms, max " << max
            << " ms\n";
  EXPECT_LT(max, 3000.0);
  // The survivors counted the frozen member's timeouts.
  std::uint64_t timeouts = 0;
  for (int i = 0; i < 2; ++i)
    timeouts += forward_count(stats_json(c.node(i).port()), "node2", "timeouts");
  EXPECT_GT(timeouts, 0u);
  const std::string m = metrics(c.node(0).port());
  EXPECT_NE(m.find("shoal_forward_timeouts_total{peer=\"node2\"}"), std::string::npos);
  EXPECT_NE(m.find("shoal_forward_hedges_total"), std::string::npos);
  // It rejoins: every member sees three alive members again, and it serves exact bytes.
  ASSERT_TRUE(c.converged(30s));
  auto r = c.node(2).fetch(kBucket, "frozen.bin", range(0, data.size() - 1));
  ASSERT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == data);
}

// A page stream from the owner stalls mid-page (its origin stalls, then the owner freezes): the
// requester resumes the rest from the third member with If-Match, and the client gets the exact
// bytes without waiting out the stall.
TEST_F(GrayFailureTest, AStalledPeerStreamIsResumedFromTheNextMember) {
  Cluster c(proxy_->endpoint(), 3, key_);
  ASSERT_TRUE(c.converged(15s));
  const std::string data = put("stall.bin", 8 * kPage, 12);
  const std::uint64_t page = page_owned_by(c, "stall.bin", 2, 8);
  const int requester = 0;
  // The owner's origin GET sends 20 KiB of the page, then nothing for 8 s.
  stall_first_get("stall.bin", 8000ms);
  std::thread freezer([&] {
    std::this_thread::sleep_for(300ms);
    c.node(2).process().signal(SIGSTOP);
  });
  const auto start = Clock::now();
  auto r =
      c.node(requester).fetch(kBucket, "stall.bin", range(page * kPage, page * kPage + kPage - 1));
  const auto took = Clock::now() - start;
  freezer.join();
  c.node(2).process().signal(SIGCONT);
  ASSERT_EQ(r.status, 206) << r.error;
  ASSERT_TRUE(r.complete) << r.error;
  EXPECT_TRUE(r.body == data.substr(page * kPage, kPage)) << "bytes differ";
  EXPECT_LT(took, 5s);
  auto s = stats_json(c.node(requester).port());
  EXPECT_GE(forward_count(s, "node2", "resumes"), 1u);
  EXPECT_GE(forward_count(s, "node2", "timeouts"), 1u);
}

// With no member left to resume from (two members), a stalled stream aborts the client's
// response: a short body, never bytes from elsewhere.
TEST_F(GrayFailureTest, AStalledStreamWithNoOtherMemberIsAborted) {
  Cluster c(proxy_->endpoint(), 2, key_);
  ASSERT_TRUE(c.converged(15s));
  const std::string data = put("abort.bin", 8 * kPage, 13);
  const std::uint64_t page = page_owned_by(c, "abort.bin", 1, 8);
  stall_first_get("abort.bin", 6000ms);
  auto r = c.node(0).fetch(kBucket, "abort.bin", range(page * kPage, page * kPage + kPage - 1));
  // Aborted: a prefix of the right bytes, never anything else.
  EXPECT_FALSE(r.complete);
  EXPECT_LT(r.body.size(), kPage);
  EXPECT_TRUE(r.body == data.substr(page * kPage, r.body.size()));
  EXPECT_GE(forward_count(stats_json(c.node(0).port()), "node1", "timeouts"), 1u);
}

// A resume whose member serves another version (the object was overwritten during the stall;
// the test origin ignores If-Match) is refused by its ETag: the response is aborted, never mixed.
TEST_F(GrayFailureTest, AResumeFromAnotherVersionIsRefused) {
  Cluster c(proxy_->endpoint(), 3, key_);
  ASSERT_TRUE(c.converged(15s));
  const std::string data = put("version.bin", 8 * kPage, 14);
  const std::uint64_t page = page_owned_by(c, "version.bin", 2, 8);
  stall_first_get("version.bin", 6000ms);
  std::thread writer([&] {
    std::this_thread::sleep_for(300ms);
    put("version.bin", 8 * kPage, 15);  // same size, other bytes, other ETag
  });
  auto r = c.node(0).fetch(kBucket, "version.bin", range(page * kPage, page * kPage + kPage - 1));
  writer.join();
  const std::string old_bytes = data.substr(page * kPage, kPage);
  // The stall was seen and a resume tried (from node1, which read the new version).
  EXPECT_GE(forward_count(stats_json(c.node(0).port()), "node2", "resumes"), 1u);
  if (r.complete) {
    EXPECT_TRUE(r.body == old_bytes) << "a complete body must be the first version's";
  } else {
    EXPECT_TRUE(r.body == old_bytes.substr(0, r.body.size())) << "a mixed body";
  }
}

}  // namespace
}  // namespace shoal::test
