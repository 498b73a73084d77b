// Per-bucket health: an error-rate EWMA, a circuit breaker, and the order in which a request's
// buckets are tried.
//
// Verdicts: each finished page-fetch attempt on a bucket (one S3Client::get, its retries
// included) is a success (kOk), a failure (throttling, 5xx, timeouts, transport errors, malformed
// answers, AccessDenied), or neutral: NoSuchKey, InvalidRange and PreconditionFailed are the
// object's answer, not the bucket's fault, and a cancelled attempt (a hedge's loser) says nothing.
// Neutral verdicts change nothing at all. The caller (origin/page_fetch_attempts.cc) also reports
// as cancelled a timeout of a request whose C0-Config shortened the node's timeouts
// (RequestConfig::client_timeouts): one client's impatience is not the bucket's failure.
//
// Error rate: an exponentially weighted moving average of verdicts (failure 1, success 0) with
// weight ewma_weight per attempt (0.1: about the last 10 attempts), which also decays towards 0
// with half-life error_half_life while no attempt is made, so a bucket nobody tries is eventually
// given another chance.
//
// Circuit breaker (Nygard, "Release It!", 2007): closed; opens after failures_to_open (5)
// consecutive failures; after `cooldown` (30 s) it is half-open: the next attempt on the bucket is
// the probe (only one at a time). A success, probe or not, closes the breaker and clears the error
// rate (the bucket has proven itself); a failure while open (probe or not) restarts the cool-down.
// A neutral probe frees the probe slot with the breaker still half-open.
//
// Order: the request's buckets in their listed (preference) order, duplicates dropped, then
// stably partitioned into three classes:
//   0. healthy, and half-open buckets waiting for their probe (so recovery is tested at the
//      bucket's preference position);
//   1. demoted: error rate >= demote_error_rate (0.5: failing more often than not; from a clean
//      start that takes 7 failures in a row, so an outage trips the breaker after 5 first and
//      recovers through its probe, while a flaky bucket without 5 failures in a row is demoted
//      here), or slow: page-time p50 above slow_factor times
//      the best p50 among the request's buckets and above it by more than slow_margin (both with
//      at least min_latency_samples samples; needs a LatencyTracker);
//   2. breaker open, or half-open with its probe already out.
// Every listed bucket stays in the order: a bucket with an open breaker is tried last, not never.
//
// Peers: export_summary() gives each bucket's error rate and its evidence (decayed attempt
// count); merge_peer_summary() keeps a peer's latest. When this node has less than
// kMinLocalEvidence evidence for a bucket, the error rate used for ordering is the
// evidence-weighted mean of its own and its peers' rates. Breaker state is never shared: each node
// probes for itself.
//
// Thread rules: thread-safe (one mutex). Times are passed in (steady clock), for tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "origin/latency_tracker.h"
#include "ring/base/outcome.h"

namespace shoal::origin {

enum class BreakerState { kClosed, kHalfOpen, kOpen };

// "closed", "half_open", "open".
std::string_view breaker_state_name(BreakerState s);

enum class Verdict { kSuccess, kFailure, kNeutral };

// The health verdict of an attempt that ended with `o` (see the file comment).
Verdict health_verdict(base::Outcome o);

struct HealthOptions {
  int failures_to_open = 5;                          // consecutive failures
  std::chrono::milliseconds cooldown{30000};         // open -> half-open
  double ewma_weight = 0.1;                          // per attempt, in (0, 1]
  std::chrono::milliseconds error_half_life{60000};  // idle decay of the error rate
  double demote_error_rate = 0.5;  // above 1 - 0.9^5: an outage opens the breaker first
  double slow_factor = 4.0;
  std::chrono::milliseconds slow_margin{20};
  double min_latency_samples = 20;
  std::size_t max_buckets = 256;  // the least recently used bucket is forgotten beyond this
  std::size_t max_peers = 64;

