#include <gtest/gtest.h>

#include <cstring>

#include "ring/base/buffer_pool.h"

namespace shoal::base {
namespace {

TEST(BufferPool, SizeClassesArePowersOfTwoWithinTheRange) {
  EXPECT_EQ(BufferPool::class_of(BufferPool::kMinClassBytes - 1), BufferDeleter::kNoClass);
  EXPECT_EQ(BufferPool::class_of(BufferPool::kMinClassBytes), 0);
  EXPECT_EQ(BufferPool::class_of(BufferPool::kMinClassBytes + 1), 1);
  EXPECT_EQ(BufferPool::class_of(1 << 20), 2);
  EXPECT_EQ(BufferPool::class_of(16 << 20), 6);
  EXPECT_EQ(BufferPool::class_of((1 << 20) + 4096), 3);
  EXPECT_EQ(BufferPool::class_of(BufferPool::kMaxClassBytes), BufferPool::kClasses - 1);
  EXPECT_EQ(BufferPool::class_of(BufferPool::kMaxClassBytes + 1), BufferDeleter::kNoClass);
  EXPECT_EQ(BufferPool::class_bytes(2), std::size_t{1} << 20);
}

TEST(BufferPool, AFreedSliceIsReusedForTheNextOfItsClass) {
  auto& pool = BufferPool::instance();
  pool.set_idle_limit(BufferPool::kDefaultIdleBytes);
  char* first = nullptr;
  {
    Bytes b = pool.take(1 << 20);
    ASSERT_EQ(b.size, std::size_t{1} << 20);
    std::memset(b.data.get(), 0x5a, b.size);  // the whole class is writable
    first = b.data.get();
  }
  const auto before = pool.stats();
  Bytes again = pool.take((1 << 20) - 100);  // same class
  EXPECT_EQ(again.data.get(), first);
  EXPECT_EQ(pool.stats().reused, before.reused + 1);
  EXPECT_EQ(pool.stats().idle_bytes, before.idle_bytes - (1 << 20));
}

TEST(BufferPool, IdleBytesStayWithinTheLimit) {
  auto& pool = BufferPool::instance();
  pool.set_idle_limit(2 << 20);
  {
    std::vector<Bytes> held;
    for (int i = 0; i < 6; ++i) held.push_back(pool.take(1 << 20));
  }  // six 1 MiB buffers freed: two kept, four freed
  EXPECT_EQ(pool.stats().idle_bytes, std::uint64_t{2} << 20);
  pool.set_idle_limit(0);
  EXPECT_EQ(pool.stats().idle_bytes, 0u);
  pool.set_idle_limit(BufferPool::kDefaultIdleBytes);
}

TEST(BufferPool, SizesOutsideThePooledRangeArePlainAllocations) {
  auto& pool = BufferPool::instance();
  const auto before = pool.stats();
  {
    Bytes small = pool.take(4096);
    Bytes large = pool.take(BufferPool::kMaxClassBytes + 1);
    EXPECT_EQ(small.data.get_deleter().size_class, BufferDeleter::kNoClass);
    EXPECT_EQ(large.data.get_deleter().size_class, BufferDeleter::kNoClass);
    large.data[BufferPool::kMaxClassBytes] = 1;
  }
  EXPECT_EQ(pool.stats().idle_bytes, before.idle_bytes);
  EXPECT_EQ(pool.stats().allocated, before.allocated);
}

TEST(BufferPool, PlainBuffersStillConvertToBytes) {
  Bytes b;
  b.data = std::make_unique_for_overwrite<char[]>(16);
  b.size = 16;
  EXPECT_EQ(b.data.get_deleter().size_class, BufferDeleter::kNoClass);
}

}  // namespace
}  // namespace shoal::base
