// Judging one S3 response: captured headers, strict validation of GetObject range answers,
// status/CURLcode -> Outcome mapping and S3 XML error bodies. Pure functions, no I/O; used by
// S3Client for every attempt. Thread-safe (no shared state).
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ring/base/outcome.h"

namespace shoal::origin {

// The response headers S3Client keeps from one attempt (values trimmed, as sent).
struct ResponseHeaders {
  std::string content_range;
  std::string content_length;
  std::string etag;
  std::string last_modified;
};

// Records one raw header line ("Name: value\r\n"; names compared case-insensitively) into *h.
// A status line ("HTTP/...") starts a new response (e.g. after a 1xx) and clears *h.
void capture_header(std::string_view line, ResponseHeaders* h);

// A parsed `Content-Range: bytes first-last/size` (RFC 9110 section 14.4), inclusive bounds.
struct ContentRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t size = 0;
};

// Parses a complete byte range with a known size; nullopt for anything else ("*" sizes,
// unsatisfied-range forms, first > last, last >= size, signs, spaces inside numbers, overflow).
std::optional<ContentRange> parse_content_range(std::string_view value);

// Parses a Content-Length value (digits only); nullopt when malformed.
std::optional<std::uint64_t> parse_content_length(std::string_view value);

// The judgement of one 2xx answer.
struct Verdict {
  base::Outcome outcome = base::Outcome::kOk;  // kOk or kMalformed
  std::string message;                         // why kMalformed
  std::uint64_t size = 0;                      // whole object size in bytes, when kOk
  std::uint64_t body_length = 0;               // GET: body bytes the head announces, when kOk
};

// Validates the head of the answer to `Range: bytes=offset-(offset+length-1)` (length > 0),
// before any body byte is used. Accepts
//   206 with Content-Range first == offset and last == offset+length-1, or last == size-1 when
//       the object ends inside the range (body_length = last-first+1);
//   200 only when offset == 0 and the whole object (Content-Length, required) fits in `length`
//       (size = body_length = Content-Length).
// A Content-Length, when present, must equal body_length. Everything else is kMalformed.
Verdict validate_get_head(int status, const ResponseHeaders& headers, std::uint64_t offset,
                          std::uint64_t length);

// validate_get_head(), and then the body: exactly body_length bytes arrived (`received`; the
// caller aborts bodies longer than asked).
Verdict validate_get(int status, const ResponseHeaders& headers, std::uint64_t offset,
                     std::uint64_t length, std::uint64_t received);

// Validates a HeadObject 200: Content-Length gives the size. Otherwise kMalformed.
Verdict validate_head(int status, const ResponseHeaders& headers);

// Maps a non-2xx HTTP status and the S3 error code (may be empty) to an outcome:
// 404 kNotFound, 403 kAccessDenied, 416 kInvalidRange, 412 kPreconditionFailed,
// 429 / 503 / code SlowDown kThrottled, other 5xx kServerError, anything else kMalformed.
base::Outcome classify_status(int status, std::string_view s3_code);

// Maps a failed transfer's CURLcode: timeouts kTimeout; refused/reset/resolve/TLS/short reads
// kTransportError; protocol garbage (CURLE_WEIRD_SERVER_REPLY, bad encodings, aborted writes)
// kMalformed.
base::Outcome classify_curl_code(CURLcode code);

// <Error><Code>..</Code><Message>..</Message></Error> from an S3 error body; empty fields when
// the body is not such XML (it may be truncated, HTML from a proxy, or empty for HEAD).
struct S3Error {
  std::string code;
  std::string message;
};
S3Error parse_s3_error(std::string_view body);

}  // namespace shoal::origin
