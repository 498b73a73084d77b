// Which S3 operation a request is, and on which bucket and key: path-style ("/bucket/key") or
// virtual-hosted ("Host: bucket.DOMAIN" with --s3-api-domain DOMAIN, path "/key").
//
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "node/s3api/s3_error.h"

namespace shoal::s3api {

enum class Operation {
  kGetObject,
  kHeadObject,
  kListBuckets,    // GET /
  kListObjects,    // GET /bucket
  kListObjectsV2,  // GET /bucket?list-type=2
  kHeadBucket,
  kPutObject,
  kDeleteObject,
  kCreateMultipartUpload,    // POST /bucket/key?uploads
  kUploadPart,               // PUT /bucket/key?partNumber=N&uploadId=U
  kCompleteMultipartUpload,  // POST /bucket/key?uploadId=U
  kAbortMultipartUpload,     // DELETE /bucket/key?uploadId=U
  kListParts,                // GET /bucket/key?uploadId=U
  kOther,                    // anything else (sub-resources, other methods): NotImplemented
};

// "GetObject", "HeadObject", ... ("Other" for kOther): the metrics label.
std::string_view operation_name(Operation op);
// Whether `op` changes objects (PutObject, DeleteObject, the multipart operations but
// ListParts), so needs a credential's write right.
bool is_write(Operation op);

struct S3Request {
  Operation op = Operation::kOther;
  std::string bucket;    // empty for ListBuckets
  std::string key;       // decoded; empty for bucket and service operations
  std::string resource;  // "/bucket/key" (decoded) for error bodies
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  // The value of query parameter `name`, or nullptr.
  const std::string* param(std::string_view name) const;
};

struct ClassifyError {
  ErrorCode code;
  std::string message;
};

// Classifies a request. `method` as sent ("GET"), `target` the raw request target, `host` the
// Host field (port allowed), `domain` --s3-api-domain (empty: path-style only). A Host equal to
// `domain` is path-style; one ending in "." + domain names the bucket. GET and HEAD of a key
// with a sub-resource other than the presigned-URL parameters (X-Amz-*), response-* overrides
// and x-id (e.g. ?acl, ?tagging, ?versionId, ?partNumber, ?uploads) are kOther; so are a GET of
// a bucket with a parameter that is not a listing's (node/s3api/listing.h) and a GET of "/"
// with one that is not ListBuckets'. Errors:
// InvalidURI for a target that is not origin-form or has bad %-escapes or a NUL; InvalidBucketName
// for a bucket that is not an S3 bucket name (base::check_bucket); InvalidURI for a key
// base::check_object refuses (longer than 1024 bytes, control characters, "." or ".." segments).
std::variant<S3Request, ClassifyError> classify(std::string_view method, std::string_view target,
                                                std::string_view host, std::string_view domain);

}  // namespace shoal::s3api
