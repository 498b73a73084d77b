// Tests for node/ring_history.h: which ring counts as the placement before the latest change.
#include <gtest/gtest.h>

#include "node/ring_history.h"

namespace shoal::node {
namespace {

using Clock = RingHistory::Clock;
using namespace std::chrono_literals;

std::shared_ptr<const ring::Ring> ring_of(std::vector<ring::Member> members) {
  return std::make_shared<const ring::Ring>(*ring::Ring::make(std::move(members)));
}

std::vector<std::string> ids(const std::shared_ptr<const ring::Ring>& r) {
  std::vector<std::string> out;
  for (const auto& m : r->members()) out.push_back(m.id + ":" + std::to_string(m.weight));
  return out;
}

TEST(RingHistory, NothingBeforeTheFirstChange) {
  RingHistory h("a");
  const auto t0 = Clock::now();
  h.observe(1, ring_of({{"a", 1}, {"b", 1}}), t0);
  EXPECT_EQ(h.previous(t0), nullptr);
  h.observe(1, ring_of({{"a", 1}}), t0 + 5s);  // same epoch: not a change
  EXPECT_EQ(h.previous(t0 + 5s), nullptr);
}

TEST(RingHistory, AWeightChangeKeepsTheRingBeforeItUntilTheHoldEnds) {
  RingHistory h("a");
  const auto t0 = Clock::now();
  h.observe(1, ring_of({{"a", 1}, {"b", 1}}), t0);
  h.observe(2, ring_of({{"a", 1}, {"b", 0}}), t0 + 10s);
  ASSERT_NE(h.previous(t0 + 11s), nullptr);
  EXPECT_EQ(ids(h.previous(t0 + 11s)), (std::vector<std::string>{"a:1.000000", "b:1.000000"}));
  EXPECT_EQ(h.previous(t0 + 10s + RingHistory::kHold + 1s), nullptr);
}

TEST(RingHistory, AJoinerAloneBeforeUsesItsPeersAsThePreviousRing) {
  RingHistory h("d");
  const auto t0 = Clock::now();
  h.observe(1, ring_of({{"d", 1}}), t0);
  // Learns its peers one after another within kSettle: the ring before the burst stays.
  h.observe(2, ring_of({{"a", 1}, {"d", 1}}), t0 + 100ms);
  h.observe(3, ring_of({{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}}), t0 + 200ms);
  ASSERT_NE(h.previous(t0 + 1s), nullptr);
  EXPECT_EQ(ids(h.previous(t0 + 1s)),
            (std::vector<std::string>{"a:1.000000", "b:1.000000", "c:1.000000"}));
}

TEST(RingHistory, AChangeAfterTheSettleTimeReplacesThePreviousRing) {
  RingHistory h("a");
  const auto t0 = Clock::now();
  h.observe(1, ring_of({{"a", 1}, {"b", 1}, {"c", 1}}), t0);
  h.observe(2, ring_of({{"a", 1}, {"b", 1}, {"c", 0}}), t0 + 10s);
  h.observe(3, ring_of({{"a", 1}, {"b", 1}}), t0 + 10s + RingHistory::kSettle / 2);  // burst
  EXPECT_EQ(ids(h.previous(t0 + 11s)),
            (std::vector<std::string>{"a:1.000000", "b:1.000000", "c:1.000000"}));
  h.observe(4, ring_of({{"a", 1}, {"b", 1}, {"e", 1}}), t0 + 30s);
  EXPECT_EQ(ids(h.previous(t0 + 31s)), (std::vector<std::string>{"a:1.000000", "b:1.000000"}));
}

}  // namespace
}  // namespace shoal::node
