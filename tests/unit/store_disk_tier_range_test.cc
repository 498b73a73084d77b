// DiskTier's ranged reads and per-block verification (node/store/disk_tier.h, read_range; format
// version 2, docs/disk-format.md) on real files: exact bytes at unaligned offsets, across block
// boundaries, in the last partial block; only the covering blocks are read; a flipped byte fails
// its block only, and a rewrite heals it; a flipped byte in the checksum table drops the slot;
// torn payloads; slots of format version 1 are dropped and counted at recovery.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "node/store/disk_tier.h"
#include "tests/unit/store_test_util.h"

namespace shoal::store {
namespace {

using test::flip_byte;
using test::key_of;
using test::meta_of;
using test::page_bytes;
using test::read_page;
using test::read_range;
using test::read_raw;
using test::ScratchDir;
using test::write_page;
using test::write_raw;

constexpr std::uint64_t kPage = 1 << 20;    // 16 payload blocks
constexpr std::uint64_t kBlock = 64 << 10;  // payload_block_bytes(kPage)
constexpr std::uint64_t kSlot = kPage + kHeaderBytes;
constexpr std::uint64_t kObjectSize = 3 * kPage + 70000;  // page 3: one full block + 4464 bytes
constexpr std::uint64_t kLastPage = 70000;

static_assert(payload_block_bytes(kPage) == kBlock);

class DiskRangeTest : public ::testing::Test {
 protected:
  DiskConfig config(std::uint64_t page_size = kPage) const {
    return test::store_config(dir_.path(), page_size, 8);
  }
  std::unique_ptr<DiskTier> open(const DiskConfig& c) { return test::open_store(c); }
  std::string file() const { return dir_.path() + "/shoal.slots"; }

  // The bytes page `page` of the test object holds (ETag "e1").
  static std::string body(std::uint64_t page) {
    return page_bytes(key_of(page), "\"e1\"", page == 3 ? kLastPage : kPage);
  }
  void put(DiskTier& t, std::uint64_t page) {
    ASSERT_EQ(write_page(t, key_of(page), meta_of(kObjectSize), body(page)), Result::kOk);
  }
  // Whether read_range(offset, length) of `page` hands out exactly the page's bytes there.
  ::testing::AssertionResult exact(DiskTier& t, std::uint64_t page, std::uint64_t offset,
                                   std::uint64_t length, bool sink = false) {
    auto r = read_range(t, key_of(page), offset, length, sink);
    const std::string all = body(page);
    const std::string want = offset < all.size() ? all.substr(offset, length) : "";
    if (r.result != Result::kOk) {
      return ::testing::AssertionFailure() << "result " << result_name(r.result);
    }
    if (r.bytes != want || r.offset != offset || r.page_length != all.size() ||
        r.meta != meta_of(kObjectSize)) {
      return ::testing::AssertionFailure()
             << "offset " << offset << " length " << length << ": " << r.bytes.size()
             << " bytes at " << r.offset << " of " << r.page_length << ", want " << want.size();
    }
    if (sink && (r.sink_calls != (want.empty() ? 0 : 1) || r.bytes_in_sink != !want.empty())) {
      return ::testing::AssertionFailure() << "sink called " << r.sink_calls << " times";
    }
    return ::testing::AssertionSuccess();
  }
  // Device bytes read by one call of `fn`.
  template <class Fn>
  std::uint64_t bytes_read_by(DiskTier& t, Fn fn) {
    const std::uint64_t before = t.stats().bytes_read;
    fn();
    return t.stats().bytes_read - before;
  }

