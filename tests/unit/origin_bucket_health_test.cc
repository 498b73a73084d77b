// BucketHealth: verdicts, breaker transitions, the error-rate EWMA, bucket order, and peers'
// error rates.
#include <gtest/gtest.h>

#include <cmath>

#include "origin/bucket_health.h"

namespace shoal::origin {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Strings = std::vector<std::string>;

const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1);

void fail(BucketHealth& h, const std::string& b, int n, SteadyTime at = kT0) {
  for (int i = 0; i < n; ++i) {
    const bool probe = h.begin_attempt(b, at);
    h.end_attempt(b, base::Outcome::kServerError, probe, at);
  }
}

TEST(HealthVerdict, ObjectAnswersAndCancelsAreNeutral) {
  EXPECT_EQ(health_verdict(base::Outcome::kOk), Verdict::kSuccess);
  for (base::Outcome o : {base::Outcome::kNotFound, base::Outcome::kInvalidRange,
                          base::Outcome::kPreconditionFailed, base::Outcome::kCancelled}) {
    EXPECT_EQ(health_verdict(o), Verdict::kNeutral) << static_cast<int>(o);
  }
  for (base::Outcome o :
       {base::Outcome::kAccessDenied, base::Outcome::kThrottled, base::Outcome::kServerError,
        base::Outcome::kTimeout, base::Outcome::kMalformed, base::Outcome::kTransportError}) {
    EXPECT_EQ(health_verdict(o), Verdict::kFailure) << static_cast<int>(o);
  }
}

TEST(BucketHealth, BreakerOpensAfterFiveConsecutiveFailures) {
  BucketHealth h;
  fail(h, "a", 4);
  EXPECT_EQ(h.state("a", kT0), BreakerState::kClosed);
  h.end_attempt("a", base::Outcome::kOk, false, kT0);
  fail(h, "a", 4);
  EXPECT_EQ(h.state("a", kT0), BreakerState::kClosed);  // the success broke the run
  fail(h, "a", 1);
  EXPECT_EQ(h.state("a", kT0), BreakerState::kOpen);
  EXPECT_EQ(h.snapshot("a", kT0)->consecutive_failures, 5);
  EXPECT_EQ(h.snapshot("a", kT0)->breaker_opened, 1u);
}

TEST(BucketHealth, HalfOpenAfterCooldownAllowsOneProbeAndSuccessCloses) {
  HealthOptions opts;
  opts.cooldown = milliseconds(500);
  BucketHealth h(opts);
  fail(h, "a", 5);
  EXPECT_EQ(h.state("a", kT0 + milliseconds(499)), BreakerState::kOpen);
  const SteadyTime later = kT0 + milliseconds(500);
  EXPECT_EQ(h.state("a", later), BreakerState::kHalfOpen);
  EXPECT_TRUE(h.begin_attempt("a", later));
  EXPECT_FALSE(h.begin_attempt("a", later));  // one probe at a time
  h.end_attempt("a", base::Outcome::kOk, true, later);
  EXPECT_EQ(h.state("a", later), BreakerState::kClosed);
  EXPECT_EQ(h.snapshot("a", later)->error_rate, 0);
  EXPECT_EQ(h.snapshot("a", later)->consecutive_failures, 0);
}

TEST(BucketHealth, FailedProbeReopensForAnotherCooldown) {
  HealthOptions opts;
  opts.cooldown = seconds(30);
  BucketHealth h(opts);
  fail(h, "a", 5);
  const SteadyTime probe_at = kT0 + seconds(30);
  ASSERT_TRUE(h.begin_attempt("a", probe_at));
  h.end_attempt("a", base::Outcome::kTimeout, true, probe_at);
  EXPECT_EQ(h.state("a", probe_at + seconds(29)), BreakerState::kOpen);
  EXPECT_EQ(h.state("a", probe_at + seconds(30)), BreakerState::kHalfOpen);
}

TEST(BucketHealth, NeutralProbeFreesTheProbeSlot) {
  HealthOptions opts;
  opts.cooldown = seconds(1);
  BucketHealth h(opts);
  fail(h, "a", 5);
  const SteadyTime t = kT0 + seconds(1);
  ASSERT_TRUE(h.begin_attempt("a", t));
  h.end_attempt("a", base::Outcome::kNotFound, true, t);
  EXPECT_EQ(h.state("a", t), BreakerState::kHalfOpen);
  EXPECT_TRUE(h.begin_attempt("a", t));
}

