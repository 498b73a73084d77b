#include <gtest/gtest.h>

#include "node/s3api/conditions.h"
#include "node/s3api/request.h"
#include "node/s3api/s3_error.h"

namespace shoal::s3api {
namespace {

S3Request ok(std::string_view method, std::string_view target, std::string_view host = "h:1",
             std::string_view domain = "") {
  auto r = classify(method, target, host, domain);
  EXPECT_TRUE(std::holds_alternative<S3Request>(r)) << target;
  return std::holds_alternative<S3Request>(r) ? std::get<S3Request>(r) : S3Request{};
}

ErrorCode err(std::string_view target) {
  auto r = classify("GET", target, "h", "");
  EXPECT_TRUE(std::holds_alternative<ClassifyError>(r)) << target;
  return std::holds_alternative<ClassifyError>(r) ? std::get<ClassifyError>(r).code
                                                  : ErrorCode::kInternalError;
}

TEST(S3RequestTest, PathStyle) {
  S3Request r = ok("GET", "/bucket-1/dir/a%20b.bin");
  EXPECT_EQ(r.op, Operation::kGetObject);
  EXPECT_EQ(r.bucket, "bucket-1");
  EXPECT_EQ(r.key, "dir/a b.bin");
  EXPECT_EQ(r.resource, "/bucket-1/dir/a b.bin");
  EXPECT_EQ(ok("HEAD", "/bucket-1/k").op, Operation::kHeadObject);
  EXPECT_EQ(ok("GET", "/bucket-1/k?response-content-type=text%2Fplain&X-Amz-Expires=5").op,
            Operation::kGetObject);
  EXPECT_EQ(
      *ok("GET", "/bucket-1/k?response-content-type=text%2Fplain").param("response-content-type"),
      "text/plain");
  EXPECT_EQ(ok("GET", "/").op, Operation::kListBuckets);
  EXPECT_EQ(ok("GET", "/bucket-1").op, Operation::kListObjects);
  EXPECT_EQ(ok("GET", "/bucket-1/").op, Operation::kListObjects);
  EXPECT_EQ(ok("GET", "/bucket-1?list-type=2&prefix=a").op, Operation::kListObjectsV2);
  EXPECT_EQ(ok("PUT", "/bucket-1/k").op, Operation::kPutObject);
  EXPECT_EQ(ok("DELETE", "/bucket-1/k").op, Operation::kDeleteObject);
  // Sub-resources and other methods are not served.
  EXPECT_EQ(ok("GET", "/bucket-1/k?acl").op, Operation::kOther);
  EXPECT_EQ(ok("GET", "/bucket-1/k?versionId=3").op, Operation::kOther);
  EXPECT_EQ(ok("GET", "/bucket-1/k?partNumber=1").op, Operation::kOther);
  EXPECT_EQ(ok("POST", "/bucket-1/k?uploads").op, Operation::kCreateMultipartUpload);
  EXPECT_EQ(ok("GET", "/bucket-1?policy").op, Operation::kOther);
  EXPECT_EQ(ok("PUT", "/bucket-1").op, Operation::kOther);
}

TEST(S3RequestTest, VirtualHosted) {
  S3Request r = ok("GET", "/dir/k", "my-bucket.s3.example.com:9000", "s3.example.com");
  EXPECT_EQ(r.bucket, "my-bucket");
  EXPECT_EQ(r.key, "dir/k");
  // The domain itself, or another host: path-style.
  r = ok("GET", "/b-1/k", "S3.EXAMPLE.COM", "s3.example.com");
  EXPECT_EQ(r.bucket, "b-1");
  r = ok("GET", "/b-1/k", "other.org", "s3.example.com");
  EXPECT_EQ(r.bucket, "b-1");
  EXPECT_EQ(ok("GET", "/", "my-bucket.s3.example.com", "s3.example.com").op,
            Operation::kListObjects);
}

TEST(S3RequestTest, Errors) {
  EXPECT_EQ(err("bucket/k"), ErrorCode::kInvalidURI);
  EXPECT_EQ(err("/bucket/k%zz"), ErrorCode::kInvalidURI);
  EXPECT_EQ(err("/bucket/k%00"), ErrorCode::kInvalidURI);
  EXPECT_EQ(err("/bucket/a/../b"), ErrorCode::kInvalidURI);
  EXPECT_EQ(err("/Bad_Bucket/k"), ErrorCode::kInvalidBucketName);
  EXPECT_EQ(err("/b/k"), ErrorCode::kInvalidBucketName);
}

TEST(S3ErrorTest, Xml) {
  EXPECT_EQ(error_status(ErrorCode::kNoSuchKey), 404);
  EXPECT_EQ(error_status(ErrorCode::kNotImplemented), 501);
  EXPECT_EQ(error_status(ErrorCode::kSlowDown), 503);
  EXPECT_EQ(error_status(ErrorCode::kInvalidRange), 416);
  EXPECT_EQ(error_xml(ErrorCode::kNoSuchKey, "no <such> key", "/b/a&b", "R1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
            "<Message>no &lt;such&gt; key</Message><Resource>/b/a&amp;b</Resource>"
            "<RequestId>R1</RequestId></Error>\n");
  EXPECT_EQ(xml_escape(std::string("a\x01'\"", 4)), "a?&apos;&quot;");
}

TEST(ConditionsTest, S3Precedence) {
  const std::string etag = "\"abc\"";
  const std::string lm = "Wed, 01 Jan 2025 00:00:00 GMT";
  const std::string before = "Tue, 31 Dec 2024 00:00:00 GMT";
  const std::string after = "Thu, 02 Jan 2025 00:00:00 GMT";
  auto eval = [&](Conditions c) { return evaluate(c, etag, lm); };
  EXPECT_EQ(eval({}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_match = "\"abc\""}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_match = "\"x\", abc"}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_match = "*"}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_match = "\"x\""}), Precondition::kFailed);
  EXPECT_EQ(eval({.if_unmodified_since = before}), Precondition::kFailed);
  EXPECT_EQ(eval({.if_unmodified_since = after}), Precondition::kProceed);
  // If-Match true wins over a false If-Unmodified-Since (S3's documented rule).
  EXPECT_EQ(eval({.if_match = etag, .if_unmodified_since = before}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_none_match = "W/\"abc\""}), Precondition::kNotModified);
  EXPECT_EQ(eval({.if_none_match = "\"x\""}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_modified_since = after}), Precondition::kNotModified);
  EXPECT_EQ(eval({.if_modified_since = lm}), Precondition::kNotModified);
  EXPECT_EQ(eval({.if_modified_since = before}), Precondition::kProceed);
  // If-None-Match false wins over a true If-Modified-Since... which then is ignored.
  EXPECT_EQ(eval({.if_none_match = "\"x\"", .if_modified_since = after}), Precondition::kProceed);
  // Unparsable dates are ignored.
  EXPECT_EQ(eval({.if_modified_since = "yesterday"}), Precondition::kProceed);
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
}

}  // namespace
}  // namespace shoal::s3api