  ScratchDir dir_;
};

TEST_F(DiskRangeTest, RangesAnywhereInAPageAreExact) {
  auto t = open(config());
  put(*t, 0);
  for (bool sink : {false, true}) {
    EXPECT_TRUE(exact(*t, 0, 0, 1, sink));                           // length 1
    EXPECT_TRUE(exact(*t, 0, 12345, 1, sink));                       // unaligned
    EXPECT_TRUE(exact(*t, 0, kBlock - 1, 2, sink));                  // across a block boundary
    EXPECT_TRUE(exact(*t, 0, kBlock, kBlock, sink));                 // exactly one block
    EXPECT_TRUE(exact(*t, 0, 5 * kBlock + 4097, 3 * kBlock, sink));  // unaligned, 4 blocks
    EXPECT_TRUE(exact(*t, 0, kPage - 1, 1, sink));                   // the last byte
    EXPECT_TRUE(exact(*t, 0, kPage - 100, 1000, sink));              // clamped at the page's end
    EXPECT_TRUE(exact(*t, 0, 0, kPage, sink));                       // the whole page
    EXPECT_TRUE(exact(*t, 0, 100, ~0ull, sink));                     // any length
    EXPECT_TRUE(exact(*t, 0, kPage, 10, sink));                      // past the end: meta, no bytes
    EXPECT_TRUE(exact(*t, 0, 500, 0, sink));                         // length 0
  }
  EXPECT_EQ(t->stats().checksum_failures, 0u);
}

TEST_F(DiskRangeTest, TheLastPartialBlockIsExact) {
  auto t = open(config());
  put(*t, 3);  // 70000 bytes: block 0 full, block 1 holds 4464 bytes
  EXPECT_TRUE(exact(*t, 3, kBlock, 4464));
  EXPECT_TRUE(exact(*t, 3, kLastPage - 1, 1));
  EXPECT_TRUE(exact(*t, 3, kBlock - 3, 10));
  EXPECT_TRUE(exact(*t, 3, 0, kPage));
  EXPECT_TRUE(exact(*t, 3, kLastPage, 1));
  auto whole = read_page(*t, key_of(3));
  ASSERT_EQ(whole.result, Result::kOk);
  EXPECT_EQ(whole.payload, body(3));
}

TEST_F(DiskRangeTest, OnlyTheHeaderAndTheCoveringBlocksAreRead) {
  auto t = open(config());
  put(*t, 0);
  put(*t, 3);
  auto read = [&](std::uint64_t page, std::uint64_t offset, std::uint64_t length) {
    return bytes_read_by(*t, [&] { ASSERT_TRUE(exact(*t, page, offset, length)); });
  };
  EXPECT_EQ(read(0, 0, 1), kHeaderBytes + kBlock);  // contiguous: one transfer
  EXPECT_EQ(read(0, 7 * kBlock + 10, 100), kHeaderBytes + kBlock);
  EXPECT_EQ(read(0, 7 * kBlock - 1, 2), kHeaderBytes + 2 * kBlock);
  EXPECT_EQ(read(0, 4 * kBlock + 4096, 1 << 20), kHeaderBytes + 12 * kBlock);  // clamped
  EXPECT_EQ(read(0, 3 * kBlock + 1, 1 << 20), kHeaderBytes + 13 * kBlock);
  EXPECT_EQ(read(0, kPage, 1), kHeaderBytes);  // past the end: the header only
  // 1 MiB at an unaligned offset costs at most two more blocks than 1 MiB.
  put(*t, 1);
  EXPECT_EQ(read(1, 100, kPage - 200), kHeaderBytes + kPage);
  // The last page's partial block is read to its 4 KiB boundary, not to the block's end.
  EXPECT_EQ(read(3, kBlock + 10, 10), kHeaderBytes + round_up_block(kLastPage - kBlock));
  EXPECT_EQ(bytes_read_by(*t, [&] { ASSERT_EQ(read_page(*t, key_of(3)).result, Result::kOk); }),
            kHeaderBytes + round_up_block(kLastPage));
}

TEST_F(DiskRangeTest, AFlippedByteFailsItsBlockOnlyAndARewriteHealsIt) {
  auto t = open(config());
  put(*t, 0);                                          // slot 0
  put(*t, 1);                                          // slot 1
  flip_byte(file(), kHeaderBytes + 5 * kBlock + 777);  // block 5 of page 0
  const std::uint64_t r1 = t->stats().bytes_read;
  const auto bad = read_range(*t, key_of(0), 5 * kBlock + 1000, 10, /*use_sink=*/true);
  EXPECT_EQ(bad.result, Result::kChecksumError);
  EXPECT_EQ(bad.sink_calls, 0);  // unverified bytes are never handed over
  EXPECT_EQ(t->stats().bytes_read - r1, kHeaderBytes + kBlock);
  auto s = t->stats();
  EXPECT_EQ(s.checksum_failures, 1u);
  EXPECT_EQ(s.blocks_bad, 1u);
  EXPECT_EQ(s.slots_used, 2u);  // the slot stays
  // The other blocks are still served from disk, exactly.
  EXPECT_TRUE(exact(*t, 0, 0, 5 * kBlock));
  EXPECT_TRUE(exact(*t, 0, 6 * kBlock, kPage));
  EXPECT_TRUE(exact(*t, 0, 5 * kBlock - 1, 1, true));
  EXPECT_TRUE(exact(*t, 0, 6 * kBlock, 1, true));
  // Reads touching the bad block fail at once: no I/O, no second count.
  const std::uint64_t r2 = t->stats().bytes_read;
  EXPECT_EQ(read_range(*t, key_of(0), 5 * kBlock - 1, 2).result, Result::kChecksumError);
  EXPECT_EQ(read_range(*t, key_of(0), 0, kPage).result, Result::kChecksumError);
  EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kChecksumError);
  EXPECT_EQ(t->stats().bytes_read, r2);
  EXPECT_EQ(t->stats().checksum_failures, 1u);
  // contains() says no, so the page is written again; the new copy replaces the bad slot.
  EXPECT_FALSE(t->contains(key_of(0), "\"e1\""));
  EXPECT_TRUE(t->contains(key_of(1), "\"e1\""));
  put(*t, 0);
  EXPECT_TRUE(t->contains(key_of(0), "\"e1\""));
  EXPECT_TRUE(exact(*t, 0, 5 * kBlock + 1000, 10));
  auto whole = read_page(*t, key_of(0));
  ASSERT_EQ(whole.result, Result::kOk);
  EXPECT_EQ(whole.payload, body(0));
  s = t->stats();
  EXPECT_EQ(s.blocks_bad, 0u);
  EXPECT_EQ(s.slots_used, 2u);
  EXPECT_EQ(s.checksum_failures, 1u);
  t->wait_idle();  // the bad slot's header is zeroed: it stays dropped after a restart
  EXPECT_EQ(read_raw(file(), 0, kHeaderBytes), std::string(kHeaderBytes, '\0'));
  t.reset();
  t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 2u);
  EXPECT_TRUE(exact(*t, 0, 0, kPage));
  EXPECT_TRUE(exact(*t, 1, 0, kPage));
}

