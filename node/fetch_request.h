// A parsed /fetch request, ready for the read path: validated path, range, buckets and origin
// settings. Parsing is pure (no I/O) so that hostile input can be tested and fuzzed alone.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "node/page_fetcher.h"
#include "ring/base/byte_range.h"

namespace shoal::node {

struct FetchRequest {
  bool head = false;  // HEAD: headers only
  std::string kind;
  std::string object;
  base::ByteRange range;       // as sent; resolved against the object size later
  FetchOptions options;        // buckets (C0-Bucket, else kind), C0-Config, no If-Match yet
  bool want_trailers = false;  // the client sent TE: trailers
};

struct RequestError {
  int status = 400;    // 400, 404, 405, 416
  std::string reason;  // one line, no CR/LF
};

// Parses a /fetch request. `defaults` are the node's origin settings that C0-Config overrides.
// Errors: 405 for a method other than GET/HEAD; 400 for a bad path (node/fetch_path.h), a missing
// Range, an empty or invalid C0-Bucket, a malformed C0-Config; 416 for an unparsable or
// multi-range Range.
std::variant<FetchRequest, RequestError> parse_fetch_request(
    const boost::beast::http::request<boost::beast::http::empty_body>& req,
    const origin::RequestConfig& defaults);

// True when `target` is a /fetch route (so the caller dispatches to parse_fetch_request).
bool is_fetch_target(std::string_view target);

}  // namespace shoal::node
