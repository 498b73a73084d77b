#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "ring/base/byte_range.h"

namespace shoal::base {
namespace {

using Kind = ByteRange::Kind;
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

ByteRange closed(std::uint64_t first, std::uint64_t last) {
  return ByteRange{Kind::kClosed, first, last, 0};
}
ByteRange open(std::uint64_t first) {
  return ByteRange{Kind::kOpen, first, 0, 0};
}
ByteRange suffix(std::uint64_t n) {
  return ByteRange{Kind::kSuffix, 0, 0, n};
}

// Parses `value`, expecting success.
ByteRange parse_ok(std::string_view value) {
  ByteRange r;
  EXPECT_EQ(parse_byte_range(value, &r), RangeError::kOk) << value;
  return r;
}

RangeError parse_error(std::string_view value) {
  ByteRange r = closed(7, 9);
  const RangeError e = parse_byte_range(value, &r);
  EXPECT_EQ(r, closed(7, 9)) << "output changed on error for " << value;
  return e;
}

ResolvedRange resolve_ok(const ByteRange& range, std::uint64_t size) {
  ResolvedRange out;
  EXPECT_EQ(resolve_byte_range(range, size, &out), RangeError::kOk);
  return out;
}

RangeError resolve_error(const ByteRange& range, std::uint64_t size) {
  ResolvedRange out{3, 4};
  const RangeError e = resolve_byte_range(range, size, &out);
  EXPECT_EQ(out, (ResolvedRange{3, 4}));
  return e;
}

TEST(RangeParser, ClosedRange) {
  EXPECT_EQ(parse_ok("bytes=0-499"), closed(0, 499));
  EXPECT_EQ(parse_ok("bytes=500-999"), closed(500, 999));
  EXPECT_EQ(parse_ok("bytes=0-0"), closed(0, 0));
  EXPECT_EQ(parse_ok("bytes=5-5"), closed(5, 5));
  EXPECT_EQ(parse_ok("bytes=0-18446744073709551615"), closed(0, kMax));
  EXPECT_EQ(parse_ok("bytes=0007-0010"), closed(7, 10));
}

TEST(RangeParser, OpenRange) {
  EXPECT_EQ(parse_ok("bytes=9500-"), open(9500));
  EXPECT_EQ(parse_ok("bytes=0-"), open(0));
  EXPECT_EQ(parse_ok("bytes=18446744073709551615-"), open(kMax));
}

TEST(RangeParser, SuffixRange) {
  EXPECT_EQ(parse_ok("bytes=-500"), suffix(500));
  EXPECT_EQ(parse_ok("bytes=-0"), suffix(0));
  EXPECT_EQ(parse_ok("bytes=-18446744073709551615"), suffix(kMax));
}

TEST(RangeParser, UnitIsCaseInsensitive) {
  EXPECT_EQ(parse_ok("Bytes=1-2"), closed(1, 2));
  EXPECT_EQ(parse_ok("BYTES=1-2"), closed(1, 2));
}

TEST(RangeParser, ToleratesOwsAroundValueAndListElements) {
  EXPECT_EQ(parse_ok("  bytes=1-2"), closed(1, 2));
  EXPECT_EQ(parse_ok("bytes=1-2 \t"), closed(1, 2));
  EXPECT_EQ(parse_ok("bytes= 1-2"), closed(1, 2));
  EXPECT_EQ(parse_ok("bytes=\t-5 "), suffix(5));
}

TEST(RangeParser, ToleratesEmptyListElements) {
  EXPECT_EQ(parse_ok("bytes=1-2,"), closed(1, 2));
  EXPECT_EQ(parse_ok("bytes=,1-2"), closed(1, 2));
  EXPECT_EQ(parse_ok("bytes= , 1-2 , ,"), closed(1, 2));
}

TEST(RangeParser, MissingWhenEmpty) {
  EXPECT_EQ(parse_error(""), RangeError::kMissing);
  EXPECT_EQ(parse_error("   "), RangeError::kMissing);
  EXPECT_EQ(parse_error("\t"), RangeError::kMissing);
}

TEST(RangeParser, RejectsEmptyRangeSet) {
  EXPECT_EQ(parse_error("bytes="), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes= "), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=,"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes= , ,"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=-"), RangeError::kMalformed);
}

TEST(RangeParser, RejectsOtherUnits) {
  EXPECT_EQ(parse_error("items=0-5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("byte=0-5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytesx=0-5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("=0-5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("0-5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes 0-5"), RangeError::kMalformed);
}

TEST(RangeParser, RejectsWhitespaceInsideRangeSpecOrUnit) {
  EXPECT_EQ(parse_error("bytes =0-5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=0 -5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=0- 5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=- 5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=1 0-5"), RangeError::kMalformed);
}

TEST(RangeParser, RejectsSigns) {
  EXPECT_EQ(parse_error("bytes=+1-5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=1-+5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=--5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=-+5"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=1--5"), RangeError::kMalformed);
}

TEST(RangeParser, RejectsLastBeforeFirst) {
  EXPECT_EQ(parse_error("bytes=5-3"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=1-0"), RangeError::kMalformed);
}

TEST(RangeParser, RejectsOverflow) {
  EXPECT_EQ(parse_error("bytes=0-18446744073709551616"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=18446744073709551616-"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=-18446744073709551616"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=0-99999999999999999999999999"), RangeError::kMalformed);
}

TEST(RangeParser, RejectsGarbage) {
  EXPECT_EQ(parse_error("bytes=a-b"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=0x10-0x20"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=1.5-2"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=1-2-3"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=12"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes==1-2"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=1-2;x"), RangeError::kMalformed);
  EXPECT_EQ(parse_error(std::string_view("bytes=1-2\0", 10)), RangeError::kMalformed);
}

TEST(RangeParser, RejectsMultipleRanges) {
  EXPECT_EQ(parse_error("bytes=0-1,5-6"), RangeError::kMultiple);
  EXPECT_EQ(parse_error("bytes=0-1, -5"), RangeError::kMultiple);
  EXPECT_EQ(parse_error("bytes=0-, 0-"), RangeError::kMultiple);
  EXPECT_EQ(parse_error("bytes=0-0,1-1,2-2"), RangeError::kMultiple);
}

TEST(RangeParser, MalformedElementWinsOverMultiple) {
  EXPECT_EQ(parse_error("bytes=0-1,5-3"), RangeError::kMalformed);
  EXPECT_EQ(parse_error("bytes=x,0-1"), RangeError::kMalformed);
}

TEST(RangeResolver, ClosedWithinObject) {
  EXPECT_EQ(resolve_ok(closed(0, 499), 10000), (ResolvedRange{0, 499}));
  EXPECT_EQ(resolve_ok(closed(0, 0), 1), (ResolvedRange{0, 0}));
  EXPECT_EQ(resolve_ok(closed(9999, 9999), 10000), (ResolvedRange{9999, 9999}));
}

TEST(RangeResolver, ClosedClampedAtEnd) {
  EXPECT_EQ(resolve_ok(closed(500, 20000), 10000), (ResolvedRange{500, 9999}));
  EXPECT_EQ(resolve_ok(closed(0, kMax), 7), (ResolvedRange{0, 6}));
  EXPECT_EQ(resolve_ok(closed(0, kMax), kMax), (ResolvedRange{0, kMax - 1}));
}

TEST(RangeResolver, OpenRunsToEnd) {
  EXPECT_EQ(resolve_ok(open(9500), 10000), (ResolvedRange{9500, 9999}));
  EXPECT_EQ(resolve_ok(open(0), 1), (ResolvedRange{0, 0}));
}

TEST(RangeResolver, SuffixTakesLastBytes) {
  EXPECT_EQ(resolve_ok(suffix(500), 10000), (ResolvedRange{9500, 9999}));
  EXPECT_EQ(resolve_ok(suffix(1), 10000), (ResolvedRange{9999, 9999}));
  EXPECT_EQ(resolve_ok(suffix(10000), 10000), (ResolvedRange{0, 9999}));
}

TEST(RangeResolver, SuffixLongerThanObjectIsWholeObject) {
  EXPECT_EQ(resolve_ok(suffix(20000), 10000), (ResolvedRange{0, 9999}));
  EXPECT_EQ(resolve_ok(suffix(kMax), 3), (ResolvedRange{0, 2}));
}

TEST(RangeResolver, UnsatisfiableWhenFirstAtOrPastEnd) {
  EXPECT_EQ(resolve_error(closed(10000, 10005), 10000), RangeError::kUnsatisfiable);
  EXPECT_EQ(resolve_error(closed(20000, 20005), 10000), RangeError::kUnsatisfiable);
  EXPECT_EQ(resolve_error(open(10000), 10000), RangeError::kUnsatisfiable);
  EXPECT_EQ(resolve_error(open(kMax), kMax), RangeError::kUnsatisfiable);
}

TEST(RangeResolver, UnsatisfiableZeroSuffix) {
  EXPECT_EQ(resolve_error(suffix(0), 10000), RangeError::kUnsatisfiable);
}

TEST(RangeResolver, UnsatisfiableOnEmptyObject) {
  EXPECT_EQ(resolve_error(closed(0, 0), 0), RangeError::kUnsatisfiable);
  EXPECT_EQ(resolve_error(open(0), 0), RangeError::kUnsatisfiable);
  EXPECT_EQ(resolve_error(suffix(5), 0), RangeError::kUnsatisfiable);
}

TEST(RangeResolver, LengthIsInclusive) {
  EXPECT_EQ((ResolvedRange{0, 0}).length(), 1u);
  EXPECT_EQ((ResolvedRange{10, 19}).length(), 10u);
}

TEST(RangeErrors, StatusCodes) {
  EXPECT_EQ(range_error_status(RangeError::kOk), 206);
  EXPECT_EQ(range_error_status(RangeError::kMissing), 400);
  EXPECT_EQ(range_error_status(RangeError::kMalformed), 416);
  EXPECT_EQ(range_error_status(RangeError::kMultiple), 416);
  EXPECT_EQ(range_error_status(RangeError::kUnsatisfiable), 416);
}

TEST(RangeErrors, ReasonsAreDistinctSingleLines) {
  const RangeError all[] = {RangeError::kOk, RangeError::kMissing, RangeError::kMalformed,
                            RangeError::kMultiple, RangeError::kUnsatisfiable};
  for (RangeError a : all) {
    const std::string_view reason = range_error_reason(a);
    EXPECT_FALSE(reason.empty());
    EXPECT_EQ(reason.find('\n'), std::string_view::npos);
    for (RangeError b : all) {
      if (a != b) {
        EXPECT_NE(reason, range_error_reason(b));
      }
    }
  }
}

TEST(ContentRange, FormatsSatisfiedAndUnsatisfied) {
  EXPECT_EQ(content_range(ResolvedRange{0, 499}, 1234), "bytes 0-499/1234");
  EXPECT_EQ(content_range(ResolvedRange{kMax - 1, kMax - 1}, kMax),
            "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
  EXPECT_EQ(unsatisfied_content_range(1234), "bytes */1234");
  EXPECT_EQ(unsatisfied_content_range(0), "bytes */0");
}

TEST(RangeEndToEnd, ParseThenResolve) {
  struct Case {
    const char* header;
    std::uint64_t size;
    RangeError error;
    ResolvedRange range;
  };
  const Case cases[] = {
      {"bytes=0-15", 100, RangeError::kOk, {0, 15}},
      {"bytes=90-200", 100, RangeError::kOk, {90, 99}},
      {"bytes=99-", 100, RangeError::kOk, {99, 99}},
      {"bytes=-10", 100, RangeError::kOk, {90, 99}},
      {"bytes=100-", 100, RangeError::kUnsatisfiable, {}},
      {"bytes=-0", 100, RangeError::kUnsatisfiable, {}},
      {"", 100, RangeError::kMissing, {}},
      {"bytes=5-3", 100, RangeError::kMalformed, {}},
      {"bytes=0-1,2-3", 100, RangeError::kMultiple, {}},
  };
  for (const Case& c : cases) {
    ByteRange parsed;
    RangeError e = parse_byte_range(c.header, &parsed);
    ResolvedRange resolved;
    if (e == RangeError::kOk) e = resolve_byte_range(parsed, c.size, &resolved);
    EXPECT_EQ(e, c.error) << c.header;
    if (e == RangeError::kOk) {
      EXPECT_EQ(resolved, c.range) << c.header;
    }
  }
}

}  // namespace
}  // namespace shoal::base
