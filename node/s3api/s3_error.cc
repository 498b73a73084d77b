#include "node/s3api/s3_error.h"

namespace shoal::s3api {

namespace {

struct Entry {
  std::string_view name;
  int status;
};

Entry entry(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNoSuchKey:
      return {"NoSuchKey", 404};
    case ErrorCode::kNoSuchBucket:
      return {"NoSuchBucket", 404};
    case ErrorCode::kAccessDenied:
      return {"AccessDenied", 403};
    case ErrorCode::kInvalidAccessKeyId:
      return {"InvalidAccessKeyId", 403};
    case ErrorCode::kSignatureDoesNotMatch:
      return {"SignatureDoesNotMatch", 403};
    case ErrorCode::kRequestTimeTooSkewed:
      return {"RequestTimeTooSkewed", 403};
    case ErrorCode::kAuthorizationHeaderMalformed:
      return {"AuthorizationHeaderMalformed", 400};
    case ErrorCode::kAuthorizationQueryParametersError:
      return {"AuthorizationQueryParametersError", 400};
    case ErrorCode::kXAmzContentSHA256Mismatch:
      return {"XAmzContentSHA256Mismatch", 400};
    case ErrorCode::kInvalidRequest:
      return {"InvalidRequest", 400};
    case ErrorCode::kInvalidArgument:
      return {"InvalidArgument", 400};
    case ErrorCode::kInvalidBucketName:
      return {"InvalidBucketName", 400};
    case ErrorCode::kInvalidURI:
      return {"InvalidURI", 400};
    case ErrorCode::kInvalidRange:
      return {"InvalidRange", 416};
    case ErrorCode::kPreconditionFailed:
      return {"PreconditionFailed", 412};
    case ErrorCode::kNotImplemented:
      return {"NotImplemented", 501};
    case ErrorCode::kEntityTooLarge:
      return {"EntityTooLarge", 400};
    case ErrorCode::kMissingContentLength:
      return {"MissingContentLength", 411};
    case ErrorCode::kBadDigest:
      return {"BadDigest", 400};
    case ErrorCode::kInvalidDigest:
      return {"InvalidDigest", 400};
    case ErrorCode::kIncompleteBody:
      return {"IncompleteBody", 400};
    case ErrorCode::kRequestTimeout:
      return {"RequestTimeout", 400};
    case ErrorCode::kSlowDown:
      return {"SlowDown", 503};
    case ErrorCode::kServiceUnavailable:
      return {"ServiceUnavailable", 503};
    case ErrorCode::kInternalError:
      return {"InternalError", 500};
  }
  return {"InternalError", 500};
}

}  // namespace

std::string_view error_code_name(ErrorCode code) {
  return entry(code).name;
}

int error_status(ErrorCode code) {
  return entry(code).status;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string error_xml(ErrorCode code, std::string_view message, std::string_view resource,
                      std::string_view request_id) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
  x += error_code_name(code);
  x += "</Code><Message>" + xml_escape(message) + "</Message><Resource>" + xml_escape(resource) +
       "</Resource><RequestId>" + xml_escape(request_id) + "</RequestId></Error>\n";
  return x;
}

}  // namespace shoal::s3api
