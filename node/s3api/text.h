// Small text helpers the node/s3api/ parsers share: OWS trimming, ASCII case-insensitive compare,
// fixed-width decimal fields and UTC calendar time. Internal to node/s3api/.
//
// Thread-safe: pure functions.
#pragma once

#include <cctype>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::s3api::text {

// `s` without leading and trailing spaces and tabs.
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The `n` decimal digits of `s` at `at` into *out; false if one is not a digit (or out of `s`).
inline bool digits(std::string_view s, std::size_t at, std::size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Seconds since the epoch of a UTC calendar time (month 1-12), or nullopt for a field out of
// range.
inline std::optional<std::time_t> utc_time(int year, int month, int day, int hour, int minute,
                                           int second) {
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return timegm(&tm);
}

}  // namespace shoal::s3api::text
