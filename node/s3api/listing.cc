#include "node/s3api/listing.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>

#include "node/s3api/text.h"

namespace shoal::s3api {

namespace {

using text::iequals;

ListError invalid(std::string argument, std::string message) {
  return ListError{ErrorCode::kInvalidArgument, std::move(message), std::move(argument)};
}

// Parameters no listing forwards: a presigned URL's own, and the SDKs' operation tag.
bool ignored_param(std::string_view name) {
  return name == "x-id" || (name.size() >= 6 && iequals(name.substr(0, 6), "x-amz-"));
}

bool has_control(std::string_view v) {
  return std::any_of(v.begin(), v.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
}

// A text parameter of at most `limit` bytes without control characters.
std::optional<ListError> check_text(const std::string& name, const std::string& value,
                                    std::size_t limit) {
  if (value.size() > limit) {
    return invalid(name, name + " is longer than " + std::to_string(limit) + " bytes");
  }
  if (has_control(value)) return invalid(name, name + " holds a control character");
  return std::nullopt;
}

// Decimal digits only, at most `max`; nullopt otherwise.
std::optional<std::uint64_t> parse_count(std::string_view v, std::uint64_t max) {
  if (v.empty() || v.size() > 10) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n <= max ? std::optional<std::uint64_t>(n) : std::nullopt;
}

// The query without the ignored parameters; refuses repeats and too many parameters.
std::variant<QueryList, ListError> significant(const QueryList& query) {
  if (query.size() > kMaxListParams) {
    return invalid("", "more than " + std::to_string(kMaxListParams) + " query parameters");
  }
  QueryList out;
  std::set<std::string_view> seen;
  for (const auto& [name, value] : query) {
    if (!seen.insert(name).second) return invalid(name, name + " is given more than once");
    if (!ignored_param(name)) out.emplace_back(name, value);
  }
  return out;
}

// Checks one ListObjects(V2) parameter and appends what is forwarded to *out.
std::optional<ListError> list_param(bool v2, const std::string& name, const std::string& value,
                                    QueryList* out) {
  if (name == "prefix" || name == "delimiter" || (!v2 && name == "marker") ||
      (v2 && name == "start-after")) {
    if (auto e = check_text(name, value, kMaxListKeyParam)) return e;
    out->emplace_back(name, value);
  } else if (v2 && name == "continuation-token") {
    if (auto e = check_text(name, value, kMaxContinuationToken)) return e;
    out->emplace_back(name, value);
  } else if (name == "max-keys") {
    auto n = parse_count(value, 2147483647);
    if (!n) return invalid(name, "Provided max-keys not an integer or within integer range");
    out->emplace_back(name, std::to_string(std::min<std::uint64_t>(*n, kMaxKeysPerPage)));
  } else if (name == "encoding-type") {
    if (!iequals(value, "url"))
      return invalid(name, "Invalid Encoding Method specified in Request");
    out->emplace_back(name, "url");
  } else if (v2 && name == "fetch-owner") {
    if (!iequals(value, "true") && !iequals(value, "false")) {
      return invalid(name, "fetch-owner must be true or false");
    }
    out->emplace_back(name, iequals(value, "true") ? "true" : "false");
  } else if (name == "list-type") {
    if (value != "2") return invalid(name, "Invalid List Type specified in Request");
    if (v2) out->emplace_back(name, value);
  } else if (name == "marker" || name == "continuation-token" || name == "start-after" ||
             name == "fetch-owner") {
    return invalid(name, name + (v2 ? " is a ListObjects (version 1) parameter"
                                    : " is a ListObjectsV2 (list-type=2) parameter"));
  } else {
    return ListError{ErrorCode::kNotImplemented,
                     "This S3 port does not implement the query parameter " + name, name};
  }
  return std::nullopt;
}

}  // namespace

std::variant<QueryList, ListError> list_objects_query(Operation op, const QueryList& query) {
  auto sig = significant(query);
  if (auto* e = std::get_if<ListError>(&sig)) return std::move(*e);
  const bool v2 = op == Operation::kListObjectsV2;
  QueryList out;
  for (const auto& [name, value] : std::get<QueryList>(sig)) {
    if (auto e = list_param(v2, name, value, &out)) return std::move(*e);
  }
  return out;
}

bool rename_listed_bucket(std::string* xml, std::string_view origin_bucket,
                          std::string_view client_bucket) {
  const std::size_t root = xml->find("<ListBucketResult");
  if (root == std::string::npos) return false;
  static constexpr std::string_view kOpen = "<Name>";
  const std::size_t open = xml->find(kOpen, root);
  if (open == std::string::npos) return false;
  const std::size_t begin = open + kOpen.size();
  const std::size_t end = xml->find("</Name>", begin);
  if (end == std::string::npos ||
      std::string_view(*xml).substr(begin, end - begin) != origin_bucket) {
    return false;
  }
  xml->replace(begin, end - begin, client_bucket);
  return true;
}

std::variant<ListBucketsQuery, ListError> list_buckets_query(const QueryList& query) {
  auto sig = significant(query);
  if (auto* e = std::get_if<ListError>(&sig)) return std::move(*e);
  ListBucketsQuery q;
  for (const auto& [name, value] : std::get<QueryList>(sig)) {
    if (name == "prefix") {
      if (auto e = check_text(name, value, kMaxListKeyParam)) return std::move(*e);
      q.prefix = value;
    } else if (name == "continuation-token") {
      if (auto e = check_text(name, value, kMaxContinuationToken)) return std::move(*e);
      q.after = value;
    } else if (name == "max-buckets") {
      auto n = parse_count(value, kMaxBucketsPerPage);
      if (!n || *n == 0) {
        return invalid(
            name, "max-buckets must be an integer from 1 to " + std::to_string(kMaxBucketsPerPage));
      }
      q.max_buckets = static_cast<std::uint32_t>(*n);
    } else if (name == "bucket-region") {
      if (auto e = check_text(name, value, 64)) return std::move(*e);
    } else {
      return ListError{ErrorCode::kNotImplemented,
                       "This S3 port does not implement the query parameter " + name, name};
    }
  }
  return q;
}

std::string list_buckets_xml(std::vector<std::string> names, const ListBucketsQuery& q,
                             std::string_view owner, std::string_view creation_date) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string x =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>" +
      xml_escape(owner) + "</ID><DisplayName>" + xml_escape(owner) +
      "</DisplayName></Owner><Buckets>";
  std::uint32_t sent = 0;
  std::string last;
  bool truncated = false;
  for (const std::string& name : names) {
    if (!name.starts_with(q.prefix) || (!q.after.empty() && name <= q.after)) continue;
    if (sent == q.max_buckets) {
      truncated = true;
      break;
    }
    x += "<Bucket><Name>" + xml_escape(name) + "</Name><CreationDate>" + xml_escape(creation_date) +
         "</CreationDate></Bucket>";
    last = name;
    ++sent;
  }
  x += "</Buckets>";
  if (truncated) x += "<ContinuationToken>" + xml_escape(last) + "</ContinuationToken>";
  if (!q.prefix.empty()) x += "<Prefix>" + xml_escape(q.prefix) + "</Prefix>";
  x += "</ListAllMyBucketsResult>\n";
  return x;
}

}  // namespace shoal::s3api
