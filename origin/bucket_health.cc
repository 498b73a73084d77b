// BucketHealth: verdicts, error-rate EWMA, circuit breaker and bucket order; see bucket_health.h.
#include "origin/bucket_health.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace shoal::origin {

std::string_view breaker_state_name(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kHalfOpen:
      return "half_open";
    case BreakerState::kOpen:
      return "open";
  }
  return "unknown";
}

Verdict health_verdict(base::Outcome o) {
  switch (o) {
    case base::Outcome::kOk:
      return Verdict::kSuccess;
    case base::Outcome::kNotFound:
    case base::Outcome::kInvalidRange:
    case base::Outcome::kPreconditionFailed:
    case base::Outcome::kCancelled:
      return Verdict::kNeutral;
    case base::Outcome::kAccessDenied:
    case base::Outcome::kThrottled:
    case base::Outcome::kServerError:
    case base::Outcome::kTimeout:
    case base::Outcome::kMalformed:
    case base::Outcome::kTransportError:
      return Verdict::kFailure;
  }
  return Verdict::kFailure;
}

std::optional<std::string> HealthOptions::validate() const {
  if (failures_to_open < 1) return std::string("health: failures_to_open must be >= 1");
  if (cooldown.count() < 1) return std::string("health: cooldown must be >= 1 ms");
  if (!(ewma_weight > 0 && ewma_weight <= 1)) {
    return std::string("health: ewma_weight must be in (0, 1]");
  }
  if (error_half_life.count() < 1) return std::string("health: error_half_life must be >= 1 ms");
  if (!(demote_error_rate > 0 && demote_error_rate <= 1)) {
    return std::string("health: demote_error_rate must be in (0, 1]");
  }
  if (!(slow_factor >= 1)) return std::string("health: slow_factor must be >= 1");
  if (max_buckets == 0 || max_peers == 0) {
    return std::string("health: max_buckets and max_peers must be > 0");
  }
  return std::nullopt;
}

BucketHealth::BucketHealth(HealthOptions opts, const LatencyTracker* latency)
    : opts_(opts), latency_(latency) {}

// 2^(-(to - from) / error_half_life); 1 when `to` is not after `from`.
double BucketHealth::decay_factor(SteadyTime from, SteadyTime to) const {
  if (to <= from) return 1;
  const double elapsed = std::chrono::duration<double, std::milli>(to - from).count();
  return std::exp2(-elapsed / static_cast<double>(opts_.error_half_life.count()));
}

BreakerState BucketHealth::state_of(const Entry& e, SteadyTime now) const {
  if (!e.open) return BreakerState::kClosed;
  return now - e.opened_at >= opts_.cooldown ? BreakerState::kHalfOpen : BreakerState::kOpen;
}

double BucketHealth::local_rate(const Entry& e, SteadyTime now) const {
  return e.error_rate * decay_factor(e.rate_at, now);
}

const BucketHealth::Entry* BucketHealth::find(const std::string& bucket) const {
  auto it = buckets_.find(bucket);
  return it == buckets_.end() ? nullptr : &it->second;
}

