// The HTTP status a client gets for the outcome of a page or object operation
// (ring/base/outcome.h): the mapping of the client API (docs/http-api.md, "Status codes").
#pragma once

#include "ring/base/outcome.h"

namespace shoal::node {

// 206 for kOk; 404 not found, 403 access denied, 416 invalid range, 409 precondition failed,
// 503 throttled or server error, 504 timeout, 502 malformed or transport error, 499 cancelled
// (never sent, only logged). Pure; any thread.
int client_status(base::Outcome o);

}  // namespace shoal::node
