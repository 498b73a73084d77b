#include "peer/swim_rules.h"

#include <algorithm>
#include <cmath>

namespace shoal::peer {

bool supersedes(std::uint64_t incoming_inc, MemberState incoming, std::uint64_t current_inc,
                MemberState current) {
  bool newer = incoming_inc > current_inc;
  bool same_or_newer = incoming_inc >= current_inc;
  switch (current) {
    case MemberState::kAlive:
      return incoming == MemberState::kAlive ? newer : same_or_newer;
    case MemberState::kSuspect:
      return incoming == MemberState::kAlive || incoming == MemberState::kSuspect ? newer
                                                                                  : same_or_newer;
    case MemberState::kDead:
      if (incoming == MemberState::kSuspect) return false;
      return incoming == MemberState::kLeft ? same_or_newer : newer;
    case MemberState::kLeft:
      return (incoming == MemberState::kAlive || incoming == MemberState::kLeft) && newer;
  }
  return false;
}

SuspicionBounds suspicion_bounds(std::size_t members, int suspicion_mult, int max_timeout_mult,
                                 Millis probe_interval) {
  double n = std::max<double>(1.0, static_cast<double>(members));
  double node_scale = std::max(1.0, std::log10(n));
  SuspicionBounds b;
  b.min = Millis(static_cast<Millis::rep>(
      std::floor(suspicion_mult * node_scale * static_cast<double>(probe_interval.count()))));
  b.max = b.min * max_timeout_mult;
  b.confirmations_wanted = suspicion_mult - 2;
  if (static_cast<double>(members) - 2 < b.confirmations_wanted) b.confirmations_wanted = 0;
  if (b.confirmations_wanted < 0) b.confirmations_wanted = 0;
  return b;
}

Millis suspicion_timeout(int confirmations, const SuspicionBounds& b) {
  if (b.confirmations_wanted < 1) return b.min;
  double frac = std::log(confirmations + 1.0) / std::log(b.confirmations_wanted + 1.0);
  double span = static_cast<double>((b.max - b.min).count());
  auto raw = static_cast<Millis::rep>(std::floor(static_cast<double>(b.max.count()) - frac * span));
  return std::max(b.min, Millis(raw));
}

Suspicion::Suspicion(std::string accuser, SuspicionBounds bounds)
    : accuser_(std::move(accuser)), bounds_(bounds) {}

bool Suspicion::confirm(std::string_view from) {
  if (from == accuser_) return false;
  if (confirmations() >= bounds_.confirmations_wanted) return false;
  return confirmed_.emplace(from).second;
}

void Awareness::apply(int delta) {
  score_ = std::clamp(score_ + delta, 0, max_ - 1);
}

int retransmit_limit(int retransmit_mult, std::size_t members) {
  double scale = std::ceil(std::log10(static_cast<double>(members) + 1.0));
  return retransmit_mult * static_cast<int>(scale);
}

}  // namespace shoal::peer
