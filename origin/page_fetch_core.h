// PageFetch's shared state (origin/page_fetch.h): options, latency, bucket health, the hedge
// budget and hedge counters. Private to origin/page_fetch*.cc.
//
// Thread rules: latency, health and budget are thread-safe; counters are guarded by `mu`.
#pragma once

#include <boost/asio/io_context.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "origin/page_fetch.h"

namespace shoal::origin {

inline constexpr std::size_t kMaxCounterBuckets = 256;  // more buckets share "_other" counters
inline const std::string kOtherBucket = "_other";

struct HedgeCounters {
  std::uint64_t sent = 0, won = 0, refused = 0;
};

struct PageFetch::Core {
  Core(boost::asio::io_context& l, S3Client& c, const PageFetchOptions& o)
      : loop(l),
        client(c),
        opts(o),
        latency(o.latency),
        health(o.health, &latency),
        budget(o.hedge_budget, o.budget_window) {}

  // Adds one to a hedge counter of `bucket` (or of "_other" past kMaxCounterBuckets buckets).
  void count(const std::string& bucket, std::uint64_t HedgeCounters::*field) {
    std::lock_guard lock(mu);
    auto it = counters.find(bucket);
    if (it == counters.end()) {
      const bool full = counters.size() >= kMaxCounterBuckets;
      it = counters.try_emplace(full ? kOtherBucket : bucket).first;
    }
    (it->second.*field)++;
  }

  HedgeCounters counters_of(const std::string& bucket) const {
    std::lock_guard lock(mu);
    auto it = counters.find(bucket);
    return it == counters.end() ? HedgeCounters{} : it->second;
  }

  std::optional<std::chrono::microseconds> hedge_delay(const std::string& bucket,
                                                       SteadyTime now) const {
    return origin::hedge_delay(latency, bucket, opts, now);
  }

  boost::asio::io_context& loop;
  S3Client& client;
  const PageFetchOptions opts;
  LatencyTracker latency;
  BucketHealth health;
  HedgeBudget budget;
  mutable std::mutex mu;  // guards counters
  // Fetches not finished yet, for PageFetch::cancel (origin loop only).
  std::map<std::uint64_t, std::weak_ptr<Fetch>> live;
  std::map<std::string, HedgeCounters> counters;
};

}  // namespace shoal::origin
