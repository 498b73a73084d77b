// Outcome names and retry policy; see outcome.h.
#include "ring/base/outcome.h"

namespace shoal::base {

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kNotFound:
      return "not_found";
    case Outcome::kAccessDenied:
      return "access_denied";
    case Outcome::kInvalidRange:
      return "invalid_range";
    case Outcome::kPreconditionFailed:
      return "precondition_failed";
    case Outcome::kThrottled:
      return "throttled";
    case Outcome::kServerError:
      return "server_error";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kMalformed:
      return "malformed";
    case Outcome::kTransportError:
      return "transport_error";
    case Outcome::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool is_retryable(Outcome o) {
  switch (o) {
    case Outcome::kThrottled:
    case Outcome::kServerError:
    case Outcome::kTimeout:
    case Outcome::kMalformed:
    case Outcome::kTransportError:
      return true;
    default:
      return false;
  }
}

}  // namespace shoal::base
