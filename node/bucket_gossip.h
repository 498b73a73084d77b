// Per-bucket origin figures shared through the cluster gossip: this node's LatencyTracker and
// BucketHealth figures go out as peer::BucketStats in its StatsSummary, and the figures other
// members gossip are merged into them as peers' figures (issue 5, "stats are shared"). origin/
// knows nothing of peers and peer/ nothing of sketches; the translation lives here.
//
// Export (export_buckets): the buckets with local figures, most used first (decayed attempts,
// then latency samples), at most peer::kMaxStatsBuckets, names longer than
// peer::kMaxBucketNameBytes left out. Each carries the whole-page p50 and p99 of this node's own
// samples (never peers' figures, so nothing echoes around the cluster), the sample count, its
// own error-rate EWMA and the attempts behind it (evidence).
//
// Import (to_latency_summary / to_health_summary): a peer's p50, p99 and sample count become a
// small synthetic sketch of that weight (synthetic_sketch): the gossip carries two quantiles,
// not the peer's whole DDSketch (up to 191 bins a bucket would not fit a UDP packet). Its
// quantiles reproduce the peer's p50 and p99 within DecayingSketch::kRelativeError and
// interpolate geometrically between them; first-byte latency is not gossiped. A peer's error
// rate and evidence go over as they are. Entries with zero samples (or zero evidence) carry no
// latency (error-rate) figures, as from an older sender without those fields.
//
// Sync (apply): for every alive or suspect member but this node whose gossiped buckets changed
// since the last call, merge_peer_summary() on both objects (a member's new figures replace its
// old ones; unchanged figures are not merged again, so they keep decaying from when they came);
// members that are dead, left or gone are forgotten (forget_peer). Invalid figures are logged
// and skipped.
//
// Thread rules: export_buckets is const and may run on any thread. apply() must not run
// concurrently with itself (call it from one thread: the peer loop's stats tick). The
// LatencyTracker and BucketHealth are thread-safe (their own mutexes), so the origin loop keeps
// using them meanwhile; they must outlive this object.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "origin/bucket_health.h"
#include "origin/latency_tracker.h"
#include "peer/membership.h"
#include "peer/messages.h"

namespace shoal::node {

// A sketch of total weight `samples` whose lower 0.5 quantile is p50_us's bin and whose 0.99
// quantile is p99_us's bin (p99 below p50 is taken as p50): 50.5% of the weight in p50's bin,
// 1.5% in p99's, the rest spread evenly over the bins between. Empty when samples or p50_us is
// not > 0 or not finite.
origin::SketchSummary synthetic_sketch(double p50_us, double p99_us, double samples);

// This node's figures for the gossip (see the file comment).
std::vector<peer::BucketStats> export_buckets(const origin::LatencyTracker& latency,
                                              const origin::BucketHealth& health,
                                              origin::SteadyTime now);

// A peer's gossiped buckets as origin summaries (see the file comment).
origin::LatencySummary to_latency_summary(const std::vector<peer::BucketStats>& buckets);
origin::HealthSummary to_health_summary(const std::vector<peer::BucketStats>& buckets);

class BucketGossip {
 public:
  // `latency` and `health` must outlive this object; `self_id` is this node's member id.
  BucketGossip(origin::LatencyTracker& latency, origin::BucketHealth& health, std::string self_id);

  // This node's buckets for its StatsSummary.
  std::vector<peer::BucketStats> export_buckets(origin::SteadyTime now) const;

  // Brings the peers' figures in line with `view` (see the file comment). Returns how many
  // members' figures were merged this call.
  std::size_t apply(const peer::MembershipView& view, origin::SteadyTime now);

 private:
  origin::LatencyTracker& latency_;
  origin::BucketHealth& health_;
  const std::string self_id_;
  std::map<std::string, std::vector<peer::BucketStats>> merged_;  // by member id, as last merged
};

}  // namespace shoal::node
