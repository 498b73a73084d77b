// Outcome -> client status, names and retry policy; see outcome.h.
#include "origin/outcome.h"

namespace shoal::origin {

int client_status(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return 206;
    case Outcome::kNotFound:
      return 404;
    case Outcome::kAccessDenied:
      return 403;
    case Outcome::kInvalidRange:
      return 416;
    case Outcome::kPreconditionFailed:
      return 409;
    case Outcome::kThrottled:
    case Outcome::kServerError:
      return 503;
    case Outcome::kTimeout:
      return 504;
    case Outcome::kMalformed:
    case Outcome::kTransportError:
      return 502;
    case Outcome::kCancelled:
      return 499;  // nginx's "client closed request"; never sent, only logged
  }
  return 500;
}

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

}  // namespace shoal::origin
