// Fuzzes the client request path: raw bytes -> Beast's HTTP parser (with shoald's limits) ->
// parse_fetch_request (path, percent-decoding, the kind, object and bucket rules, the bucket
// policy, Range, C0-Bucket, C0-Config under the caps) -> range resolution. The input's size picks
// one of three policies (none: a kind is its own bucket; --trust-client-buckets; a policy file),
// so every seed meets all three as the corpus grows. An input starting with '{' is a policy file
// instead.
// Invariants checked: accepted requests have names that follow ring/base/names.h, buckets the
// policy allows for the kind (unless clients are trusted), a C0-Config within the caps whose
// forwarded text gives it back; resolved ranges lie inside the object; errors carry a 4xx status
// and a one-line reason, 403 only from a policy. A policy that parses resolves only to valid
// bucket lists.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "node/bucket_policy.h"
#include "node/fetch_request.h"
#include "ring/base/names.h"

namespace http = boost::beast::http;
using shoal::node::BucketPolicy;

namespace {

const BucketPolicy& policy_for(std::size_t size) {
  static const BucketPolicy none;
  static const BucketPolicy trust = BucketPolicy::trust_client();
  static const BucketPolicy file = [] {
    std::string error;
    auto p = BucketPolicy::parse(
        R"({"kinds": {"kind": ["b1-bucket", "b2-bucket"], "videos": "videos-eu"},
            "default": ["shared-a", "shared-b"]})",
        &error);
    if (!p) std::abort();
    return *p;
  }();
  switch (size % 3) {
    case 0:
      return none;
    case 1:
      return trust;
    default:
      return file;
  }
}

void check_buckets(const std::vector<std::string>& buckets) {
  if (buckets.empty() || buckets.size() > BucketPolicy::kMaxBuckets) std::abort();
  for (const auto& b : buckets) {
    if (shoal::base::check_bucket(b)) std::abort();
  }
}

// A policy file: whatever parses resolves only to valid bucket lists, and the list a kind
// resolves to is accepted as its own C0-Bucket.
int fuzz_policy(std::string_view text) {
  std::string error;
  auto policy = BucketPolicy::parse(text, &error);
  if (!policy) {
    if (error.empty() || error.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  for (const char* kind : {"kind", "videos", "a", "b1-bucket", "Some_Kind"}) {
    std::vector<std::string> buckets, again;
    if (policy->resolve(kind, {}, &buckets)) continue;
    check_buckets(buckets);
    if (policy->resolve(kind, buckets, &again) || again != buckets) std::abort();
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!text.empty() && text.front() == '{') return fuzz_policy(text);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(0);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& req = parser.get();
  const BucketPolicy& policy = policy_for(size);
  const shoal::node::FetchRules rules{shoal::origin::RequestConfig{}, shoal::origin::ClientCaps{},
                                      &policy};
  auto parsed = shoal::node::parse_fetch_request(req, rules);
  if (auto* err = std::get_if<shoal::node::RequestError>(&parsed)) {
    if (err->status < 400 || err->status > 499) std::abort();
    if (err->status == 403 && policy.trusts_client()) std::abort();
    if (err->reason.empty() || err->reason.find_first_of("\r\n") != std::string::npos) std::abort();
    return 0;
  }
  const auto& fr = std::get<shoal::node::FetchRequest>(parsed);
  if (shoal::base::check_kind(fr.kind) || shoal::base::check_object(fr.object)) std::abort();
  check_buckets(fr.options.buckets);
  if (!policy.trusts_client()) {
    std::vector<std::string> allowed;
    if (policy.resolve(fr.kind, {}, &allowed)) std::abort();
    for (const auto& b : fr.options.buckets) {
      if (std::find(allowed.begin(), allowed.end(), b) == allowed.end()) std::abort();
    }
  }
  // C0-Config: valid, within the caps, and its forwarded text gives it back.
  const auto& cfg = fr.options.config;
  const shoal::origin::ClientCaps& caps = rules.caps;
  if (cfg.validate() || cfg.max_attempts > caps.max_attempts ||
      cfg.operation_timeout > caps.max_timeout || cfg.max_backoff > caps.max_backoff) {
    std::abort();
  }
  shoal::origin::RequestConfig again;
  if (shoal::origin::apply_c0_config(fr.options.config_text, rules.defaults, caps, &again) ||
      shoal::origin::c0_config_text(again, rules.defaults) != fr.options.config_text) {
    std::abort();
  }
  // Resolve against a size derived from the input, and check the result's bounds.
  std::uint64_t object_size = size * 977 + 1;
  shoal::base::ResolvedRange rr;
  if (shoal::base::resolve_byte_range(fr.range, object_size, &rr) == shoal::base::RangeError::kOk) {
    if (rr.first > rr.last || rr.last >= object_size) std::abort();
  }
  return 0;
}
