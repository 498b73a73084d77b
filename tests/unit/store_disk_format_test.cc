// The slot header format (node/store/disk_format.h): encoding, validation, corruption.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "node/store/disk_format.h"

namespace shoal::store {
namespace {

constexpr std::uint64_t kPage = 64 << 10;

SlotRecord sample_record() {
  SlotRecord r;
  r.key = base::PageKey{"videos", "dir/a b.mp4", 3};
  r.meta = PageMeta{4 * kPage + 100, "\"0123456789abcdef\"", "Sun, 06 Nov 1994 08:49:37 GMT",
                    "bucket-1", 1700000000};
  r.sequence = 42;
  r.slot_index = 7;
  r.page_size = kPage;
  r.payload_length = kPage;
  r.block_checksums = {0x1122334455667788ull};
  return r;
}

// A record of a 16 MiB page of 256 blocks whose last block is partial (page 0 of an object of
// 16 MiB - 100 bytes), with distinct made-up block checksums.
SlotRecord big_record() {
  SlotRecord r = sample_record();
  r.page_size = 16 << 20;
  r.key.page = 0;
  r.meta.object_size = (16 << 20) - 100;
  r.payload_length = r.meta.object_size;
  r.block_checksums.clear();
  for (std::uint64_t i = 0; i < 256; ++i)
    r.block_checksums.push_back(0x0101010101010101ull * i + 7);
  return r;
}

// Sets the header checksum of the block at `h` to match its (edited) contents.
void reseal(std::vector<char>& h) {
  std::memset(h.data() + kHeaderBytes - 8, 0, 8);
  const std::uint64_t sum = checksum(std::string_view(h.data(), h.size()));
  std::memcpy(h.data() + kHeaderBytes - 8, &sum, 8);
}

std::vector<char> encoded(const SlotRecord& r) {
  std::vector<char> block(kHeaderBytes);
  encode_header(r, block.data());
  return block;
}

TEST(DiskFormat, RoundTripsEveryField) {
  SlotRecord r = sample_record();
  auto block = encoded(r);
  auto d = decode_header(block.data(), 7, kPage);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->key, r.key);
  EXPECT_EQ(d->meta, r.meta);
  EXPECT_EQ(d->sequence, 42u);
  EXPECT_EQ(d->slot_index, 7u);
  EXPECT_EQ(d->page_size, kPage);
  EXPECT_EQ(d->payload_length, kPage);
  EXPECT_EQ(d->block_checksums, r.block_checksums);
}

TEST(DiskFormat, BlockChecksumTableRoundTrips) {
  const SlotRecord r = big_record();
  auto block = encoded(r);
  auto d = decode_header(block.data(), 7, 16 << 20);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->block_checksums, r.block_checksums);
  std::uint32_t block_bytes = 0, block_count = 0;
  std::memcpy(&block_bytes, block.data() + 56, 4);
  std::memcpy(&block_count, block.data() + 60, 4);
  EXPECT_EQ(block_bytes, 64u << 10);
  EXPECT_EQ(block_count, 256u);
  for (std::size_t i = 0; i < 256; ++i) {
    std::uint64_t v = 0;
    std::memcpy(&v, block.data() + 1552 + 8 * i, 8);
    ASSERT_EQ(v, r.block_checksums[i]) << i;
  }
  for (std::size_t i = 3600; i < kHeaderBytes - 8; ++i) ASSERT_EQ(block[i], 0) << i;
}

TEST(DiskFormat, BlockSizeIsTheLargerOf64KiBAndA256thOfThePage) {
  EXPECT_EQ(payload_block_bytes(64 << 10), 64u << 10);
  EXPECT_EQ(payload_block_bytes(1 << 20), 64u << 10);
  EXPECT_EQ(payload_block_bytes(16 << 20), 64u << 10);
  EXPECT_EQ(payload_block_bytes(32 << 20), 128u << 10);
  EXPECT_EQ(payload_block_bytes(1ull << 30), 4u << 20);
  EXPECT_EQ(payload_block_bytes(100 << 12), 64u << 10);  // not a power of two: still aligned
  for (std::uint64_t page = 64 << 10; page <= (1ull << 34); page *= 2) {
    EXPECT_LE(payload_blocks(page, page), kMaxPayloadBlocks) << page;
    EXPECT_EQ(payload_block_bytes(page) % kBlockBytes, 0u) << page;
  }
  EXPECT_EQ(payload_blocks(1, 16 << 20), 1u);
  EXPECT_EQ(payload_blocks(64 << 10, 16 << 20), 1u);
  EXPECT_EQ(payload_blocks((64 << 10) + 1, 16 << 20), 2u);
}

TEST(DiskFormat, BlockChecksumsCoverEachBlockAndOnlyThePayloadOfTheLast) {
  std::string payload((2 << 17) + 5, '\0');  // 64 KiB blocks: 4 full, 5 bytes in the last
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31 + i / 7);
  std::string copy(payload.size(), 'x');
  auto sums = block_checksums(payload, 16 << 20, copy.data());
  ASSERT_EQ(sums.size(), 5u);
  EXPECT_EQ(copy, payload);
  for (std::size_t b = 0; b < 5; ++b) {
    EXPECT_EQ(sums[b], checksum(std::string_view(payload).substr(b << 16, 64 << 10))) << b;
  }
  EXPECT_EQ(sums[4], checksum(payload.substr(4 << 16)));
  EXPECT_EQ(block_checksums(payload, 16 << 20), sums);
}

