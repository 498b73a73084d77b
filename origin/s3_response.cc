// Validation and classification of S3 responses; see s3_response.h.
#include "origin/s3_response.h"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/algorithm/string/trim.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <charconv>
#include <sstream>

namespace shoal::origin {
namespace {

// Parses a run of decimal digits at the start of *text and consumes it.
std::optional<std::uint64_t> take_number(std::string_view* text) {
  if (text->empty() || text->front() < '0' || text->front() > '9') return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc()) return std::nullopt;
  text->remove_prefix(static_cast<std::size_t>(ptr - text->data()));
  return value;
}

bool take_char(std::string_view* text, char c) {
  if (text->empty() || text->front() != c) return false;
  text->remove_prefix(1);
  return true;
}

std::string range_text(std::uint64_t first, std::uint64_t last) {
  return std::to_string(first) + "-" + std::to_string(last);
}

Verdict malformed(std::string message) {
  return Verdict{base::Outcome::kMalformed, std::move(message)};
}

// The head of a 206: Content-Range starts at `offset` and ends where asked or at the object's end.
Verdict partial_head(const ResponseHeaders& h, std::uint64_t offset, std::uint64_t length) {
  auto range = parse_content_range(h.content_range);
  if (!range) return malformed("206 with bad Content-Range '" + h.content_range + "'");
  const std::uint64_t want_last = offset + length - 1;
  const bool ends_right =
      range->last == want_last || (range->size - 1 < want_last && range->last == range->size - 1);
  if (range->first != offset || !ends_right) {
    return malformed("asked bytes " + range_text(offset, want_last) + ", got Content-Range '" +
                     h.content_range + "'");
  }
  return Verdict{base::Outcome::kOk, "", range->size, range->last - range->first + 1};
}

// The head of a 200: only for a range from 0 that the whole object (Content-Length) fits in.
Verdict whole_head(const ResponseHeaders& h, std::uint64_t offset, std::uint64_t length) {
  if (offset != 0) {
    return malformed("200 (whole object) to a range starting at " + std::to_string(offset));
  }
  auto size = parse_content_length(h.content_length);
  if (!size) return malformed("200 without a valid Content-Length");
  if (*size > length || *size == 0) {
    return malformed("200 with " + h.content_length + " bytes for a range of " +
                     std::to_string(length));
  }
  return Verdict{base::Outcome::kOk, "", *size, *size};
}

}  // namespace

void capture_header(std::string_view line, ResponseHeaders* h) {
  if (boost::algorithm::starts_with(line, "HTTP/")) {
    *h = ResponseHeaders{};
    return;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  const std::string_view name = line.substr(0, colon);
  std::string value(line.substr(colon + 1));
  boost::algorithm::trim(value);  // spaces, tabs and the CRLF
  if (boost::algorithm::iequals(name, "Content-Range"))
    h->content_range = std::move(value);
  else if (boost::algorithm::iequals(name, "Content-Length"))
    h->content_length = std::move(value);
  else if (boost::algorithm::iequals(name, "ETag"))
    h->etag = std::move(value);
  else if (boost::algorithm::iequals(name, "Last-Modified"))
    h->last_modified = std::move(value);
}

std::optional<ContentRange> parse_content_range(std::string_view value) {
  if (value.size() < 6 || !boost::algorithm::iequals(value.substr(0, 6), "bytes ")) {
    return std::nullopt;
  }
  value.remove_prefix(6);
  auto first = take_number(&value);
  if (!first || !take_char(&value, '-')) return std::nullopt;
  auto last = take_number(&value);
  if (!last || !take_char(&value, '/')) return std::nullopt;
  auto size = take_number(&value);
  if (!size || !value.empty()) return std::nullopt;
  if (*first > *last || *last >= *size) return std::nullopt;
  return ContentRange{*first, *last, *size};
}

std::optional<std::uint64_t> parse_content_length(std::string_view value) {
  auto length = take_number(&value);
  if (!length || !value.empty()) return std::nullopt;
  return length;
}

Verdict validate_get_head(int status, const ResponseHeaders& headers, std::uint64_t offset,
                          std::uint64_t length) {
  if (length == 0) return malformed("empty range asked");
  Verdict v = status == 206 ? partial_head(headers, offset, length)
              : status == 200
                  ? whole_head(headers, offset, length)
                  : malformed("unexpected status " + std::to_string(status) + " to a ranged GET");
  if (v.outcome != base::Outcome::kOk) return v;
  if (!headers.content_length.empty()) {
    auto n = parse_content_length(headers.content_length);
    if (!n) return malformed("bad Content-Length '" + headers.content_length + "'");
    if (*n != v.body_length) {
      return malformed("Content-Length " + headers.content_length + " but the range holds " +
                       std::to_string(v.body_length) + " bytes");
    }
  }
  return v;
}

Verdict validate_get(int status, const ResponseHeaders& headers, std::uint64_t offset,
                     std::uint64_t length, std::uint64_t received) {
  Verdict v = validate_get_head(status, headers, offset, length);
  if (v.outcome == base::Outcome::kOk && received != v.body_length) {
    return malformed("the head announced " + std::to_string(v.body_length) + " body bytes, " +
                     std::to_string(received) + " arrived");
  }
  return v;
}

Verdict validate_head(int status, const ResponseHeaders& headers) {
  if (status != 200) return malformed("unexpected status " + std::to_string(status) + " to HEAD");
  auto size = parse_content_length(headers.content_length);
  if (!size) return malformed("HEAD without a valid Content-Length");
  return Verdict{base::Outcome::kOk, "", *size};
}

base::Outcome classify_status(int status, std::string_view s3_code) {
  if (s3_code == "SlowDown") return base::Outcome::kThrottled;
  switch (status) {
    case 404:
      return base::Outcome::kNotFound;
    case 403:
      return base::Outcome::kAccessDenied;
    case 416:
      return base::Outcome::kInvalidRange;
    case 412:
      return base::Outcome::kPreconditionFailed;
    case 429:
    case 503:
      return base::Outcome::kThrottled;
    default:
      return status >= 500 && status <= 599 ? base::Outcome::kServerError
                                            : base::Outcome::kMalformed;
  }
}

base::Outcome classify_curl_code(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return base::Outcome::kTimeout;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WRITE_ERROR:
    case CURLE_TOO_MANY_REDIRECTS:
      return base::Outcome::kMalformed;
    default:
      return base::Outcome::kTransportError;
  }
}

S3Error parse_s3_error(std::string_view body) {
  S3Error error;
  if (body.empty()) return error;
  boost::property_tree::ptree tree;
  try {
    std::istringstream in{std::string(body)};
    boost::property_tree::read_xml(in, tree, boost::property_tree::xml_parser::trim_whitespace);
  } catch (const boost::property_tree::ptree_error&) {
    return error;
  }
  error.code = tree.get<std::string>("Error.Code", "");
  error.message = tree.get<std::string>("Error.Message", "");
  return error;
}

}  // namespace shoal::origin
