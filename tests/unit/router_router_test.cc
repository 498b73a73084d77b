// router/router.h against fake nodes: bounded load from its own in-flight counts, quarantine
// of failed members, round-robin for suffix ranges.
#include <gtest/gtest.h>

#include "tests/unit/router_fake_node.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;

TEST(Router, BoundedLoadSendsRequestsPastABusyOwner) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({node.addr()}, 1.25);
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  const std::string owner = owner_id(*r);
  auto plan = r->plan("/fetch/k/o", "bytes=10-20");
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].id, owner);
  EXPECT_TRUE(plan[0].owner);
  r->served(plan, 0);
  EXPECT_EQ(r->counters().to_owner, 1u);

  for (int i = 0; i < 4; ++i) r->begin(owner);  // cap with total 4: ceil(1.25 * 5 / 3) = 3
  plan = r->plan("/fetch/k/o", "bytes=10-20");
  EXPECT_NE(plan[0].id, owner);
  EXPECT_EQ(plan[2].id, owner);
  EXPECT_TRUE(plan[2].overloaded);
  r->served(plan, 0);
  EXPECT_EQ(r->counters().load_skips, 1u);

  for (int i = 0; i < 4; ++i) r->end(owner);
  EXPECT_EQ(r->plan("/fetch/k/o", "bytes=10-20")[0].id, owner);
}

TEST(Router, AFailedMemberGoesLastUntilItsQuarantineEnds) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({node.addr()}, 0, 200ms);
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  const std::string owner = owner_id(*r);
  r->failed(owner);
  auto plan = r->plan("/fetch/k/o", "bytes=0-0");
  EXPECT_EQ(plan[2].id, owner);
  EXPECT_TRUE(plan[2].quarantined);
  r->served(plan, 1);  // the second candidate answered after the first failed
  EXPECT_EQ(r->counters().fallbacks, 1u);
  EXPECT_EQ(r->counters().upstream_failures, 1u);
  ASSERT_TRUE(eventually([&] { return r->plan("/fetch/k/o", "bytes=0-0")[0].id == owner; }));
  EXPECT_EQ(r->stats_json()["upstream_failures"], 1);
}

TEST(Router, SuffixRangesAreSpreadOverTheMembers) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({node.addr()});
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  std::set<std::string> first;
  for (int i = 0; i < 6; ++i) first.insert(r->plan("/fetch/k/o", "bytes=-100")[0].id);
  EXPECT_EQ(first.size(), 3u);
  EXPECT_EQ(r->counters().spread, 6u);
}

}  // namespace
}  // namespace shoal::test
