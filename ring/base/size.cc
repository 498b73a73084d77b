#include "ring/base/size.h"

#include <array>
#include <boost/algorithm/string/predicate.hpp>
#include <charconv>
#include <limits>

namespace shoal::base {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

struct Unit {
  std::string_view suffix;
  std::uint64_t multiplier;
};

constexpr std::uint64_t pow1000(int n) {
  return n == 0 ? 1 : 1000 * pow1000(n - 1);
}

// Every accepted suffix; compared ASCII case-insensitively. See size.h for the rationale.
constexpr std::array<Unit, 26> kUnits{{
    {"", 1},
    {"b", 1},
    {"k", 1ULL << 10},
    {"ki", 1ULL << 10},
    {"kib", 1ULL << 10},
    {"kb", pow1000(1)},
    {"m", 1ULL << 20},
    {"mi", 1ULL << 20},
    {"mib", 1ULL << 20},
    {"mb", pow1000(2)},
    {"g", 1ULL << 30},
    {"gi", 1ULL << 30},
    {"gib", 1ULL << 30},
    {"gb", pow1000(3)},
    {"t", 1ULL << 40},
    {"ti", 1ULL << 40},
    {"tib", 1ULL << 40},
    {"tb", pow1000(4)},
    {"p", 1ULL << 50},
    {"pi", 1ULL << 50},
    {"pib", 1ULL << 50},
    {"pb", pow1000(5)},
    {"e", 1ULL << 60},
    {"ei", 1ULL << 60},
    {"eib", 1ULL << 60},
    {"eb", pow1000(6)},
}};

constexpr std::array<std::string_view, 7> kBinaryNames{"B",   "KiB", "MiB", "GiB",
                                                       "TiB", "PiB", "EiB"};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}

// Length of the run of decimal digits at the start of `s`.
std::size_t digit_run(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  return n;
}

std::optional<std::uint64_t> unit_multiplier(std::string_view suffix) {
  for (const Unit& u : kUnits) {
    if (boost::algorithm::iequals(u.suffix, suffix)) return u.multiplier;
  }
  return std::nullopt;
}

// floor(multiplier * 0.d1d2...dn) for the fraction digits `digits`, exactly. Evaluated from the
// last digit: x <- floor((d_i * multiplier + x) / 10); nested floor divisions by an integer
// equal one floor of the exact quotient. Needs multiplier <= 2^60 so 10 * multiplier fits.
std::uint64_t fraction_bytes(std::string_view digits, std::uint64_t multiplier) {
  std::uint64_t x = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    x = (static_cast<std::uint64_t>(*it - '0') * multiplier + x) / 10;
  }
  return x;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const std::size_t int_len = digit_run(text);
  if (int_len == 0) return std::nullopt;
  std::uint64_t whole = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + int_len, whole);
  if (ec != std::errc() || ptr != text.data() + int_len) return std::nullopt;
  text.remove_prefix(int_len);

  std::string_view fraction;
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    const std::size_t frac_len = digit_run(text);
    if (frac_len == 0) return std::nullopt;
    fraction = text.substr(0, frac_len);
    text.remove_prefix(frac_len);
  }

  std::size_t spaces = 0;
  while (spaces < text.size() && is_wsp(text[spaces])) ++spaces;
  if (spaces == text.size() && spaces > 0) return std::nullopt;  // trailing whitespace
  const auto multiplier = unit_multiplier(text.substr(spaces));
  if (!multiplier) return std::nullopt;

  if (whole > kMax / *multiplier) return std::nullopt;
  const std::uint64_t base = whole * *multiplier;
  const std::uint64_t extra = fraction_bytes(fraction, *multiplier);
  if (extra > kMax - base) return std::nullopt;
  return base + extra;
}

std::string format_size(std::uint64_t bytes) {
  std::size_t unit = 0;
  while (unit + 1 < kBinaryNames.size() && bytes >> (10 * (unit + 1)) != 0) ++unit;
  const std::uint64_t multiplier = 1ULL << (10 * unit);
  const std::uint64_t whole = bytes / multiplier;
  std::string out = std::to_string(whole);
  // Two decimals by long division; remainder < 2^60, so remainder * 10 fits in 64 bits.
  const std::uint64_t rem = bytes % multiplier;
  const std::uint64_t tenths = rem * 10 / multiplier;
  const std::uint64_t hundredths = rem * 10 % multiplier * 10 / multiplier;
  if (tenths != 0 || hundredths != 0) {
    out += '.';
    out += static_cast<char>('0' + tenths);
    if (hundredths != 0) out += static_cast<char>('0' + hundredths);
  }
  out += ' ';
  out += kBinaryNames[unit];
  return out;
}

}  // namespace shoal::base
