#include <gtest/gtest.h>

#include <cstdint>
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

TEST(BufferPool, SizesOutsideThePooledRangeArePlainAlignedAllocations) {
  auto& pool = BufferPool::instance();
  const auto before = pool.stats();
  {
    Bytes small = pool.take(4096);
    Bytes large = pool.take(BufferPool::kMaxClassBytes + 1);
    EXPECT_EQ(small.data.get_deleter().size_class, BufferDeleter::kAligned);
    EXPECT_EQ(large.data.get_deleter().size_class, BufferDeleter::kAligned);
    EXPECT_FALSE(small.data.get_deleter().pooled());
    large.data[BufferPool::kMaxClassBytes] = 1;
  }
  EXPECT_EQ(pool.stats().idle_bytes, before.idle_bytes);
  EXPECT_EQ(pool.stats().allocated, before.allocated);
}

TEST(BufferPool, EveryBufferStartsOnTheAlignmentBoundary) {
  auto& pool = BufferPool::instance();
  for (std::size_t n : {std::size_t{1}, std::size_t{4096}, std::size_t{1} << 20,
                        (std::size_t{1} << 20) + 1, BufferPool::kMaxClassBytes + 1}) {
    Bytes b = pool.take(n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data.get()) % BufferPool::kAlignment, 0u) << n;
  }
}

TEST(BufferPool, ASubrangeKeepsTheBytesAndReturnsTheWholeBufferToItsClass) {
  auto& pool = BufferPool::instance();
  pool.set_idle_limit(BufferPool::kDefaultIdleBytes);
  char* first = nullptr;
  {
    Bytes whole = pool.take(1 << 20);
    first = whole.data.get();
    for (std::size_t i = 0; i < whole.size; ++i) whole.data[i] = static_cast<char>(i % 251);
    Bytes part = subrange(std::move(whole), 5000, 1000);
    EXPECT_EQ(whole.data.get(), nullptr);
    ASSERT_EQ(part.size, 1000u);
    EXPECT_EQ(part.data.get(), first + 5000);
    EXPECT_EQ(part.data[0], static_cast<char>(5000 % 251));
    Bytes narrower = subrange(std::move(part), 10, 20);  // offsets add up
    EXPECT_EQ(narrower.data.get(), first + 5010);
    EXPECT_EQ(narrower.data.get_deleter().offset, 5010u);
  }
  const auto before = pool.stats();
  Bytes again = pool.take(1 << 20);  // the whole buffer went back, not a pointer into it
  EXPECT_EQ(again.data.get(), first);
  EXPECT_EQ(pool.stats().reused, before.reused + 1);
}

TEST(BufferPool, ASubrangeOfAPlainBufferFreesTheWholeAllocation) {
  Bytes b;
  b.data = std::make_unique_for_overwrite<char[]>(64);
  b.size = 64;
  Bytes part = subrange(std::move(b), 16, 8);  // ASan reports a bad free if the offset is lost
  EXPECT_EQ(part.size, 8u);
}

TEST(BufferPool, HeldBytesAreTheWholeClassOrAlignedAllocation) {
  auto& pool = BufferPool::instance();
  EXPECT_EQ(BufferPool::held_bytes(pool.take((1 << 20) + 1)), std::uint64_t{2} << 20);
  EXPECT_EQ(BufferPool::held_bytes(pool.take_huge(4096)), BufferPool::kHugePageBytes);
  EXPECT_EQ(BufferPool::held_bytes(pool.take(100)), BufferPool::kAlignment);
  const std::size_t large = BufferPool::kMaxClassBytes + 1;  // aligned to a huge page
  EXPECT_EQ(aligned_bytes(large), BufferPool::kMaxClassBytes + BufferPool::kHugePageBytes);
  // Narrowed at its start (as a disk read's buffer is): still the whole allocation. A pooled one
  // keeps its class however narrowed.
  Bytes part = subrange(pool.take(large), 1000, large - 1000);
  EXPECT_EQ(BufferPool::held_bytes(part), aligned_bytes(large));
  EXPECT_EQ(BufferPool::held_bytes(subrange(pool.take(1 << 20), 5, 10)), std::uint64_t{1} << 20);
  Bytes plain;
  plain.data = std::make_unique_for_overwrite<char[]>(16);
  plain.size = 16;
  EXPECT_EQ(BufferPool::held_bytes(plain), 0u);
}

TEST(BufferPool, PlainBuffersStillConvertToBytes) {
  Bytes b;
  b.data = std::make_unique_for_overwrite<char[]>(16);
  b.size = 16;
  EXPECT_EQ(b.data.get_deleter().size_class, BufferDeleter::kNoClass);
}

}  // namespace
}  // namespace shoal::base
