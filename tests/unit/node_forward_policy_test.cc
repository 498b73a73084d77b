// ForwardPolicy (node/forward_policy.h): first-byte deadlines from measured latencies, the
// order members are asked in, slow peers, per-peer counts.
#include <gtest/gtest.h>

#include "node/forward_policy.h"

namespace shoal::node {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

std::vector<microseconds> ms_samples(std::initializer_list<int> ms) {
  std::vector<microseconds> out;
  for (int m : ms) out.push_back(microseconds(m * 1000));
  return out;
}

TEST(ForwardDeadline, CeilingUntilEnoughSamples) {
  ForwardDeadlineConfig c;
  EXPECT_EQ(first_byte_deadline({}, c), c.ceiling);
  EXPECT_EQ(first_byte_deadline(ms_samples({1, 1, 1, 1, 1, 1, 1}), c), c.ceiling);
  EXPECT_EQ(first_byte_deadline(ms_samples({1, 1, 1, 1, 1, 1, 1, 1}), c), c.floor);
}

TEST(ForwardDeadline, QuantileClampedToFloorAndCeiling) {
  ForwardDeadlineConfig c;  // floor 50 ms, ceiling 1 s, p99
  std::vector<microseconds> s;
  for (int i = 1; i <= 100; ++i) s.push_back(milliseconds(i * 3));  // 3 .. 300 ms
  // p99 by nearest rank of 100 samples: the 99th smallest, 297 ms.
  EXPECT_EQ(first_byte_deadline(s, c), milliseconds(297));
  c.quantile = 0.5;
  EXPECT_EQ(first_byte_deadline(s, c), milliseconds(150));
  c.quantile = 0.1;  // 30 ms: below the floor
  EXPECT_EQ(first_byte_deadline(s, c), c.floor);
  c.quantile = 1;
  c.ceiling = milliseconds(200);
  EXPECT_EQ(first_byte_deadline(s, c), milliseconds(200));
}

TEST(ForwardDeadline, SubMillisecondRoundsUp) {
  ForwardDeadlineConfig c;
  c.floor = milliseconds(1);
  std::vector<microseconds> s(20, microseconds(300));
  EXPECT_EQ(first_byte_deadline(s, c), milliseconds(1));
}

TEST(ForwardDeadline, ValidateNamesTheFlag) {
  ForwardDeadlineConfig c;
  EXPECT_FALSE(c.validate());
  c.floor = milliseconds(0);
  EXPECT_EQ(c.validate()->rfind("--forward-deadline-min-ms:", 0), 0u);
  c = {};
  c.ceiling = milliseconds(10);  // below the floor
  EXPECT_EQ(c.validate()->rfind("--forward-deadline-max-ms:", 0), 0u);
  c = {};
  c.stall = milliseconds(5);
  EXPECT_EQ(c.validate()->rfind("--forward-stall-ms:", 0), 0u);
}

TEST(ForwardRanking, SuspectsAfterAliveInRankOrder) {
  // Rank order a, b, c, d, e; b and d suspect.
  std::vector<RankedMember> ranked{{0, false}, {1, true}, {2, false}, {3, true}, {4, false}};
  EXPECT_EQ(rank_alive_first(ranked), (std::vector<std::size_t>{0, 2, 4, 1, 3}));
  // The owner suspect: the failover rank comes first, the owner is still asked last.
  EXPECT_EQ(rank_alive_first({{0, true}, {1, false}}), (std::vector<std::size_t>{1, 0}));
  EXPECT_TRUE(rank_alive_first({}).empty());
}

TEST(ForwardPolicyTest, DeadlineFollowsThePeersOwnLatencies) {
  ForwardPolicy p(ForwardDeadlineConfig{});
  for (int i = 0; i < 20; ++i) {
    p.record("fast", milliseconds(2));
    p.record("slow", milliseconds(400));
  }
  EXPECT_EQ(p.deadline("fast"), milliseconds(50));
  EXPECT_EQ(p.deadline("slow"), milliseconds(400));
  EXPECT_EQ(p.deadline("unknown"), milliseconds(1000));
  // The window keeps the last kWindow answers: a peer that got slow is judged by now.
  for (std::size_t i = 0; i < ForwardPolicy::kWindow; ++i) p.record("fast", milliseconds(700));
  EXPECT_EQ(p.deadline("fast"), milliseconds(700));
}

TEST(ForwardPolicyTest, SlowUntilAHeadArrives) {
  ForwardPolicy p(ForwardDeadlineConfig{});
  EXPECT_FALSE(p.slow("a"));
  p.count_timeout("a");
  p.count_hedge("a");
  p.count_resume("a");
  EXPECT_FALSE(p.slow("a"));  // past the quantile deadline: a tail, not a failure
  p.mark_slow("a");
  EXPECT_TRUE(p.slow("a"));
  EXPECT_FALSE(p.slow("b"));
  auto counts = p.counts();
  ASSERT_EQ(counts.count("a"), 1u);
  EXPECT_EQ(counts["a"].timeouts, 1u);
  EXPECT_EQ(counts["a"].hedges, 1u);
  EXPECT_EQ(counts["a"].resumes, 1u);
  EXPECT_EQ(counts["a"].deadline, milliseconds(1000));
  p.record("a", milliseconds(3));  // it answered: not slow any more
  EXPECT_FALSE(p.slow("a"));
}

}  // namespace
}  // namespace shoal::node
