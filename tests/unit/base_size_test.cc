#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>

#include "ring/base/size.h"

namespace shoal::base {
namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = kKiB * 1024;
constexpr std::uint64_t kGiB = kMiB * 1024;
constexpr std::uint64_t kTiB = kGiB * 1024;
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

TEST(SizeParser, PlainBytes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("007"), 7u);
  EXPECT_EQ(parse_size("12B"), 12u);
  EXPECT_EQ(parse_size("12 b"), 12u);
}

TEST(SizeParser, BinarySuffixes) {
  EXPECT_EQ(parse_size("64KiB"), 64 * kKiB);
  EXPECT_EQ(parse_size("512MiB"), 512 * kMiB);
  EXPECT_EQ(parse_size("3GiB"), 3 * kGiB);
  EXPECT_EQ(parse_size("2TiB"), 2 * kTiB);
  EXPECT_EQ(parse_size("1PiB"), kTiB * 1024);
  EXPECT_EQ(parse_size("1EiB"), kTiB * 1024 * 1024);
  EXPECT_EQ(parse_size("2Gi"), 2 * kGiB);
}

TEST(SizeParser, BareLetterIsBinary) {
  EXPECT_EQ(parse_size("10k"), 10 * kKiB);
  EXPECT_EQ(parse_size("10K"), 10 * kKiB);
  EXPECT_EQ(parse_size("16m"), 16 * kMiB);
  EXPECT_EQ(parse_size("1g"), kGiB);
  EXPECT_EQ(parse_size("1t"), kTiB);
}

