// Tests for ring/move_estimate.h: the sample, and what a join, a leave, a weight change and the
// degenerate rings move. Exact identities come from rendezvous hashing itself (a join moves only
// the keys the new member wins, a leave only the leaver's); measured shares are checked against
// the ring's expected shares within 6 binomial standard deviations (a false failure has
// probability about 2e-9 per check).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "ring/move_estimate.h"

namespace shoal::test {
namespace {

using ring::Member;
using ring::MoveEstimate;
using ring::Ring;

constexpr std::size_t kSamples = 1 << 16;

Ring make_ring(std::vector<Member> members) {
  std::string error;
  auto r = Ring::make(std::move(members), &error);
  EXPECT_TRUE(r.has_value()) << error;
  return r ? std::move(*r) : Ring();
}

std::uint64_t sum(const std::vector<std::uint64_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
}

void expect_near_share(double observed, double p, const std::string& what) {
  const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(kSamples));
  EXPECT_NEAR(observed, p, 6 * sigma) << what;
}

TEST(RingMoveSample, IsSplitMix64FromZero) {
  // The first outputs of SplitMix64 seeded with 0, as published with the algorithm
  // (e.g. the reference splitmix64.c by Sebastiano Vigna).
  EXPECT_EQ(ring::sample_hash(0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(ring::sample_hash(1), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(ring::sample_hash(2), 0x06c45d188009454full);
}

TEST(RingMoveSample, HasNoRepeatsInAnEstimate) {
  std::set<std::uint64_t> seen;
  for (std::uint64_t i = 0; i < kSamples; ++i) seen.insert(ring::sample_hash(i));
  EXPECT_EQ(seen.size(), kSamples);
}

TEST(RingMoveEstimate, TheSameRingMovesNothing) {
  const Ring r = make_ring({{"a", 1}, {"b", 2}, {"c", 3}});
  const MoveEstimate e = ring::estimate_moves(r, r, kSamples);
  EXPECT_EQ(e.samples, kSamples);
  EXPECT_EQ(e.owned_before, e.owned_after);
  EXPECT_EQ(sum(e.owned_before), kSamples);
  EXPECT_EQ(sum(e.moved_out), 0u);
  EXPECT_EQ(e.moved_fraction(), 0.0);
  for (std::size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(e.moves_out_fraction(i), 0.0);
    expect_near_share(e.sampled_share_after(i), r.share(i), r.members()[i].id);
  }
}

TEST(RingMoveEstimate, AJoinMovesExactlyWhatTheNewMemberWins) {
  const Ring before = make_ring({{"a", 1}, {"b", 1}, {"c", 1}});
  const Ring after = *before.with_member({"d", 1});
  const MoveEstimate e = ring::estimate_moves(before, after, kSamples);
  const std::size_t d = *after.find("d");
  EXPECT_EQ(sum(e.moved_out), e.owned_after[d]);
  EXPECT_EQ(e.moved_fraction(), static_cast<double>(e.owned_after[d]) / kSamples);
  expect_near_share(e.moved_fraction(), 0.25, "moved fraction");
  for (std::size_t i = 0; i < before.size(); ++i) {
    // Each old member keeps what it won before, except the keys d now wins: about a quarter.
    const std::size_t j = *after.find(before.members()[i].id);
    EXPECT_EQ(e.owned_before[i] - e.moved_out[i], e.owned_after[j]);
    EXPECT_NEAR(e.moves_out_fraction(i), 0.25, 0.02) << before.members()[i].id;
  }
}

TEST(RingMoveEstimate, ALeaveMovesExactlyTheLeaversKeys) {
  const Ring before = make_ring({{"a", 1}, {"b", 2}, {"c", 1}});
  const Ring after = *before.without_member("b");
  const MoveEstimate e = ring::estimate_moves(before, after, kSamples);
  const std::size_t b = *before.find("b");
  EXPECT_EQ(e.moved_out[b], e.owned_before[b]);
  EXPECT_EQ(e.moves_out_fraction(b), 1.0);
  EXPECT_EQ(sum(e.moved_out), e.owned_before[b]);
  expect_near_share(e.moved_fraction(), 0.5, "moved fraction");
  EXPECT_EQ(sum(e.owned_after), kSamples);
  for (std::size_t j = 0; j < after.size(); ++j) {
    expect_near_share(e.sampled_share_after(j), 0.5, after.members()[j].id);
  }
}

TEST(RingMoveEstimate, WeightZeroMovesAllOfThatMembersKeys) {
  const Ring before = make_ring({{"a", 1}, {"b", 1}});
  const Ring after = *before.with_member({"b", 0});
  const MoveEstimate e = ring::estimate_moves(before, after, kSamples);
  EXPECT_EQ(e.moved_out[0], 0u);
  EXPECT_EQ(e.moved_out[1], e.owned_before[1]);
  EXPECT_EQ(e.owned_after[0], kSamples);
  EXPECT_EQ(e.owned_after[1], 0u);
  expect_near_share(e.moved_fraction(), 0.5, "moved fraction");
}

TEST(RingMoveEstimate, ARaisedWeightMovesKeysOnlyToThatMember) {
  const Ring before = make_ring({{"a", 1}, {"b", 1}, {"c", 1}});
  const Ring after = *before.with_member({"a", 2});
  const MoveEstimate e = ring::estimate_moves(before, after, kSamples);
  EXPECT_EQ(e.moved_out[0], 0u);  // a only gains
  EXPECT_EQ(e.owned_after[0], e.owned_before[0] + sum(e.moved_out));
  expect_near_share(e.sampled_share_after(0), 0.5, "a after");
}

TEST(RingMoveEstimate, RemovingTheLastMemberMovesEverything) {
  const Ring before = make_ring({{"solo", 1}});
  const Ring after = *before.without_member("solo");
  ASSERT_TRUE(after.empty());
  const MoveEstimate e = ring::estimate_moves(before, after, kSamples);
  EXPECT_EQ(e.owned_before[0], kSamples);
  EXPECT_EQ(e.moved_out[0], kSamples);
  EXPECT_TRUE(e.owned_after.empty());
  EXPECT_EQ(e.moved_fraction(), 1.0);
}

TEST(RingMoveEstimate, AnEmptyRingBeforeOwnsAndMovesNothing) {
  const Ring after = make_ring({{"a", 1}, {"b", 1}});
  const MoveEstimate e = ring::estimate_moves(Ring(), after, kSamples);
  EXPECT_TRUE(e.owned_before.empty());
  EXPECT_EQ(e.moved_fraction(), 0.0);
  EXPECT_EQ(sum(e.owned_after), kSamples);
}

TEST(RingMoveEstimate, NoSamplesGiveZeroes) {
  const Ring r = make_ring({{"a", 1}});
  const MoveEstimate e = ring::estimate_moves(r, *r.with_member({"b", 1}), 0);
  EXPECT_EQ(e.moved_fraction(), 0.0);
  EXPECT_EQ(e.moves_out_fraction(0), 0.0);
  EXPECT_EQ(e.sampled_share_after(1), 0.0);
}

TEST(RingMoveEstimate, IsDeterministic) {
  const Ring before = make_ring({{"a", 1}, {"b", 3}});
  const Ring after = *before.with_member({"c", 2});
  const MoveEstimate x = ring::estimate_moves(before, after, 4096);
  const MoveEstimate y = ring::estimate_moves(before, after, 4096);
  EXPECT_EQ(x.owned_before, y.owned_before);
  EXPECT_EQ(x.moved_out, y.moved_out);
  EXPECT_EQ(x.owned_after, y.owned_after);
}

}  // namespace
}  // namespace shoal::test
