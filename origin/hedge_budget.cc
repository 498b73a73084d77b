// HedgeBudget: a ratio of hedges to requests over one-second slots; see hedge_budget.h.
#include "origin/hedge_budget.h"

#include <algorithm>

namespace shoal::origin {

std::optional<std::string> HedgeBudget::validate(double ratio, std::chrono::seconds window) {
  if (!(ratio >= 0 && ratio <= 1)) return std::string("ratio: must be in [0, 1]");
  if (window.count() < 1 || window.count() > 3600) {
    return std::string("window: must be in [1, 3600] s");
  }
  return std::nullopt;
}

HedgeBudget::HedgeBudget(double ratio, std::chrono::seconds window, SteadyTime epoch)
    : ratio_(ratio),
      epoch_(epoch),
      slots_(static_cast<std::size_t>(std::max<std::int64_t>(1, window.count()))) {}

std::int64_t HedgeBudget::second_of(SteadyTime t) const {
  return std::chrono::floor<std::chrono::seconds>(t - epoch_).count();
}

// The slot of `second`, emptied first when it last held an older second.
HedgeBudget::Slot& HedgeBudget::slot(std::int64_t second) {
  const auto n = static_cast<std::int64_t>(slots_.size());
  Slot& s = slots_[static_cast<std::size_t>(((second % n) + n) % n)];
  if (s.second != second) s = Slot{second, 0, 0};
  return s;
}

template <typename Field>
std::uint64_t HedgeBudget::sum(std::int64_t now_second, Field field) const {
  const auto n = static_cast<std::int64_t>(slots_.size());
  std::uint64_t total = 0;
  for (const Slot& s : slots_) {
    if (s.second > now_second - n && s.second <= now_second) total += s.*field;
  }
  return total;
}

void HedgeBudget::record_request(SteadyTime now) {
  std::lock_guard lock(mu_);
  slot(second_of(now)).requests++;
}

bool HedgeBudget::try_acquire(SteadyTime now) {
  std::lock_guard lock(mu_);
  const std::int64_t second = second_of(now);
  const double requests = static_cast<double>(sum(second, &Slot::requests));
  const double hedges = static_cast<double>(sum(second, &Slot::hedges));
  if (hedges + 1 > ratio_ * requests + 1e-9) {  // epsilon: 0.05 * 20 must grant one
    refused_++;
    return false;
  }
  slot(second).hedges++;
  granted_++;
  return true;
}

std::uint64_t HedgeBudget::requests_in_window(SteadyTime now) const {
  std::lock_guard lock(mu_);
  return sum(second_of(now), &Slot::requests);
}

std::uint64_t HedgeBudget::hedges_in_window(SteadyTime now) const {
  std::lock_guard lock(mu_);
  return sum(second_of(now), &Slot::hedges);
}

std::uint64_t HedgeBudget::granted() const {
  std::lock_guard lock(mu_);
  return granted_;
}

std::uint64_t HedgeBudget::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

}  // namespace shoal::origin
