// Tests for ring/: page_hash (the wire contract) and weighted rendezvous placement.
//
// Statistical tests place a fixed, deterministic set of K page keys (K = 1,000,000, or the
// value of the environment variable SHOAL_RING_TEST_KEYS, e.g. 100000 for sanitizer builds);
// the balance and weight tests use all K, the join/leave tests the first K / 4, and the
// exhaustive comparisons at most 50,000.
// A member with expected share p owns a Binomial(K, p) count if the hash behaves like a random
// function, so its observed share has standard deviation sigma = sqrt(p (1 - p) / K). Every
// share is checked against p +- 6 sigma: for a correct ring a false failure has probability
// about 2e-9 per member (normal tail), under 1e-6 for all members of all tests together, while
// a biased or wrong score formula is off by many sigma. With K = 1e6 and equal weights the
// bound is a relative error of 6 sqrt((N - 1) / K): 2.3% for N = 16 and 4.8% for N = 64.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ring/base/page_key.h"
#include "ring/rendezvous.h"

namespace shoal::test {
namespace {

using ring::Member;
using ring::Ring;

constexpr double kSigmas = 6.0;

// K: SHOAL_RING_TEST_KEYS if set (at least 1000), else 1,000,000.
std::size_t key_count() {
  const char* env = std::getenv("SHOAL_RING_TEST_KEYS");
  if (env == nullptr) return 1'000'000;
  return static_cast<std::size_t>(std::max(std::atoll(env), 1000LL));
}

// The first `n` (at most K) of K page-shaped keys: 64 pages each of K / 64 objects.
std::span<const std::uint64_t> keys(std::size_t n = std::numeric_limits<std::size_t>::max()) {
  static const std::vector<std::uint64_t> all = [] {
    std::vector<std::uint64_t> out(key_count());
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = base::page_hash("data", "objects/" + std::to_string(i / 64) + ".bin", i % 64);
    }
    return out;
  }();
  return std::span(all).first(std::min(n, all.size()));
}

Ring make_ring(std::vector<Member> members) {
  std::string error;
  auto r = Ring::make(std::move(members), &error);
  EXPECT_TRUE(r.has_value()) << error;
  return r ? std::move(*r) : Ring();
}

// n members "node-00".."node-<n-1>" of weight 1.
std::vector<Member> equal_members(std::size_t n) {
  std::vector<Member> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back({(i < 10 ? "node-0" : "node-") + std::to_string(i), 1.0});
  }
  return out;
}

std::size_t index_of(const Ring& r, const Member* m) {
  return static_cast<std::size_t>(m - r.members().data());
}

std::vector<std::size_t> owner_counts(const Ring& r) {
  std::vector<std::size_t> counts(r.size());
  for (std::uint64_t k : keys()) ++counts[index_of(r, r.owner(k))];
  return counts;
}

// Checks that `count` of `total` keys is within kSigmas binomial standard deviations of share p.
void expect_share(std::size_t count, std::size_t total, double p, const std::string& what) {
  const double k = static_cast<double>(total);
  const double sigma = std::sqrt(p * (1 - p) / k);
  const double observed = static_cast<double>(count) / k;
  EXPECT_NEAR(observed, p, kSigmas * sigma)
      << what << ": relative error " << (observed - p) / p * 100 << "%";
}

void expect_shares_match(const Ring& r) {
  const auto counts = owner_counts(r);
  for (std::size_t i = 0; i < r.size(); ++i) {
    expect_share(counts[i], keys().size(), r.share(i), "member " + r.members()[i].id);
  }
}

// ---- page_hash: the wire contract -------------------------------------------------------

TEST(Score, UnitIntervalIsOpen) {
  EXPECT_EQ(ring::unit_interval(0), 0x1p-53);
  EXPECT_EQ(ring::unit_interval(~0ull), 1 - 0x1p-53);
  EXPECT_LT(ring::unit_interval(~0ull), 1.0);
  EXPECT_GT(-std::log(ring::unit_interval(~0ull)), 0.0);
  EXPECT_EQ(ring::unit_interval(1ull << 63), 0.5 + 0x1p-53);
}

TEST(Score, GoldenValuesArePinned) {
  // Cross-checked with an independent Python implementation of the formula in rendezvous.h.
  EXPECT_EQ(ring::node_hash("node-a"), 0xdadea24aa12481feull);
  const std::uint64_t key = base::page_hash("s3", "bucket/key.bin", 7);
  EXPECT_EQ(ring::hrw_score(key, ring::node_hash("node-a"), 1.0), 0x1.451b23ddcd37fp+0);
  EXPECT_EQ(ring::hrw_score(key, ring::node_hash("node-a"), 0.0), -0x1.932abd0d51a70p-1);
}

