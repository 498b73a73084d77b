// DecayingSketch's documented relative-error bound on known distributions, the decay, and the
// LatencyTracker's peer summaries (export, merge, validation).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "origin/latency_tracker.h"

namespace shoal::origin {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr double kAlpha = DecayingSketch::kRelativeError;
const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1);

// The lower q-quantile of `values` (the smallest v with at least q*n values <= v).
double exact_quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto n = static_cast<double>(values.size());
  const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n)));
  return values[rank - 1];
}

void expect_within_bound(const std::vector<double>& values, const char* what) {
  DecayingSketch sketch;
  for (double v : values) sketch.add(v);
  for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0}) {
    const double exact = exact_quantile(values, q);
    const double got = *sketch.quantile(q);
    EXPECT_LE(std::fabs(got - exact), kAlpha * exact * (1 + 1e-9))
        << what << " q=" << q << " exact=" << exact << " got=" << got;
  }
}

TEST(DecayingSketch, QuantilesWithinRelativeErrorOnUniform) {
  std::vector<double> values;
  for (int i = 1; i <= 100000; ++i) values.push_back(i);
  expect_within_bound(values, "uniform 1..100000 us");
}

TEST(DecayingSketch, QuantilesWithinRelativeErrorOnLognormalAndExponential) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> lognormal(std::log(5000.0), 1.0);  // median 5 ms
  std::exponential_distribution<double> exponential(1.0 / 20000.0);      // mean 20 ms
  std::vector<double> a, b;
  for (int i = 0; i < 50000; ++i) {
    a.push_back(std::max(1.0, lognormal(rng)));
    b.push_back(std::max(1.0, exponential(rng)));
  }
  expect_within_bound(a, "lognormal");
  expect_within_bound(b, "exponential");
}

TEST(DecayingSketch, FindsAStallTailOfTwoPercent) {
  // 98% around 5 ms, 2% stalled at 2 s: p50 is fast, p99 is the stall.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> fast(5000, 500);
  std::vector<double> values;
  for (int i = 0; i < 10000; ++i) values.push_back(i % 50 == 0 ? 2'000'000.0 : fast(rng));
  expect_within_bound(values, "bimodal");
  DecayingSketch sketch;
  for (double v : values) sketch.add(v);
  EXPECT_NEAR(*sketch.quantile(0.5), 5000, 600);
  EXPECT_NEAR(*sketch.quantile(0.99), 2'000'000, 2'000'000 * kAlpha);
}

TEST(DecayingSketch, EmptyHasNoQuantileAndOutOfRangeValuesAreClamped) {
  DecayingSketch sketch;
  EXPECT_FALSE(sketch.quantile(0.5));
  sketch.add(std::nan(""));
  sketch.add(5, 0);
  EXPECT_EQ(sketch.weight(), 0);
  EXPECT_EQ(DecayingSketch::bin_of(DecayingSketch::kMaxMicros), DecayingSketch::kBins - 1);
  EXPECT_EQ(DecayingSketch::bin_of(1e15), DecayingSketch::kBins - 1);
  EXPECT_EQ(DecayingSketch::bin_of(-3), 0u);
  sketch.add(0);
  EXPECT_NEAR(*sketch.quantile(0.5), 1.0, kAlpha + 1e-12);  // bin 0 holds (0, 1] us
}

TEST(DecayingSketch, MergeEqualsOneSketchOfTheUnion) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(8, 2);
  DecayingSketch left, right, all;
  for (int i = 0; i < 4000; ++i) {
    const double v = dist(rng);
    (i % 2 ? left : right).add(v);
    all.add(v);
  }
  left.merge(right);
  EXPECT_DOUBLE_EQ(left.weight(), all.weight());
  for (double q : {0.1, 0.5, 0.9, 0.99}) EXPECT_DOUBLE_EQ(*left.quantile(q), *all.quantile(q));
}

