// The HTTP Range request header (RFC 9110 §14.1.2, §14.2), restricted to one byte range, and
// its resolution against an object's size (§14.1.2 "satisfiable", §14.4 Content-Range).
//
// Accepted field values (after the rules below):
//
//   bytes=first-last   first <= last; last past the end is clamped to the end
//   bytes=first-       from first to the end
//   bytes=-n           the last n bytes (the whole object when it is shorter than n)
//
// Parsing rules, following RFC 9110:
//   - The range unit is compared case-insensitively ("Bytes=0-1" is accepted, §14.1).
//   - Leading and trailing OWS (spaces, tabs) of the field value are ignored (§5.5), as is OWS
//     before and after each list element and empty list elements ("bytes=0-9," or
//     "bytes= ,0-9", §5.6.1). No OWS inside a range-spec ("bytes=0 -9") or around "=" before
//     the unit ("bytes =0-9"): the ABNF has none there.
//   - Positions are 1*DIGIT: no sign ("bytes=+1-2", "bytes=--5"), no hex, no fraction; a value
//     above 2^64-1 is malformed.
// Deviations from RFC 9110, chosen because Shoal serves ranges only (never whole objects):
//   - An empty or absent field is an error (kMissing -> 400), not "send the whole object".
//   - An unknown range unit, which the RFC says to ignore, is kMalformed (-> 416).
//   - Several ranges are refused (kMultiple -> 416) rather than answered with multipart.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::base {

// The outcome of parse_byte_range() and resolve_byte_range().
enum class RangeError {
  kOk,
  kMissing,        // no Range field, or only whitespace                  -> 400
  kMalformed,      // not one syntactically valid bytes range-spec        -> 416
  kMultiple,       // more than one range-spec                            -> 416
  kUnsatisfiable,  // first >= object size, "bytes=-0", or an empty object -> 416 with
                   // "Content-Range: bytes */size" (unsatisfied_content_range())
};

// A syntactically valid single byte range, not yet bound to an object size.
struct ByteRange {
  enum class Kind {
    kClosed,  // bytes=first-last: `first` and `last` are set (first <= last)
    kOpen,    // bytes=first-:     `first` is set
    kSuffix,  // bytes=-n:         `suffix_length` is set
  };
  Kind kind = Kind::kClosed;
  std::uint64_t first = 0;          // byte offset, inclusive
  std::uint64_t last = 0;           // byte offset, inclusive (kClosed only)
  std::uint64_t suffix_length = 0;  // bytes (kSuffix only)

  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// A range bound to an object: byte offsets first..last inclusive, first <= last < object size.
struct ResolvedRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;

  std::uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ResolvedRange&, const ResolvedRange&) = default;
};

// Parses a Range field value (empty when the request has none). On kOk stores the range in
// *out; on any error leaves *out unchanged and returns kMissing, kMalformed or kMultiple.
RangeError parse_byte_range(std::string_view field_value, ByteRange* out);

// Binds `range` to an object of `object_size` bytes: on kOk stores the clamped offsets in *out;
// returns kUnsatisfiable (and leaves *out unchanged) when first >= object_size, when the suffix
// length is 0, or when the object is empty.
RangeError resolve_byte_range(const ByteRange& range, std::uint64_t object_size,
                              ResolvedRange* out);

// The HTTP status for `e`: 206 for kOk, 400 for kMissing, 416 otherwise.
int range_error_status(RangeError e);
// A one-line, client-facing reason for `e` (for error bodies and logs).
std::string_view range_error_reason(RangeError e);

// "bytes first-last/object_size", the Content-Range of a 206 (RFC 9110 §14.4).
std::string content_range(const ResolvedRange& range, std::uint64_t object_size);
// "bytes */object_size", the Content-Range of a 416 (RFC 9110 §15.5.17).
std::string unsatisfied_content_range(std::uint64_t object_size);

}  // namespace shoal::base