TEST(Score, WeightScalesScore) {
  const std::uint64_t key = base::page_hash("s3", "x", 1);
  const std::uint64_t node = ring::node_hash("node-a");
  EXPECT_DOUBLE_EQ(ring::hrw_score(key, node, 3.0), 3.0 * ring::hrw_score(key, node, 1.0));
  EXPECT_GT(ring::hrw_score(key, node, ring::kMinWeight), 0.0);
  EXPECT_LT(ring::hrw_score(key, node, 0.0), 0.0);
  EXPECT_TRUE(std::isfinite(ring::hrw_score(key, node, ring::kMaxWeight)));
}

TEST(Score, OutranksByScoreThenId) {
  EXPECT_TRUE(ring::outranks(2.0, "z", 1.0, "a"));
  EXPECT_FALSE(ring::outranks(1.0, "a", 2.0, "z"));
  EXPECT_TRUE(ring::outranks(1.0, "a", 1.0, "b"));
  EXPECT_FALSE(ring::outranks(1.0, "b", 1.0, "a"));
  EXPECT_FALSE(ring::outranks(1.0, "a", 1.0, "a"));
  EXPECT_TRUE(ring::outranks(0.5, "a", -0.5, "a"));
}

// ---- validation ---------------------------------------------------------------------------

TEST(RingValidate, AcceptsValidAndEmptyLists) {
  EXPECT_EQ(Ring::validate({}), std::nullopt);
  EXPECT_EQ(
      Ring::validate({{"a", 0.0}, {"b", 1.5}, {"c", ring::kMaxWeight}, {"d", ring::kMinWeight}}),
      std::nullopt);
}

TEST(RingValidate, RejectsEmptyId) {
  EXPECT_EQ(Ring::validate({{"a", 1}, {"", 1}}), "empty member id");
}

TEST(RingValidate, RejectsDuplicateId) {
  EXPECT_EQ(Ring::validate({{"a", 1}, {"b", 1}, {"a", 2}}), "duplicate member id 'a'");
}

TEST(RingValidate, RejectsNegativeWeight) {
  EXPECT_EQ(Ring::validate({{"a", -1}}),
            "member 'a' has an invalid weight -1 (want 0 or 1e-06 <= weight <= 1e+15)");
}

TEST(RingValidate, RejectsNanInfiniteAndHugeWeights) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double w : {nan, inf, -inf, ring::kMaxWeight * 2, -0.0001, ring::kMinWeight / 2, 1e-310}) {
    auto reason = Ring::validate({{"ok", 1}, {"bad", w}});
    ASSERT_TRUE(reason.has_value()) << w;
    EXPECT_EQ(reason->rfind("member 'bad' has an invalid weight", 0), 0u) << *reason;
  }
}

TEST(RingMake, NormalisesNegativeZeroWeight) {
  const Ring r = make_ring({{"a", -0.0}, {"b", 1}});
  EXPECT_FALSE(std::signbit(r.members()[0].weight));
  EXPECT_EQ(r.owner(5)->id, "b");
}

TEST(RingMake, ReportsValidationError) {
  std::string error;
  EXPECT_FALSE(Ring::make({{"a", 1}, {"a", 1}}, &error).has_value());
  EXPECT_EQ(error, "duplicate member id 'a'");
  EXPECT_FALSE(Ring::make({{"", 1}}).has_value());  // a null error pointer is allowed
}

// ---- basic queries ------------------------------------------------------------------------

TEST(Ring, EmptyRingOwnsNothing) {
  const Ring r = make_ring({});
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.owner(123), nullptr);
  EXPECT_TRUE(r.rank(123, 3).empty());
  EXPECT_EQ(Ring().owner(123), nullptr);
}

TEST(Ring, MembersAreSortedAndFindable) {
  const Ring r = make_ring({{"c", 1}, {"a", 2}, {"b", 3}});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.members()[0], (Member{"a", 2}));
  EXPECT_EQ(r.members()[2], (Member{"c", 1}));
  EXPECT_EQ(r.find("b"), 1u);
  EXPECT_EQ(r.find("d"), std::nullopt);
  EXPECT_EQ(r.find(""), std::nullopt);
}

TEST(Ring, ShareIsWeightOverSum) {
  const Ring r = make_ring({{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 0}});
  EXPECT_DOUBLE_EQ(r.share(0), 0.1);
  EXPECT_DOUBLE_EQ(r.share(3), 0.4);
  EXPECT_DOUBLE_EQ(r.share(4), 0.0);
  const Ring zeros = make_ring({{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}});
  EXPECT_DOUBLE_EQ(zeros.share(2), 0.25);
}