  // "health: <field> ..." for an unusable setting, else nullopt.
  std::optional<std::string> validate() const;
};

struct BucketHealthSnapshot {
  std::string bucket;
  BreakerState breaker = BreakerState::kClosed;
  double error_rate = 0;  // this node's own EWMA, decayed to now
  int consecutive_failures = 0;
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::uint64_t breaker_opened = 0;  // times the breaker opened
};

struct BucketHealthSummary {
  std::string bucket;
  double error_rate = 0;  // in [0, 1]
  double evidence = 0;    // decayed attempt count behind it, >= 0
};

struct HealthSummary {
  std::vector<BucketHealthSummary> buckets;
};

class BucketHealth {
 public:
  // Below this local evidence (decayed attempts), peers' error rates are blended in.
  static constexpr double kMinLocalEvidence = 5;

  // `latency` (may be null: no latency demotion) must outlive this object.
  explicit BucketHealth(HealthOptions opts = {}, const LatencyTracker* latency = nullptr);

  // The order in which to try `buckets` now (see the file comment).
  std::vector<std::string> order(const std::vector<std::string>& buckets, SteadyTime now) const;

  BreakerState state(const std::string& bucket, SteadyTime now) const;

  // An attempt on `bucket` starts. Returns true when it is the half-open probe (pass that back to
  // end_attempt).
  bool begin_attempt(const std::string& bucket, SteadyTime now);
  // The attempt ended with `outcome`.
  void end_attempt(const std::string& bucket, base::Outcome outcome, bool probe, SteadyTime now);

  // This node's figures for one bucket (nullopt when it has none) or for all, in name order.
  std::optional<BucketHealthSnapshot> snapshot(const std::string& bucket, SteadyTime now) const;
  std::vector<BucketHealthSnapshot> snapshot_all(SteadyTime now) const;

  // The error rate used for ordering: local, or blended with peers' (see the file comment).
  double effective_error_rate(const std::string& bucket, SteadyTime now) const;

  // This node's error rates and evidence, for every bucket with any evidence left.
  HealthSummary export_summary(SteadyTime now) const;
  // Keeps `summary` as peer `peer`'s current figures. Returns a reason and changes nothing when
  // the peer id or a bucket name is empty, a bucket is listed twice, there are more than
  // max_buckets buckets, or a rate is outside [0, 1] or evidence negative or not finite.
  std::optional<std::string> merge_peer_summary(const std::string& peer,
                                                const HealthSummary& summary, SteadyTime now);
  void forget_peer(const std::string& peer);

  // Peers' figures for `bucket` alone, decayed to `now`: their evidence-weighted mean error
  // rate, total evidence, how many peers reported it, and whether effective_error_rate() blends
  // them in now (local evidence below kMinLocalEvidence); nullopt when no peer has any evidence.
  struct PeerRate {
    double error_rate = 0;
    double evidence = 0;
    std::size_t peers = 0;
    bool blended = false;
  };
  std::optional<PeerRate> peer_rate(const std::string& bucket, SteadyTime now) const;
  // Buckets some peer has figures for, in name order.
  std::vector<std::string> peer_buckets() const;

 private:
  struct Entry {
    double error_rate = 0;
    double evidence = 0;
    SteadyTime rate_at{};  // when error_rate and evidence were last updated
    int consecutive = 0;
    bool open = false;
    bool probe_out = false;
    SteadyTime opened_at{};
    SteadyTime last_used{};
    std::uint64_t successes = 0, failures = 0, opened = 0;
  };
  struct PeerFigures {
    double error_rate = 0;
    double evidence = 0;
    SteadyTime at{};
  };

  double decay_factor(SteadyTime from, SteadyTime to) const;
  BreakerState state_of(const Entry& e, SteadyTime now) const;
  double local_rate(const Entry& e, SteadyTime now) const;
  double blended_rate(const std::string& bucket, const Entry* e, SteadyTime now) const;
  PeerRate peers_of(const std::string& bucket, SteadyTime now) const;
  int order_class(const std::string& bucket, SteadyTime now, double p50_us,
                  double best_p50_us) const;
  double page_p50_us(const std::string& bucket, SteadyTime now) const;
  const Entry* find(const std::string& bucket) const;
  Entry& entry(const std::string& bucket, SteadyTime now);
  void record_verdict(Entry& e, Verdict v, SteadyTime now) const;

  const HealthOptions opts_;
  const LatencyTracker* latency_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> buckets_;
  std::map<std::string, std::map<std::string, PeerFigures>> peers_;
};

}  // namespace shoal::origin