BucketHealth::Entry& BucketHealth::entry(const std::string& bucket, SteadyTime now) {
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) {
    if (buckets_.size() >= opts_.max_buckets) {
      auto oldest = std::min_element(
          buckets_.begin(), buckets_.end(),
          [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
      buckets_.erase(oldest);
    }
    it = buckets_.emplace(bucket, Entry{}).first;
    it->second.rate_at = now;
  }
  it->second.last_used = now;
  return it->second;
}

double BucketHealth::blended_rate(const std::string& bucket, const Entry* e, SteadyTime now) const {
  const double own_evidence = e ? e->evidence * decay_factor(e->rate_at, now) : 0;
  const double own_rate = e ? local_rate(*e, now) : 0;
  if (own_evidence >= kMinLocalEvidence) return own_rate;
  const PeerRate p = peers_of(bucket, now);
  const double evidence = own_evidence + p.evidence;
  return evidence > 0 ? (own_rate * own_evidence + p.error_rate * p.evidence) / evidence : own_rate;
}

// Peers' decayed figures for `bucket` (all zero when none has evidence). Caller holds mu_.
BucketHealth::PeerRate BucketHealth::peers_of(const std::string& bucket, SteadyTime now) const {
  PeerRate out;
  double weighted = 0;
  for (const auto& [peer, figures] : peers_) {
    auto it = figures.find(bucket);
    if (it == figures.end()) continue;
    const double f = decay_factor(it->second.at, now);
    weighted += it->second.error_rate * f * it->second.evidence * f;
    out.evidence += it->second.evidence * f;
    ++out.peers;
  }
  if (out.evidence > 0) out.error_rate = weighted / out.evidence;
  return out;
}

std::optional<BucketHealth::PeerRate> BucketHealth::peer_rate(const std::string& bucket,
                                                              SteadyTime now) const {
  std::lock_guard lock(mu_);
  PeerRate out = peers_of(bucket, now);
  if (!(out.evidence > 0)) return std::nullopt;
  const Entry* e = find(bucket);
  out.blended = !e || e->evidence * decay_factor(e->rate_at, now) < kMinLocalEvidence;
  return out;
}

std::vector<std::string> BucketHealth::peer_buckets() const {
  std::lock_guard lock(mu_);
  std::set<std::string> names;
  for (const auto& [peer, figures] : peers_) {
    for (const auto& [name, f] : figures) names.insert(name);
  }
  return {names.begin(), names.end()};
}

double BucketHealth::effective_error_rate(const std::string& bucket, SteadyTime now) const {
  std::lock_guard lock(mu_);
  return blended_rate(bucket, find(bucket), now);
}

double BucketHealth::page_p50_us(const std::string& bucket, SteadyTime now) const {
  if (latency_ == nullptr) return std::numeric_limits<double>::quiet_NaN();
  auto est = latency_->estimate(bucket, LatencyKind::kPage, 0.5, now);
  if (!est || est->samples < opts_.min_latency_samples) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return static_cast<double>(est->value.count());
}

int BucketHealth::order_class(const std::string& bucket, SteadyTime now, double p50_us,
                              double best_p50_us) const {
  const Entry* e = find(bucket);
  const BreakerState st = e ? state_of(*e, now) : BreakerState::kClosed;
  if (st == BreakerState::kOpen || (st == BreakerState::kHalfOpen && e->probe_out)) return 2;
  if (st == BreakerState::kHalfOpen) return 0;
  if (blended_rate(bucket, e, now) >= opts_.demote_error_rate) return 1;
  const double margin_us = static_cast<double>(opts_.slow_margin.count()) * 1000.0;
  if (p50_us > opts_.slow_factor * best_p50_us && p50_us - best_p50_us > margin_us) return 1;
  return 0;
}

std::vector<std::string> BucketHealth::order(const std::vector<std::string>& buckets,
                                             SteadyTime now) const {
  std::vector<std::string> distinct;
  std::set<std::string> seen;
  for (const std::string& b : buckets) {
    if (seen.insert(b).second) distinct.push_back(b);
  }
  // Latencies first, from the tracker (its own lock; NaN: too few samples), then the classes
  // under our lock.
  std::vector<double> p50s;
  double best = std::numeric_limits<double>::infinity();
  for (const std::string& b : distinct) {
    p50s.push_back(page_p50_us(b, now));
    if (!std::isnan(p50s.back())) best = std::min(best, p50s.back());
  }
  std::lock_guard lock(mu_);
  std::vector<std::pair<int, std::string>> classed;
  for (std::size_t i = 0; i < distinct.size(); ++i) {
    const int c = order_class(distinct[i], now, p50s[i], best);
    classed.emplace_back(c, std::move(distinct[i]));
  }
  std::stable_sort(classed.begin(), classed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [c, b] : classed) out.push_back(std::move(b));
  return out;
}

BreakerState BucketHealth::state(const std::string& bucket, SteadyTime now) const {
  std::lock_guard lock(mu_);
  const Entry* e = find(bucket);
  return e ? state_of(*e, now) : BreakerState::kClosed;
}

bool BucketHealth::begin_attempt(const std::string& bucket, SteadyTime now) {
  std::lock_guard lock(mu_);
  Entry& e = entry(bucket, now);
  if (state_of(e, now) != BreakerState::kHalfOpen || e.probe_out) return false;
  e.probe_out = true;
  return true;
}

// Folds one success or failure into the decayed EWMA and evidence.
void BucketHealth::record_verdict(Entry& e, Verdict v, SteadyTime now) const {
  const double f = decay_factor(e.rate_at, now);
  const double x = v == Verdict::kFailure ? 1.0 : 0.0;
  e.error_rate = e.error_rate * f * (1 - opts_.ewma_weight) + opts_.ewma_weight * x;
  e.evidence = e.evidence * f + 1;
  e.rate_at = std::max(e.rate_at, now);
}

void BucketHealth::end_attempt(const std::string& bucket, base::Outcome outcome, bool probe,
                               SteadyTime now) {
  const Verdict v = health_verdict(outcome);
  std::lock_guard lock(mu_);
  Entry& e = entry(bucket, now);
  if (probe) e.probe_out = false;
  if (v == Verdict::kNeutral) return;
  record_verdict(e, v, now);
  if (v == Verdict::kSuccess) {
    e.successes++;
    e.consecutive = 0;
    if (e.open) {
      e.open = false;
      e.error_rate = 0;
    }
    return;
  }
  e.failures++;
  e.consecutive++;
  if (e.open) {
    e.opened_at = now;
  } else if (e.consecutive >= opts_.failures_to_open) {
    e.open = true;
    e.opened_at = now;
    e.opened++;
  }
}

std::optional<BucketHealthSnapshot> BucketHealth::snapshot(const std::string& bucket,
                                                           SteadyTime now) const {
  std::lock_guard lock(mu_);
  const Entry* e = find(bucket);
  if (e == nullptr) return std::nullopt;
  return BucketHealthSnapshot{bucket,         state_of(*e, now), local_rate(*e, now),
                              e->consecutive, e->successes,      e->failures,
                              e->opened};
}

std::vector<BucketHealthSnapshot> BucketHealth::snapshot_all(SteadyTime now) const {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : buckets_) names.push_back(name);
  }
  std::vector<BucketHealthSnapshot> out;
  for (const std::string& name : names) {
    if (auto s = snapshot(name, now)) out.push_back(std::move(*s));
  }
  return out;
}

