#include <gtest/gtest.h>

#include "node/part_reads.h"

namespace shoal::node {
namespace {

constexpr std::uint64_t kPage = 16 << 20;
constexpr std::uint64_t kPart = 1 << 20;

TEST(PartReads, OnePassOverAPageInPartsIsNotPromoted) {
  PartReads reads(kPage, 256 << 20, 1024);
  for (int i = 0; i < 16; ++i) EXPECT_FALSE(reads.record(7, kPart)) << i;
  EXPECT_EQ(reads.promotions(), 0u);
}

TEST(PartReads, ASecondPassWithinTheWindowPromotesThePage) {
  PartReads reads(kPage, 256 << 20, 1024);
  for (int i = 0; i < 31; ++i) ASSERT_FALSE(reads.record(7, kPart)) << i;
  EXPECT_TRUE(reads.record(7, kPart));
  EXPECT_EQ(reads.promotions(), 1u);
  EXPECT_FALSE(reads.record(7, kPart));  // forgotten once promoted: counting starts again
}

TEST(PartReads, ReadsSpreadOverMoreThanTheWindowAreNotPromoted) {
  // A uniform random load over 64 pages with a 128 MiB window: each page sees ~2 MiB per window.
  PartReads reads(kPage, 128 << 20, 1024);
  for (int round = 0; round < 40; ++round) {
    for (std::uint64_t page = 0; page < 64; ++page) {
      EXPECT_FALSE(reads.record(page, kPart)) << round << " " << page;
    }
  }
  EXPECT_EQ(reads.promotions(), 0u);
}

TEST(PartReads, RemembersAtMostMaxPages) {
  PartReads reads(kPage, std::uint64_t{1} << 40, 4);  // generations of 2 pages
  for (int i = 0; i < 31; ++i) ASSERT_FALSE(reads.record(1, kPart));
  // Four other pages push page 1 out of both generations.
  for (std::uint64_t page = 2; page <= 5; ++page) ASSERT_FALSE(reads.record(page, kPart));
  EXPECT_FALSE(reads.record(1, kPart));  // counting from zero again
}

}  // namespace
}  // namespace shoal::node
