// Tests for peer/swim_rules.h and peer/broadcast_queue.h: the state precedence table, Lifeguard
// suspicion timeouts (memberlist's formulas and figures), local health awareness, the
// retransmit limit and the piggyback queue's ordering, budget and retirement.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "peer/broadcast_queue.h"
#include "peer/swim_rules.h"

namespace shoal::test {
namespace {

using namespace shoal::peer;
using S = MemberState;

TEST(PeerPrecedence, FollowsTheTableForEveryPair) {
  const S states[] = {S::kAlive, S::kSuspect, S::kDead, S::kLeft};
  // expected[current][incoming] for incoming incarnation {lower, equal, higher}.
  struct Row {
    bool lower, equal, higher;
  };
  const Row expected[4][4] = {
      // current alive: alive, suspect, dead, left
      {{false, false, true}, {false, true, true}, {false, true, true}, {false, true, true}},
      // current suspect
      {{false, false, true}, {false, false, true}, {false, true, true}, {false, true, true}},
      // current dead
      {{false, false, true}, {false, false, false}, {false, false, true}, {false, true, true}},
      // current left
      {{false, false, true}, {false, false, false}, {false, false, false}, {false, false, true}},
  };
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 4; ++i) {
      const Row& r = expected[c][i];
      EXPECT_EQ(supersedes(4, states[i], 5, states[c]), r.lower) << c << " " << i;
      EXPECT_EQ(supersedes(5, states[i], 5, states[c]), r.equal) << c << " " << i;
      EXPECT_EQ(supersedes(6, states[i], 5, states[c]), r.higher) << c << " " << i;
    }
  }
}

TEST(PeerSuspicion, BoundsFollowMemberlist) {
  // 3 members, 100 ms probes: min 400 ms; too few members to confirm, so k = 0.
  SuspicionBounds b = suspicion_bounds(3, 4, 6, Millis(100));
  EXPECT_EQ(b.min, Millis(400));
  EXPECT_EQ(b.max, Millis(2400));
  EXPECT_EQ(b.confirmations_wanted, 0);
  EXPECT_EQ(suspicion_timeout(0, b), Millis(400));
  // 5 members: k = 2.
  b = suspicion_bounds(5, 4, 6, Millis(100));
  EXPECT_EQ(b.confirmations_wanted, 2);
  // 100 members, 1 s probes: min = 4 * log10(100) s = 8 s, max 48 s.
  b = suspicion_bounds(100, 4, 6, Millis(1000));
  EXPECT_EQ(b.min, Millis(8000));
  EXPECT_EQ(b.max, Millis(48000));
}

TEST(PeerSuspicion, TimeoutShrinksFromMaxToMinWithConfirmations) {
  SuspicionBounds b = suspicion_bounds(10, 4, 6, Millis(1000));  // min 4 s, max 24 s, k = 2
  ASSERT_EQ(b.confirmations_wanted, 2);
  EXPECT_EQ(suspicion_timeout(0, b), b.max);
  Millis one = suspicion_timeout(1, b);
  EXPECT_LT(one, b.max);
  EXPECT_GT(one, b.min);
  // max - log(2)/log(3) * (max - min) = 24 - 0.6309 * 20 = 11.38 s
  EXPECT_EQ(one, Millis(11381));
  EXPECT_EQ(suspicion_timeout(2, b), b.min);
  EXPECT_EQ(suspicion_timeout(5, b), b.min);
}

TEST(PeerSuspicion, CountsOnlyNewIndependentConfirmationsUpToK) {
  Suspicion s("accuser", suspicion_bounds(10, 4, 6, Millis(1000)));
  EXPECT_EQ(s.timeout(), Millis(24000));
  EXPECT_FALSE(s.confirm("accuser"));
  EXPECT_TRUE(s.confirm("b"));
  EXPECT_FALSE(s.confirm("b"));
  EXPECT_TRUE(s.confirm("c"));
  EXPECT_FALSE(s.confirm("d"));  // k = 2 reached
  EXPECT_EQ(s.confirmations(), 2);
  EXPECT_EQ(s.timeout(), Millis(4000));
}