TEST(SizeParser, DecimalSuffixes) {
  EXPECT_EQ(parse_size("2GB"), 2'000'000'000u);
  EXPECT_EQ(parse_size("1KB"), 1000u);
  EXPECT_EQ(parse_size("5MB"), 5'000'000u);
  EXPECT_EQ(parse_size("1TB"), 1'000'000'000'000u);
  EXPECT_EQ(parse_size("1PB"), 1'000'000'000'000'000u);
  EXPECT_EQ(parse_size("1EB"), 1'000'000'000'000'000'000u);
}

TEST(SizeParser, UnitsAreCaseInsensitive) {
  EXPECT_EQ(parse_size("1gib"), kGiB);
  EXPECT_EQ(parse_size("1GIB"), kGiB);
  EXPECT_EQ(parse_size("1gIb"), kGiB);
  EXPECT_EQ(parse_size("1mb"), 1'000'000u);
  EXPECT_EQ(parse_size("1Kb"), 1000u);
}

TEST(SizeParser, WhitespaceBetweenNumberAndUnit) {
  EXPECT_EQ(parse_size("1.5 GiB"), kGiB + kGiB / 2);
  EXPECT_EQ(parse_size("2 \t MB"), 2'000'000u);
}

TEST(SizeParser, FractionsRoundDown) {
  EXPECT_EQ(parse_size("1.5GiB"), kGiB + kGiB / 2);
  EXPECT_EQ(parse_size("1.5KiB"), 1536u);
  EXPECT_EQ(parse_size("0.3KiB"), 307u);     // 307.2
  EXPECT_EQ(parse_size("0.999KiB"), 1022u);  // 1022.976
  EXPECT_EQ(parse_size("1.5"), 1u);
  EXPECT_EQ(parse_size("0.5B"), 0u);
  EXPECT_EQ(parse_size("2.25MB"), 2'250'000u);
  EXPECT_EQ(parse_size("0.000000001GB"), 1u);
  EXPECT_EQ(parse_size("0.0000000009GB"), 0u);
  // Many fraction digits are computed exactly: 0.1 EiB = 115292150460684697.6 bytes.
  EXPECT_EQ(parse_size("0.1EiB"), 115292150460684697u);
  EXPECT_EQ(parse_size("0.10000000000000000000000000EiB"), 115292150460684697u);
  EXPECT_EQ(parse_size("0.99999999999999999999999EiB"), (kTiB << 20) - 1);
}

TEST(SizeParser, LargestValues) {
  EXPECT_EQ(parse_size("18446744073709551615"), kMax);
  EXPECT_EQ(parse_size("15EiB"), 15 * (kTiB << 20));
  EXPECT_EQ(parse_size("15.999999999999999999EiB"), kMax - 1);  // 2^64 - 1.15...
  EXPECT_EQ(parse_size("18.446744073709551615EB"), kMax);
}

TEST(SizeParser, RejectsOverflow) {
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_size("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_size("16EiB"), std::nullopt);
  EXPECT_EQ(parse_size("18.446744073709551616EB"), std::nullopt);
  EXPECT_EQ(parse_size("17179869184GiB"), std::nullopt);  // 2^34 GiB = 2^64
}

TEST(SizeParser, RejectsNegative) {
  EXPECT_EQ(parse_size("-1"), std::nullopt);
  EXPECT_EQ(parse_size("-1GiB"), std::nullopt);
  EXPECT_EQ(parse_size("+1GiB"), std::nullopt);
}

TEST(SizeParser, RejectsEmpty) {
  EXPECT_EQ(parse_size(""), std::nullopt);
  EXPECT_EQ(parse_size(" "), std::nullopt);
  EXPECT_EQ(parse_size("GiB"), std::nullopt);
}

TEST(SizeParser, RejectsMalformedNumbers) {
  EXPECT_EQ(parse_size(".5GiB"), std::nullopt);
  EXPECT_EQ(parse_size("5.GiB"), std::nullopt);
  EXPECT_EQ(parse_size("5."), std::nullopt);
  EXPECT_EQ(parse_size("1.2.3"), std::nullopt);
  EXPECT_EQ(parse_size("1,5GiB"), std::nullopt);
  EXPECT_EQ(parse_size("1e9"), std::nullopt);
  EXPECT_EQ(parse_size("0x10"), std::nullopt);
  EXPECT_EQ(parse_size("1_000"), std::nullopt);
}

TEST(SizeParser, RejectsUnknownUnits) {
  EXPECT_EQ(parse_size("1GiBs"), std::nullopt);
  EXPECT_EQ(parse_size("1Gb/s"), std::nullopt);
  EXPECT_EQ(parse_size("1bytes"), std::nullopt);
  EXPECT_EQ(parse_size("1iB"), std::nullopt);
  EXPECT_EQ(parse_size("1ZiB"), std::nullopt);
  EXPECT_EQ(parse_size("1X"), std::nullopt);
}

TEST(SizeParser, RejectsSurroundingWhitespaceAndTrailingJunk) {
  EXPECT_EQ(parse_size(" 1GiB"), std::nullopt);
  EXPECT_EQ(parse_size("1GiB "), std::nullopt);
  EXPECT_EQ(parse_size("1 "), std::nullopt);
  EXPECT_EQ(parse_size("1 GiB x"), std::nullopt);
  EXPECT_EQ(parse_size("1GiB\n"), std::nullopt);
  EXPECT_EQ(parse_size(std::string_view("1\0", 2)), std::nullopt);
}

TEST(SizeFormatter, Bytes) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(1), "1 B");
  EXPECT_EQ(format_size(1023), "1023 B");
}

TEST(SizeFormatter, PicksLargestBinaryUnit) {
  EXPECT_EQ(format_size(1024), "1 KiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(512 * kMiB), "512 MiB");
  EXPECT_EQ(format_size(kGiB + kGiB / 2), "1.5 GiB");
  EXPECT_EQ(format_size(3 * kTiB), "3 TiB");
  EXPECT_EQ(format_size(kTiB * 1024), "1 PiB");
  EXPECT_EQ(format_size(kMax), "15.99 EiB");
}

TEST(SizeFormatter, TruncatesToTwoDecimals) {
  EXPECT_EQ(format_size(kGiB - 1), "1023.99 MiB");
  EXPECT_EQ(format_size(kGiB + kGiB / 3), "1.33 GiB");
  EXPECT_EQ(format_size(kGiB + kGiB / 20 + 1), "1.05 GiB");
  EXPECT_EQ(format_size(kGiB + kGiB / 20), "1.04 GiB");  // 1.04999...
  EXPECT_EQ(format_size(kGiB + kGiB / 200), "1 GiB");    // 1.005 truncates to 1.00
  EXPECT_EQ(format_size(2 * kMiB + kMiB / 4), "2.25 MiB");
}

TEST(SizeFormatter, RoundTripsThroughParser) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    const int bits = static_cast<int>(rng() % 64) + 1;
    const std::uint64_t n = bits == 64 ? rng() : rng() & ((1ULL << bits) - 1);
    const std::string text = format_size(n);
    const auto back = parse_size(text);
    ASSERT_TRUE(back.has_value()) << text;
    ASSERT_LE(*back, n) << text;
    std::uint64_t unit = 1;
    while (unit < (1ULL << 60) && n / unit >= 1024) unit <<= 10;
    ASSERT_LE(n - *back, unit / 100 + 1) << n << " -> " << text;
    if (unit == 1) {
      ASSERT_EQ(*back, n) << text;
    }
  }
}

}  // namespace
}  // namespace shoal::base
