// Per-bucket figures in the gossip; see bucket_gossip.h.
#include "node/bucket_gossip.h"

#include <algorithm>
#include <cmath>

#include "ring/base/log.h"

namespace shoal::node {
namespace {

using origin::DecayingSketch;

// Weight shares of the synthetic sketch (synthetic_sketch): strictly above 0.5 at p50 and
// strictly below 0.99 before p99, so float rounding cannot move either quantile by a bin.
constexpr double kAtMedian = 0.505;
constexpr double kAtP99 = 0.015;

bool positive(double v) {
  return std::isfinite(v) && v > 0;
}

struct Local {
  double p50_us = 0, p99_us = 0, samples = 0;
  double error_rate = 0, evidence = 0;
};

}  // namespace

origin::SketchSummary synthetic_sketch(double p50_us, double p99_us, double samples) {
  origin::SketchSummary s;
  if (!positive(samples) || !positive(p50_us)) return s;
  const std::size_t b50 = DecayingSketch::bin_of(p50_us);
  const std::size_t b99 =
      std::max(b50, DecayingSketch::bin_of(std::isfinite(p99_us) ? p99_us : p50_us));
  const auto w = [&](double share) { return static_cast<float>(share * samples); };
  if (b99 == b50) {
    s.bins.emplace_back(static_cast<std::uint16_t>(b50), w(1));
    return s;
  }
  const std::size_t between = b99 - b50 - 1;
  const double middle = 1 - kAtMedian - kAtP99;
  s.bins.emplace_back(static_cast<std::uint16_t>(b50),
                      w(between == 0 ? kAtMedian + middle : kAtMedian));
  for (std::size_t b = b50 + 1; b < b99; ++b) {
    s.bins.emplace_back(static_cast<std::uint16_t>(b), w(middle / static_cast<double>(between)));
  }
  s.bins.emplace_back(static_cast<std::uint16_t>(b99), w(kAtP99));
  return s;
}

std::vector<peer::BucketStats> export_buckets(const origin::LatencyTracker& latency,
                                              const origin::BucketHealth& health,
                                              origin::SteadyTime now) {
  std::map<std::string, Local> local;
  for (const origin::BucketLatencySummary& b : latency.export_summary(now).buckets) {
    std::string error;
    auto sketch = DecayingSketch::from_summary(b.page, &error);
    if (!sketch || !(sketch->weight() > 0)) continue;
    Local& l = local[b.bucket];
    l.samples = sketch->weight();
    l.p50_us = sketch->quantile(0.5).value_or(0);
    l.p99_us = sketch->quantile(0.99).value_or(0);
  }
  for (const origin::BucketHealthSummary& b : health.export_summary(now).buckets) {
    Local& l = local[b.bucket];
    l.error_rate = b.error_rate;
    l.evidence = b.evidence;
  }
  std::vector<peer::BucketStats> out;
  for (const auto& [name, l] : local) {
    if (name.empty() || name.size() > peer::kMaxBucketNameBytes) continue;
    peer::BucketStats s;
    s.bucket = name;
    s.p50_ms = l.p50_us / 1000.0;
    s.p99_ms = l.p99_us / 1000.0;
    s.error_rate = std::clamp(l.error_rate, 0.0, 1.0);
    s.samples = std::min(l.samples, peer::kMaxStatsWeight);
    s.evidence = std::min(l.evidence, peer::kMaxStatsWeight);
    out.push_back(std::move(s));
  }
  // Most used first: attempts (failures count too), then successful samples, then name.
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.evidence != b.evidence) return a.evidence > b.evidence;
    return a.samples > b.samples;
  });
  if (out.size() > peer::kMaxStatsBuckets) out.resize(peer::kMaxStatsBuckets);
  return out;
}

origin::LatencySummary to_latency_summary(const std::vector<peer::BucketStats>& buckets) {
  origin::LatencySummary out;
  for (const peer::BucketStats& b : buckets) {
    origin::SketchSummary page = synthetic_sketch(b.p50_ms * 1000.0, b.p99_ms * 1000.0, b.samples);
    if (page.bins.empty()) continue;
    out.buckets.push_back({b.bucket, {}, std::move(page)});
  }
  return out;
}

origin::HealthSummary to_health_summary(const std::vector<peer::BucketStats>& buckets) {
  origin::HealthSummary out;
  for (const peer::BucketStats& b : buckets) {
    if (!positive(b.evidence)) continue;
    out.buckets.push_back({b.bucket, b.error_rate, b.evidence});
  }
  return out;
}

BucketGossip::BucketGossip(origin::LatencyTracker& latency, origin::BucketHealth& health,
                           std::string self_id)
    : latency_(latency), health_(health), self_id_(std::move(self_id)) {}

std::vector<peer::BucketStats> BucketGossip::export_buckets(origin::SteadyTime now) const {
  return node::export_buckets(latency_, health_, now);
}

std::size_t BucketGossip::apply(const peer::MembershipView& view, origin::SteadyTime now) {
  std::size_t merged = 0;
  std::map<std::string, std::vector<peer::BucketStats>> next;
  for (const peer::MemberRecord& m : view.members) {
    if (m.id == self_id_) continue;
    if (m.state != peer::MemberState::kAlive && m.state != peer::MemberState::kSuspect) continue;
    const std::vector<peer::BucketStats>& buckets = m.meta.stats.buckets;
    auto it = merged_.find(m.id);
    if (it == merged_.end() || it->second != buckets) {
      auto e = latency_.merge_peer_summary(m.id, to_latency_summary(buckets), now);
      if (!e) e = health_.merge_peer_summary(m.id, to_health_summary(buckets), now);
      if (e) {
        SHOAL_LOG(kWarn, "bucket figures of member " << m.id << " ignored: " << *e);
        latency_.forget_peer(m.id);
        health_.forget_peer(m.id);
      } else {
        ++merged;
      }
    }
    next.emplace(m.id, buckets);
  }
  for (const auto& [id, buckets] : merged_) {
    if (!next.contains(id)) {
      latency_.forget_peer(id);
      health_.forget_peer(id);
    }
  }
  merged_ = std::move(next);
  return merged;
}

}  // namespace shoal::node
