// The hedge delay rule and PageFetchOptions validation (the fetch itself is exercised against
// real processes in tests/integration/origin_resilience_test.cc).
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include "origin/page_fetch.h"

namespace shoal::origin {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1);

// n samples whose first byte came after `first_byte` (the hedge delay's latency) and whose
// whole page took twice that.
void record(LatencyTracker& t, int n, milliseconds first_byte) {
  for (int i = 0; i < n; ++i) t.record("b", first_byte, first_byte * 2, kT0);
}

TEST(HedgeDelay, NeedsEnoughSamples) {
  LatencyTracker t;
  PageFetchOptions opts;  // 20 samples
  record(t, 19, milliseconds(10));
  EXPECT_FALSE(hedge_delay(t, "b", opts, kT0));
  record(t, 1, milliseconds(10));
  EXPECT_TRUE(hedge_delay(t, "b", opts, kT0));
}

TEST(HedgeDelay, IsTheQuantileBelowTheCap) {
  LatencyTracker t;
  PageFetchOptions opts;
  record(t, 90, milliseconds(10));
  record(t, 10, milliseconds(80));  // p99 = 80 ms, 8x the median: under the 20x cap
  auto d = hedge_delay(t, "b", opts, kT0);
  ASSERT_TRUE(d);
  EXPECT_NEAR(d->count(), 80000, 80000 * DecayingSketch::kRelativeError);
  opts.hedge_quantile = 0.5;
  EXPECT_NEAR(hedge_delay(t, "b", opts, kT0)->count(), 10000, 10000 * 0.02);
}

TEST(HedgeDelay, IsCappedAtTwentyMediansWhenTheQuantileIsAStall) {
  LatencyTracker t;
  PageFetchOptions opts;
  record(t, 98, milliseconds(5));
  record(t, 2, milliseconds(2000));  // 2% stalled: the p99 is a stall
  ASSERT_GT(t.estimate("b", LatencyKind::kFirstByte, 0.99, kT0)->value, milliseconds(1900));
  auto d = hedge_delay(t, "b", opts, kT0);
  ASSERT_TRUE(d);
  EXPECT_NEAR(d->count(), 20 * 5000, 20 * 5000 * 0.02);
  opts.max_delay_over_median = 0;  // no cap: wait for the stall
  EXPECT_GT(*hedge_delay(t, "b", opts, kT0), milliseconds(1900));
}

TEST(HedgeDelay, OffAtQuantileZeroAndNeverBelowTheFloor) {
  LatencyTracker t;
  record(t, 50, milliseconds(0));
  PageFetchOptions opts;
  opts.min_hedge_delay = milliseconds(3);
  EXPECT_EQ(*hedge_delay(t, "b", opts, kT0), milliseconds(3));
  opts.hedge_quantile = 0;
  EXPECT_FALSE(hedge_delay(t, "b", opts, kT0));
}

TEST(PageFetchOptions, ValidateNamesTheFlag) {
  PageFetchOptions o;
  EXPECT_FALSE(o.validate());
  o.hedge_quantile = 1;
  EXPECT_NE(o.validate()->find("hedge_quantile:"), std::string::npos);
  o = PageFetchOptions{};
  o.hedge_budget = 2;
  EXPECT_NE(o.validate()->find("hedge_budget ratio:"), std::string::npos);
  o = PageFetchOptions{};
  o.max_delay_over_median = 0.5;
  EXPECT_NE(o.validate()->find("max_delay_over_median"), std::string::npos);
  o = PageFetchOptions{};
  o.health.failures_to_open = 0;
  EXPECT_NE(o.validate()->find("failures_to_open"), std::string::npos);
}

TEST(ServedAs, NamesAreMetricLabels) {
  EXPECT_EQ(served_as_name(ServedAs::kPrimary), "primary");
  EXPECT_EQ(served_as_name(ServedAs::kHedgedWon), "hedged_won");
  EXPECT_EQ(served_as_name(ServedAs::kFallback), "fallback");
}

// Runs one fetch_page against an endpoint where nothing listens (port 1) and returns its result.
class PageFetchNoOrigin : public ::testing::Test {
 protected:
  PageFetchNoOrigin() : client_(loop_, config()), fetch_(loop_, client_) {}

  static S3Config config() {
    S3Config c;
    c.endpoint = "http://127.0.0.1:1";
    c.region = "us-east-1";
    c.endpoint_is_default = false;
    c.addressing = Addressing::kPath;
    return c;
  }

  PageFetchResult run(std::vector<std::string> buckets, std::uint64_t length) {
    RequestConfig rc;
    rc.max_attempts = 1;
    PageFetchResult out;
    int calls = 0;
    PageSink sink;
    sink.on_head = [](const ObjectInfo&, std::uint64_t, const std::string&) -> char* {
      return nullptr;
    };
    sink.on_progress = [](std::uint64_t) {};
    fetch_.fetch_page(std::move(buckets), "k", 0, length, rc, "", std::move(sink),
                      [&](PageFetchResult r) {
                        out = std::move(r);
                        calls++;
                        loop_.stop();
                      });
    loop_.run_for(std::chrono::seconds(10));
    EXPECT_EQ(calls, 1);
    return out;
  }

  boost::asio::io_context loop_;
  S3Client client_;
  PageFetch fetch_;
};

TEST_F(PageFetchNoOrigin, AnEmptyBucketListIsMalformed) {
  PageFetchResult r = run({}, 100);
  EXPECT_EQ(r.get.outcome, base::Outcome::kMalformed);
  EXPECT_TRUE(r.attempts.empty());
}

