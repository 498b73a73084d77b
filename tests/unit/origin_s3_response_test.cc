#include <gtest/gtest.h>

#include <string>

#include "origin/s3_response.h"

namespace shoal::origin {
namespace {

ResponseHeaders with_range(std::string content_range, std::string content_length = "") {
  ResponseHeaders h;
  h.content_range = std::move(content_range);
  h.content_length = std::move(content_length);
  return h;
}

TEST(ContentRange, ParsesCompleteRange) {
  auto r = parse_content_range("bytes 0-9/100");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 9u);
  EXPECT_EQ(r->size, 100u);
  r = parse_content_range("Bytes 16777216-33554431/40000000");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 16777216u);
  EXPECT_EQ(r->size, 40000000u);
}

TEST(ContentRange, RejectsEverythingElse) {
  for (const char* bad :
       {"", "bytes", "bytes 0-9/*", "bytes */100", "bytes 9-0/100", "bytes 0-100/100", "bytes 0-9",
        "bytes -1-9/100", "bytes 0-9/100 ", "bytes  0-9/100", "items 0-9/100", "bytes 0 -9/100",
        "bytes +0-9/100", "bytes 0-9/99999999999999999999", "bytes=0-9/100"}) {
    EXPECT_FALSE(parse_content_range(bad).has_value()) << bad;
  }
}

TEST(ContentLength, DigitsOnly) {
  EXPECT_EQ(parse_content_length("0"), 0u);
  EXPECT_EQ(parse_content_length("12345"), 12345u);
  EXPECT_FALSE(parse_content_length("").has_value());
  EXPECT_FALSE(parse_content_length("-1").has_value());
  EXPECT_FALSE(parse_content_length("12a").has_value());
}

TEST(CaptureHeader, KeepsWantedHeadersCaseInsensitively) {
  ResponseHeaders h;
  capture_header("HTTP/1.1 206 Partial Content\r\n", &h);
  capture_header("content-range:  bytes 0-9/100 \r\n", &h);
  capture_header("CONTENT-LENGTH: 10\r\n", &h);
  capture_header("Etag: \"abc\"\r\n", &h);
  capture_header("Last-Modified: Tue, 01 Oct 2024 10:00:00 GMT\r\n", &h);
  capture_header("X-Other: y\r\n", &h);
  capture_header("\r\n", &h);
  EXPECT_EQ(h.content_range, "bytes 0-9/100");
  EXPECT_EQ(h.content_length, "10");
  EXPECT_EQ(h.etag, "\"abc\"");
  EXPECT_EQ(h.last_modified, "Tue, 01 Oct 2024 10:00:00 GMT");
}

TEST(CaptureHeader, StatusLineStartsAFreshResponse) {
  ResponseHeaders h;
  capture_header("ETag: \"old\"\r\n", &h);
  capture_header("HTTP/1.1 200 OK\r\n", &h);
  EXPECT_EQ(h.etag, "");
}

TEST(ValidateGet, AcceptsExactPartial) {
  Verdict v = validate_get(206, with_range("bytes 100-199/1000", "100"), 100, 100, 100);
  EXPECT_EQ(v.outcome, base::Outcome::kOk) << v.message;
  EXPECT_EQ(v.size, 1000u);
}

TEST(ValidateGet, AcceptsPartialClampedAtObjectEnd) {
  Verdict v = validate_get(206, with_range("bytes 900-999/1000"), 900, 200, 100);
  EXPECT_EQ(v.outcome, base::Outcome::kOk) << v.message;
  EXPECT_EQ(v.size, 1000u);
}

TEST(ValidateGet, RejectsWrongStart) {
  EXPECT_EQ(validate_get(206, with_range("bytes 101-199/1000"), 100, 100, 99).outcome,
            base::Outcome::kMalformed);
}

TEST(ValidateGet, RejectsShortEndInsideObject) {
  // The object goes on past 149, so ending there is a short answer, not a clamp.
  EXPECT_EQ(validate_get(206, with_range("bytes 100-149/1000"), 100, 100, 50).outcome,
            base::Outcome::kMalformed);
}

TEST(ValidateGet, RejectsLongerRange) {
  EXPECT_EQ(validate_get(206, with_range("bytes 0-999/1000"), 0, 1, 1).outcome,
            base::Outcome::kMalformed);
}

TEST(ValidateGet, RejectsBodyLengthMismatch) {
  EXPECT_EQ(validate_get(206, with_range("bytes 0-9/100"), 0, 10, 9).outcome,
            base::Outcome::kMalformed);
  EXPECT_EQ(validate_get(206, with_range("bytes 0-9/100", "11"), 0, 10, 10).outcome,
            base::Outcome::kMalformed);
}

