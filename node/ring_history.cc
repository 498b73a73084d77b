#include "node/ring_history.h"

namespace shoal::node {

bool RingHistory::only_self(const ring::Ring* r) const {
  if (r == nullptr) return true;
  for (const ring::Member& m : r->members()) {
    if (m.id != self_id_) return false;
  }
  return true;
}

void RingHistory::observe(std::uint64_t epoch, std::shared_ptr<const ring::Ring> ring,
                          Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (seen_ && epoch == epoch_) return;
  if (seen_) {
    const bool burst = raw_previous_ != nullptr && now - changed_at_ < kSettle;
    if (!burst) raw_previous_ = current_ ? current_ : std::make_shared<const ring::Ring>();
    changed_at_ = now;
  }
  seen_ = true;
  epoch_ = epoch;
  current_ = std::move(ring);
  if (!raw_previous_) return;
  previous_ = raw_previous_;
  if (only_self(raw_previous_.get()) && current_) {
    auto without = current_->without_member(self_id_);
    previous_ = without ? std::make_shared<const ring::Ring>(std::move(*without)) : current_;
  }
}

std::shared_ptr<const ring::Ring> RingHistory::previous(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  if (!previous_ || now - changed_at_ > kHold) return nullptr;
  return previous_;
}

}  // namespace shoal::node