TEST(Ring, GoldenOwnershipIsPinned) {
  const Ring r = make_ring({{"node-a", 1}, {"node-b", 2}, {"node-c", 1}});
  std::string owners;
  for (std::uint64_t page = 0; page < 16; ++page) {
    owners += r.owner(base::page_hash("s3", "bucket/key.bin", page))->id.back();
  }
  EXPECT_EQ(owners, "baabbcabaabacaac");  // cross-checked like Score.GoldenValuesArePinned
}

// ---- placement properties -------------------------------------------------------------------

TEST(RingBalance, EqualWeightsSpreadEvenly) {
  for (std::size_t n : {3, 5, 8, 16, 32, 64}) {
    SCOPED_TRACE("members " + std::to_string(n));
    expect_shares_match(make_ring(equal_members(n)));
  }
}

TEST(RingBalance, WeightsAreHonoured) {
  expect_shares_match(make_ring({{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}));
  expect_shares_match(make_ring({{"x", 0.25}, {"y", 8}, {"z", 1.75}, {"w", 100}}));
}

TEST(RingBalance, WeightZeroOwnsNothingWhileOthersExist) {
  const Ring r = make_ring({{"a", 1}, {"b", 1}, {"drain-1", 0}, {"d", 2}, {"drain-2", 0}});
  const auto counts = owner_counts(r);
  EXPECT_EQ(counts[*r.find("drain-1")], 0u);
  EXPECT_EQ(counts[*r.find("drain-2")], 0u);
  expect_shares_match(r);
}

TEST(RingBalance, AllZeroWeightsStillPlaceEvenly) {
  const Ring r = make_ring({{"a", 0}, {"b", 0}, {"c", 0}});
  expect_shares_match(r);
}

TEST(RingChange, JoinMovesOnlyKeysToTheNewMember) {
  for (double w : {1.0, 3.0}) {
    SCOPED_TRACE("new weight " + std::to_string(w));
    const Ring before = make_ring(equal_members(8));
    const auto after = before.with_member({"node-new", w});
    ASSERT_TRUE(after.has_value());
    std::size_t moved = 0;
    for (std::uint64_t k : keys(key_count() / 4)) {
      const Member* was = before.owner(k);
      const Member* now = after->owner(k);
      if (was->id == now->id) continue;
      ++moved;
      ASSERT_EQ(now->id, "node-new");
    }
    expect_share(moved, key_count() / 4, w / (8 + w), "moved keys");
  }
}

TEST(RingChange, LeaveMovesOnlyLeaversKeysToTheirRankTwo) {
  const Ring before = make_ring({{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 1}});
  const auto after = before.without_member("c");
  ASSERT_TRUE(after.has_value());
  std::size_t moved = 0;
  for (std::uint64_t k : keys(key_count() / 4)) {
    const Member* was = before.owner(k);
    const Member* now = after->owner(k);
    if (was->id != "c") {
      ASSERT_EQ(now->id, was->id);
      continue;
    }
    ++moved;
    ASSERT_EQ(now->id, before.members()[before.rank(k, 2)[1]].id);
  }
  expect_share(moved, key_count() / 4, before.share(*before.find("c")), "moved keys");
}

TEST(RingRank, ConsistentWithOwnerAndScores) {
  const Ring r = make_ring({{"a", 1}, {"b", 2}, {"c", 0}, {"d", 4}, {"e", 1}, {"f", 0}});
  for (std::uint64_t k : keys(20'000)) {
    const auto full = r.rank(k, r.size());
    ASSERT_EQ(full.size(), r.size());
    EXPECT_EQ(full[0], index_of(r, r.owner(k)));
    EXPECT_NE(full[1], full[0]);
    for (std::size_t j = 0; j + 1 < full.size(); ++j) {
      EXPECT_TRUE(ring::outranks(r.score(k, full[j]), r.members()[full[j]].id,
                                 r.score(k, full[j + 1]), r.members()[full[j + 1]].id));
    }
    // The weight-0 members "c" and "f" come last.
    EXPECT_EQ(r.members()[full[4]].weight, 0.0);
    EXPECT_EQ(r.members()[full[5]].weight, 0.0);
    const auto top3 = r.rank(k, 3);
    EXPECT_TRUE(std::equal(top3.begin(), top3.end(), full.begin()));
  }
}

// A weight for member `id` whose score for `key` equals `target` exactly, or nullopt.
std::optional<double> tying_weight(std::uint64_t key, std::string_view id, double target) {
  const std::uint64_t h = ring::node_hash(id);
  double w = target * -ring::hrw_score(key, h, 0.0);  // hrw_score(.., 0) is ln(u)
  for (int step = 0; step < 8; ++step) w = std::nextafter(w, 0.0);
  for (int step = 0; step < 16; ++step, w = std::nextafter(w, 2 * w)) {
    if (ring::hrw_score(key, h, w) == target) return w;
  }
  return std::nullopt;
}

TEST(RingRank, EqualScoresRankBySmallerId) {
  std::size_t ties = 0;
  for (std::uint64_t k : keys(50)) {
    // "b" tuned to tie "a" (weight 1), then "a" tuned to tie "b" (weight 1): "a" wins both.
    const double a1 = ring::hrw_score(k, ring::node_hash("a"), 1.0);
    const double b1 = ring::hrw_score(k, ring::node_hash("b"), 1.0);
    for (auto [wa, wb] : {std::pair{std::optional(1.0), tying_weight(k, "b", a1)},
                          std::pair{tying_weight(k, "a", b1), std::optional(1.0)}}) {
      if (!wa || !wb) continue;
      ++ties;
      const Ring r = make_ring({{"b", *wb}, {"a", *wa}});
      ASSERT_EQ(r.score(k, 0), r.score(k, 1));
      EXPECT_EQ(r.owner(k)->id, "a");
      EXPECT_EQ(r.rank(k, 2), (std::vector<std::size_t>{0, 1}));
    }
  }
  EXPECT_GT(ties, 10u);
}

// owner() skips the logarithm of members that cannot win; it must still pick the true argmax.
TEST(RingRank, OwnerEqualsBestRankedForManyWeightMixes) {
  std::vector<std::vector<Member>> rings = {equal_members(64), equal_members(64), equal_members(64),
                                            equal_members(3)};
  for (std::size_t i = 0; i < 64; ++i) {
    rings[1][i].weight = static_cast<double>(i % 7);                       // includes weight 0
    rings[2][i].weight = std::pow(10.0, static_cast<double>(i % 22) - 6);  // 1e-6 .. 1e15
  }
  rings[3] = {{"z1", 0}, {"z2", 0}, {"z3", 0}};
  for (const auto& members : rings) {
    const Ring r = make_ring(members);
    for (std::uint64_t k : keys(50'000)) {
      ASSERT_EQ(index_of(r, r.owner(k)), r.rank(k, 1)[0]) << "key " << k;
    }
  }
}

TEST(RingRank, ClampsToRingSize) {
  const Ring r = make_ring(equal_members(4));
  const auto all = r.rank(42, 100);
  EXPECT_EQ(all.size(), 4u);
  std::vector<std::size_t> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_TRUE(r.rank(42, 0).empty());
}

TEST(RingRank, IndependentOfMemberOrder) {
  std::vector<Member> members = equal_members(12);
  members[3].weight = 5;
  members[7].weight = 0;
  const Ring forward = make_ring(members);
  std::reverse(members.begin(), members.end());
  std::rotate(members.begin(), members.begin() + 5, members.end());
  const Ring shuffled = make_ring(members);
  ASSERT_EQ(forward.members(), shuffled.members());
  for (std::uint64_t k : keys(20'000)) {
    ASSERT_EQ(forward.owner(k)->id, shuffled.owner(k)->id);
    ASSERT_EQ(forward.rank(k, 12), shuffled.rank(k, 12));
  }
}

// ---- what-if helpers ------------------------------------------------------------------------

TEST(RingWhatIf, WithMemberAddsOrReweights) {
  const Ring r = make_ring({{"a", 1}, {"b", 1}});
  const auto added = r.with_member({"c", 2});
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->members(), (std::vector<Member>{{"a", 1}, {"b", 1}, {"c", 2}}));
  const auto reweighted = r.with_member({"b", 3});
  ASSERT_TRUE(reweighted.has_value());
  EXPECT_EQ(reweighted->members(), (std::vector<Member>{{"a", 1}, {"b", 3}}));
  EXPECT_EQ(r.members(), (std::vector<Member>{{"a", 1}, {"b", 1}}));  // unchanged
}

TEST(RingWhatIf, WithMemberRejectsInvalidMember) {
  const Ring r = make_ring({{"a", 1}});
  std::string error;
  EXPECT_FALSE(r.with_member({"b", -2}, &error).has_value());
  EXPECT_EQ(error, "member 'b' has an invalid weight -2 (want 0 or 1e-06 <= weight <= 1e+15)");
  EXPECT_FALSE(r.with_member({"", 1}, &error).has_value());
  EXPECT_EQ(error, "empty member id");
}

TEST(RingWhatIf, WithoutMemberRemovesKnownIdsOnly) {
  const Ring r = make_ring({{"a", 1}, {"b", 1}});
  const auto removed = r.without_member("a");
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->members(), (std::vector<Member>{{"b", 1}}));
  EXPECT_EQ(removed->owner(7)->id, "b");
  EXPECT_FALSE(r.without_member("zz").has_value());
  const auto emptied = removed->without_member("b");
  ASSERT_TRUE(emptied.has_value());
  EXPECT_EQ(emptied->owner(7), nullptr);
}

}  // namespace
}  // namespace shoal::test
