// The hedge budget: caps hedged (extra) origin requests at a fraction of the origin requests
// made over a sliding window, so hedging can never multiply the load on a slow origin.
//
// The idea is Finagle's RetryBudget (twitter/finagle, "Retry budgets": a ratio of retries to
// requests over a time window) applied to hedges. The window is `window` one-second slots: the
// current second and the window-1 before it. A hedge is granted when
//   hedges in the window + 1 <= ratio * requests in the window,
// where requests are the non-hedge attempts recorded with record_request() (so with ratio 0.05 a
// hedge needs 20 requests in the window, and the extra load stays <= 5% in every window). There is
// no minimum allowance: a node with little traffic hedges little.
//
// Thread rules: thread-safe (one mutex). Times are passed in (steady clock), for tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "origin/latency_tracker.h"

namespace shoal::origin {

class HedgeBudget {
 public:
  // `ratio` in [0, 1] (0: no hedge is ever granted); `window` >= 1 s. `epoch` anchors the
  // one-second slots.
  HedgeBudget(double ratio, std::chrono::seconds window, SteadyTime epoch = SteadyTime{});

  // A non-hedge origin request (primary or fallback attempt) was made.
  void record_request(SteadyTime now);
  // True, and the hedge is counted, when the budget allows one more hedge now; false (counted as
  // refused) otherwise.
  bool try_acquire(SteadyTime now);

  std::uint64_t requests_in_window(SteadyTime now) const;
  std::uint64_t hedges_in_window(SteadyTime now) const;
  std::uint64_t granted() const;  // since construction
  std::uint64_t refused() const;  // since construction

  // "ratio: ..." or "window: ...", else nullopt.
  static std::optional<std::string> validate(double ratio, std::chrono::seconds window);

 private:
  struct Slot {
    std::int64_t second = -1;
    std::uint64_t requests = 0;
    std::uint64_t hedges = 0;
  };
  std::int64_t second_of(SteadyTime t) const;
  Slot& slot(std::int64_t second);
  template <typename Field>
  std::uint64_t sum(std::int64_t now_second, Field field) const;

  const double ratio_;
  const SteadyTime epoch_;
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  std::uint64_t granted_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace shoal::origin