TEST(BucketHealth, NoSuchKeyInvalidRangeAndPreconditionNeverCount) {
  BucketHealth h;
  fail(h, "a", 3);
  const auto before = *h.snapshot("a", kT0);
  for (int i = 0; i < 20; ++i) {
    for (base::Outcome o : {base::Outcome::kNotFound, base::Outcome::kInvalidRange,
                            base::Outcome::kPreconditionFailed, base::Outcome::kCancelled}) {
      h.end_attempt("a", o, false, kT0);
    }
  }
  const auto after = *h.snapshot("a", kT0);
  EXPECT_EQ(after.error_rate, before.error_rate);
  EXPECT_EQ(after.consecutive_failures, 3);
  EXPECT_EQ(after.failures, 3u);
  EXPECT_EQ(after.successes, 0u);
  EXPECT_EQ(after.breaker, BreakerState::kClosed);
  fail(h, "a", 2);  // the run of failures was not broken either
  EXPECT_EQ(h.state("a", kT0), BreakerState::kOpen);
}

TEST(BucketHealth, ErrorRateIsAnEwmaThatDecaysWhileIdle) {
  BucketHealth h;  // weight 0.1, idle half-life 60 s
  fail(h, "a", 3);
  EXPECT_NEAR(h.snapshot("a", kT0)->error_rate, 1 - std::pow(0.9, 3), 1e-12);
  h.end_attempt("a", base::Outcome::kOk, false, kT0);
  EXPECT_NEAR(h.snapshot("a", kT0)->error_rate, 0.9 * (1 - std::pow(0.9, 3)), 1e-12);
  EXPECT_NEAR(h.snapshot("a", kT0 + seconds(60))->error_rate, 0.45 * (1 - std::pow(0.9, 3)), 1e-12);
}

TEST(BucketHealth, OrderKeepsPreferenceAmongHealthyBucketsAndDropsDuplicates) {
  BucketHealth h;
  EXPECT_EQ(h.order({"a", "b", "a", "c"}, kT0), (Strings{"a", "b", "c"}));
  EXPECT_TRUE(h.order({}, kT0).empty());
}

TEST(BucketHealth, OrderTriesAnOpenBreakerLastAndAHighErrorRateAfterHealthyOnes) {
  BucketHealth h;
  fail(h, "a", 5);  // open
  fail(h, "b", 4);  // flaky: 4 failures, 1 success, 4 failures; never 5 in a row
  h.end_attempt("b", base::Outcome::kOk, false, kT0);
  fail(h, "b", 4);
  ASSERT_EQ(h.state("b", kT0), BreakerState::kClosed);
  ASSERT_GE(h.snapshot("b", kT0)->error_rate, 0.5);
  EXPECT_EQ(h.order({"a", "b", "c"}, kT0), (Strings{"c", "b", "a"}));
  fail(h, "c", 4);  // error rate 0.34: still first
  EXPECT_EQ(h.order({"a", "b", "c"}, kT0), (Strings{"c", "b", "a"}));
}

TEST(BucketHealth, OrderPutsAHalfOpenBucketBackAtItsPlaceUntilItsProbeIsOut) {
  HealthOptions opts;
  opts.cooldown = seconds(1);
  BucketHealth h(opts);
  fail(h, "a", 5);
  EXPECT_EQ(h.order({"a", "b"}, kT0), (Strings{"b", "a"}));
  const SteadyTime t = kT0 + seconds(1);
  EXPECT_EQ(h.order({"a", "b"}, t), (Strings{"a", "b"}));  // error rate 0.41, but probe it
  ASSERT_TRUE(h.begin_attempt("a", t));
  EXPECT_EQ(h.order({"a", "b"}, t), (Strings{"b", "a"}));  // probe out: others go first
}