TEST(DecayingSketch, SummaryRoundTripsAndRejectsBadBins) {
  DecayingSketch sketch;
  for (int i = 1; i <= 1000; ++i) sketch.add(1000.0 * i);  // 1 ms .. 1 s
  const SketchSummary s = sketch.summary();
  EXPECT_LE(s.bins.size(), 180u);  // log(1000) / log(gamma) + 1 bins at most
  std::string error;
  auto back = DecayingSketch::from_summary(s, &error);
  ASSERT_TRUE(back) << error;
  for (double q : {0.5, 0.99}) EXPECT_NEAR(*back->quantile(q), *sketch.quantile(q), 1e-6);

  SketchSummary out_of_range{{{static_cast<std::uint16_t>(DecayingSketch::kBins), 1.0f}}};
  EXPECT_FALSE(DecayingSketch::from_summary(out_of_range, &error));
  SketchSummary unordered{{{10, 1.0f}, {9, 1.0f}}};
  EXPECT_FALSE(DecayingSketch::from_summary(unordered, &error));
  SketchSummary nan_weight{{{10, std::nanf("")}}};
  EXPECT_FALSE(DecayingSketch::from_summary(nan_weight, &error));
  SketchSummary negative{{{10, -1.0f}}};
  EXPECT_FALSE(DecayingSketch::from_summary(negative, &error));
}

TEST(LatencyTracker, OldSamplesDecayByHalfEveryHalfLife) {
  LatencyTracker t(LatencyOptions{}, SteadyTime{});
  for (int i = 0; i < 100; ++i) t.record("b", milliseconds(1), milliseconds(1), kT0);
  EXPECT_DOUBLE_EQ(t.local_samples("b", kT0), 100);
  EXPECT_DOUBLE_EQ(t.local_samples("b", kT0 + milliseconds(999)), 100);  // same step
  EXPECT_NEAR(t.local_samples("b", kT0 + seconds(60)), 50, 1e-9);
  EXPECT_NEAR(t.local_samples("b", kT0 + seconds(300)), 100.0 / 32, 1e-9);
}

TEST(LatencyTracker, RecentSamplesWeighMostInQuantiles) {
  LatencyTracker t(LatencyOptions{}, SteadyTime{});
  for (int i = 0; i < 10; ++i) t.record("b", milliseconds(1), milliseconds(1), kT0);
  for (int i = 0; i < 10; ++i) t.record("b", milliseconds(10), milliseconds(10), kT0 + seconds(60));
  // Weights now 5 (old, 1 ms) and 10 (new, 10 ms): the old third is below q = 1/3.
  const SteadyTime now = kT0 + seconds(60);
  auto low = t.estimate("b", LatencyKind::kPage, 0.33, now);
  auto high = t.estimate("b", LatencyKind::kPage, 0.34, now);
  ASSERT_TRUE(low && high);
  EXPECT_NEAR(low->value.count(), 1000, 1000 * kAlpha);
  EXPECT_NEAR(high->value.count(), 10000, 10000 * kAlpha);
  EXPECT_NEAR(low->samples, 15, 1e-9);
}

TEST(LatencyTracker, KeepsFirstByteAndPageApart) {
  LatencyTracker t;
  t.record("b", milliseconds(2), milliseconds(40), kT0);
  EXPECT_NEAR(t.estimate("b", LatencyKind::kFirstByte, 0.5, kT0)->value.count(), 2000, 40);
  EXPECT_NEAR(t.estimate("b", LatencyKind::kPage, 0.5, kT0)->value.count(), 40000, 800);
  EXPECT_FALSE(t.estimate("other", LatencyKind::kPage, 0.5, kT0));
}

TEST(LatencyTracker, ForgetsTheLeastRecentlyUsedBucketBeyondTheCap) {
  LatencyOptions opts;
  opts.max_buckets = 2;
  LatencyTracker t(opts);
  t.record("a", milliseconds(1), milliseconds(1), kT0);
  t.record("b", milliseconds(1), milliseconds(1), kT0 + seconds(1));
  t.record("a", milliseconds(1), milliseconds(1), kT0 + seconds(2));
  t.record("c", milliseconds(1), milliseconds(1), kT0 + seconds(3));
  EXPECT_EQ(t.buckets(), (std::vector<std::string>{"a", "c"}));
}