TEST(ValidateGet, RejectsPartialWithoutContentRange) {
  EXPECT_EQ(validate_get(206, ResponseHeaders{}, 0, 10, 10).outcome, base::Outcome::kMalformed);
  EXPECT_EQ(validate_get(206, with_range("bytes 0-9/*"), 0, 10, 10).outcome,
            base::Outcome::kMalformed);
}

TEST(ValidateGet, AcceptsWholeObjectThatFits) {
  ResponseHeaders h;
  h.content_length = "40";
  Verdict v = validate_get(200, h, 0, 100, 40);
  EXPECT_EQ(v.outcome, base::Outcome::kOk) << v.message;
  EXPECT_EQ(v.size, 40u);
}

TEST(ValidateGet, RejectsWholeObjectForLaterRange) {
  EXPECT_EQ(validate_get(200, ResponseHeaders{}, 10, 100, 40).outcome, base::Outcome::kMalformed);
}

TEST(ValidateGet, RejectsWholeObjectLongerThanAsked) {
  EXPECT_EQ(validate_get(200, ResponseHeaders{}, 0, 10, 11).outcome, base::Outcome::kMalformed);
}

TEST(ValidateGet, RejectsOtherSuccessStatuses) {
  EXPECT_EQ(validate_get(204, ResponseHeaders{}, 0, 10, 0).outcome, base::Outcome::kMalformed);
}

TEST(ValidateHead, NeedsContentLength) {
  ResponseHeaders h;
  h.content_length = "1234";
  EXPECT_EQ(validate_head(200, h).size, 1234u);
  EXPECT_EQ(validate_head(200, ResponseHeaders{}).outcome, base::Outcome::kMalformed);
  EXPECT_EQ(validate_head(204, h).outcome, base::Outcome::kMalformed);
}

TEST(ClassifyStatus, MapsS3Errors) {
  EXPECT_EQ(classify_status(404, "NoSuchKey"), base::Outcome::kNotFound);
  EXPECT_EQ(classify_status(404, "NoSuchBucket"), base::Outcome::kNotFound);
  EXPECT_EQ(classify_status(403, "AccessDenied"), base::Outcome::kAccessDenied);
  EXPECT_EQ(classify_status(416, "InvalidRange"), base::Outcome::kInvalidRange);
  EXPECT_EQ(classify_status(412, "PreconditionFailed"), base::Outcome::kPreconditionFailed);
  EXPECT_EQ(classify_status(503, "SlowDown"), base::Outcome::kThrottled);
  EXPECT_EQ(classify_status(503, ""), base::Outcome::kThrottled);
  EXPECT_EQ(classify_status(429, ""), base::Outcome::kThrottled);
  EXPECT_EQ(classify_status(400, "SlowDown"), base::Outcome::kThrottled);
  EXPECT_EQ(classify_status(500, "InternalError"), base::Outcome::kServerError);
  EXPECT_EQ(classify_status(502, ""), base::Outcome::kServerError);
  EXPECT_EQ(classify_status(400, "InvalidArgument"), base::Outcome::kMalformed);
  EXPECT_EQ(classify_status(301, "PermanentRedirect"), base::Outcome::kMalformed);
}

TEST(ClassifyCurlCode, SeparatesTimeoutsTransportAndGarbage) {
  EXPECT_EQ(classify_curl_code(CURLE_OPERATION_TIMEDOUT), base::Outcome::kTimeout);
  EXPECT_EQ(classify_curl_code(CURLE_COULDNT_CONNECT), base::Outcome::kTransportError);
  EXPECT_EQ(classify_curl_code(CURLE_COULDNT_RESOLVE_HOST), base::Outcome::kTransportError);
  EXPECT_EQ(classify_curl_code(CURLE_RECV_ERROR), base::Outcome::kTransportError);
  EXPECT_EQ(classify_curl_code(CURLE_PARTIAL_FILE), base::Outcome::kTransportError);
  EXPECT_EQ(classify_curl_code(CURLE_WEIRD_SERVER_REPLY), base::Outcome::kMalformed);
  EXPECT_EQ(classify_curl_code(CURLE_WRITE_ERROR), base::Outcome::kMalformed);
}

TEST(S3ErrorBody, ParsesCodeAndMessage) {
  S3Error e = parse_s3_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The specified key does not exist.</Message><Key>a b</Key></Error>");
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.message, "The specified key does not exist.");
}

TEST(S3ErrorBody, EmptyForNonXml) {
  EXPECT_EQ(parse_s3_error("").code, "");
  EXPECT_EQ(parse_s3_error("<html><body>502 Bad Gateway</body></html>").code, "");
  EXPECT_EQ(parse_s3_error("<Error><Code>Trunc").code, "");
  EXPECT_EQ(parse_s3_error("not xml at all").code, "");
}

}  // namespace
}  // namespace shoal::origin
