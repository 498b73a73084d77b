// The memory tier (node/memory_tier.h): pages leaving for room are handed over with what the
// disk tier needs to know (ETag changes and erases are not), and what it charges is what it holds.
#include <gtest/gtest.h>
#include <malloc.h>

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

PageRef small_page(std::size_t body, const std::string& etag) {
  auto p = std::make_shared<Page>();
  p->body.data = std::make_unique_for_overwrite<char[]>(body);
  p->body.size = body;
  std::memset(p->body.data.get(), 'x', body);
  p->object_size = body;
  p->etag = etag;
  p->last_modified = "Sat, 01 Jan 2000 00:00:00 GMT";
  p->bucket = "a-bucket-with-a-long-name";
  return p;
}

std::uint64_t heap_in_use() {
  return mallinfo2().uordblks + mallinfo2().hblkhd;
}

// Many small entries (a few hundred bytes each, keys longer than the small-string buffer): the
// heap they take must not exceed what --memory is charged for them (it once took 2.4x).
TEST(MemoryTierCharge, SmallEntriesCostNoMoreThanTheirCharge) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan replaces glibc malloc; mallinfo2 does not see its heap";
#endif
  MemoryTier tier(1ull << 32);
  constexpr int kPages = 20000;
  const std::uint64_t before = heap_in_use();
  for (int i = 0; i < kPages; ++i) {
    base::PageKey key{"videos-kind", "some/rather/long/object/key/number/" + std::to_string(i), 0};
    tier.insert(key, small_page(200, "\"0123456789abcdef0123456789abcdef\""));
  }
  const std::uint64_t held = heap_in_use() - before;
  const std::uint64_t charged = tier.stats().used_bytes;
  EXPECT_EQ(tier.stats().pages, static_cast<std::uint64_t>(kPages));
  EXPECT_LE(held, charged * 11 / 10) << "heap " << held << " bytes, charged " << charged;
  EXPECT_GE(held, charged * 7 / 10) << "heap " << held << " bytes, charged " << charged;
}

TEST(MemoryTierCharge, LargeBodiesAreChargedTheirPages) {
  base::PageKey key{"k", "o", 0};
  Page page;
  page.body.size = 16 << 20;
  const std::uint64_t c = MemoryTier::charge(key, page);
  EXPECT_GE(c, (16u << 20) + 4096);
  EXPECT_LT(c, (16u << 20) + 8192);
}

}  // namespace
}  // namespace shoal::node
