// The memory tier (node/memory_tier.h): pages leaving for room are handed over with what the
// disk tier needs to know; ETag changes and erases are not.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "node/memory_tier.h"
#include "tests/unit/node_test_pages.h"

namespace shoal::node {
namespace {

using test::charge_of;
using test::make_page;

TEST(MemoryTierEviction, HandsOverEvictedPagesWithHitAndOrigin) {
  MemoryTier mem(4 * charge_of(1000) + 2000);
  std::vector<EvictedPage> out;
  mem.set_eviction_handler([&](EvictedPage e) { out.push_back(std::move(e)); });
  mem.insert(base::PageKey{"k", "o", 0}, make_page(base::PageKey{"k", "o", 0}, 1000));
  mem.insert(base::PageKey{"k", "o", 1}, make_page(base::PageKey{"k", "o", 1}, 1000),
             /*from_disk=*/true);
  EXPECT_TRUE(mem.find(base::PageKey{"k", "o", 0}));
  for (std::uint64_t p = 2; p < 12; ++p) {
    mem.insert(base::PageKey{"k", "o", p}, make_page(base::PageKey{"k", "o", p}, 1000));
  }
  ASSERT_FALSE(out.empty());
  bool saw_hit = false, saw_disk = false;
  for (const EvictedPage& e : out) {
    EXPECT_NE(e.key.page, node::kMetaPage);
    if (e.key.page == 0) saw_hit = e.hit && !e.from_disk;
    if (e.key.page == 1) saw_disk = e.from_disk && !e.hit;
    if (e.key.page >= 2) {
      EXPECT_FALSE(e.hit || e.from_disk);
    }
  }
  EXPECT_TRUE(saw_disk);
  // Page 0 was hit once while in the small queue: S3-FIFO evicts it from there like the others
  // (frequency <= 1) but the hit is reported.
  EXPECT_TRUE(saw_hit);
}

TEST(MemoryTierEviction, EtagChangesAndErasesAreNotHandedOver) {
  MemoryTier mem(64 * charge_of(1000));
  int handed = 0;
  mem.set_eviction_handler([&](EvictedPage) { ++handed; });
  mem.insert(base::PageKey{"k", "o", 0}, make_page(base::PageKey{"k", "o", 0}, 1000, "\"v1\""));
  mem.insert(base::PageKey{"k", "o", 1}, make_page(base::PageKey{"k", "o", 1}, 1000, "\"v2\""));
  EXPECT_EQ(mem.peek(base::PageKey{"k", "o", 0}), nullptr);  // dropped: stale version
  mem.erase_object("k", "o");
  EXPECT_EQ(handed, 0);
}

TEST(MemoryTierEviction, ResidentPagesListsEveryPageOnce) {
  MemoryTier mem(64 * charge_of(1000));
  for (std::uint64_t p = 0; p < 5; ++p) {
    mem.insert(base::PageKey{"k", "o", p}, make_page(base::PageKey{"k", "o", p}, 1000), p == 3);
  }
  mem.find(base::PageKey{"k", "o", 2});
  auto pages = mem.resident_pages();
  ASSERT_EQ(pages.size(), 5u);
  std::sort(pages.begin(), pages.end(),
            [](const EvictedPage& a, const EvictedPage& b) { return a.key.page < b.key.page; });
  for (std::uint64_t p = 0; p < 5; ++p) {
    EXPECT_EQ(pages[p].key.page, p);
    EXPECT_EQ(pages[p].hit, p == 2);
    EXPECT_EQ(pages[p].from_disk, p == 3);
  }
}

}  // namespace
}  // namespace shoal::node
