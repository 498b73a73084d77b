// Fuzzes the client request path: raw bytes -> Beast's HTTP parser (with shoald's limits) ->
// parse_fetch_request (path, percent-decoding, Range, C0-Bucket, C0-Config) -> range resolution.
// Invariants checked: accepted requests have bounded, control-free names; resolved ranges lie
// inside the object; errors carry a 4xx status and a one-line reason.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdlib>

#include "node/fetch_request.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(0);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& req = parser.get();
  auto parsed = shoal::node::parse_fetch_request(req, shoal::origin::RequestConfig{});
  if (auto* err = std::get_if<shoal::node::RequestError>(&parsed)) {
    if (err->status < 400 || err->status > 499) std::abort();
    if (err->reason.empty() || err->reason.find_first_of("\r\n") != std::string::npos) std::abort();
    return 0;
  }
  const auto& fr = std::get<shoal::node::FetchRequest>(parsed);
  if (fr.kind.empty() || fr.kind.size() > 64 || fr.object.empty() || fr.object.size() > 1024) {
    std::abort();
  }
  for (unsigned char c : fr.object) {
    if (c < 0x20 || c == 0x7f) std::abort();
  }
  if (fr.options.buckets.empty()) std::abort();
  for (const auto& b : fr.options.buckets) {
    if (b.find_first_of("\r\n /") != std::string::npos) std::abort();
  }
  // Resolve against a size derived from the input, and check the result's bounds.
  std::uint64_t object_size = size * 977 + 1;
  shoal::base::ResolvedRange rr;
  if (shoal::base::resolve_byte_range(fr.range, object_size, &rr) == shoal::base::RangeError::kOk) {
    if (rr.first > rr.last || rr.last >= object_size) std::abort();
  }
  return 0;
}