HealthSummary BucketHealth::export_summary(SteadyTime now) const {
  std::lock_guard lock(mu_);
  HealthSummary out;
  for (const auto& [name, e] : buckets_) {
    const double evidence = e.evidence * decay_factor(e.rate_at, now);
    if (evidence <= 0) continue;
    out.buckets.push_back({name, local_rate(e, now), evidence});
  }
  return out;
}

std::optional<std::string> BucketHealth::merge_peer_summary(const std::string& peer,
                                                            const HealthSummary& summary,
                                                            SteadyTime now) {
  if (peer.empty()) return std::string("empty peer id");
  if (summary.buckets.size() > opts_.max_buckets) {
    return "more than " + std::to_string(opts_.max_buckets) + " buckets";
  }
  std::map<std::string, PeerFigures> parsed;
  for (const BucketHealthSummary& b : summary.buckets) {
    if (b.bucket.empty()) return std::string("empty bucket name");
    if (!(b.error_rate >= 0 && b.error_rate <= 1)) {
      return "bucket " + b.bucket + ": error rate outside [0, 1]";
    }
    if (!std::isfinite(b.evidence) || b.evidence < 0) {
      return "bucket " + b.bucket + ": evidence negative or not finite";
    }
    if (!parsed.emplace(b.bucket, PeerFigures{b.error_rate, b.evidence, now}).second) {
      return "bucket " + b.bucket + " twice";
    }
  }
  std::lock_guard lock(mu_);
  if (!peers_.contains(peer) && peers_.size() >= opts_.max_peers) {
    // The stalest peer: the one whose newest figures are oldest.
    auto newest = [](const std::map<std::string, PeerFigures>& m) {
      SteadyTime t{};
      for (const auto& [b, f] : m) t = std::max(t, f.at);
      return t;
    };
    auto stalest = std::min_element(
        peers_.begin(), peers_.end(),
        [&](const auto& a, const auto& b) { return newest(a.second) < newest(b.second); });
    peers_.erase(stalest);
  }
  peers_[peer] = std::move(parsed);
  return std::nullopt;
}

void BucketHealth::forget_peer(const std::string& peer) {
  std::lock_guard lock(mu_);
  peers_.erase(peer);
}

}  // namespace shoal::origin
