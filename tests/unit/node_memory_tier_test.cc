// The memory tier's accounting (node/memory_tier.h): what it charges is what it holds.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstring>
#include <string>

#include "node/memory_tier.h"

namespace shoal::node {
namespace {

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
