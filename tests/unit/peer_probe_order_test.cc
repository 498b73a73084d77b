// Tests for peer/probe_order.h: SWIM's randomized round-robin probe order. Each pass offers
// every member once, in a fresh random order; members no longer eligible are skipped; a member
// inserted mid-pass is offered in the same pass at a random place; SWIM's 2N - 1 bound holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "peer/probe_order.h"

namespace shoal::test {
namespace {

using peer::ProbeOrder;

// A membership for the tests: the members, and the ones currently eligible.
struct Fixture {
  std::vector<std::string> members;
  std::set<std::string> ineligible;
  std::mt19937_64 rng{42};
  ProbeOrder order;

  std::optional<std::string> next() {
    return order.next([this](const std::string& id) { return !ineligible.contains(id); },
                      [this] {
                        std::vector<std::string> out;
                        for (const auto& m : members) {
                          if (!ineligible.contains(m)) out.push_back(m);
                        }
                        return out;
                      },
                      rng);
  }
  std::vector<std::string> take(std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(next().value_or("<none>"));
    return out;
  }
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(PeerProbeOrder, OffersEveryMemberOncePerPassInAFreshOrder) {
  Fixture f;
  f.members = {"a", "b", "c", "d", "e", "f", "g", "h"};
  std::set<std::vector<std::string>> orders;
  for (int pass = 0; pass < 10; ++pass) {
    std::vector<std::string> got = f.take(8);
    EXPECT_EQ(sorted(got), f.members) << "pass " << pass;
    orders.insert(got);
  }
  EXPECT_GT(orders.size(), 1u) << "every pass had the same order: not reshuffled";
}

TEST(PeerProbeOrder, SkipsMembersThatAreNoLongerEligible) {
  Fixture f;
  f.members = {"a", "b", "c", "d"};
  std::string first = *f.next();
  EXPECT_EQ(f.order.remaining(), 3u);
  // Two of the three not yet offered die: the pass offers only the third, then a new pass
  // begins with the eligible members only.
  std::vector<std::string> rest;
  for (const auto& m : f.members) {
    if (m != first) rest.push_back(m);
  }
  ASSERT_EQ(rest.size(), 3u);
  f.ineligible = {rest[0], rest[1]};
  std::vector<std::string> got = f.take(3);
  EXPECT_EQ(got[0], rest[2]);
  EXPECT_EQ(sorted({got[1], got[2]}), sorted({first, rest[2]}));
}

TEST(PeerProbeOrder, NothingToProbeIsNullopt) {
  Fixture f;
  EXPECT_EQ(f.next(), std::nullopt);
  f.members = {"a", "b"};
  f.ineligible = {"a", "b"};
  EXPECT_EQ(f.next(), std::nullopt);
  f.ineligible.clear();
  EXPECT_TRUE(f.next().has_value());
}

TEST(PeerProbeOrder, AMemberInsertedMidPassIsProbedInThatPassAtARandomPlace) {
  std::map<std::size_t, int> positions;  // where "new" came among the 4 left in the pass
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    Fixture f;
    f.rng.seed(seed);
    f.members = {"a", "b", "c", "d"};
    f.next();  // one member offered: three left in the pass
    f.members.push_back("new");
    f.order.insert("new", f.rng);
    ASSERT_EQ(f.order.remaining(), 4u);
    std::vector<std::string> got = f.take(4);
    auto at = std::find(got.begin(), got.end(), "new");
    ASSERT_NE(at, got.end()) << "seed " << seed << ": not probed in the pass it joined";
    ++positions[static_cast<std::size_t>(at - got.begin())];
  }
  // Uniform over 4 places: each should get about 50 of 200.
  ASSERT_EQ(positions.size(), 4u);
  for (const auto& [pos, n] : positions) EXPECT_GT(n, 20) << "place " << pos;
}

TEST(PeerProbeOrder, EveryMemberIsProbedWithinTwoNMinusOneProbes) {
  Fixture f;
  f.members = {"a", "b", "c", "d", "e", "f"};
  const std::size_t n = f.members.size();
  std::map<std::string, std::size_t> last;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < 6000; ++i) {
    std::string m = *f.next();
    if (auto it = last.find(m); it != last.end()) worst = std::max(worst, i - it->second);
    last[m] = i;
  }
  EXPECT_LE(worst, 2 * n - 1);
  EXPECT_GT(worst, n) << "never more than one pass apart: the order is not random per pass";
}

}  // namespace
}  // namespace shoal::test
