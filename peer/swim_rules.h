// The pure rules of SWIM membership with the Lifeguard refinements, kept apart from the network
// code so each can be tested alone:
//   - state precedence (which news about a member replaces what we hold),
//   - Lifeguard suspicion timeouts that shrink with independent confirmations,
//   - Lifeguard local health awareness (a multiplier on probe timing),
//   - the retransmit limit of piggybacked gossip.
// Sources: A. Das, I. Gupta, A. Motivala, "SWIM: Scalable Weakly-consistent Infection-style
// Process Group Membership Protocol", DSN 2002 (incarnations, suspicion, dissemination);
// A. Dadgar, J. Phillips, J. Currey, "Lifeguard: Local Health Awareness for More Accurate Failure
// Detection", 2017 (dynamic suspicion timeouts, local health multiplier, nacks); HashiCorp
// memberlist (state.go, suspicion.go, awareness.go, util.go) for the constants and formulas.
//
// Pure values and functions, no I/O, no clocks of their own; safe from any thread (an Awareness
// or Suspicion object from one thread at a time).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "peer/messages.h"

namespace shoal::peer {

using Millis = std::chrono::milliseconds;

// True when news that a member is `incoming` at `incoming_inc` replaces our `current` state at
// `current_inc` (the member is not ourselves; refutation is the caller's business):
//   current \ incoming   alive      suspect    dead       left
//   alive                inc >  c   inc >= c   inc >= c   inc >= c
//   suspect              inc >  c   inc >  c   inc >= c   inc >= c
//   dead                 inc >  c   never      inc >  c   inc >= c
//   left                 inc >  c   never      never      inc >  c
// Only a higher incarnation revives a dead or departed member (its own refutation or rejoin);
// suspicion never touches a tombstone; a graceful leave may relabel a member already declared
// dead. A suspect at the same incarnation while suspect is a confirmation, not a replacement.
bool supersedes(std::uint64_t incoming_inc, MemberState incoming, std::uint64_t current_inc,
                MemberState current);

// True for the states that are in the ring (alive and suspect).
inline bool is_live(MemberState s) {
  return s == MemberState::kAlive || s == MemberState::kSuspect;
}

// Suspicion timeout bounds for a cluster of `members` members (memberlist suspicionTimeout):
//   min = suspicion_mult * max(1, log10(max(1, members))) * probe_interval
//   max = max_timeout_mult * min
//   confirmations_wanted (k) = suspicion_mult - 2, or 0 when members - 2 < k (too few members
//   to confirm: then the timeout is min at once).
struct SuspicionBounds {
  Millis min{0};
  Millis max{0};
  int confirmations_wanted = 0;
};
SuspicionBounds suspicion_bounds(std::size_t members, int suspicion_mult, int max_timeout_mult,
                                 Millis probe_interval);

// The suspicion timeout after `confirmations` independent confirmations (Lifeguard; memberlist
// remainingSuspicionTime): max - (log(c + 1) / log(k + 1)) * (max - min), floored at min, and
// min when k < 1. Starts at max and reaches min after k confirmations.
Millis suspicion_timeout(int confirmations, const SuspicionBounds& b);

// One member's suspicion: who accused it first and who confirmed since.
class Suspicion {
 public:
  Suspicion(std::string accuser, SuspicionBounds bounds);

  // Records that `from` also suspects the member. Returns true when it is a new, independent
  // confirmation (not the accuser, not seen before, fewer than k so far), which shortens the
  // timeout.
  bool confirm(std::string_view from);

  int confirmations() const { return static_cast<int>(confirmed_.size()); }
  // Time from the start of the suspicion until the member is declared dead, given the
  // confirmations so far.
  Millis timeout() const { return suspicion_timeout(confirmations(), bounds_); }
  const SuspicionBounds& bounds() const { return bounds_; }

 private:
  std::string accuser_;
  SuspicionBounds bounds_;
  std::set<std::string, std::less<>> confirmed_;
};

// Lifeguard local health: a score in [0, max_multiplier - 1]; timeouts are scaled by
// (score + 1). A failed probe without the expected nacks and a refutation raise it, a successful
// probe lowers it (memberlist awareness.go). max_multiplier 1 disables it.
class Awareness {
 public:
  explicit Awareness(int max_multiplier) : max_(max_multiplier < 1 ? 1 : max_multiplier) {}

  void apply(int delta);
  int score() const { return score_; }
  Millis scale(Millis d) const { return d * (score_ + 1); }

 private:
  int max_;
  int score_ = 0;
};

// How many times each gossip update is piggybacked (memberlist retransmitLimit):
// retransmit_mult * ceil(log10(members + 1)).
int retransmit_limit(int retransmit_mult, std::size_t members);

}  // namespace shoal::peer
