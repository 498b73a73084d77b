// The request target of the fetch API, "/fetch/{kind}/{object}[?query]" (origin-form, RFC 9112
// §3.2.1), split into its kind and object.
//
// Rules:
//   - The target starts with "/fetch/". The query (from the first '?') is ignored.
//   - kind is everything up to the first '/' after "/fetch/"; object is everything after that
//     '/', and may itself contain '/' (object keys are paths).
//   - Each part is percent-decoded exactly once (RFC 3986 §2.1): "%2F" in object becomes '/',
//     "%252F" becomes "%2F", '+' stays '+' (this is a path, not a form). A '%' not followed
//     by two hex digits (either case) is an error.
//   - After decoding: kind is 1..kMaxKindBytes (64) bytes and has no '/'; object is
//     1..kMaxObjectBytes (1024) bytes (ring/base/page_key.h); both are
//     valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF) and contain no
//     control character (0x00-0x1F, 0x7F). Other bytes, including spaces, are allowed.
//   - Nothing is normalized: "a//b", "./x" and "../x" are object names like any other.
//
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ring/base/page_key.h"

namespace shoal::base {

// The decoded parts of a fetch target.
struct FetchTarget {
  std::string kind;
  std::string object;

  friend bool operator==(const FetchTarget&, const FetchTarget&) = default;
};

// Parses `target` (the request line's target, e.g. "/fetch/videos/a%20b.mp4?x=1"). Returns
// nullopt and stores the parts in *out on success; otherwise returns a one-line reason for a
// 400 response and leaves *out unchanged. Reasons: not under /fetch/, no object part, a bad
// percent escape, an empty or too long kind or object, '/' in kind, invalid UTF-8, or a
// control character.
std::optional<std::string> parse_fetch_target(std::string_view target, FetchTarget* out);

// Decodes every "%XY" (two hex digits) in `s` once; other bytes, '+' included, are copied.
// Returns nullopt when a '%' is not followed by two hex digits. Uses Boost.URL
// (make_pct_string_view, then decode).
std::optional<std::string> percent_decode(std::string_view s);

// True when `s` is well-formed UTF-8 (Unicode 15, Table 3-7): no overlong encodings, no
// surrogates (U+D800-U+DFFF), nothing above U+10FFFF, no truncated sequences. Uses
// Boost.Locale's header-only UTF-8 decoder.
bool is_valid_utf8(std::string_view s);

}  // namespace shoal::base
