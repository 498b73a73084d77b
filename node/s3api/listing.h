// The S3 port's listings, as pure pieces: which query parameters a ListObjects / ListObjectsV2
// may carry and what is forwarded to the origin, the bucket name rewritten in the origin's
// answer, and ListBuckets' parameters and ListAllMyBucketsResult XML (generated from the node's
// configuration, never asked of the origin).
//
// Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "node/s3api/request.h"
#include "node/s3api/s3_error.h"

namespace shoal::s3api {

using QueryList = std::vector<std::pair<std::string, std::string>>;

// Limits on listing parameters (bytes).
inline constexpr std::size_t kMaxListKeyParam = 1024;  // prefix, marker, start-after, delimiter
inline constexpr std::size_t kMaxContinuationToken = 4096;
inline constexpr std::size_t kMaxListParams = 32;       // query parameters in all
inline constexpr std::uint32_t kMaxKeysPerPage = 1000;  // S3's cap; a larger max-keys is cut
inline constexpr std::uint32_t kMaxBucketsPerPage = 10000;

// Why a listing's query was refused: InvalidArgument (400, `argument` names the parameter) or
// NotImplemented (501: a parameter this port does not know, e.g. a sub-resource).
struct ListError {
  ErrorCode code = ErrorCode::kInvalidArgument;
  std::string message;
  std::string argument;
};

// The parameters to send to the origin for a ListObjects (`op` kListObjects) or ListObjectsV2
// (kListObjectsV2) with the client's decoded `query`. Kept and checked:
//   both:  prefix, delimiter (at most kMaxListKeyParam bytes, no control characters),
//          max-keys (decimal digits, 0..2147483647; sent as at most kMaxKeysPerPage),
//          encoding-type (only "url", any case; sent as "url");
//   V1:    marker (as prefix);
//   V2:    list-type ("2"), continuation-token (at most kMaxContinuationToken bytes, no control
//          characters), start-after (as prefix), fetch-owner ("true"/"false", any case).
// Dropped: the presigned-URL parameters (X-Amz-*, any case) and the SDKs' x-id. Refused:
// InvalidArgument for a parameter given twice, one of the other version (marker with V2;
// continuation-token, start-after or fetch-owner with V1), a list-type other than 2, a bad
// value, more than kMaxListParams parameters; NotImplemented for any other name.
std::variant<QueryList, ListError> list_objects_query(Operation op, const QueryList& query);

// Replaces the text of the first <Name> element of a ListBucketResult `xml` with `client_bucket`
// when it is `origin_bucket` (the origin's name for the bucket the client calls
// `client_bucket`). Returns false, `xml` unchanged, when there is no such element or it names
// another bucket.
bool rename_listed_bucket(std::string* xml, std::string_view origin_bucket,
                          std::string_view client_bucket);

// ListBuckets' parameters: prefix (at most kMaxListKeyParam bytes), max-buckets
// (1..kMaxBucketsPerPage, default kMaxBucketsPerPage), continuation-token (the last name of
// the previous page, as this port writes it; at most kMaxContinuationToken bytes) and
// bucket-region (accepted, ignored: every bucket here is in the node's region).
struct ListBucketsQuery {
  std::string prefix;
  std::uint32_t max_buckets = kMaxBucketsPerPage;
  std::string after;  // continuation-token
};

// Parses ListBuckets' `query`; the presigned-URL parameters and x-id are ignored. Errors as
// list_objects_query's (InvalidArgument for bad values and repeats, NotImplemented for unknown
// names).
std::variant<ListBucketsQuery, ListError> list_buckets_query(const QueryList& query);

// S3's ListAllMyBucketsResult for `names` (any order, duplicates allowed): the names that start
// with q.prefix and sort after q.after, in name order, at most q.max_buckets of them (then a
// ContinuationToken, the last name sent), each with `creation_date` (ISO 8601), under an Owner
// whose ID and DisplayName are `owner`.
std::string list_buckets_xml(std::vector<std::string> names, const ListBucketsQuery& q,
                             std::string_view owner, std::string_view creation_date);

}  // namespace shoal::s3api
