#include "node/client_status.h"

namespace shoal::node {

int client_status(base::Outcome o) {
  using base::Outcome;
  switch (o) {
    case base::Outcome::kOk:
      return 206;
    case base::Outcome::kNotFound:
      return 404;
    case base::Outcome::kAccessDenied:
      return 403;
    case base::Outcome::kInvalidRange:
      return 416;
    case base::Outcome::kPreconditionFailed:
      return 409;
    case base::Outcome::kThrottled:
    case base::Outcome::kServerError:
      return 503;
    case base::Outcome::kTimeout:
      return 504;
    case base::Outcome::kMalformed:
    case base::Outcome::kTransportError:
      return 502;
    case base::Outcome::kCancelled:
      return 499;  // nginx's "client closed request"; never sent, only logged
  }
  return 500;
}

}  // namespace shoal::node
