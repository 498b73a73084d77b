// Per-bucket origin figures shared through the cluster gossip, with two real shoald processes on
// loopback in front of s3rver (through the fault proxy): node B, which never fetched from a
// bucket, shows node A's figures for it in /stats and /metrics, and orders its buckets (GET and
// HEAD) by them on its very first request.
//
// Placement matters here: a page owned by the other node is forwarded there and fetched by it,
// so each test picks objects whose page 0 the intended node owns (the same weighted rendezvous
// ranking the nodes use, ring/).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <thread>

#include "ring/base/page_key.h"
#include "ring/rendezvous.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::uint64_t kPage = 64 * 1024;
const std::string kA = "alpha";
const std::string kB = "beta";
const std::string kNodeA = "node-a";
const std::string kNodeB = "node-b";

// The member that owns page `page` of `object` under `kind` in a two-node cluster of equal
// weights.
std::string owner(const std::string& kind, const std::string& object, std::uint64_t page) {
  static const ring::Ring ring = *ring::Ring::make({{kNodeA, 1}, {kNodeB, 1}});
  return ring.owner(base::page_hash(kind, object, page))->id;
}

// `prefix` + i + ".bin" for the first `n` values of i whose page 0 under `kind` `node` owns.
std::vector<std::string> objects_owned_by(const std::string& node, const std::string& kind,
                                          const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; static_cast<int>(out.size()) < n; ++i) {
    std::string object = prefix + std::to_string(i) + ".bin";
    if (owner(kind, object, 0) == node) out.push_back(std::move(object));
  }
  return out;
}

// The bucket named in a C0-Status value "first-last; bucket; cached_at".
std::string status_bucket(const HttpResponse& r) {
  const std::string s = r.header("C0-Status");
  const auto a = s.find("; ");
  const auto b = s.find("; ", a + 2);
  return a == std::string::npos || b == std::string::npos ? "" : s.substr(a + 2, b - a - 2);
}

class BucketGossip : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_ = std::make_unique<S3Server>();
    s3_->create_bucket(kA);
    s3_->create_bucket(kB);
    proxy_ = std::make_unique<FaultProxy>(s3_->port());
    key_path_ = dir_.path() + "/cluster.key";
    std::ofstream(key_path_) << "0123456789abcdef0123456789abcdef-gossip-test\n";
    // Kind "both" is read from alpha and beta; other kinds are their own bucket.
    policy_path_ = write_file(dir_.path() + "/policy.json",
                              R"({"kinds": {"both": ["alpha", "beta"]}, "default": "kind"})");
    const std::uint16_t port_a = free_port();
    const std::uint16_t port_b = free_port();
    a_ = start(kNodeA, port_a, port_b);
    b_ = start(kNodeB, port_b, port_a);
    ASSERT_TRUE(wait_until([&] { return alive_members(*a_) == 2 && alive_members(*b_) == 2; }))
        << "the two nodes did not see each other";
  }

  std::unique_ptr<Shoald> start(const std::string& id, std::uint16_t peer_port,
                                std::uint16_t seed_port) {
    return std::make_unique<Shoald>(
        proxy_->endpoint(),
        std::vector<std::string>{
            "--page-size", "64KiB", "--memory", "64MiB", "--node-id", id, "--peer-listen",
            "127.0.0.1:" + std::to_string(peer_port), "--cluster-key-file", key_path_, "--seed",
            "127.0.0.1:" + std::to_string(seed_port), "--bucket-policy-file", policy_path_});
  }

  static int alive_members(const Shoald& node) {
    const nlohmann::json s = stats_json(node.port());
    int n = 0;
    for (const auto& m : s["members"]) n += m["state"] == "alive";
    return n;
  }

  // Polls `done` every 100 ms for up to 20 s (the stats go out every 2 s, then gossip).
  static bool wait_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (done()) return true;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  static nlohmann::json bucket_stats(const Shoald& node, const std::string& bucket) {
    return stats_json(node.port())["origin"]["buckets"].value(bucket, nlohmann::json::object());
  }

  TempDir dir_;
  std::string policy_path_;
  std::unique_ptr<S3Server> s3_;
  std::unique_ptr<FaultProxy> proxy_;
  std::string key_path_;
  std::unique_ptr<Shoald> a_, b_;
};

