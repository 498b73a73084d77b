// The cluster's placement before its latest change, kept for a while so that a page's new owner
// can take the page from the member that held it (node/cluster.h, PageRouter::previous_owner)
// instead of fetching it from the origin again.
//
// observe() is fed every membership view (its epoch and ring). When the epoch changes, the ring
// that was current becomes the previous one, except:
//   - within kSettle of the last change (a burst, e.g. a joiner learning its peers one push-pull
//     after another, or a leave right after a drain's weight change) the previous ring stays the
//     one from before the burst;
//   - a ring holding no member but this node (a node that just started, before it learnt its
//     peers) is no placement to ask anyone about: the current ring without this node stands in
//     for it (a joiner's peers held its pages before it came).
// The previous ring is forgotten kHold after the change that made it previous.
//
// Thread rules: thread-safe (one mutex); observe() is cheap when the epoch did not change.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "ring/rendezvous.h"

namespace shoal::node {

class RingHistory {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kSettle{500};
  static constexpr std::chrono::minutes kHold{10};

  explicit RingHistory(std::string self_id) : self_id_(std::move(self_id)) {}

  // The view with `epoch` and `ring` (may be null: an empty ring) is current as of `now`.
  void observe(std::uint64_t epoch, std::shared_ptr<const ring::Ring> ring, Clock::time_point now);
  // The ring before the latest change, or nullptr when there is none (no change seen yet, or
  // the change was more than kHold before `now`).
  std::shared_ptr<const ring::Ring> previous(Clock::time_point now) const;

 private:
  bool only_self(const ring::Ring* r) const;

  const std::string self_id_;
  mutable std::mutex mu_;
  bool seen_ = false;
  std::uint64_t epoch_ = 0;
  std::shared_ptr<const ring::Ring> current_;
  std::shared_ptr<const ring::Ring> raw_previous_;  // as it was
  std::shared_ptr<const ring::Ring> previous_;      // what previous() answers
  Clock::time_point changed_at_{};
};

}  // namespace shoal::node
