// S3 error answers as Amazon S3 writes them: a status and an XML body
//   <?xml version="1.0" encoding="UTF-8"?>
//   <Error><Code>NoSuchKey</Code><Message>...</Message><Resource>/bucket/key</Resource>
//   <RequestId>...</RequestId></Error>
// (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
//
// Thread-safe: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace shoal::s3api {

// The codes the S3 port answers with; each has one HTTP status (error_status()).
enum class ErrorCode {
  kNoSuchKey,                          // 404
  kNoSuchBucket,                       // 404
  kAccessDenied,                       // 403
  kInvalidAccessKeyId,                 // 403
  kSignatureDoesNotMatch,              // 403
  kRequestTimeTooSkewed,               // 403
  kAuthorizationHeaderMalformed,       // 400
  kAuthorizationQueryParametersError,  // 400
  kXAmzContentSHA256Mismatch,          // 400
  kInvalidRequest,                     // 400
  kInvalidArgument,                    // 400
  kInvalidBucketName,                  // 400
  kInvalidURI,                         // 400
  kInvalidRange,                       // 416
  kPreconditionFailed,                 // 412
  kNotImplemented,                     // 501
  kSlowDown,                           // 503
  kServiceUnavailable,                 // 503
  kInternalError,                      // 500
  kEntityTooLarge,                     // 400: a body over the port's write limit
  kMissingContentLength,               // 411: a body without Content-Length
  kBadDigest,                          // 400: Content-MD5 is not the body's
  kInvalidDigest,                      // 400: Content-MD5 is not base64 of 16 bytes
  kIncompleteBody,                     // 400: fewer bytes than Content-Length
  kRequestTimeout,                     // 400: the body stopped arriving
};

// "NoSuchKey", "AccessDenied", ... (the <Code> text).
std::string_view error_code_name(ErrorCode code);
// The HTTP status S3 sends with `code`.
int error_status(ErrorCode code);
// The XML body for `code`; `message`, `resource` and `request_id` are escaped (& < > " ').
std::string error_xml(ErrorCode code, std::string_view message, std::string_view resource,
                      std::string_view request_id);
// `s` with the five XML special characters escaped; bytes below 0x20 other than tab, LF and CR
// (not allowed in XML 1.0) become '?'.
std::string xml_escape(std::string_view s);

}  // namespace shoal::s3api
