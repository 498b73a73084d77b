// Origin resilience through real processes: shoald in front of the fault-injecting proxy in
// front of s3rver, with two buckets. Hedging (the loser cancelled, the budget holding), bucket
// fall-through with a circuit breaker and its half-open probe, NoSuchKey not counted against a
// bucket, bad bodies never cached, timeouts, C0-Config, and the per-bucket /stats and /metrics.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::uint64_t kPage = 64 * 1024;
constexpr int kWarmPages = 40;  // >= the 20 samples hedging needs; lets the 5% budget grant 2
const std::string kA = "alpha";
const std::string kB = "beta";
const Headers kBoth = {{"C0-Bucket", kA}, {"C0-Bucket", kB}};

std::string range_of_page(std::uint64_t page, std::uint64_t bytes = 100) {
  return "bytes=" + std::to_string(page * kPage) + "-" + std::to_string(page * kPage + bytes - 1);
}

// The bucket named in a C0-Status value "first-last; bucket; cached_at".
std::string status_bucket(const HttpResponse& r) {
  const std::string s = r.header("C0-Status");
  const auto a = s.find("; ");
  const auto b = s.find("; ", a + 2);
  return a == std::string::npos || b == std::string::npos ? "" : s.substr(a + 2, b - a - 2);
}

// A sample's value, 0 when the series does not exist (yet).
double metric_or_zero(const std::string& text, const std::string& series) {
  const double v = metric_value(text, series);
  return std::isnan(v) ? 0 : v;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

Headers with(Headers h, const std::string& config) {
  h.emplace_back("C0-Config", config);
  return h;
}

class OriginResilience : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    s3_->create_bucket(kA);
    s3_->create_bucket(kB);
    // Warm-up object: kWarmPages cold page fetches give a bucket its latency samples.
    s3_->put_object(kA, "warm.bin", random_bytes(kWarmPages * kPage, 100));
    proxy_ = new FaultProxy(s3_->port());
  }
  static void TearDownTestSuite() {
    delete proxy_;
    delete s3_;
  }
  void SetUp() override {
    proxy_->clear_rules();
    proxy_->reset();
  }

  // Kinds "dual" and "any" are read from alpha and beta (C0-Bucket picks among them); every
  // other kind is its own bucket.
  static Shoald start(std::vector<std::string> flags = {}) {
    static const TempDir dir;
    static const std::string policy = write_file(
        dir.path() + "/policy.json",
        R"({"kinds": {"dual": ["alpha", "beta"], "any": ["alpha", "beta"]}, "default": "kind"})");
    std::vector<std::string> all = {"--page-size",          "64KiB", "--memory", "64MiB",
                                    "--bucket-policy-file", policy};
    all.insert(all.end(), flags.begin(), flags.end());
    return Shoald(proxy_->endpoint(), all);
  }
  static std::string put(const std::string& bucket, const std::string& key, std::uint64_t size,
                         std::uint64_t seed) {
    std::string data = random_bytes(size, seed);
    s3_->put_object(bucket, key, data);
    return data;
  }
  // Fetches each page of alpha's warm.bin once (all cold), then forgets the proxy's records.
  static void warm(const Shoald& node) {
    for (int p = 0; p < kWarmPages; ++p) {
      auto r = node.fetch(kA, "warm.bin", range_of_page(static_cast<std::uint64_t>(p)));
      ASSERT_EQ(r.status, 206) << r.body;
    }
    proxy_->reset();
  }
  static nlohmann::json bucket_stats(const Shoald& node, const std::string& bucket) {
    return stats_json(node.port())["origin"]["buckets"][bucket];
  }
  // The proxy's records of requests whose path contains `part`.
  static std::vector<nlohmann::json> requests_to(const std::string& part) {
    std::vector<nlohmann::json> out;
    const nlohmann::json stats = proxy_->stats();
    for (const auto& r : stats["requests"]) {
      if (r["path"].get<std::string>().find(part) != std::string::npos) out.push_back(r);
    }
    return out;
  }
  // Waits up to 3 s for the proxy to record an aborted request to `part`.
  static bool saw_abort(const std::string& part) {
    for (int i = 0; i < 150; ++i) {
      for (const auto& r : requests_to(part)) {
        if (r["aborted"].get<bool>()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  static S3Server* s3_;
  static FaultProxy* proxy_;
};
S3Server* OriginResilience::s3_ = nullptr;
FaultProxy* OriginResilience::proxy_ = nullptr;

TEST_F(OriginResilience, HedgeFiresAfterTheQuantileAndTheLoserIsCancelled) {
  const std::string data = put(kA, "hedge.bin", kPage, 1);
  // A generous budget: the warm-up's own tail may spend some of it.
  Shoald node = start({"--hedge-budget", "50%"});
  warm(node);
  const auto before = bucket_stats(node, kA);
  const std::string won_series =
      "shoal_origin_pages_total{bucket=\"alpha\",outcome=\"hedged_won\"}";
  const double won_before = metric_or_zero(metrics(node.port()), won_series);
  ASSERT_FALSE(before["hedge_delay_ms"].is_null()) << before.dump();
  const double delay_ms = before["hedge_delay_ms"].get<double>();
  proxy_->add_rule({{"match", {{"path_contains", "/alpha/hedge.bin"}}},
                    {"action", "delay_first_byte"},
                    {"ms", 5000},
                    {"times", 1}});
  const auto t = Clock::now();
  auto r = node.fetch(kA, "hedge.bin", "bytes=0-99");
  const double took = ms_since(t);
  ASSERT_EQ(r.status, 206) << r.body;
  EXPECT_TRUE(r.body == data.substr(0, 100));
  EXPECT_GE(took, delay_ms);
  EXPECT_LT(took, 2000);            // the stalled first attempt would have taken 5 s
  EXPECT_EQ(status_bucket(r), kA);  // one bucket listed: the hedge went to the same one
  EXPECT_EQ(requests_to("/alpha/hedge.bin").size(), 2u);
  EXPECT_TRUE(saw_abort("/alpha/hedge.bin")) << proxy_->stats().dump();
  const auto after = bucket_stats(node, kA);
  EXPECT_EQ(after["hedges"]["sent"].get<int>() - before["hedges"]["sent"].get<int>(), 1);
  EXPECT_EQ(after["hedges"]["won"].get<int>() - before["hedges"]["won"].get<int>(), 1);
  const std::string m = metrics(node.port());
  EXPECT_EQ(metric_or_zero(m, won_series) - won_before, 1);
  EXPECT_EQ(metric_value(m, "shoal_origin_hedges_total{bucket=\"alpha\",result=\"won\"}"),
            after["hedges"]["won"].get<double>());
}

TEST_F(OriginResilience, HedgePrefersTheNextHealthyBucket) {
  const std::string data = put(kA, "hedge2.bin", kPage, 2);
  s3_->put_object(kB, "hedge2.bin", data);
  Shoald node = start({"--hedge-budget", "50%"});
  warm(node);
  const int won_before = bucket_stats(node, kA)["hedges"]["won"].get<int>();
  proxy_->add_rule({{"match", {{"path_contains", "/alpha/hedge2.bin"}}},
                    {"action", "delay_first_byte"},
                    {"ms", 5000},
                    {"times", 1}});
  const auto t = Clock::now();
  auto r = node.fetch("dual", "hedge2.bin", "bytes=0-99", kBoth);
  ASSERT_EQ(r.status, 206) << r.body;
  EXPECT_LT(ms_since(t), 2000);
  EXPECT_TRUE(r.body == data.substr(0, 100));
  EXPECT_EQ(status_bucket(r), kB);
  EXPECT_EQ(requests_to("/beta/hedge2.bin").size(), 1u);
  EXPECT_TRUE(saw_abort("/alpha/hedge2.bin"));
  EXPECT_EQ(bucket_stats(node, kA)["hedges"]["won"].get<int>() - won_before, 1);
}

TEST_F(OriginResilience, HedgingOffWithQuantileZero) {
  put(kA, "nohedge.bin", kPage, 3);
  Shoald node = start({"--hedge-quantile", "0"});
  warm(node);
  proxy_->add_rule({{"match", {{"path_contains", "/alpha/nohedge.bin"}}},
                    {"action", "delay_first_byte"},
                    {"ms", 800},
                    {"times", 1}});
  const auto t = Clock::now();
  auto r = node.fetch(kA, "nohedge.bin", "bytes=0-99");
  ASSERT_EQ(r.status, 206);
  EXPECT_GE(ms_since(t), 800);
  EXPECT_EQ(requests_to("/alpha/nohedge.bin").size(), 1u);
  const auto s = bucket_stats(node, kA);
  EXPECT_TRUE(s["hedge_delay_ms"].is_null());
  EXPECT_EQ(s["hedges"]["sent"], 0);
  EXPECT_EQ(s["hedges"]["refused"], 0);
}

TEST_F(OriginResilience, BudgetHoldsUnderASustainedSlowOrigin) {
  put(kA, "slow.bin", 40 * kPage, 4);
  Shoald node = start();
  warm(node);
  // From now on every alpha GET takes 300 ms: far past the warm p99, so every fetch wants a hedge.
  proxy_->add_rule({{"match", {{"method", "GET"}, {"path_contains", "/alpha/"}}},
                    {"action", "delay_first_byte"},
                    {"ms", 300}});
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 5; ++i) {
        auto r = node.fetch(kA, "slow.bin", range_of_page(static_cast<std::uint64_t>(c * 5 + i)));
        if (r.status == 206) ok++;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 40);
  const auto s = bucket_stats(node, kA);
  const int sent = s["hedges"]["sent"].get<int>();
  const int refused = s["hedges"]["refused"].get<int>();
  const int slow_gets = proxy_->count("GET", "/alpha/slow.bin");
  // 80 fetches in the window (40 warm + 40 slow): 5% allows 4 hedges in all (the warm-up's own
  // tail may have spent some). At least the first 8 slow fetches (one per client, before any slow
  // sample moved the p99) asked for one; later ones may not, once the slowness is the new p99.
  EXPECT_LE(sent, 4);
  EXPECT_GE(refused, 4);
  EXPECT_GE(sent + refused, 8);
  EXPECT_LE(slow_gets, 40 + 4);
  EXPECT_EQ(stats_json(node.port())["origin"]["hedges"]["refused"].get<int>(), refused);
}

TEST_F(OriginResilience, BucketDownServesFromTheOtherThenRecoversThroughTheProbe) {
  const std::string data = put(kA, "dual.bin", 8 * kPage, 5);
  s3_->put_object(kB, "dual.bin", data);
  Shoald node =
      start({"--breaker-cooldown-ms", "1500", "--hedge-quantile", "0"});  // no hedges: order only
  proxy_->add_rule(
      {{"match", {{"path_contains", "/alpha/"}}}, {"action", "status"}, {"status", 503}});
  const Headers h = with(kBoth, "ma=1");
  for (std::uint64_t p = 0; p < 5; ++p) {
    auto r = node.fetch("dual", "dual.bin", range_of_page(p), h);
    ASSERT_EQ(r.status, 206) << r.body;
    EXPECT_TRUE(r.body == data.substr(p * kPage, 100));
    EXPECT_EQ(status_bucket(r), kB) << r.header("C0-Status");
  }
  EXPECT_EQ(proxy_->count("GET", "/alpha/dual.bin"), 5);
  auto s = bucket_stats(node, kA);
  EXPECT_EQ(s["breaker"], "open") << s.dump();
  EXPECT_EQ(s["consecutive_failures"], 5);
  EXPECT_GT(s["error_rate"].get<double>(), 0.25);
  // Open: alpha is tried last, so beta serves without alpha being asked.
  proxy_->reset();
  auto r = node.fetch("dual", "dual.bin", range_of_page(5), h);
  ASSERT_EQ(r.status, 206);
  EXPECT_EQ(status_bucket(r), kB);
  EXPECT_EQ(proxy_->count("GET", "/alpha/dual.bin"), 0);
  // A page's outcome is counted when its fetch ends, which may be just after the 100 bytes the
  // client asked for reached it.
  ASSERT_TRUE(wait_for_origin_fetches_to_end(node.port()));
  const std::string m = metrics(node.port());
  EXPECT_EQ(metric_value(m, "shoal_origin_pages_total{bucket=\"beta\",outcome=\"fallback\"}"), 6);
  EXPECT_EQ(metric_value(m, "shoal_origin_bucket_breaker_state{bucket=\"alpha\"}"), 2);
  // Alpha recovers; after the cool-down the next fetch probes it and it serves again.
  proxy_->clear_rules();
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  EXPECT_EQ(bucket_stats(node, kA)["breaker"], "half_open");
  for (std::uint64_t p = 6; p < 8; ++p) {
    auto back = node.fetch("dual", "dual.bin", range_of_page(p), h);
    ASSERT_EQ(back.status, 206);
    EXPECT_TRUE(back.body == data.substr(p * kPage, 100));
    EXPECT_EQ(status_bucket(back), kA);
    // The answer needed 100 bytes; the probe ends with its page. Until then alpha's probe is
    // out, and a fetch meanwhile would go to beta.
    ASSERT_TRUE(wait_for_origin_fetches_to_end(node.port()));
  }
  s = bucket_stats(node, kA);
  EXPECT_EQ(s["breaker"], "closed");
  EXPECT_EQ(s["error_rate"], 0.0);
  EXPECT_EQ(metric_value(metrics(node.port()),
                         "shoal_origin_pages_total{bucket=\"alpha\",outcome=\"primary\"}"),
            2);
}

TEST_F(OriginResilience, NoSuchKeyInTheFirstBucketLeavesItsHealthUntouched) {
  put(kA, "a-only.bin", kPage, 6);
  Shoald node = start();
  ASSERT_EQ(node.fetch(kA, "a-only.bin", "bytes=0-9").status, 206);
  const auto before = bucket_stats(node, kA);
  for (int i = 0; i < 6; ++i) {  // more than the 5 failures that would open a breaker
    const std::string key = "b-only-" + std::to_string(i) + ".bin";
    const std::string data = put(kB, key, kPage, 60 + static_cast<std::uint64_t>(i));
    auto r = node.fetch("any", key, "bytes=0-99", kBoth);
    ASSERT_EQ(r.status, 206) << r.body;
    EXPECT_TRUE(r.body == data.substr(0, 100));
    EXPECT_EQ(status_bucket(r), kB);
  }
  EXPECT_EQ(proxy_->count("GET", "/alpha/b-only-"), 6);  // alpha was asked each time
  // One bucket listed: NoSuchKey is the answer (404), still not the bucket's fault.
  EXPECT_EQ(node.fetch(kA, "nowhere.bin", "bytes=0-9").status, 404);
  ASSERT_TRUE(wait_for_origin_fetches_to_end(node.port()));  // outcomes count as fetches end
  const auto after = bucket_stats(node, kA);
  EXPECT_EQ(after["error_rate"], before["error_rate"]);
  EXPECT_EQ(after["consecutive_failures"], 0);
  EXPECT_EQ(after["breaker"], "closed");
  EXPECT_EQ(metric_value(metrics(node.port()),
                         "shoal_origin_pages_total{bucket=\"beta\",outcome=\"fallback\"}"),
            6);
}

TEST_F(OriginResilience, WrongContentRangeIs502AndNeverCached) {
  Shoald node = start();
  const Headers fast = {{"C0-Config", "ma=2 ib=5 mb=10"}};
  const std::string key = "bad-range.bin";
  const std::string data = put(kA, key, 2 * kPage, 70);
  proxy_->add_rule(
      {{"match", {{"path_contains", "/alpha/" + key}}}, {"action", "wrong_content_range"}});
  EXPECT_EQ(node.fetch(kA, key, "bytes=0-99", fast).status, 502);
  EXPECT_EQ(proxy_->count("GET", "/alpha/" + key), 2);  // ma=2 attempts, no hedge
  proxy_->clear_rules();
  proxy_->reset();
  auto r = node.fetch(kA, key, "bytes=0-99", fast);
  ASSERT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == data.substr(0, 100));
  EXPECT_EQ(proxy_->count("GET", "/alpha/" + key), 1);  // the bad answer was never cached
}

// A body cut mid-page is resumed where it stopped, with If-Match on the page's ETag, and the
// client's bytes are exact across the cut.
TEST_F(OriginResilience, ACutBodyIsResumedWithIfMatchAndTheBytesAreExact) {
  Shoald node = start();
  const std::string key = "cut-once.bin";
  const std::string data = put(kA, key, kPage, 71);
  proxy_->add_rule({{"match", {{"path_contains", "/alpha/" + key}}},
                    {"action", "truncate"},
                    {"after_bytes", 1000},
                    {"times", 1}});
  auto r = node.fetch(kA, key, "bytes=0-" + std::to_string(kPage - 1),
                      {{"C0-Config", "ma=3 ib=5 mb=10"}});
  ASSERT_EQ(r.status, 206);
  ASSERT_TRUE(r.complete) << r.error;
  EXPECT_TRUE(r.body == data);
  const auto requests = proxy_->stats()["requests"];
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1]["range"], "bytes=1000-" + std::to_string(kPage - 1));
  ASSERT_TRUE(requests[1]["if_match"].is_string());
  EXPECT_EQ(requests[1]["if_match"], node.fetch(kA, key, "bytes=0-0").header("ETag"));
  proxy_->reset();
  EXPECT_EQ(node.fetch(kA, key, "bytes=5-9").body, data.substr(5, 5));
  EXPECT_EQ(proxy_->count("GET", "/alpha/" + key), 0);  // complete, so cached
}

