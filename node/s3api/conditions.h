// S3's conditional GET and HEAD: If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since, evaluated as S3 and RFC 9110 §13.2.2 do:
//   1. If-Match present: false -> 412 (If-Unmodified-Since is then ignored);
//      else If-Unmodified-Since present and the object is newer -> 412;
//   2. If-None-Match present: an ETag matches -> 304 (If-Modified-Since is then ignored);
//      else If-Modified-Since present and the object is not newer -> 304;
//   3. otherwise the request proceeds.
// ETags compare with quotes and a "W/" prefix removed; "*" matches any. A date that does not
// parse is ignored (RFC 9110 §13.1.3, §13.1.4).
//
// Thread-safe: pure functions.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::s3api {

struct Conditions {
  std::optional<std::string> if_match;  // field values as sent
  std::optional<std::string> if_none_match;
  std::optional<std::string> if_modified_since;
  std::optional<std::string> if_unmodified_since;

  bool empty() const {
    return !if_match && !if_none_match && !if_modified_since && !if_unmodified_since;
  }
};

enum class Precondition { kProceed, kNotModified, kFailed };

// `etag` as the origin sent it (quoted), `last_modified` an HTTP-date (may be empty: date
// conditions are then ignored).
Precondition evaluate(const Conditions& c, std::string_view etag, std::string_view last_modified);

// Seconds since the epoch of an HTTP-date in IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT"),
// or nullopt.
std::optional<std::time_t> parse_http_date(std::string_view s);

}  // namespace shoal::s3api
