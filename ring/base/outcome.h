// The result classes of a page or object operation (at the origin, or at a peer that answered
// for it). Shared vocabulary: origin/ produces them, peer/ carries them in forward responses,
// node/ maps them to client status codes (node/client_status.h).
#pragma once

#include <string_view>

namespace shoal::base {

enum class Outcome {
  kOk,                  // the page (or object metadata) arrived and passed validation
  kNotFound,            // NoSuchKey / NoSuchBucket / 404
  kAccessDenied,        // AccessDenied / 403
  kInvalidRange,        // InvalidRange / 416 (start past the end)
  kPreconditionFailed,  // 412 to an If-Match (object changed)
  kThrottled,           // SlowDown / 503 / 429, after all retries
  kServerError,         // other 5xx, after all retries
  kTimeout,             // connect, first-byte, attempt or operation timeout
  kMalformed,           // bad Content-Range, length mismatch, other 4xx
  kTransportError,      // connection refused/reset/DNS, after retries
  kCancelled,           // cancelled by the caller (no client sees it)
};

// A stable lower_snake name, used in logs, /metrics labels and error bodies.
std::string_view outcome_name(Outcome o);
// True for outcomes worth another attempt (throttling, 5xx, timeouts, transport, malformed).
bool is_retryable(Outcome o);

}  // namespace shoal::base
