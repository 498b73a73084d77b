// ProbeOrder: SWIM's randomized round-robin choice of the member to probe next (Das et al. 2002,
// section 4.3; memberlist's probe index). Members are probed in passes. A pass is the members
// eligible when it begins, in a fresh random order; each is offered once in the pass, in that
// order, and one that is no longer eligible when its turn comes (dead, left, removed) is
// skipped. A member that joins during a pass is inserted at a uniformly random place among those
// not offered yet, so it is probed in the same pass. Hence, among N members that stay eligible,
// each is probed within 2N - 1 probes of any moment, whatever the random choices (SWIM's bound).
//
// Pure (no I/O, no clocks); the caller supplies the random generator. One thread at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace shoal::peer {

class ProbeOrder {
 public:
  // Whether member `id` may be probed now.
  using Eligible = std::function<bool(const std::string& id)>;
  // Every member that may be probed now, in any fixed order (the pass order is shuffled).
  using Members = std::function<std::vector<std::string>()>;

  // Inserts `id` at a uniformly random place among the members not offered yet in this pass
  // (from the next one up to after the last one).
  void insert(std::string id, std::mt19937_64& rng);

  // The next member of this pass for which `eligible` holds. When the pass is used up, begins a
  // new one: members() shuffled. nullopt when members() is empty.
  std::optional<std::string> next(const Eligible& eligible, const Members& members,
                                  std::mt19937_64& rng);

  // Members left to offer in this pass (eligible or not).
  std::size_t remaining() const { return order_.size() - index_; }

 private:
  std::vector<std::string> order_;
  std::size_t index_ = 0;  // the next member of order_ to offer
};

}  // namespace shoal::peer
