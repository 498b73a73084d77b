// HedgeBudget: hedges stay within the ratio of requests over the sliding window.
#include <gtest/gtest.h>

#include <deque>

#include "origin/hedge_budget.h"

namespace shoal::origin {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1);

TEST(HedgeBudget, RefusesWithoutRequests) {
  HedgeBudget b(0.05, seconds(10));
  EXPECT_FALSE(b.try_acquire(kT0));
  EXPECT_EQ(b.refused(), 1u);
  EXPECT_EQ(b.granted(), 0u);
}

TEST(HedgeBudget, GrantsFivePercentOfRequests) {
  HedgeBudget b(0.05, seconds(10));
  for (int i = 0; i < 19; ++i) b.record_request(kT0);
  EXPECT_FALSE(b.try_acquire(kT0));  // 1 > 0.05 * 19
  b.record_request(kT0);
  EXPECT_TRUE(b.try_acquire(kT0));  // 1 <= 0.05 * 20
  for (int i = 0; i < 80; ++i) b.record_request(kT0);
  int granted = 0;
  for (int i = 0; i < 10; ++i) granted += b.try_acquire(kT0) ? 1 : 0;
  EXPECT_EQ(granted, 4);  // 5 of 100 in all
  EXPECT_EQ(b.hedges_in_window(kT0), 5u);
  EXPECT_EQ(b.requests_in_window(kT0), 100u);
  EXPECT_EQ(b.refused(), 7u);
}

TEST(HedgeBudget, OldRequestsLeaveTheWindow) {
  HedgeBudget b(0.05, seconds(10), SteadyTime{});
  for (int i = 0; i < 100; ++i) b.record_request(kT0);
  EXPECT_EQ(b.requests_in_window(kT0 + milliseconds(9999)), 100u);
  EXPECT_EQ(b.requests_in_window(kT0 + seconds(10)), 0u);
  EXPECT_FALSE(b.try_acquire(kT0 + seconds(10)));
  for (int i = 0; i < 20; ++i) b.record_request(kT0 + seconds(11));
  EXPECT_TRUE(b.try_acquire(kT0 + seconds(11)));
}

TEST(HedgeBudget, ZeroRatioNeverGrants) {
  HedgeBudget b(0, seconds(10));
  for (int i = 0; i < 1000; ++i) b.record_request(kT0);
  EXPECT_FALSE(b.try_acquire(kT0));
}

TEST(HedgeBudget, HoldsInEveryWindowUnderASustainedSlowOrigin) {
  // 50 requests a second for 10 minutes, every one of them slow enough to want a hedge.
  HedgeBudget b(0.05, seconds(10), SteadyTime{});
  std::deque<std::pair<int, int>> per_second;  // (requests, hedges) of the last 10 seconds
  for (int s = 0; s < 600; ++s) {
    int hedges = 0;
    for (int i = 0; i < 50; ++i) {
      const SteadyTime t = kT0 + seconds(s) + milliseconds(i * 20);
      b.record_request(t);
      hedges += b.try_acquire(t) ? 1 : 0;
    }
    per_second.emplace_back(50, hedges);
    if (per_second.size() > 10) per_second.pop_front();
    int r = 0, h = 0;
    for (auto [req, hed] : per_second) {
      r += req;
      h += hed;
    }
    ASSERT_LE(h, 0.05 * r + 1e-9) << "second " << s;
  }
  EXPECT_GE(b.granted(), 1400u);  // and the budget is actually used
  EXPECT_LE(b.granted(), 600u * 50 * 5 / 100);
}

TEST(HedgeBudget, ValidateNamesTheFlag) {
  EXPECT_FALSE(HedgeBudget::validate(0.05, seconds(10)));
  EXPECT_NE(HedgeBudget::validate(1.5, seconds(10))->find("ratio:"), std::string::npos);
  EXPECT_NE(HedgeBudget::validate(-0.1, seconds(10))->find("ratio:"), std::string::npos);
  EXPECT_TRUE(HedgeBudget::validate(0.05, seconds(0)));
}

}  // namespace
}  // namespace shoal::origin
