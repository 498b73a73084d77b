// PageFetch: bucket order, fall-through, hedging and the hedge budget; see page_fetch.h.
//
// The fetch itself (attempts, hedges, resumes) is in page_fetch_attempts.cc.
#include "origin/page_fetch.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "origin/page_fetch_core.h"

namespace shoal::origin {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::string_view served_as_name(ServedAs s) {
  switch (s) {
    case ServedAs::kPrimary:
      return "primary";
    case ServedAs::kHedgedWon:
      return "hedged_won";
    case ServedAs::kFallback:
      return "fallback";
  }
  return "unknown";
}

std::optional<std::string> PageFetchOptions::validate() const {
  if (!(hedge_quantile >= 0 && hedge_quantile < 1)) {
    return "hedge_quantile: must be 0 (off) or in (0, 1), got " + std::to_string(hedge_quantile);
  }
  if (auto e = HedgeBudget::validate(hedge_budget, budget_window)) return "hedge_budget " + *e;
  if (!(hedge_min_samples >= 1)) return std::string("hedge_min_samples: must be >= 1");
  if (min_hedge_delay.count() < 0) return std::string("min_hedge_delay: must be >= 0 ms");
  if (!(max_delay_over_median == 0 || max_delay_over_median >= 1)) {
    return std::string("max_delay_over_median: must be 0 (no cap) or >= 1");
  }
  if (auto e = latency.validate()) return e;
  return health.validate();
}

std::optional<std::chrono::microseconds> hedge_delay(const LatencyTracker& latency,
                                                     const std::string& bucket,
                                                     const PageFetchOptions& opts, SteadyTime now) {
  if (opts.hedge_quantile <= 0) return std::nullopt;
  auto est = latency.estimate(bucket, LatencyKind::kFirstByte, opts.hedge_quantile, now);
  if (!est || est->samples < opts.hedge_min_samples) return std::nullopt;
  std::chrono::microseconds delay = est->value;
  if (opts.max_delay_over_median > 0) {
    if (auto median = latency.estimate(bucket, LatencyKind::kFirstByte, 0.5, now)) {
      const double cap = opts.max_delay_over_median * static_cast<double>(median->value.count());
      delay = std::min(delay, std::chrono::microseconds(static_cast<std::int64_t>(cap)));
    }
  }
  return std::max<std::chrono::microseconds>(delay, opts.min_hedge_delay);
}

PageFetch::PageFetch(boost::asio::io_context& loop, S3Client& client, PageFetchOptions opts) {
  if (auto e = opts.validate()) throw std::invalid_argument(*e);
  core_ = std::make_shared<Core>(loop, client, opts);
}

PageFetch::~PageFetch() = default;

std::vector<BucketReport> PageFetch::report() const {
  const SteadyTime now = Clock::now();
  std::set<std::string> names;
  for (std::string& b : core_->latency.buckets()) names.insert(std::move(b));
  for (auto& h : core_->health.snapshot_all(now)) names.insert(std::move(h.bucket));
  for (std::string& b : core_->latency.peer_buckets()) names.insert(std::move(b));
  for (std::string& b : core_->health.peer_buckets()) names.insert(std::move(b));
  {
    std::lock_guard lock(core_->mu);
    for (const auto& [b, c] : core_->counters) names.insert(b);
  }
  std::vector<BucketReport> out;
  for (const std::string& name : names) {
    BucketReport r;
    r.bucket = name;
    r.latency_samples = core_->latency.local_samples(name, now);
    auto q = [&](LatencyKind kind, double quantile) -> std::optional<std::chrono::microseconds> {
      auto est = core_->latency.estimate(name, kind, quantile, now);
      if (!est) return std::nullopt;
      if (kind == LatencyKind::kPage && est->with_peers) r.latency_with_peers = true;
      return est->value;
    };
    r.first_byte_p50 = q(LatencyKind::kFirstByte, 0.5);
    r.first_byte_p99 = q(LatencyKind::kFirstByte, 0.99);
    r.page_p50 = q(LatencyKind::kPage, 0.5);
    r.page_p99 = q(LatencyKind::kPage, 0.99);
    r.hedge_delay = core_->hedge_delay(name, now);
    if (auto h = core_->health.snapshot(name, now)) {
      r.error_rate = h->error_rate;
      r.breaker = h->breaker;
      r.consecutive_failures = h->consecutive_failures;
    }
    r.effective_error_rate = core_->health.effective_error_rate(name, now);
    if (auto p50 = core_->latency.peer_estimate(name, LatencyKind::kPage, 0.5, now)) {
      r.peer_latency_samples = p50->samples;
      r.peer_page_p50 = p50->value;
      if (auto p99 = core_->latency.peer_estimate(name, LatencyKind::kPage, 0.99, now)) {
        r.peer_page_p99 = p99->value;
      }
    }
    if (auto p = core_->health.peer_rate(name, now)) {
      r.peer_count = p->peers;
      r.peer_error_rate = p->error_rate;
      r.peer_evidence = p->evidence;
      r.errors_with_peers = p->blended;
    }
    const HedgeCounters c = core_->counters_of(name);
    r.hedges_sent = c.sent;
    r.hedges_won = c.won;
    r.hedges_refused = c.refused;
    out.push_back(std::move(r));
  }
  return out;
}

std::uint64_t PageFetch::hedges_sent() const {
  return core_->budget.granted();
}
std::uint64_t PageFetch::hedges_refused() const {
  return core_->budget.refused();
}
S3Client& PageFetch::client() {
  return core_->client;
}
LatencyTracker& PageFetch::latency() {
  return core_->latency;
}
BucketHealth& PageFetch::health() {
  return core_->health;
}
const PageFetchOptions& PageFetch::options() const {
  return core_->opts;
}

}  // namespace shoal::origin
