// A parsed /fetch request, ready for the read path: validated path, range, buckets and origin
// settings. Parsing is pure (no I/O) so that hostile input can be tested and fuzzed alone.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "node/bucket_policy.h"
#include "node/config.h"
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

// Parses a /fetch request under `rules`. Errors: 405 for a method other than GET/HEAD; 400 for a
// bad path (ring/base/fetch_path.h, names.h), a missing Range, an empty C0-Bucket or one that is
// not an S3 bucket name (base::check_bucket), more than 8 buckets, a malformed C0-Config; 403
// (or 400 for a kind that must be a bucket name and is not) when the bucket policy refuses the
// kind or a C0-Bucket (BucketPolicy::resolve); 416 for an unparsable or multi-range Range. On
// success options.buckets is what the policy resolved, options.config the C0-Config applied to
// the defaults under the caps, and options.config_text its forwardable form
// (origin::c0_config_text).
std::variant<FetchRequest, RequestError> parse_fetch_request(
    const boost::beast::http::request<boost::beast::http::empty_body>& req,
    const FetchRules& rules);
// The same under the rules of the node configured by `cfg`.
std::variant<FetchRequest, RequestError> parse_fetch_request(
    const boost::beast::http::request<boost::beast::http::empty_body>& req, const NodeConfig& cfg);

// True when `target` is a /fetch route (so the caller dispatches to parse_fetch_request).
bool is_fetch_target(std::string_view target);

}  // namespace shoal::node
