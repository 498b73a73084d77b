// router/poller.h against a fake node serving /stats on loopback: seed failover, keeping the
// last view, refusing answers that are not /stats.
#include <gtest/gtest.h>

#include "tests/unit/router_fake_node.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;

TEST(ViewPoller, FailsOverFromADeadSeedAndLearnsTheMembers) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({dead_addr(), node.addr()});
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  EXPECT_GE(r->poller().polls_failed(), 1u);
  EXPECT_EQ(r->view()->epoch(), 4u);
  EXPECT_EQ(r->view()->source(), node.addr());
  auto known = r->poller().known();
  EXPECT_EQ(known[0], "10.0.0.1:8080");  // the members first, then the seeds
  EXPECT_EQ(known.size(), 5u);
}

TEST(ViewPoller, KeepsTheLastViewWhileNoNodeAnswers) {
  FakeNode node;
  node.set_body(three_members());
  RunningRouter r({node.addr()});
  ASSERT_TRUE(eventually([&] { return r->view() != nullptr; }));
  node.stop();
  const auto failed = r->poller().polls_failed();
  ASSERT_TRUE(eventually([&] { return r->poller().polls_failed() > failed + 2; }));
  EXPECT_NE(r->view(), nullptr);
  EXPECT_EQ(r->view()->epoch(), 4u);
  EXPECT_FALSE(r->poller().last_error().empty());
}

TEST(ViewPoller, RejectsAnswersThatAreNotStats) {
  FakeNode node;
  node.set_body("{\"hello\": 1}");
  RunningRouter r({node.addr()});
  ASSERT_TRUE(eventually([&] { return r->poller().polls_failed() >= 2; }));
  EXPECT_EQ(r->view(), nullptr);
  EXPECT_NE(r->poller().last_error().find("page_size_bytes"), std::string::npos)
      << r->poller().last_error();
  EXPECT_TRUE(r->plan("/fetch/k/o", "bytes=0-9").empty());
  EXPECT_EQ(r->counters().unrouted, 1u);
}

}  // namespace
}  // namespace shoal::test
