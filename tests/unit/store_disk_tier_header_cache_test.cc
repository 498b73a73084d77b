// DiskTier's header cache (node/store/disk_tier.h, "Header cache") on real files: a hit with a
// cached header reads only its payload blocks and still verifies each of them; damage to a header
// block while the process runs is found by the next start; the cache keeps the newest headers
// within its bound, is filled by writes, reads and recovery, and forgets slots that leave the
// index.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

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
using test::ScratchDir;
using test::write_page;

constexpr std::uint64_t kPage = 1 << 20;    // 16 payload blocks
constexpr std::uint64_t kBlock = 64 << 10;  // payload_block_bytes(kPage)
constexpr std::uint64_t kSlot = kPage + kHeaderBytes;
constexpr std::uint64_t kObjectSize = 20 * kPage;

class HeaderCacheTest : public ::testing::Test {
 protected:
  DiskConfig config(std::uint64_t cache_bytes = 1 << 20) const {
    DiskConfig c = test::store_config(dir_.path(), kPage, 8);
    c.header_cache_bytes = cache_bytes;
    return c;
  }
  std::unique_ptr<DiskTier> open(const DiskConfig& c) { return test::open_store(c); }
  std::string file() const { return dir_.path() + "/shoal.slots"; }

  static std::string body(std::uint64_t page) { return page_bytes(key_of(page), "\"e1\"", kPage); }
  void put(DiskTier& t, std::uint64_t page) {
    ASSERT_EQ(write_page(t, key_of(page), meta_of(kObjectSize), body(page)), Result::kOk);
  }
  // Whether bytes [offset, offset + length) of `page` read back exact, with the page's meta.
  ::testing::AssertionResult exact(DiskTier& t, std::uint64_t page, std::uint64_t offset,
                                   std::uint64_t length) {
    auto r = read_range(t, key_of(page), offset, length);
    if (r.result != Result::kOk) {
      return ::testing::AssertionFailure() << "result " << result_name(r.result);
    }
    if (r.bytes != body(page).substr(offset, length) || r.meta != meta_of(kObjectSize)) {
      return ::testing::AssertionFailure() << "wrong bytes or meta at " << offset;
    }
    return ::testing::AssertionSuccess();
  }
  // Device bytes read by one exact read of [offset, offset + length) of `page`.
  std::uint64_t bytes_read_by(DiskTier& t, std::uint64_t page, std::uint64_t offset,
                              std::uint64_t length) {
    const std::uint64_t before = t.stats().bytes_read;
    EXPECT_TRUE(exact(t, page, offset, length));
    return t.stats().bytes_read - before;
  }

  ScratchDir dir_;
};

TEST_F(HeaderCacheTest, AHitWithACachedHeaderReadsOnlyItsPayloadBlocks) {
  auto t = open(config());
  put(*t, 0);
  EXPECT_EQ(t->stats().headers_cached, 1u);  // the write's own header
  EXPECT_EQ(bytes_read_by(*t, 0, 3 * kBlock + 5, 100), kBlock);
  EXPECT_EQ(bytes_read_by(*t, 0, 0, kPage), kPage);
  // Past the page's end: the meta from memory and no I/O at all.
  auto past = read_range(*t, key_of(0), kPage, 1);
  EXPECT_EQ(past.result, Result::kOk);
  EXPECT_EQ(past.meta, meta_of(kObjectSize));
  EXPECT_TRUE(past.bytes.empty());
  auto s = t->stats();
  EXPECT_EQ(s.header_cache_hits, 3u);
  EXPECT_EQ(s.bytes_read, kBlock + kPage);
  EXPECT_GT(s.header_cache_bytes, 0u);
  auto whole = read_page(*t, key_of(0));
  EXPECT_EQ(whole.result, Result::kOk);
  EXPECT_EQ(whole.payload, body(0));
}

TEST_F(HeaderCacheTest, ACachedHeaderStillVerifiesEveryBlock) {
  auto t = open(config());
  put(*t, 0);
  flip_byte(file(), kHeaderBytes + 5 * kBlock + 17);  // a byte of block 5
  EXPECT_EQ(read_range(*t, key_of(0), 5 * kBlock, 10).result, Result::kChecksumError);
  EXPECT_EQ(read_range(*t, key_of(0), 4 * kBlock, kBlock + 1).result,
            Result::kChecksumError);  // marked bad: no I/O
  EXPECT_TRUE(exact(*t, 0, 0, 5 * kBlock));
  EXPECT_TRUE(exact(*t, 0, 6 * kBlock, 10 * kBlock));
  auto s = t->stats();
  EXPECT_EQ(s.checksum_failures, 1u);
  EXPECT_EQ(s.blocks_bad, 1u);
  EXPECT_FALSE(t->contains(key_of(0), "\"e1\""));  // so the page is written again
}