TEST_F(DiskRangeTest, AWholePageReadMarksEveryBadBlock) {
  auto t = open(config());
  put(*t, 0);
  flip_byte(file(), kHeaderBytes + 2 * kBlock);
  flip_byte(file(), kHeaderBytes + 10 * kBlock - 1);  // the last byte of block 9
  EXPECT_EQ(read_page(*t, key_of(0)).result, Result::kChecksumError);
  EXPECT_EQ(t->stats().blocks_bad, 2u);
  EXPECT_EQ(t->stats().checksum_failures, 1u);
  EXPECT_EQ(read_range(*t, key_of(0), 2 * kBlock + 5, 1).result, Result::kChecksumError);
  EXPECT_EQ(read_range(*t, key_of(0), 9 * kBlock + 5, 1).result, Result::kChecksumError);
  EXPECT_TRUE(exact(*t, 0, 3 * kBlock, 6 * kBlock));
  EXPECT_EQ(t->stats().checksum_failures, 1u);
  EXPECT_TRUE(t->erase(key_of(0)));  // dropping the slot forgets its bad blocks
  EXPECT_EQ(t->stats().blocks_bad, 0u);
}

TEST_F(DiskRangeTest, AFlippedByteInTheChecksumTableOrHeaderDropsTheSlot) {
  auto t = open(config());
  put(*t, 0);
  put(*t, 1);
  flip_byte(file(), 1552 + 8 * 3 + 2);  // slot 0: block 3's checksum
  flip_byte(file(), kSlot + 60);        // slot 1: block_count
  EXPECT_EQ(read_range(*t, key_of(0), 0, 1).result, Result::kChecksumError);      // block 0
  EXPECT_EQ(read_range(*t, key_of(1), kPage, 0).result, Result::kChecksumError);  // header only
  auto s = t->stats();
  EXPECT_EQ(s.checksum_failures, 2u);
  EXPECT_EQ(s.slots_used, 0u);
  EXPECT_EQ(s.blocks_bad, 0u);
  EXPECT_EQ(read_range(*t, key_of(0), 0, 1).result, Result::kNotFound);
  t.reset();
  t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 0u);
}

TEST_F(DiskRangeTest, ATornPayloadServesItsWrittenBlocksOnly) {
  {
    auto t = open(config());
    put(*t, 0);
  }
  // The header is on the device but blocks 8.. still hold another page's bytes (the device
  // reordered the writes and lost power): every read of those blocks fails, the rest is served.
  const std::string other = page_bytes(key_of(9), "\"e1\"", kPage);
  write_raw(file(), kHeaderBytes + 8 * kBlock, other.substr(8 * kBlock));
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 1u);
  EXPECT_TRUE(exact(*t, 0, 0, 8 * kBlock));
  for (std::uint64_t b = 8; b < 16; ++b) {
    EXPECT_EQ(read_range(*t, key_of(0), b * kBlock + 3, 1).result, Result::kChecksumError) << b;
  }
  EXPECT_EQ(t->stats().blocks_bad, 8u);
  EXPECT_EQ(t->stats().checksum_failures, 8u);
  EXPECT_TRUE(exact(*t, 0, 7 * kBlock, kBlock));
}

