// The page key (ring/base/page_key.h): its encoding and hashes are a wire contract (golden
// values pinned here), with one hash for every table keyed by a page or an object.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>

#include "ring/base/page_key.h"

namespace shoal::base {
namespace {

TEST(PageHash, GoldenValueIsPinned) {
  // Changing these values re-homes every page of a running cluster: never update them casually.
  // Cross-checked with an independent implementation (Python xxhash.xxh3_64 over
  // struct.pack("<Q", len) framing, see page_key.h).
  EXPECT_EQ(page_hash("s3", "bucket/key.bin", 7), 0x5573c947ab59728dull);
  EXPECT_EQ(page_hash("", "", 0), 0x743df94ee4c78a2aull);
}

TEST(PageHash, EncodingIsLengthPrefixedLittleEndian) {
  const std::string expected("\x02\0\0\0\0\0\0\0ab\x01\0\0\0\0\0\0\0c\x02\x01\0\0\0\0\0\0", 27);
  EXPECT_EQ(page_key_bytes("ab", "c", 0x0102), expected);
}

TEST(PageHash, EqualsXxh3OfEncoding) {
  for (std::size_t len : {0, 1, 15, 64, 200, 240, 1024, 5000}) {
    const std::string object(len, 'o');
    const std::uint64_t page = 0x1122334455667788ull + len;
    const std::string bytes = page_key_bytes("kind", object, page);
    EXPECT_EQ(page_hash("kind", object, page), XXH3_64bits(bytes.data(), bytes.size()))
        << "object length " << len;
  }
}

TEST(PageHash, FieldBoundariesAreUnambiguous) {
  EXPECT_NE(page_hash("a", "bc", 0), page_hash("ab", "c", 0));
  EXPECT_NE(page_hash("a", "b", 0), page_hash("b", "a", 0));
  EXPECT_NE(page_hash("", "ab", 0), page_hash("ab", "", 0));
}

TEST(PageHash, PageIndexMatters) {
  EXPECT_NE(page_hash("a", "b", 1), page_hash("a", "b", 2));
  EXPECT_NE(page_hash("a", "b", 0), page_hash("a", "b", 1ull << 32));
}

TEST(ObjectHash, IsXxh3OfTheEncodingWithoutThePageIndex) {
  const std::string bytes = page_key_bytes("kind", "some/object", 0);
  EXPECT_EQ(object_hash("kind", "some/object"), XXH3_64bits(bytes.data(), bytes.size() - 8));
  EXPECT_NE(object_hash("a", "bc"), object_hash("ab", "c"));
}

TEST(PageKeyHash, IsThePageHash) {
  EXPECT_EQ(PageKeyHash{}(PageKey{"k", "o", 3}), page_hash("k", "o", 3));
  EXPECT_EQ(ObjectKeyHash{}(ObjectKey{"k", "o"}), object_hash("k", "o"));
}

}  // namespace
}  // namespace shoal::base