TEST_F(HeaderCacheTest, AHeaderDamagedWhileOpenIsFoundAtTheNextStart) {
  {
    auto t = open(config());
    put(*t, 0);
    put(*t, 1);
    flip_byte(file(), 150);           // slot 0's object name
    flip_byte(file(), kSlot + 1552);  // slot 1: block 0's checksum
    // The payload is checked against the checksums verified when the header was cached.
    EXPECT_TRUE(exact(*t, 0, 0, kPage));
    EXPECT_TRUE(exact(*t, 1, 0, kBlock));
    EXPECT_EQ(t->stats().checksum_failures, 0u);
  }
  auto again = open(config());
  EXPECT_EQ(again->stats().pages_recovered, 0u);
  EXPECT_EQ(read_range(*again, key_of(0), 0, 1).result, Result::kNotFound);
  EXPECT_EQ(read_range(*again, key_of(1), 0, 1).result, Result::kNotFound);
}

TEST_F(HeaderCacheTest, RecoveryFillsTheCacheAndReadsOnlyPayloads) {
  {
    auto t = open(config());
    for (std::uint64_t p = 0; p < 4; ++p) put(*t, p);
  }
  auto t = open(config());
  EXPECT_EQ(t->stats().pages_recovered, 4u);
  EXPECT_EQ(t->stats().headers_cached, 4u);
  for (std::uint64_t p = 0; p < 4; ++p) EXPECT_EQ(bytes_read_by(*t, p, p * kBlock, 10), kBlock);
}

TEST_F(HeaderCacheTest, TheNewestHeadersStayWithinTheBound) {
  std::uint64_t one = 0;
  {
    auto probe = open(config());
    put(*probe, 0);
    one = probe->stats().header_cache_bytes;
  }
  ASSERT_GT(one, 0u);
  std::filesystem::remove(file());
  auto t = open(config(2 * one + one / 2));  // room for two
  for (std::uint64_t p = 0; p < 4; ++p) put(*t, p);
  auto s = t->stats();
  EXPECT_EQ(s.headers_cached, 2u);
  EXPECT_LE(s.header_cache_bytes, 2 * one + one / 2);
  EXPECT_EQ(bytes_read_by(*t, 3, 0, 1), kBlock);  // the newest two are cached
  EXPECT_EQ(bytes_read_by(*t, 2, 0, 1), kBlock);
  EXPECT_EQ(bytes_read_by(*t, 0, 0, 1), kHeaderBytes + kBlock);  // read, verified, cached
  EXPECT_EQ(bytes_read_by(*t, 0, 0, 1), kBlock);
  EXPECT_EQ(t->stats().headers_cached, 2u);  // the oldest entry (page 2's) made room
  EXPECT_EQ(bytes_read_by(*t, 3, 0, 1), kBlock);
  EXPECT_EQ(bytes_read_by(*t, 2, 0, 1), kHeaderBytes + kBlock);
}

TEST_F(HeaderCacheTest, ASlotLeavingTheIndexLeavesTheCache) {
  auto t = open(config());
  put(*t, 0);
  put(*t, 1);
  ASSERT_EQ(t->stats().headers_cached, 2u);
  EXPECT_TRUE(t->erase(key_of(0)));
  EXPECT_EQ(t->stats().headers_cached, 1u);
  EXPECT_EQ(read_range(*t, key_of(0), 0, 1).result, Result::kNotFound);
  // A new version of the object drops page 1 (and its header); the new page's header is cached.
  const std::string v2 = page_bytes(key_of(1), "\"e2\"", kPage);
  ASSERT_EQ(write_page(*t, key_of(1), meta_of(kObjectSize, "\"e2\""), v2), Result::kOk);
  t->wait_idle();
  auto s = t->stats();
  EXPECT_EQ(s.headers_cached, 1u);
  auto r = read_range(*t, key_of(1), 0, kBlock);
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_EQ(r.bytes, v2.substr(0, kBlock));
  EXPECT_EQ(r.meta, meta_of(kObjectSize, "\"e2\""));
  EXPECT_EQ(t->stats().header_cache_hits, 1u);
}

TEST_F(HeaderCacheTest, ZeroTurnsItOff) {
  auto t = open(config(0));
  put(*t, 0);
  EXPECT_EQ(t->stats().headers_cached, 0u);
  EXPECT_EQ(bytes_read_by(*t, 0, 0, 1), kHeaderBytes + kBlock);
  EXPECT_EQ(t->stats().header_cache_hits, 0u);
}

}  // namespace
}  // namespace shoal::store