TEST(PeerAwareness, ScalesTimeoutsAndClamps) {
  Awareness a(8);
  EXPECT_EQ(a.scale(Millis(100)), Millis(100));
  a.apply(3);
  EXPECT_EQ(a.score(), 3);
  EXPECT_EQ(a.scale(Millis(100)), Millis(400));
  a.apply(100);
  EXPECT_EQ(a.score(), 7);
  a.apply(-100);
  EXPECT_EQ(a.score(), 0);
  Awareness off(1);
  off.apply(5);
  EXPECT_EQ(off.scale(Millis(100)), Millis(100));
}

TEST(PeerRetransmit, LimitGrowsWithLog10OfMembers) {
  EXPECT_EQ(retransmit_limit(4, 1), 4);
  EXPECT_EQ(retransmit_limit(4, 3), 4);
  EXPECT_EQ(retransmit_limit(4, 9), 4);
  EXPECT_EQ(retransmit_limit(4, 10), 8);
  EXPECT_EQ(retransmit_limit(4, 99), 8);
  EXPECT_EQ(retransmit_limit(4, 100), 12);
}

TEST(PeerBroadcastQueue, ReplacesUpdatesAboutTheSameMember) {
  BroadcastQueue q;
  q.push("a", "a-old");
  q.push("b", "b1");
  q.push("a", "a-new");
  EXPECT_EQ(q.size(), 2u);
  std::vector<std::string> got = q.take(1000, 10, 5);
  EXPECT_EQ(got, (std::vector<std::string>{"a-new", "b1"}));  // newest first
}

TEST(PeerBroadcastQueue, SendsLeastTransmittedFirstAndRetiresAtTheLimit) {
  BroadcastQueue q;
  q.push("a", "aaaa");
  EXPECT_EQ(q.take(1000, 10, 3).size(), 1u);
  q.push("b", "bbbb");
  // Budget for one entry: b (0 transmissions) goes before a (1).
  EXPECT_EQ(q.take(4, 10, 3), std::vector<std::string>{"bbbb"});
  EXPECT_EQ(q.take(4, 10, 3), std::vector<std::string>{"bbbb"});  // tie at 1: newer first
  // a has 1, b has 2 now.
  EXPECT_EQ(q.take(4, 10, 3), std::vector<std::string>{"aaaa"});
  EXPECT_EQ(q.take(100, 10, 3), (std::vector<std::string>{"bbbb", "aaaa"}));
  EXPECT_TRUE(q.empty());  // both reached 3 transmissions
  EXPECT_TRUE(q.take(100, 10, 3).empty());
}

TEST(PeerBroadcastQueue, RespectsBudgetCountAndOversizedFirst) {
  BroadcastQueue q;
  q.push("small", std::string(10, 's'));
  q.push("big", std::string(500, 'b'));
  q.push("mid", std::string(50, 'm'));
  // Newest first: mid (50) fits, big does not, small fits.
  std::vector<std::string> got = q.take(100, 10, 5);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].size(), 50u);
  EXPECT_EQ(got[1].size(), 10u);
  // big now has the fewest transmissions and exceeds the budget: taken alone.
  got = q.take(100, 10, 5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].size(), 500u);
  EXPECT_EQ(q.take(1000, 1, 5).size(), 1u);  // count limit
  EXPECT_TRUE(q.contains("big"));
  EXPECT_FALSE(q.contains("nobody"));
}

TEST(PeerBroadcastQueue, DropsTheMostTransmittedWhenFull) {
  BroadcastQueue q(2);
  q.push("a", "a");
  q.take(10, 1, 10);  // a: 1 transmission
  q.push("b", "b");
  q.push("c", "c");  // full: drops a
  EXPECT_FALSE(q.contains("a"));
  EXPECT_TRUE(q.contains("b"));
  EXPECT_TRUE(q.contains("c"));
}

}  // namespace
}  // namespace shoal::test