TEST(DiskFormat, WrongBlockGeometryIsRejected) {
  const SlotRecord r = big_record();
  for (std::size_t offset : {56, 60}) {
    auto block = encoded(r);
    std::uint32_t v = 0;
    std::memcpy(&v, block.data() + offset, 4);
    v = v / 2;
    std::memcpy(block.data() + offset, &v, 4);
    reseal(block);
    EXPECT_FALSE(decode_header(block.data(), 7, 16 << 20).has_value()) << offset;
  }
  auto block = encoded(r);
  reseal(block);
  EXPECT_TRUE(decode_header(block.data(), 7, 16 << 20).has_value());  // reseal itself is right
}

TEST(DiskFormat, OtherVersionsAreRecognisedAndNeverDecoded) {
  auto block = encoded(sample_record());
  EXPECT_FALSE(is_other_format(block.data()));
  for (std::uint16_t version : {1, 3, 0xFFFF}) {
    auto old = block;
    std::memcpy(old.data() + 4, &version, 2);
    reseal(old);
    EXPECT_TRUE(is_other_format(old.data())) << version;
    EXPECT_FALSE(decode_header(old.data(), 7, kPage).has_value()) << version;
  }
  std::vector<char> zeros(kHeaderBytes, 0);
  EXPECT_FALSE(is_other_format(zeros.data()));
}

TEST(DiskFormat, LayoutIsLittleEndianAtDocumentedOffsets) {
  auto block = encoded(sample_record());
  EXPECT_EQ(std::string(block.data(), 4), "SHLP");
  std::uint64_t seq = 0;
  std::memcpy(&seq, block.data() + 8, 8);
  EXPECT_EQ(seq, 42u);
  EXPECT_EQ(std::string(block.data() + 80, 6), "videos");
  EXPECT_EQ(std::string(block.data() + 144, 11), "dir/a b.mp4");
  std::uint64_t first_block_sum = 0;
  std::memcpy(&first_block_sum, block.data() + 1552, 8);
  EXPECT_EQ(first_block_sum, 0x1122334455667788ull);
  for (std::size_t i = 1560; i < kHeaderBytes - 8; ++i) ASSERT_EQ(block[i], 0) << i;
}

TEST(DiskFormat, EveryFlippedBitIsDetected) {
  const auto block = encoded(sample_record());
  for (std::size_t byte = 0; byte < kHeaderBytes; ++byte) {
    for (int bit : {0, 7}) {
      auto copy = block;
      copy[byte] = static_cast<char>(copy[byte] ^ (1 << bit));
      ASSERT_FALSE(decode_header(copy.data(), 7, kPage).has_value())
          << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(DiskFormat, ZeroBlockIsEmpty) {
  std::vector<char> zeros(kHeaderBytes, 0);
  EXPECT_FALSE(decode_header(zeros.data(), 0, kPage).has_value());
}

TEST(DiskFormat, HeaderForAnotherSlotOrPageSizeIsIgnored) {
  const auto block = encoded(sample_record());
  EXPECT_FALSE(decode_header(block.data(), 8, kPage).has_value());
  EXPECT_FALSE(decode_header(block.data(), 7, 2 * kPage).has_value());
}

TEST(DiskFormat, ChecksumIsXxh3) {
  EXPECT_EQ(checksum(""), 0x2D06800538D394C2ull);  // XXH3_64bits of no bytes, seed 0
  EXPECT_NE(checksum("a"), checksum("b"));
}

TEST(DiskFormat, CheckRecordRejectsOversizedFields) {
  SlotRecord r = sample_record();
  EXPECT_EQ(check_record(r), std::nullopt);
  r.key.kind = std::string(65, 'k');
  EXPECT_TRUE(check_record(r));
  r = sample_record();
  r.key.kind.clear();
  EXPECT_TRUE(check_record(r));
  r = sample_record();
  r.key.object = std::string(1025, 'o');
  EXPECT_TRUE(check_record(r));
  r = sample_record();
  r.key.object = std::string(1024, 'o');
  EXPECT_EQ(check_record(r), std::nullopt);
  r = sample_record();
  r.meta.etag = std::string(257, 'e');
  EXPECT_TRUE(check_record(r));
  r = sample_record();
  r.meta.bucket = std::string(65, 'b');
  EXPECT_TRUE(check_record(r));
  r = sample_record();
  r.meta.last_modified = std::string(65, 'l');
  EXPECT_TRUE(check_record(r));
}

TEST(DiskFormat, PayloadLengthMustBeThePagesRealLength) {
  SlotRecord r = sample_record();
  r.key.page = 4;  // the last page: 100 bytes
  EXPECT_TRUE(check_record(r));
  r.payload_length = 100;
  r.block_checksums = {checksum(std::string(100, 'x'))};
  EXPECT_EQ(check_record(r), std::nullopt);
  auto block = encoded(r);
  EXPECT_TRUE(decode_header(block.data(), 7, kPage).has_value());
  r.key.page = 5;  // past the end
  EXPECT_TRUE(check_record(r));
  r.payload_length = 0;
  EXPECT_TRUE(check_record(r));
}

TEST(DiskFormat, SlotBytesAddOneHeaderBlock) {
  EXPECT_EQ(slot_bytes(kPage), kPage + 4096);
  EXPECT_EQ(round_up_block(1), 4096u);
  EXPECT_EQ(round_up_block(4096), 4096u);
  EXPECT_EQ(round_up_block(4097), 8192u);
}

}  // namespace
}  // namespace shoal::store