TEST(LatencyTracker, ExportedSummaryIsSmallAndMergesIntoAPeer) {
  LatencyTracker a;
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> dist(std::log(8000.0), 0.5);
  for (int i = 0; i < 5000; ++i) {
    const auto v = microseconds(static_cast<std::int64_t>(dist(rng)));
    a.record("shared", v / 4, v, kT0);
  }
  const LatencySummary s = a.export_summary(kT0);
  ASSERT_EQ(s.buckets.size(), 1u);
  EXPECT_LE(s.buckets[0].page.bins.size(), 191u);  // 6 bytes each: about 1 KiB at most

  LatencyTracker b;
  EXPECT_FALSE(b.merge_peer_summary("node-a", s, kT0));
  auto mine = a.estimate("shared", LatencyKind::kPage, 0.99, kT0);
  auto theirs = b.estimate("shared", LatencyKind::kPage, 0.99, kT0);
  ASSERT_TRUE(mine && theirs);
  EXPECT_TRUE(theirs->with_peers);
  EXPECT_NEAR(static_cast<double>(theirs->value.count()), static_cast<double>(mine->value.count()),
              1.0);
  EXPECT_NEAR(theirs->samples, 5000, 1);
  // The same summary again replaces, never adds.
  EXPECT_FALSE(b.merge_peer_summary("node-a", s, kT0));
  EXPECT_NEAR(b.estimate("shared", LatencyKind::kPage, 0.5, kT0)->samples, 5000, 1);
  // Peers' figures decay like local ones.
  EXPECT_NEAR(b.estimate("shared", LatencyKind::kPage, 0.5, kT0 + seconds(60))->samples, 2500, 1);
  b.forget_peer("node-a");
  EXPECT_FALSE(b.estimate("shared", LatencyKind::kPage, 0.5, kT0));
}

TEST(LatencyTracker, LocalSamplesWinOnceThereAreEnough) {
  LatencyTracker peer;
  for (int i = 0; i < 100; ++i) peer.record("b", milliseconds(500), milliseconds(500), kT0);
  LatencyTracker me;  // min_local_samples 20
  ASSERT_FALSE(me.merge_peer_summary("p", peer.export_summary(kT0), kT0));
  for (int i = 0; i < 19; ++i) me.record("b", milliseconds(5), milliseconds(5), kT0);
  auto blended = me.estimate("b", LatencyKind::kPage, 0.5, kT0);
  EXPECT_TRUE(blended->with_peers);
  EXPECT_NEAR(blended->value.count(), 500000, 500000 * kAlpha);  // 100 of 119 samples are slow
  me.record("b", milliseconds(5), milliseconds(5), kT0);
  auto local = me.estimate("b", LatencyKind::kPage, 0.5, kT0);
  EXPECT_FALSE(local->with_peers);
  EXPECT_NEAR(local->value.count(), 5000, 5000 * kAlpha);
}

TEST(LatencyTracker, RejectsMalformedPeerSummariesWithoutChange) {
  LatencyTracker t;
  BucketLatencySummary good{"b", {{{100, 3.0f}}}, {{{100, 3.0f}}}};
  EXPECT_TRUE(t.merge_peer_summary("", LatencySummary{{good}}, kT0));
  EXPECT_TRUE(t.merge_peer_summary("p", LatencySummary{{good, good}}, kT0));  // twice
  BucketLatencySummary unnamed = good;
  unnamed.bucket.clear();
  EXPECT_TRUE(t.merge_peer_summary("p", LatencySummary{{unnamed}}, kT0));
  BucketLatencySummary bad = good;
  bad.page.bins.push_back({static_cast<std::uint16_t>(DecayingSketch::kBins + 3), 1.0f});
  auto reason = t.merge_peer_summary("p", LatencySummary{{bad}}, kT0);
  ASSERT_TRUE(reason);
  EXPECT_NE(reason->find("bucket b"), std::string::npos) << *reason;
  EXPECT_FALSE(t.estimate("b", LatencyKind::kPage, 0.5, kT0));
  LatencyOptions small;
  small.max_buckets = 1;
  LatencyTracker capped(small);
  BucketLatencySummary other = good;
  other.bucket = "c";
  EXPECT_TRUE(capped.merge_peer_summary("p", LatencySummary{{good, other}}, kT0));
}

TEST(LatencyOptions, ValidateNamesTheField) {
  LatencyOptions o;
  EXPECT_FALSE(o.validate());
  o.step = milliseconds(0);
  EXPECT_NE(o.validate()->find("step"), std::string::npos);
  o = LatencyOptions{};
  o.half_life = milliseconds(10);
  EXPECT_NE(o.validate()->find("half_life"), std::string::npos);
}

}  // namespace
}  // namespace shoal::origin
