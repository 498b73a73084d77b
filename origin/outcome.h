// The result classes of an origin operation, and how the HTTP layer maps them to client status
// codes. Kept tiny so that node/ and peer/ can name outcomes without pulling in libcurl.
#pragma once

#include <string_view>

namespace shoal::origin {

enum class Outcome {
  kOk,                  // the page (or object metadata) arrived and passed validation
  kNotFound,            // NoSuchKey / NoSuchBucket / 404              -> client 404
  kAccessDenied,        // AccessDenied / 403                          -> client 403
  kInvalidRange,        // InvalidRange / 416 (start past the end)     -> client 416
  kPreconditionFailed,  // 412 to an If-Match (object changed)         -> client 409
  kThrottled,           // SlowDown / 503 / 429, after all retries     -> client 503
  kServerError,         // other 5xx, after all retries                -> client 503
  kTimeout,             // connect, first-byte, attempt or operation timeout -> client 504
  kMalformed,           // bad Content-Range, length mismatch, other 4xx -> client 502
  kTransportError,      // connection refused/reset/DNS, after retries -> client 502
  kCancelled,           // cancelled by the caller (no client sees it; 499 in logs)
};

// The HTTP status a client gets for an outcome (206 for kOk).
int client_status(Outcome o);
// A stable lower_snake name, used in logs, /metrics labels and error bodies.
std::string_view outcome_name(Outcome o);
// True for outcomes worth another attempt (throttling, 5xx, timeouts, transport, malformed).
bool is_retryable(Outcome o);

}  // namespace shoal::origin