// A hand-made slot of format version 1 (docs/disk-format.md keeps its layout in the history):
// the v2 fields up to the bucket, the whole-payload XXH3 at offset 56, zeros from 1552.
void write_v1_slot(const std::string& file, std::uint32_t slot, const std::string& payload) {
  SlotRecord r;
  r.key = key_of(0);
  r.meta = meta_of(kObjectSize);
  r.sequence = 1;
  r.slot_index = slot;
  r.page_size = kPage;
  r.payload_length = payload.size();
  r.block_checksums = block_checksums(payload, kPage);
  std::string h(kHeaderBytes, '\0');
  encode_header(r, h.data());
  const std::uint16_t version = 1;
  const std::uint64_t whole = checksum(payload);
  std::memcpy(h.data() + 4, &version, 2);
  std::memcpy(h.data() + 56, &whole, 8);
  std::memset(h.data() + 1552, 0, kHeaderBytes - 1552);
  const std::uint64_t sum = checksum(h);
  std::memcpy(h.data() + kHeaderBytes - 8, &sum, 8);
  write_raw(file, slot * kSlot + kHeaderBytes, payload);
  write_raw(file, slot * kSlot, h);
}

TEST_F(DiskRangeTest, Version1SlotsAreDroppedCountedAndZeroed) {
  {
    auto t = open(config());
    put(*t, 1);  // slot 0, version 2
  }
  write_v1_slot(file(), 4, body(0));
  write_v1_slot(file(), 6, body(0));
  {
    auto t = open(config());
    auto s = t->stats();
    EXPECT_EQ(s.old_format_slots, 2u);
    EXPECT_EQ(s.pages_recovered, 1u);
    EXPECT_EQ(read_range(*t, key_of(0), 0, 1).result, Result::kNotFound);
    EXPECT_TRUE(exact(*t, 1, 0, kPage));
    t->wait_idle();
    EXPECT_EQ(read_raw(file(), 4 * kSlot, kHeaderBytes), std::string(kHeaderBytes, '\0'));
    EXPECT_EQ(read_raw(file(), 6 * kSlot, kHeaderBytes), std::string(kHeaderBytes, '\0'));
  }
  auto t = open(config());  // zeroed: not counted again
  EXPECT_EQ(t->stats().old_format_slots, 0u);
  EXPECT_EQ(t->stats().pages_recovered, 1u);
}

TEST_F(DiskRangeTest, BlocksLargerThanTheCopyChunkAreExact) {
  // 128 MiB pages have 512 KiB blocks, hashed in chunks; a 700 KiB last page has two blocks.
  const std::uint64_t page = 128ull << 20, size = 700 << 10, block = 512 << 10;
  ASSERT_EQ(payload_block_bytes(page), block);
  DiskConfig c = config(page);
  c.capacity_bytes = 2 * slot_bytes(page);
  auto t = open(c);
  const base::PageKey k = key_of(0, "big");
  const std::string bytes = page_bytes(k, "\"e1\"", size);
  ASSERT_EQ(write_page(*t, k, meta_of(size), bytes), Result::kOk);
  for (auto [offset, length] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
           {0, size}, {block - 5, 10}, {300 << 10, 1}, {block, size}, {1, block}}) {
    auto r = read_range(*t, k, offset, length, true);
    ASSERT_EQ(r.result, Result::kOk) << offset;
    EXPECT_EQ(r.bytes, bytes.substr(offset, length)) << offset;
  }
  flip_byte(file(), kHeaderBytes + block + 1000);
  EXPECT_EQ(read_range(*t, k, block + 2000, 1).result, Result::kChecksumError);
  auto r = read_range(*t, k, 1000, block - 1000);
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_EQ(r.bytes, bytes.substr(1000, block - 1000));
}

TEST_F(DiskRangeTest, RandomRangesUnderConcurrentWritesAreExact) {
  DiskConfig c = config();
  c.io_threads = 4;
  c.header_cache_bytes = 2048;  // room for a few headers: entries come and go under the load
  auto t = open(c);
  std::atomic<int> wrong{0}, served{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(w) + 1);
      for (int i = 0; i < 200; ++i) {
        const std::uint64_t page = rng() % 12;
        const base::PageKey k = key_of(page);
        const std::string all = page_bytes(k, "\"e1\"", kPage);
        if (rng() % 4 == 0) {
          write_page(*t, k, meta_of(20 * kPage), all);
          continue;
        }
        const std::uint64_t offset = rng() % kPage;
        const std::uint64_t length = 1 + rng() % (kPage / 2);
        auto r = read_range(*t, k, offset, length, rng() % 2 == 0);
        if (r.result == Result::kOk) {
          ++served;
          if (r.bytes != all.substr(offset, length)) ++wrong;
        } else if (r.result != Result::kNotFound) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  t->wait_idle();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(served.load(), 0);
  EXPECT_EQ(t->stats().checksum_failures, 0u);
  EXPECT_GT(t->stats().header_cache_hits, 0u);
  EXPECT_LE(t->stats().header_cache_bytes, c.header_cache_bytes);
}

}  // namespace
}  // namespace shoal::store