TEST_F(BucketGossip, ANodeThatNeverFetchedShowsItsPeersFigures) {
  // Node A fetches 24 pages from alpha, each delayed 40 ms at the proxy.
  const auto objects = objects_owned_by(kNodeA, kA, "lat-", 24);
  for (const auto& o : objects) s3_->put_object(kA, o, random_bytes(1000, 1));
  proxy_->add_rule(
      {{"match", {{"path_contains", "/alpha/"}}}, {"action", "delay_first_byte"}, {"ms", 40}});
  for (const auto& o : objects) {
    auto r = a_->fetch(kA, o, "bytes=0-99");
    ASSERT_EQ(r.status, 206) << r.body;
  }
  const auto a_alpha = bucket_stats(*a_, kA);
  EXPECT_EQ(a_alpha["source"], "local") << a_alpha.dump();
  EXPECT_GE(a_alpha["latency_samples"].get<double>(), 20);

  // Decayed weights (half-life 60 s): 24 samples stay above 20 for 15 s.
  ASSERT_TRUE(wait_until([&] {
    return bucket_stats(*b_, kA)["peers"]["latency_samples"].get<double>() >= 20;
  })) << stats_json(b_->port()).dump();
  const auto s = bucket_stats(*b_, kA);
  EXPECT_EQ(s["source"], "peers") << s.dump();
  EXPECT_EQ(s["latency_samples"], 0.0);  // none of its own
  EXPECT_EQ(s["peers"]["members"], 1);
  EXPECT_TRUE(s["peers"]["latency_used"].get<bool>());
  EXPECT_LE(s["peers"]["latency_samples"].get<double>(), 26.01);  // a hedge may add one
  // The figures in use are A's: at least the injected 40 ms, and A's own median.
  ASSERT_TRUE(s["page_p50_ms"].is_number()) << s.dump();
  EXPECT_GE(s["page_p50_ms"].get<double>(), 40 * 0.98);
  EXPECT_GE(s["page_p99_ms"].get<double>(), s["page_p50_ms"].get<double>());
  EXPECT_NEAR(s["page_p50_ms"].get<double>(), a_alpha["page_p50_ms"].get<double>(),
              a_alpha["page_p50_ms"].get<double>() * 0.05);
  EXPECT_EQ(s["peers"]["page_p50_ms"], s["page_p50_ms"]);
  EXPECT_TRUE(s["ttfb_p50_ms"].is_null());  // first-byte latency is not gossiped
  EXPECT_EQ(s["effective_error_rate"], 0.0);
  EXPECT_EQ(s["breaker"], "closed");
  // A's gossiped figures are listed with it among B's members.
  bool listed = false;
  const nlohmann::json b_stats = stats_json(b_->port());
  for (const auto& m : b_stats["members"]) {
    if (m["id"] == kNodeA) listed = m["buckets"].contains(kA);
  }
  EXPECT_TRUE(listed);
  // The same as series.
  const std::string m = metrics(b_->port());
  EXPECT_EQ(metric_value(m, "shoal_origin_bucket_uses_peers{bucket=\"alpha\",figure=\"latency\"}"),
            1);
  EXPECT_NEAR(
      metric_value(m, "shoal_origin_bucket_peer_latency_seconds{bucket=\"alpha\",q=\"0.5\"}") *
          1000,
      s["peers"]["page_p50_ms"].get<double>(), 0.01);
  EXPECT_NEAR(
      metric_value(
          m, "shoal_origin_bucket_latency_seconds{bucket=\"alpha\",kind=\"page\",q=\"0.5\"}") *
          1000,
      s["page_p50_ms"].get<double>(), 0.01);
}

TEST_F(BucketGossip, PeersErrorRatesReorderAFreshNodesBuckets) {
  // Node A sees alpha fail 10 times (503, one attempt each): error rate 1 - 0.9^10 = 0.65.
  proxy_->add_rule(
      {{"match", {{"path_contains", "/alpha/"}}}, {"action", "status"}, {"status", 503}});
  for (const auto& o : objects_owned_by(kNodeA, kA, "fail-", 10)) {
    auto r = a_->fetch(kA, o, "bytes=0-99", {{"C0-Config", "ma=1"}});
    ASSERT_EQ(r.status, 503) << r.body;
  }
  ASSERT_TRUE(wait_until([&] {
    return bucket_stats(*b_, kA)["effective_error_rate"].get<double>() >= 0.5;
  })) << stats_json(b_->port()).dump();
  const auto s = bucket_stats(*b_, kA);
  EXPECT_EQ(s["source"], "peers") << s.dump();
  EXPECT_EQ(s["error_rate"], 0.0);  // its own: it never tried alpha
  EXPECT_GE(s["peers"]["error_rate"].get<double>(), 0.5);
  EXPECT_GE(s["peers"]["evidence"].get<double>(), 9);
  EXPECT_TRUE(s["peers"]["error_rate_used"].get<bool>());
  EXPECT_EQ(metric_value(metrics(b_->port()),
                         "shoal_origin_bucket_uses_peers{bucket=\"alpha\",figure=\"error_rate\"}"),
            1);

  // Alpha is healthy again, but B has only A's word for it: its first GET (alpha listed first)
  // goes to beta without asking alpha.
  proxy_->clear_rules();
  proxy_->reset();
  const std::string object = objects_owned_by(kNodeB, "both", "both-", 1).at(0);
  const std::string data = random_bytes(kPage, 2);
  s3_->put_object(kA, object, data);
  s3_->put_object(kB, object, data);
  const Headers both = {{"C0-Bucket", kA}, {"C0-Bucket", kB}};
  auto r = b_->fetch("both", object, "bytes=0-99", both);
  ASSERT_EQ(r.status, 206) << r.body;
  EXPECT_TRUE(r.body == data.substr(0, 100));
  EXPECT_EQ(status_bucket(r), kB) << r.header("C0-Status");
  EXPECT_EQ(proxy_->count("GET", "/" + kA + "/" + object), 0);
  EXPECT_EQ(proxy_->count("GET", "/" + kB + "/" + object), 1);

  // HEAD (served where it arrives, never forwarded) follows the same order.
  s3_->put_object(kA, "head.bin", data);
  s3_->put_object(kB, "head.bin", data);
  auto h = b_->fetch("both", "head.bin", "bytes=0-9", both, "HEAD");
  EXPECT_EQ(h.status, 206);
  EXPECT_EQ(proxy_->count("HEAD", "/" + kA + "/head.bin"), 0);
  EXPECT_EQ(proxy_->count("HEAD", "/" + kB + "/head.bin"), 1);
}

}  // namespace
}  // namespace shoal::test
