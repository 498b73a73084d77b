// Invalidation epochs (node/invalidation_epochs.h) and the memory tier's use of them: a fetch
// that started before a purge of its object (or kind) caches nothing; one that started after does.
#include <gtest/gtest.h>

#include <string>

#include "node/invalidation_epochs.h"
#include "node/memory_tier.h"
#include "tests/unit/node_test_pages.h"

namespace shoal::node {
namespace {

using test::make_page;

TEST(InvalidationEpochs, APurgeEndsTheObjectsEarlierEpochsOnly) {
  InvalidationEpochs e;
  const std::uint64_t before = e.now();
  EXPECT_TRUE(e.current_since("k", "a", before));
  e.invalidate_object("k", "a");
  EXPECT_FALSE(e.current_since("k", "a", before));
  EXPECT_TRUE(e.current_since("k", "a", e.now()));
  // Another object (unless its slot collides, which these names do not) keeps its epoch.
  std::string other = "b";
  EXPECT_TRUE(e.current_since("k", other, before));
  EXPECT_TRUE(e.current_since("k2", "a", before));
}

TEST(InvalidationEpochs, AKindPurgeEndsEveryObjectOfTheKind) {
  InvalidationEpochs e;
  const std::uint64_t before = e.now();
  e.invalidate_kind("k");
  EXPECT_FALSE(e.current_since("k", "a", before));
  EXPECT_FALSE(e.current_since("k", "z/y", before));
  EXPECT_TRUE(e.current_since("k", "a", e.now()));
  EXPECT_TRUE(e.current_since("other", "a", before));
}

TEST(InvalidationEpochs, EachPurgeIsANewEpoch) {
  InvalidationEpochs e;
  e.invalidate_object("k", "a");
  const std::uint64_t mid = e.now();
  e.invalidate_object("k", "a");
  EXPECT_GT(e.now(), mid);
  EXPECT_FALSE(e.current_since("k", "a", mid));
}

TEST(MemoryTierInvalidation, APageFetchedAcrossAPurgeIsNotCached) {
  MemoryTier mem(64 << 20);
  const base::PageKey key{"k", "o", 0};
  mem.insert(key, make_page(key, 1000));
  const std::uint64_t started = mem.epoch();  // a fetch starts
  EXPECT_EQ(mem.invalidate_object("k", "o"), 1u);
  EXPECT_EQ(mem.peek(key), nullptr);
  EXPECT_FALSE(mem.insert(key, make_page(key, 1000), false, started));
  EXPECT_EQ(mem.peek(key), nullptr);
  mem.put_meta("k", "o", ObjectMeta{1000, "\"v1\"", "", 0}, started);
  EXPECT_FALSE(mem.find_meta("k", "o").has_value());
  EXPECT_EQ(mem.stats().stale_refused, 2u);
  // A fetch that started after the purge caches as before.
  EXPECT_TRUE(mem.insert(key, make_page(key, 1000), false, mem.epoch()));
  EXPECT_NE(mem.peek(key), nullptr);
}

TEST(MemoryTierInvalidation, AKindPurgeRefusesEveryObjectsEarlierFetch) {
  MemoryTier mem(64 << 20);
  const base::PageKey a{"k", "a", 0}, b{"k", "b", 3}, other{"j", "a", 0};
  const std::uint64_t started = mem.epoch();
  mem.insert(a, make_page(a, 100));
  EXPECT_EQ(mem.invalidate_kind("k"), 1u);
  EXPECT_FALSE(mem.insert(b, make_page(b, 100), false, started));
  EXPECT_TRUE(mem.insert(other, make_page(other, 100), false, started));
}

TEST(MemoryTierInvalidation, EvictedPagesCarryTheEpochTheyLeftAt) {
  std::vector<EvictedPage> out;
  MemoryTier mem(MemoryTier::charge(base::PageKey{"k", "o", 0},
                                    *make_page(base::PageKey{"k", "o", 0}, 100000)) *
                 3 / 2);
  mem.set_eviction_handler([&](EvictedPage e) { out.push_back(std::move(e)); });
  mem.invalidate_object("x", "y");
  const std::uint64_t at = mem.epoch();
  mem.insert(base::PageKey{"k", "o", 0}, make_page(base::PageKey{"k", "o", 0}, 100000));
  mem.insert(base::PageKey{"k", "o", 1}, make_page(base::PageKey{"k", "o", 1}, 100000));
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].epoch, at);
  EXPECT_TRUE(mem.current_since(out[0].key, out[0].epoch));
  mem.invalidate_object("k", "o");
  EXPECT_FALSE(mem.current_since(out[0].key, out[0].epoch));
}

}  // namespace
}  // namespace shoal::node