// Every attempt cut: the bytes before the cuts go out as they arrive (exact), then the response
// is cut short (never a wrong byte), and the page is not cached.
TEST_F(OriginResilience, ABodyCutOnEveryAttemptIsCutShortAndNeverCached) {
  Shoald node = start();
  const std::string key = "cut-always.bin";
  const std::string data = put(kA, key, kPage, 72);
  proxy_->add_rule({{"match", {{"path_contains", "/alpha/" + key}}},
                    {"action", "truncate"},
                    {"after_bytes", 1000}});
  auto r = node.fetch(kA, key, "bytes=0-" + std::to_string(kPage - 1),
                      {{"C0-Config", "ma=2 ib=5 mb=10"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.body, data.substr(0, r.body.size()));
  EXPECT_LE(r.body.size(), 2000u);  // two attempts of 1000 bytes each
  proxy_->clear_rules();
  proxy_->reset();
  auto again = node.fetch(kA, key, "bytes=0-99");
  ASSERT_EQ(again.status, 206);
  EXPECT_TRUE(again.body == data.substr(0, 100));
  EXPECT_EQ(proxy_->count("GET", "/alpha/" + key), 1);  // the cut page was never cached
}

TEST_F(OriginResilience, TimeoutIs504EvenWithTheHedgeStalledToo) {
  put(kA, "stuck.bin", kPage, 8);
  Shoald node = start();
  warm(node);
  proxy_->add_rule({{"match", {{"path_contains", "/alpha/stuck.bin"}}},
                    {"action", "delay_first_byte"},
                    {"ms", 3000}});
  const auto t = Clock::now();
  auto r = node.fetch(kA, "stuck.bin", "bytes=0-9", {{"C0-Config", "rt=200 ma=1"}});
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_LT(ms_since(t), 1500);
}

TEST_F(OriginResilience, C0ConfigOverridesApplyToEveryBucket) {
  put(kA, "cfg.bin", kPage, 9);
  Shoald node = start();
  proxy_->add_rule(
      {{"match", {{"path_contains", "cfg.bin"}}}, {"action", "status"}, {"status", 503}});
  auto r = node.fetch("any", "cfg.bin", "bytes=0-9", with(kBoth, "ma=2 ib=5 mb=10"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(proxy_->count("GET", "/alpha/cfg.bin"), 2);
  EXPECT_EQ(proxy_->count("GET", "/beta/cfg.bin"), 2);
  proxy_->reset();
  EXPECT_EQ(node.fetch("any", "cfg.bin", "bytes=0-9", with(kBoth, "ma=1")).status, 503);
  EXPECT_EQ(proxy_->count("GET", "/alpha/cfg.bin"), 1);
  EXPECT_EQ(proxy_->count("GET", "/beta/cfg.bin"), 1);
}

TEST_F(OriginResilience, StatsAndMetricsShowPerBucketFigures) {
  Shoald node = start();
  warm(node);
  const auto s = bucket_stats(node, kA);
  for (const char* k : {"ttfb_p50_ms", "ttfb_p99_ms", "page_p50_ms", "page_p99_ms"}) {
    ASSERT_TRUE(s[k].is_number()) << k << " " << s.dump();
    EXPECT_GT(s[k].get<double>(), 0) << k;
  }
  EXPECT_LE(s["ttfb_p50_ms"].get<double>(), s["page_p50_ms"].get<double>() * 1.05);
  EXPECT_GE(s["page_p99_ms"].get<double>(), s["page_p50_ms"].get<double>());
  // Decayed weights: 2^(-1/60) per second since the warm-up; a hedge loser that finished first
  // is a sample too.
  EXPECT_GE(s["latency_samples"].get<double>(), kWarmPages * 0.95);
  EXPECT_LE(s["latency_samples"].get<double>(), kWarmPages + 2.01);
  EXPECT_EQ(s["error_rate"], 0.0);
  EXPECT_EQ(s["breaker"], "closed");
  const std::string m = metrics(node.port());
  EXPECT_EQ(
      metric_or_zero(m, "shoal_origin_pages_total{bucket=\"alpha\",outcome=\"primary\"}") +
          metric_or_zero(m, "shoal_origin_pages_total{bucket=\"alpha\",outcome=\"hedged_won\"}"),
      kWarmPages);
  const double p99 = metric_value(
      m, "shoal_origin_bucket_latency_seconds{bucket=\"alpha\",kind=\"page\",q=\"0.99\"}");
  EXPECT_NEAR(p99 * 1000, s["page_p99_ms"].get<double>(), 0.01);
  EXPECT_EQ(metric_value(m, "shoal_origin_bucket_error_rate{bucket=\"alpha\"}"), 0);
  EXPECT_EQ(metric_value(m, "shoal_origin_bucket_breaker_state{bucket=\"alpha\"}"), 0);
  EXPECT_FALSE(
      std::isnan(metric_value(m, "shoal_origin_bucket_hedge_delay_seconds{bucket=\"alpha\"}")));
}

TEST(OriginResilienceFlags, BadHedgeAndBreakerValuesFailAtStartNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--hedge-quantile", "1"}, "--hedge-quantile"},
      {{"--hedge-quantile", "-0.5"}, "--hedge-quantile"},
      {{"--hedge-quantile", "p99"}, "--hedge-quantile"},
      {{"--hedge-budget", "150%"}, "--hedge-budget"},
      {{"--hedge-budget", "lots"}, "--hedge-budget"},
      {{"--breaker-cooldown-ms", "0"}, "--breaker-cooldown-ms"},
  };
  for (const auto& [args, flag] : cases) {
    std::vector<std::string> argv = {"--s3-endpoint", "http://127.0.0.1:9", "--s3-region",
                                     "us-east-1"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto [code, out] = run_shoald_to_exit(argv);
    EXPECT_EQ(code, 2) << args[0] << " " << args[1] << ": " << out;
    EXPECT_NE(out.find(flag), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace shoal::test