TEST_F(PageFetchNoOrigin, RefusedConnectionsFallThroughEveryBucketAndCount) {
  PageFetchResult r = run({"a", "b", "a"}, 100);  // duplicates are tried once
  EXPECT_EQ(r.get.outcome, base::Outcome::kTransportError);
  EXPECT_EQ(r.bucket, "b");
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].bucket, "a");
  EXPECT_EQ(r.attempts[1].bucket, "b");
  for (const auto& a : r.attempts) EXPECT_EQ(a.outcome, base::Outcome::kTransportError);
  const SteadyTime now = std::chrono::steady_clock::now();
  EXPECT_EQ(fetch_.health().snapshot("a", now)->failures, 1u);
  EXPECT_EQ(fetch_.health().snapshot("b", now)->failures, 1u);
  auto report = fetch_.report();
  ASSERT_EQ(report.size(), 2u);
  EXPECT_GT(report[0].error_rate, 0);
  EXPECT_FALSE(report[0].page_p50);
}

TEST_F(PageFetchNoOrigin, AnUnsendableRequestEndsAtOnceAndIsNotTheBucketsFault) {
  PageFetchResult r = run({"a", "b"}, 0);  // length 0: S3Client sends nothing
  EXPECT_EQ(r.get.outcome, base::Outcome::kMalformed);
  EXPECT_EQ(r.get.attempts, 0);
  ASSERT_EQ(r.attempts.size(), 1u);
  const SteadyTime now = std::chrono::steady_clock::now();
  EXPECT_EQ(fetch_.health().snapshot("a", now)->failures, 0u);
  EXPECT_FALSE(fetch_.health().snapshot("b", now));
}

// An origin that accepts TCP connections (the kernel's backlog) and never answers, and a
// PageFetch in front of it.
class PageFetchSilentOrigin : public ::testing::Test {
 protected:
  PageFetchSilentOrigin() : acceptor_(loop_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {}

  S3Config config(Addressing addressing) const {
    S3Config c;
    c.endpoint = "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    c.region = "us-east-1";
    c.endpoint_is_default = false;
    c.addressing = addressing;
    return c;
  }

  PageFetchResult run(PageFetch& fetch, std::string bucket, const RequestConfig& rc) {
    PageFetchResult out;
    PageSink sink;
    sink.on_head = [](const ObjectInfo&, std::uint64_t, const std::string&) -> char* {
      return nullptr;
    };
    sink.on_progress = [](std::uint64_t) {};
    bool done = false;
    fetch.fetch_page({std::move(bucket)}, "k", 0, 100, rc, "", std::move(sink),
                     [&](PageFetchResult r) {
                       out = std::move(r);
                       done = true;
                       loop_.stop();
                     });
    loop_.restart();
    loop_.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(done);
    return out;
  }

  // A timeout after 30 ms to first byte, one attempt.
  static RequestConfig short_read_timeout() {
    RequestConfig rc;
    rc.read_timeout = milliseconds(30);
    rc.max_attempts = 1;
    return rc;
  }

  boost::asio::io_context loop_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

// A client that asks for short timeouts (C0-Config rt=30) must not open the bucket's breaker for
// everyone: its timeouts are neutral. The node's own timeouts still count.
TEST_F(PageFetchSilentOrigin, TimeoutsUnderAClientsShorterTimeoutsDoNotCountAgainstTheBucket) {
  S3Client client(loop_, config(Addressing::kPath));
  PageFetch fetch(loop_, client);
  RequestConfig rc = short_read_timeout();
  rc.client_timeouts = true;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(run(fetch, "bucket", rc).get.outcome, base::Outcome::kTimeout);
  }
  const SteadyTime now = std::chrono::steady_clock::now();
  auto snap = fetch.health().snapshot("bucket", now);
  EXPECT_TRUE(!snap || (snap->failures == 0 && snap->breaker == BreakerState::kClosed));

  rc.client_timeouts = false;  // the same timeouts as the node's own: the bucket's failures
  for (int i = 0; i < 5; ++i) run(fetch, "bucket", rc);
  snap = fetch.health().snapshot("bucket", std::chrono::steady_clock::now());
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->failures, 5u);
  EXPECT_EQ(snap->breaker, BreakerState::kOpen);
}

// With virtual-host addressing the bucket becomes part of the host: a name that is not one DNS
// label is refused before any request, so nothing connects to the host:port it names.
TEST_F(PageFetchSilentOrigin, AVirtualHostBucketNamingAHostIsNeverContacted) {
  boost::asio::ip::tcp::acceptor target(loop_, {boost::asio::ip::make_address("127.0.0.1"), 0});
  target.non_blocking(true);
  S3Client client(loop_, config(Addressing::kVirtual));
  PageFetch fetch(loop_, client);
  const std::string bucket = "127.0.0.1:" + std::to_string(target.local_endpoint().port()) + "/#";
  PageFetchResult r = run(fetch, bucket, short_read_timeout());
  EXPECT_EQ(r.get.outcome, base::Outcome::kMalformed);
  EXPECT_EQ(r.get.attempts, 0);
  EXPECT_NE(r.get.message.find("DNS label"), std::string::npos) << r.get.message;
  boost::asio::ip::tcp::socket peer(loop_);
  boost::system::error_code ec;
  target.accept(peer, ec);
  EXPECT_EQ(ec, boost::asio::error::would_block) << "something connected to the bucket's host";
  auto snap = fetch.health().snapshot(bucket, std::chrono::steady_clock::now());
  EXPECT_TRUE(!snap || snap->failures == 0);
}

}  // namespace
}  // namespace shoal::origin
