#include "ring/base/byte_range.h"

#include <algorithm>
#include <boost/algorithm/string/predicate.hpp>
#include <charconv>
#include <optional>

namespace shoal::base {
namespace {

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// A position: 1*DIGIT that fits in 64 bits; nullopt otherwise (empty, sign, junk, overflow).
std::optional<std::uint64_t> parse_position(std::string_view s) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.empty() || !std::all_of(s.begin(), s.end(), is_digit)) return std::nullopt;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// One range-spec without surrounding OWS: int-range or suffix-range (RFC 9110 §14.1.2).
std::optional<ByteRange> parse_range_spec(std::string_view spec) {
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view left = spec.substr(0, dash);
  const std::string_view right = spec.substr(dash + 1);
  ByteRange r;
  if (left.empty()) {
    auto n = parse_position(right);
    if (!n) return std::nullopt;
    r.kind = ByteRange::Kind::kSuffix;
    r.suffix_length = *n;
    return r;
  }
  auto first = parse_position(left);
  if (!first) return std::nullopt;
  r.first = *first;
  if (right.empty()) {
    r.kind = ByteRange::Kind::kOpen;
    return r;
  }
  auto last = parse_position(right);
  if (!last || *last < *first) return std::nullopt;
  r.kind = ByteRange::Kind::kClosed;
  r.last = *last;
  return r;
}

}  // namespace

RangeError parse_byte_range(std::string_view field_value, ByteRange* out) {
  const std::string_view value = trim_ows(field_value);
  if (value.empty()) return RangeError::kMissing;
  const std::size_t eq = value.find('=');
  if (eq == std::string_view::npos || !boost::algorithm::iequals(value.substr(0, eq), "bytes")) {
    return RangeError::kMalformed;
  }
  std::string_view set = value.substr(eq + 1);
  std::optional<ByteRange> found;
  std::size_t count = 0;
  while (true) {
    const std::size_t comma = set.find(',');
    const std::string_view element = trim_ows(set.substr(0, comma));
    if (!element.empty()) {
      auto r = parse_range_spec(element);
      if (!r) return RangeError::kMalformed;
      found = r;
      ++count;
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  if (count == 0) return RangeError::kMalformed;
  if (count > 1) return RangeError::kMultiple;
  *out = *found;
  return RangeError::kOk;
}

RangeError resolve_byte_range(const ByteRange& range, std::uint64_t object_size,
                              ResolvedRange* out) {
  switch (range.kind) {
    case ByteRange::Kind::kClosed:
    case ByteRange::Kind::kOpen: {
      if (range.first >= object_size) return RangeError::kUnsatisfiable;
      const std::uint64_t end = object_size - 1;
      const bool closed = range.kind == ByteRange::Kind::kClosed;
      *out = ResolvedRange{range.first, closed ? std::min(range.last, end) : end};
      return RangeError::kOk;
    }
    case ByteRange::Kind::kSuffix: {
      if (range.suffix_length == 0 || object_size == 0) return RangeError::kUnsatisfiable;
      const std::uint64_t n = std::min(range.suffix_length, object_size);
      *out = ResolvedRange{object_size - n, object_size - 1};
      return RangeError::kOk;
    }
  }
  return RangeError::kMalformed;  // unreachable: every Kind is handled above
}

int range_error_status(RangeError e) {
  switch (e) {
    case RangeError::kOk:
      return 206;
    case RangeError::kMissing:
      return 400;
    case RangeError::kMalformed:
    case RangeError::kMultiple:
    case RangeError::kUnsatisfiable:
      return 416;
  }
  return 416;
}

std::string_view range_error_reason(RangeError e) {
  switch (e) {
    case RangeError::kOk:
      return "ok";
    case RangeError::kMissing:
      return "a Range header is required (bytes=first-last, bytes=first- or bytes=-length)";
    case RangeError::kMalformed:
      return "Range must be bytes=first-last (first <= last), bytes=first- or bytes=-length";
    case RangeError::kMultiple:
      return "only one byte range per request is supported";
    case RangeError::kUnsatisfiable:
      return "Range not satisfiable: it starts at or past the object's end, or selects no bytes";
  }
  return "unknown range error";
}

std::string content_range(const ResolvedRange& range, std::uint64_t object_size) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
         std::to_string(object_size);
}

std::string unsatisfied_content_range(std::uint64_t object_size) {
  return "bytes */" + std::to_string(object_size);
}

}  // namespace shoal::base
