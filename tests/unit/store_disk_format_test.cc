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
  r.payload_checksum = 0x1122334455667788ull;
  return r;
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
  EXPECT_EQ(d->payload_checksum, r.payload_checksum);
}

TEST(DiskFormat, LayoutIsLittleEndianAtDocumentedOffsets) {
  auto block = encoded(sample_record());
  EXPECT_EQ(std::string(block.data(), 4), "SHLP");
  std::uint64_t seq = 0;
  std::memcpy(&seq, block.data() + 8, 8);
  EXPECT_EQ(seq, 42u);
  EXPECT_EQ(std::string(block.data() + 80, 6), "videos");
  EXPECT_EQ(std::string(block.data() + 144, 11), "dir/a b.mp4");
  for (std::size_t i = 1552; i < kHeaderBytes - 8; ++i) ASSERT_EQ(block[i], 0) << i;
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

TEST(DiskFormat, ChecksumIsXxh3OfPayload) {
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
