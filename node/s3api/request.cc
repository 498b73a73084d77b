#include "node/s3api/request.h"

#include "node/s3api/sigv4.h"
#include "node/s3api/text.h"
#include "ring/base/names.h"

namespace shoal::s3api {

namespace {

using text::iequals;

// The bucket named by a virtual-hosted Host under `domain`, or "" (path-style).
std::string_view host_bucket(std::string_view host, std::string_view domain) {
  if (domain.empty()) return {};
  if (!host.empty() && host.front() != '[') host = host.substr(0, host.find(':'));
  if (host.size() <= domain.size() + 1) return {};
  std::string_view tail = host.substr(host.size() - domain.size());
  if (!iequals(tail, domain) || host[host.size() - domain.size() - 1] != '.') return {};
  return host.substr(0, host.size() - domain.size() - 1);
}

// Query parameters a GetObject/HeadObject may carry: presigned-URL and response overrides, and
// the operation name current AWS SDKs add ("x-id=GetObject").
bool plain_object_param(std::string_view name) {
  return name.starts_with("X-Amz-") || name.starts_with("x-amz-") ||
         name.starts_with("response-") || name == "x-id";
}

// True when every parameter is plain or one of `names`.
template <std::size_t N>
bool only_params(const S3Request& r, const std::string_view (&names)[N]) {
  for (const auto& [n, v] : r.query) {
    bool known = plain_object_param(n);
    for (auto p : names) known = known || n == p;
    if (!known) return false;
  }
  return true;
}

// The multipart operation `method` with exactly these sub-resources is (besides presigned-URL
// parameters), or kOther.
Operation multipart_op(std::string_view method, const S3Request& r) {
  bool uploads = false, upload_id = false, part_number = false, list = false, other = false;
  for (const auto& [n, v] : r.query) {
    if (plain_object_param(n)) continue;
    if (n == "uploads" && v.empty()) {
      uploads = true;
    } else if (n == "uploadId" && !v.empty()) {
      upload_id = true;
    } else if (n == "partNumber" && !v.empty()) {
      part_number = true;
    } else if (n == "max-parts" || n == "part-number-marker") {
      list = true;
    } else {
      other = true;
    }
  }
  if (other || (uploads && (upload_id || part_number || list))) return Operation::kOther;
  if (uploads)
    return method == "POST" && !list ? Operation::kCreateMultipartUpload : Operation::kOther;
  if (!upload_id) return Operation::kOther;
  if (method == "PUT" && part_number && !list) return Operation::kUploadPart;
  if (part_number) return Operation::kOther;
  if (method == "POST" && !list) return Operation::kCompleteMultipartUpload;
  if (method == "DELETE" && !list) return Operation::kAbortMultipartUpload;
  if (method == "GET") return Operation::kListParts;
  return Operation::kOther;
}

Operation object_op(std::string_view method, const S3Request& r) {
  bool plain = true;
  for (const auto& [n, v] : r.query) plain = plain && plain_object_param(n);
  if (!plain) return multipart_op(method, r);
  if (method == "GET") return plain ? Operation::kGetObject : Operation::kOther;
  if (method == "HEAD") return plain ? Operation::kHeadObject : Operation::kOther;
  if (method == "PUT") return plain ? Operation::kPutObject : Operation::kOther;
  if (method == "DELETE") return plain ? Operation::kDeleteObject : Operation::kOther;
  return Operation::kOther;
}

Operation bucket_op(std::string_view method, const S3Request& r) {
  bool plain = true;
  for (const auto& [n, v] : r.query) plain = plain && plain_object_param(n);
  if (method == "HEAD") return plain ? Operation::kHeadBucket : Operation::kOther;
  if (method != "GET") return Operation::kOther;
  static constexpr std::string_view kListParams[] = {
      "prefix",    "delimiter",          "marker",      "max-keys",   "encoding-type",
      "list-type", "continuation-token", "start-after", "fetch-owner"};
  if (!only_params(r, kListParams)) return Operation::kOther;
  const std::string* lt = r.param("list-type");
  return lt && *lt == "2" ? Operation::kListObjectsV2 : Operation::kListObjects;
}

Operation service_op(std::string_view method, const S3Request& r) {
  static constexpr std::string_view kListBucketsParams[] = {"prefix", "max-buckets",
                                                            "continuation-token", "bucket-region"};
  return method == "GET" && only_params(r, kListBucketsParams) ? Operation::kListBuckets
                                                               : Operation::kOther;
}

}  // namespace

bool is_write(Operation op) {
  switch (op) {
    case Operation::kPutObject:
    case Operation::kDeleteObject:
    case Operation::kCreateMultipartUpload:
    case Operation::kUploadPart:
    case Operation::kCompleteMultipartUpload:
    case Operation::kAbortMultipartUpload:
      return true;
    default:
      return false;
  }
}

std::string_view operation_name(Operation op) {
  switch (op) {
    case Operation::kGetObject:
      return "GetObject";
    case Operation::kHeadObject:
      return "HeadObject";
    case Operation::kListBuckets:
      return "ListBuckets";
    case Operation::kListObjects:
      return "ListObjects";
    case Operation::kListObjectsV2:
      return "ListObjectsV2";
    case Operation::kHeadBucket:
      return "HeadBucket";
    case Operation::kPutObject:
      return "PutObject";
    case Operation::kDeleteObject:
      return "DeleteObject";
    case Operation::kCreateMultipartUpload:
      return "CreateMultipartUpload";
    case Operation::kUploadPart:
      return "UploadPart";
    case Operation::kCompleteMultipartUpload:
      return "CompleteMultipartUpload";
    case Operation::kAbortMultipartUpload:
      return "AbortMultipartUpload";
    case Operation::kListParts:
      return "ListParts";
    case Operation::kOther:
      return "Other";
  }
  return "Other";
}

const std::string* S3Request::param(std::string_view name) const {
  for (const auto& [n, v] : query) {
    if (n == name) return &v;
  }
  return nullptr;
}

std::variant<S3Request, ClassifyError> classify(std::string_view method, std::string_view target,
                                                std::string_view host, std::string_view domain) {
  if (target.empty() || target.front() != '/') {
    return ClassifyError{ErrorCode::kInvalidURI, "the request target must start with '/'"};
  }
  S3Request r;
  const auto qpos = target.find('?');
  std::string_view raw_query = qpos == std::string_view::npos ? "" : target.substr(qpos + 1);
  while (!raw_query.empty()) {
    auto amp = raw_query.find('&');
    std::string_view item = raw_query.substr(0, amp);
    if (!item.empty()) {
      auto eq = item.find('=');
      auto n = percent_decode(item.substr(0, eq));
      auto v = percent_decode(eq == std::string_view::npos ? "" : item.substr(eq + 1));
      if (!n || !v) return ClassifyError{ErrorCode::kInvalidURI, "bad %-escape in the query"};
      r.query.emplace_back(std::move(*n), std::move(*v));
    }
    if (amp == std::string_view::npos) break;
    raw_query.remove_prefix(amp + 1);
  }
  auto path = percent_decode(target.substr(0, qpos));
  if (!path || path->find('\0') != std::string::npos) {
    return ClassifyError{ErrorCode::kInvalidURI, "bad %-escape in the path"};
  }
  std::string_view rest = std::string_view(*path).substr(1);  // after the leading '/'
  std::string_view vbucket = host_bucket(host, domain);
  if (!vbucket.empty()) {
    r.bucket = vbucket;
    r.key = rest;
  } else {
    auto slash = rest.find('/');
    r.bucket = rest.substr(0, slash);
    if (slash != std::string_view::npos) r.key = rest.substr(slash + 1);
  }
  if (r.bucket.empty()) {
    r.op = service_op(method, r);
    r.resource.assign(1, '/');
    return r;
  }
  if (auto e = base::check_bucket(r.bucket)) {
    return ClassifyError{ErrorCode::kInvalidBucketName, "The specified bucket is not valid: " + *e};
  }
  if (!r.key.empty()) {
    if (auto e = base::check_object(r.key)) {
      return ClassifyError{ErrorCode::kInvalidURI, "this cache cannot serve the key: " + *e};
    }
  }
  r.resource.reserve(r.bucket.size() + r.key.size() + 2);
  r.resource.append("/").append(r.bucket);
  if (!r.key.empty()) r.resource.append("/").append(r.key);
  r.op = r.key.empty() ? bucket_op(method, r) : object_op(method, r);
  return r;
}

}  // namespace shoal::s3api
