// What a change of the ring would move: which share of the key space each member owns now and
// after, and which share changes owner, measured on a fixed sample of hashes (the "what if"
// behind GET /admin/ownership?simulate_add=...&simulate_remove=..., shoalctl ownership).
//
// The sample is the first `samples` values of SplitMix64 (Steele, Lea, Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014; sample_hash() below): deterministic, so the same
// rings always give the same estimate, and spread evenly over the 64-bit hash space, so a share
// measured on n samples is within a few sqrt(p (1 - p) / n) of the true share p.
//
// Pure: no I/O, no locks, no global state; safe from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ring/rendezvous.h"

namespace shoal::ring {

// The i-th sample hash: SplitMix64's output for the counter value i.
std::uint64_t sample_hash(std::uint64_t i);

// Counts over the sample; indices are those of before.members() and after.members().
struct MoveEstimate {
  std::size_t samples = 0;
  std::vector<std::uint64_t> owned_before;  // per member of `before`: samples it owns
  std::vector<std::uint64_t> moved_out;     // per member of `before`: of those, samples whose
                                            // owner after the change has another id
  std::vector<std::uint64_t> owned_after;   // per member of `after`: samples it owns

  // The share of the key space that changes owner: the sum over the members of `before` of
  // moved_out[i] / samples (added in member order). 0 when samples is 0.
  double moved_fraction() const;
  // The share of member i's keys that leave it: moved_out[i] / owned_before[i]; 0 when it owns
  // no sample.
  double moves_out_fraction(std::size_t i) const;
  // Member i's measured share after the change: owned_after[i] / samples; 0 when samples is 0.
  double sampled_share_after(std::size_t i) const;
};

// Places sample_hash(0) .. sample_hash(samples - 1) on `before` and on `after` and counts
// owners (by member id: a member whose weight changes keeps the keys it still wins). Defined
// for empty rings: on an empty `before` nothing is owned or moved; on an empty `after` every
// key owned before moves (it has no owner after the change). Costs 2 * samples owner() calls.
MoveEstimate estimate_moves(const Ring& before, const Ring& after, std::size_t samples);

}  // namespace shoal::ring
