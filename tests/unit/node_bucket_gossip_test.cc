// node/bucket_gossip.h: per-bucket origin figures out through the gossip and back into a peer's
// LatencyTracker and BucketHealth: the synthetic sketch, the export (bounded, most used first,
// own figures only), the round trip through the wire encoding, and BucketGossip::apply (merge on
// change, forget members that are gone).
#include <gtest/gtest.h>

#include <cmath>

#include "node/bucket_gossip.h"
#include "peer/codec.h"

namespace shoal::node {
namespace {

using base::Outcome;
using origin::BucketHealth;
using origin::DecayingSketch;
using origin::LatencyKind;
using origin::LatencyTracker;
using origin::SteadyTime;
using std::chrono::microseconds;
using std::chrono::milliseconds;

const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1);
constexpr double kErr = DecayingSketch::kRelativeError;

// `n` successful fetches from `bucket` taking `page_ms` (first byte at half of it).
void record(LatencyTracker& l, BucketHealth& h, const std::string& bucket, int n, double page_ms,
            SteadyTime at = kT0) {
  for (int i = 0; i < n; ++i) {
    const auto page = microseconds(static_cast<std::int64_t>(page_ms * 1000));
    l.record(bucket, page / 2, page, at);
    h.end_attempt(bucket, base::Outcome::kOk, h.begin_attempt(bucket, at), at);
  }
}

void fail(BucketHealth& h, const std::string& bucket, int n, SteadyTime at = kT0) {
  for (int i = 0; i < n; ++i) {
    h.end_attempt(bucket, base::Outcome::kServerError, h.begin_attempt(bucket, at), at);
  }
}

double quantile(const origin::SketchSummary& s, double q) {
  std::string error;
  auto sketch = DecayingSketch::from_summary(s, &error);
  EXPECT_TRUE(sketch.has_value()) << error;
  return sketch->quantile(q).value_or(-1);
}

// A member record with `buckets` as its gossiped figures.
peer::MemberRecord member(const std::string& id, std::vector<peer::BucketStats> buckets,
                          peer::MemberState state = peer::MemberState::kAlive) {
  peer::MemberRecord r;
  r.id = id;
  r.state = state;
  r.meta.peer_addr = "127.0.0.1:7000";
  r.meta.stats.buckets = std::move(buckets);
  return r;
}

TEST(SyntheticSketch, ReproducesP50AndP99AndTheWeight) {
  for (auto [p50, p99] :
       {std::pair{2000.0, 90000.0}, {5000.0, 5400.0}, {1000.0, 1000.0}, {30000.0, 2.0e6}}) {
    SCOPED_TRACE(std::to_string(p50) + " " + std::to_string(p99));
    const auto s = synthetic_sketch(p50, p99, 37.5);
    std::string error;
    auto sketch = DecayingSketch::from_summary(s, &error);
    ASSERT_TRUE(sketch.has_value()) << error;
    EXPECT_NEAR(sketch->weight(), 37.5, 1e-4);
    EXPECT_NEAR(*sketch->quantile(0.5), p50, p50 * kErr);
    EXPECT_NEAR(*sketch->quantile(0.99), p99, p99 * kErr);
    // In between: between the two, and strictly inside when they are far apart.
    const double p90 = *sketch->quantile(0.9);
    EXPECT_GE(p90, *sketch->quantile(0.5));
    EXPECT_LE(p90, *sketch->quantile(0.99));
    if (p99 > 4 * p50) {
      EXPECT_GT(p90, p50 * (1 + 2 * kErr));
      EXPECT_LT(p90, p99 * (1 - 2 * kErr));
    }
  }
  // p99 below p50 is taken as p50; no weight or no latency gives nothing.
  EXPECT_NEAR(quantile(synthetic_sketch(8000, 100, 5), 0.99), 8000, 8000 * kErr);
  EXPECT_TRUE(synthetic_sketch(1000, 2000, 0).bins.empty());
  EXPECT_TRUE(synthetic_sketch(0, 2000, 10).bins.empty());
  EXPECT_TRUE(synthetic_sketch(std::nan(""), 2000, 10).bins.empty());
}

TEST(ExportBuckets, OwnFiguresMostUsedFirstBoundedAndValid) {
  LatencyTracker latency;
  BucketHealth health({}, &latency);
  // 10 buckets, bucket i used 10 + i times; one name too long for the gossip.
  for (int i = 0; i < 10; ++i) {
    record(latency, health, "bucket-" + std::to_string(i), 10 + i, 5 + i);
  }
  record(latency, health, std::string(peer::kMaxBucketNameBytes + 1, 'x'), 50, 1);
  fail(health, "bucket-9", 3);
  // A peer's figures for a bucket never used here, and for one used here: never exported.
  ASSERT_FALSE(latency.merge_peer_summary(
      "peer", to_latency_summary({{"elsewhere", 40, 80, 0, 30, 0}}), kT0));
  ASSERT_FALSE(
      health.merge_peer_summary("peer", to_health_summary({{"bucket-9", 40, 80, 1, 30, 30}}), kT0));

  const auto out = export_buckets(latency, health, kT0);
  ASSERT_EQ(out.size(), peer::kMaxStatsBuckets);
  EXPECT_EQ(out[0].bucket, "bucket-9");
  EXPECT_EQ(out[1].bucket, "bucket-8");
  EXPECT_EQ(out.back().bucket, "bucket-2");
  peer::StatsSummary summary;
  summary.buckets = out;
  EXPECT_FALSE(peer::check_stats(summary).has_value()) << *peer::check_stats(summary);

  const peer::BucketStats& b9 = out[0];
  EXPECT_NEAR(b9.p50_ms, 14, 14 * kErr);
  EXPECT_NEAR(b9.p99_ms, 14, 14 * kErr);
  EXPECT_NEAR(b9.samples, 19, 1e-3);
  EXPECT_NEAR(b9.evidence, 22, 1e-3);                      // 19 successes + 3 failures
  EXPECT_NEAR(b9.error_rate, 1 - std::pow(0.9, 3), 1e-9);  // own rate, not the peer's 1.0
}

// Node A's figures go through the wire encoding to node B, which has never fetched from the
// bucket: B's latency estimate, error rate and bucket order then follow A's figures.
TEST(BucketGossip, PeersFiguresReachOrderingThroughTheWire) {
  LatencyTracker a_latency;
  BucketHealth a_health({}, &a_latency);
  record(a_latency, a_health, "slow", 30, 400);  // 30 samples of 400 ms
  record(a_latency, a_health, "fast", 30, 10);
  fail(a_health, "broken", 10);  // error rate 1 - 0.9^10 = 0.65
  peer::Update u{"node-a", 7, peer::MemberState::kAlive, "node-a", peer::MemberMeta{}};
  u.meta->peer_addr = "127.0.0.1:7000";
  u.meta->stats.buckets = export_buckets(a_latency, a_health, kT0);
  peer::Packet packet;
  ASSERT_TRUE(peer::decode_packet(peer::encode_packet(peer::Packet{"node-a", {u}}), &packet).ok());
  const peer::Update& got = std::get<peer::Update>(packet.messages.at(0));

  LatencyTracker latency;
  BucketHealth health({}, &latency);
  BucketGossip gossip(latency, health, "node-b");
  const std::vector<std::string> listed = {"broken", "slow", "fast"};
  EXPECT_EQ(health.order(listed, kT0), listed);  // no figures: listed order
  peer::MembershipView view;
  view.self_id = "node-b";
  view.members = {member("node-b", {}), member("node-a", got.meta->stats.buckets)};
  EXPECT_EQ(gossip.apply(view, kT0), 1u);

  auto est = latency.estimate("slow", LatencyKind::kPage, 0.5, kT0);
  ASSERT_TRUE(est.has_value());
  EXPECT_TRUE(est->with_peers);
  EXPECT_NEAR(est->samples, 30, 1e-3);
  EXPECT_NEAR(static_cast<double>(est->value.count()), 400000, 400000 * 2 * kErr);
  EXPECT_NEAR(health.effective_error_rate("broken", kT0), 1 - std::pow(0.9, 10), 1e-6);
  EXPECT_EQ(health.effective_error_rate("fast", kT0), 0);
  // "broken" is demoted by A's error rate, "slow" by A's latency (40x the fast one's).
  EXPECT_EQ(health.order(listed, kT0), (std::vector<std::string>{"fast", "broken", "slow"}));
  // First-byte latency is not gossiped.
  EXPECT_FALSE(latency.estimate("slow", LatencyKind::kFirstByte, 0.5, kT0).has_value());
}

TEST(BucketGossip, MergesOnChangeOnlyAndForgetsMembersThatAreGone) {
  LatencyTracker latency;
  BucketHealth health({}, &latency);
  BucketGossip gossip(latency, health, "self");
  peer::MembershipView view;
  view.self_id = "self";
  const std::vector<peer::BucketStats> figures = {{"b", 20, 30, 0.75, 25, 25}};
  view.members = {member("self", {{"own", 1, 1, 1, 50, 50}}), member("p", figures)};
  EXPECT_EQ(gossip.apply(view, kT0), 1u);
  EXPECT_FALSE(latency.estimate("own", LatencyKind::kPage, 0.5, kT0).has_value());  // not self
  EXPECT_EQ(latency.peer_buckets(), (std::vector<std::string>{"b"}));
  // Unchanged figures are not merged again: they keep decaying from when they came.
  const SteadyTime later = kT0 + std::chrono::seconds(60);
  EXPECT_EQ(gossip.apply(view, later), 0u);
  EXPECT_NEAR(latency.estimate("b", LatencyKind::kPage, 0.5, later)->samples, 12.5, 0.01);
  // New figures replace the old ones.
  view.members[1].meta.stats.buckets[0].samples = 40;
  EXPECT_EQ(gossip.apply(view, later), 1u);
  EXPECT_NEAR(latency.estimate("b", LatencyKind::kPage, 0.5, later)->samples, 40, 0.01);
  // Suspect members keep their figures; dead, left and reaped ones lose them.
  view.members[1].state = peer::MemberState::kSuspect;
  gossip.apply(view, later);
  EXPECT_TRUE(health.peer_rate("b", later).has_value());
  for (auto state : {peer::MemberState::kDead, peer::MemberState::kLeft}) {
    view.members[1].state = peer::MemberState::kAlive;
    gossip.apply(view, later);
    ASSERT_TRUE(latency.estimate("b", LatencyKind::kPage, 0.5, later).has_value());
    view.members[1].state = state;
    gossip.apply(view, later);
    EXPECT_FALSE(latency.estimate("b", LatencyKind::kPage, 0.5, later).has_value());
    EXPECT_FALSE(health.peer_rate("b", later).has_value());
  }
  view.members[1].state = peer::MemberState::kAlive;
  gossip.apply(view, later);
  view.members.pop_back();
  gossip.apply(view, later);
  EXPECT_TRUE(latency.peer_buckets().empty());
  EXPECT_TRUE(health.peer_buckets().empty());
}

TEST(BucketGossip, InvalidFiguresDropThatMembersFiguresAndNoOneElses) {
  LatencyTracker latency;
  BucketHealth health({}, &latency);
  BucketGossip gossip(latency, health, "self");
  peer::MembershipView view;
  view.self_id = "self";
  view.members = {member("p", {{"b", 20, 30, 0.5, 25, 25}}),
                  member("q", {{"c", 10, 15, 0.1, 25, 25}})};
  ASSERT_EQ(gossip.apply(view, kT0), 2u);
  ASSERT_TRUE(health.peer_rate("b", kT0).has_value());
  // p now gossips bucket "b" twice (the wire check would refuse it; apply() must not trust that).
  view.members[0].meta.stats.buckets.push_back({"b", 21, 31, 0.5, 25, 25});
  EXPECT_EQ(gossip.apply(view, kT0), 0u);
  EXPECT_FALSE(health.peer_rate("b", kT0).has_value());
  EXPECT_FALSE(latency.peer_estimate("b", LatencyKind::kPage, 0.5, kT0).has_value());
  EXPECT_TRUE(health.peer_rate("c", kT0).has_value());  // q's figures stay
  EXPECT_TRUE(latency.peer_estimate("c", LatencyKind::kPage, 0.5, kT0).has_value());
}

TEST(BucketGossip, EntriesWithoutSamplesOrEvidenceCarryNoFigures) {
  // An older sender (no samples, no evidence) and a bucket with errors only.
  const std::vector<peer::BucketStats> figures = {{"old", 20, 30, 0.5, 0, 0},
                                                  {"errors", 0, 0, 0.9, 0, 12}};
  EXPECT_TRUE(to_latency_summary(figures).buckets.size() == 0);
  const auto h = to_health_summary(figures);
  ASSERT_EQ(h.buckets.size(), 1u);
  EXPECT_EQ(h.buckets[0].bucket, "errors");
  EXPECT_EQ(h.buckets[0].evidence, 12);
}

TEST(PeerRate, WeighsPeersByEvidenceAndSaysWhenBlended) {
  LatencyTracker latency;
  BucketHealth health({}, &latency);
  ASSERT_FALSE(health.merge_peer_summary("p1", {{{"b", 1.0, 10}}}, kT0));
  ASSERT_FALSE(health.merge_peer_summary("p2", {{{"b", 0.0, 30}}}, kT0));
  auto p = health.peer_rate("b", kT0);
  ASSERT_TRUE(p.has_value());
  EXPECT_NEAR(p->error_rate, 0.25, 1e-9);
  EXPECT_NEAR(p->evidence, 40, 1e-9);
  EXPECT_EQ(p->peers, 2u);
  EXPECT_TRUE(p->blended);
  record(latency, health, "b", static_cast<int>(BucketHealth::kMinLocalEvidence), 1);
  EXPECT_FALSE(health.peer_rate("b", kT0)->blended);
  EXPECT_FALSE(health.peer_rate("other", kT0).has_value());
}

}  // namespace
}  // namespace shoal::node