TEST(BucketHealth, OrderDemotesAClearlySlowerBucket) {
  LatencyTracker latency;
  BucketHealth h(HealthOptions{}, &latency);
  auto fill = [&](const std::string& b, int ms) {
    for (int i = 0; i < 20; ++i) {
      latency.record(b, milliseconds(1), milliseconds(ms), kT0);
    }
  };
  fill("slow", 100);
  fill("fast", 5);
  EXPECT_EQ(h.order({"slow", "fast"}, kT0), (Strings{"fast", "slow"}));
  fill("close", 12);  // 2.4x the best: not demoted
  EXPECT_EQ(h.order({"close", "fast"}, kT0), (Strings{"close", "fast"}));
  LatencyTracker tiny;
  BucketHealth h2(HealthOptions{}, &tiny);
  for (int i = 0; i < 20; ++i) {
    tiny.record("x", milliseconds(1), milliseconds(15), kT0);  // 15x, but only 14 ms slower
    tiny.record("y", milliseconds(1), milliseconds(1), kT0);
  }
  EXPECT_EQ(h2.order({"x", "y"}, kT0), (Strings{"x", "y"}));
}

TEST(BucketHealth, OrderIgnoresLatencyWithTooFewSamples) {
  LatencyTracker latency;
  BucketHealth h(HealthOptions{}, &latency);
  for (int i = 0; i < 19; ++i) latency.record("slow", milliseconds(1), milliseconds(500), kT0);
  for (int i = 0; i < 20; ++i) latency.record("fast", milliseconds(1), milliseconds(1), kT0);
  EXPECT_EQ(h.order({"slow", "fast"}, kT0), (Strings{"slow", "fast"}));
}

TEST(BucketHealth, PeersErrorRatesCountUntilThereIsLocalEvidence) {
  BucketHealth h;
  HealthSummary peer{{{"a", 0.9, 20}}};
  EXPECT_FALSE(h.merge_peer_summary("p", peer, kT0));
  EXPECT_NEAR(h.effective_error_rate("a", kT0), 0.9, 1e-12);
  EXPECT_EQ(h.order({"a", "b"}, kT0), (Strings{"b", "a"}));
  for (int i = 0; i < 5; ++i) h.end_attempt("a", base::Outcome::kOk, false, kT0);
  EXPECT_NEAR(h.effective_error_rate("a", kT0), 0, 1e-12);  // 5 local attempts: local wins
  EXPECT_EQ(h.order({"a", "b"}, kT0), (Strings{"a", "b"}));
  h.forget_peer("p");
  EXPECT_NEAR(h.effective_error_rate("a", kT0), 0, 1e-12);
}

TEST(BucketHealth, ExportsItsErrorRatesAndRejectsMalformedPeerSummaries) {
  BucketHealth h;
  fail(h, "a", 2);
  const HealthSummary s = h.export_summary(kT0);
  ASSERT_EQ(s.buckets.size(), 1u);
  EXPECT_EQ(s.buckets[0].bucket, "a");
  EXPECT_NEAR(s.buckets[0].error_rate, 0.19, 1e-12);
  EXPECT_NEAR(s.buckets[0].evidence, 2, 1e-12);
  BucketHealth other;
  EXPECT_FALSE(other.merge_peer_summary("p", s, kT0));
  EXPECT_NEAR(other.effective_error_rate("a", kT0), 0.19, 1e-12);
  EXPECT_TRUE(other.merge_peer_summary("", s, kT0));
  EXPECT_TRUE(other.merge_peer_summary("q", HealthSummary{{{"a", 1.5, 1}}}, kT0));
  EXPECT_TRUE(other.merge_peer_summary("q", HealthSummary{{{"a", 0.5, -1}}}, kT0));
  EXPECT_TRUE(other.merge_peer_summary("q", HealthSummary{{{"a", 0.5, 1}, {"a", 0.5, 1}}}, kT0));
  EXPECT_TRUE(other.merge_peer_summary("q", HealthSummary{{{"", 0.5, 1}}}, kT0));
  EXPECT_NEAR(other.effective_error_rate("a", kT0), 0.19, 1e-12);  // unchanged
}

TEST(HealthOptions, ValidateNamesTheField) {
  HealthOptions o;
  EXPECT_FALSE(o.validate());
  o.failures_to_open = 0;
  EXPECT_NE(o.validate()->find("failures_to_open"), std::string::npos);
  o = HealthOptions{};
  o.cooldown = milliseconds(0);
  EXPECT_NE(o.validate()->find("cooldown"), std::string::npos);
}

}  // namespace
}  // namespace shoal::origin
