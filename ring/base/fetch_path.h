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
//   - After decoding, kind and object follow ring/base/names.h: kind is 1-64 characters of
//     letters, digits, '.', '_' and '-' (starting and ending with a letter or digit); object is
//     1..kMaxObjectBytes (1024) bytes of valid UTF-8 (no overlong forms, surrogates or code
//     points above U+10FFFF) with no control character (0x00-0x1F, 0x7F) and no "." or ".."
//     segment. Other bytes in objects, including spaces, are allowed.
//   - Nothing is normalized: "a//b" is an object name like any other; "./x" and "../x" are
//     refused (an origin that normalises paths would read another key).
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
// percent escape, or a kind or object that breaks its rule (ring/base/names.h).
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
