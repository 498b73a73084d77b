// How long a forward may take before the next member of the page's ranking is asked too, and in
// which order the members are asked (node/forwarding.h, node/forward_race.h).
//
// First-byte deadline: per peer, the latencies from sending a ForwardRequest to its response head
// (the last kWindow answers). The deadline is their `quantile` (default p99), clamped to
// [floor, ceiling]; a peer with fewer than kMinSamples answers gets the ceiling. A forward whose
// head has not come by its deadline is a forward timeout (counted for that peer); it is hedged
// when the hedge budget grants it, and always once it waited the ceiling.
//
// Stall deadline: a page stream whose next ForwardData frame has not come for `stall` is stalled
// (counted as a forward timeout of that peer) and resumed from the next member.
//
// Ranking: alive members first, in rendezvous rank order, then suspect ones in rank order
// (rank_alive_first): a member that is suspected is still asked, but only after the others. A
// member that left a forward from here without a head for the whole ceiling in the last
// kSlowFor (and has not answered a head since) ranks with the suspects (slow()): this node's own
// evidence of a gray failure, before SWIM's probes reach a suspicion. (Passing the quantile
// deadline alone does not: that is the tail a hedge cuts, not a failure.)
//
// Thread rules: ForwardPolicy is thread-safe (one mutex; every call is short).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace shoal::node {

struct ForwardDeadlineConfig {
  std::chrono::milliseconds floor{50};      // --forward-deadline-min-ms
  std::chrono::milliseconds ceiling{1000};  // --forward-deadline-max-ms
  std::chrono::milliseconds stall{1000};    // --forward-stall-ms
  double quantile = 0.99;                   // of recent first-byte latencies

  // "--forward-deadline-min-ms: ..." (the flag at fault) for an unusable setting, else nullopt:
  // floor >= 1 ms, ceiling >= floor and <= 60 s, stall in [10 ms, 60 s], quantile in (0, 1].
  std::optional<std::string> validate() const;
};

// The deadline for `samples` (first-byte latencies, any order) under `config`: the ceiling with
// fewer than kMinSamples samples, else the quantile (nearest rank) clamped to [floor, ceiling].
std::chrono::milliseconds first_byte_deadline(std::vector<std::chrono::microseconds> samples,
                                              const ForwardDeadlineConfig& config);

// A member of a page's ranking, as far as the order of asking goes.
struct RankedMember {
  std::size_t index = 0;  // its place in the caller's list
  bool suspect = false;
};
// `ranked` (in rendezvous rank order) reordered: alive members first, then suspect ones, each
// group in rank order. Returns the indices.
std::vector<std::size_t> rank_alive_first(const std::vector<RankedMember>& ranked);

// Per-peer counts for /stats and /metrics.
struct ForwardPeerCounts {
  std::uint64_t timeouts = 0;  // forwards past their first-byte or stall deadline
  std::uint64_t hedges = 0;    // forwards sent to the next member because this one was slow
  std::uint64_t resumes = 0;   // stalled streams from this peer resumed from another member
  std::chrono::milliseconds deadline{0};  // its current first-byte deadline
};

class ForwardPolicy {
 public:
  static constexpr std::size_t kWindow = 128;    // latencies kept per peer
  static constexpr std::size_t kMinSamples = 8;  // below this, the ceiling is the deadline
  static constexpr std::chrono::seconds kSlowFor{5};

  explicit ForwardPolicy(ForwardDeadlineConfig config) : config_(config) {}

  const ForwardDeadlineConfig& config() const { return config_; }
  // Records a response head from `peer` (member id) `latency` after its request was sent; the
  // peer is no longer slow.
  void record(const std::string& peer, std::chrono::microseconds latency);
  // Whether a forward to `peer` timed out in the last kSlowFor with no head from it since.
  bool slow(const std::string& peer) const;
  // The first-byte deadline for a forward to `peer` now.
  std::chrono::milliseconds deadline(const std::string& peer) const;
  // A forward to `peer` passed its first-byte deadline, or its stream stalled.
  void count_timeout(const std::string& peer);
  // A forward to `peer` sent no head within the ceiling: the peer is slow for kSlowFor.
  void mark_slow(const std::string& peer);
  void count_hedge(const std::string& peer);
  void count_resume(const std::string& peer);
  // Every peer with a sample or a count, by id.
  std::map<std::string, ForwardPeerCounts> counts() const;

 private:
  struct Peer {
    std::deque<std::chrono::microseconds> latencies;
    ForwardPeerCounts counts;
    std::chrono::steady_clock::time_point slow_until{};
  };
  const ForwardDeadlineConfig config_;
  mutable std::mutex mu_;
  std::map<std::string, Peer> peers_;
};

}  // namespace shoal::node
