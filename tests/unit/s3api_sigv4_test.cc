// SigV4 verification against AWS's published examples: the S3 developer guide's
// "Examples: Signature Calculations" (GET Object with Range, ListObjects, GET ?lifecycle, PUT
// Object, a presigned URL) and the generic test suite's get-vanilla. Each example is verified
// as given, then with one thing changed, which must be refused with S3's error code.
#include <gtest/gtest.h>

#include "node/s3api/credentials.h"
#include "node/s3api/sigv4.h"

namespace shoal::s3api {
namespace {

constexpr std::time_t kExampleTime = 1369353600;  // 2013-05-24T00:00:00Z
constexpr const char* kAkid = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

CredentialStore store(const std::string& buckets = "[\"*\"]") {
  std::string error;
  auto s = CredentialStore::parse(std::string("{\"credentials\": [{\"access_key_id\": \"") + kAkid +
                                      "\", \"secret_access_key\": \"" + kSecret +
                                      "\", \"buckets\": " + buckets + "}]}",
                                  &error);
  EXPECT_TRUE(s) << error;
  return *s;
}

std::string auth(const std::string& signed_headers, const std::string& sig) {
  return std::string("AWS4-HMAC-SHA256 Credential=") + kAkid +
         "/20130524/us-east-1/s3/aws4_request,SignedHeaders=" + signed_headers +
         ",Signature=" + sig;
}

SignedRequest get_object_example() {
  SignedRequest r;
  r.method = "GET";
  r.target = "/test.txt";
  r.headers = {
      {"Host", "examplebucket.s3.amazonaws.com"},
      {"Range", "bytes=0-9"},
      {"x-amz-content-sha256", std::string(kEmptySha256)},
      {"x-amz-date", "20130524T000000Z"},
      {"Authorization", auth("host;range;x-amz-content-sha256;x-amz-date",
                             "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")}};
  return r;
}

void set_header(SignedRequest* r, const std::string& name, const std::string& value) {
  for (auto& [n, v] : r->headers) {
    if (n == name) v = value;
  }
}

TEST(SigV4Test, BuildingBlocks) {
  EXPECT_EQ(sha256_hex(""), kEmptySha256);
  EXPECT_EQ(uri_encode("a b/c~d+é", true), "a%20b/c~d%2B%C3%A9");
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
  EXPECT_EQ(percent_decode("a%2fb%20c"), "a/b c");
  EXPECT_FALSE(percent_decode("a%2"));
  EXPECT_FALSE(percent_decode("a%zz"));
  EXPECT_EQ(canonical_uri(""), "/");
  EXPECT_EQ(canonical_uri("/test%24file.text"), "/test%24file.text");
  EXPECT_EQ(canonical_uri("/test$file.text"), "/test%24file.text");
  EXPECT_EQ(canonical_query("prefix=J&max-keys=2", false), "max-keys=2&prefix=J");
  EXPECT_EQ(canonical_query("lifecycle", false), "lifecycle=");
  EXPECT_EQ(canonical_query("b=1&X-Amz-Signature=ab&a=%2f", true), "a=%2F&b=1");
  EXPECT_EQ(parse_amz_date("20130524T000000Z"), kExampleTime);
  EXPECT_FALSE(parse_amz_date("2013-05-24T00:00:00Z"));
  EXPECT_FALSE(parse_amz_date("20131324T000000Z"));
}

// aws-sig-v4-test-suite/get-vanilla (service "service": the generic signing, not S3's rules).
TEST(SigV4Test, GenericSuiteGetVanilla) {
  SignedRequest r;
  r.method = "GET";
  r.target = "/";
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  EXPECT_EQ(compute_signature(r, "host;x-amz-date", kEmptySha256, "20150830T123600Z",
                              "20150830/us-east-1/service/aws4_request",
                              "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", false),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, S3ExampleGetObjectWithRange) {
  const CredentialStore s = store();
  AuthResult r = authenticate(get_object_example(), &s, kExampleTime);
  ASSERT_EQ(r.kind, AuthResult::Kind::kSigned) << r.message;
  EXPECT_EQ(r.credential->access_key_id, kAkid);
}

TEST(SigV4Test, S3ExampleListObjectsAndLifecycle) {
  const CredentialStore s = store();
  SignedRequest r;
  r.method = "GET";
  r.target = "/?max-keys=2&prefix=J";
  r.headers = {
      {"Host", "examplebucket.s3.amazonaws.com"},
      {"x-amz-content-sha256", std::string(kEmptySha256)},
      {"x-amz-date", "20130524T000000Z"},
      {"Authorization", auth("host;x-amz-content-sha256;x-amz-date",
                             "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")}};
  EXPECT_EQ(authenticate(r, &s, kExampleTime).kind, AuthResult::Kind::kSigned);
  r.target = "/?lifecycle";
  set_header(&r, "Authorization",
             auth("host;x-amz-content-sha256;x-amz-date",
                  "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
  EXPECT_EQ(authenticate(r, &s, kExampleTime).kind, AuthResult::Kind::kSigned);
}

TEST(SigV4Test, S3ExamplePutObjectChecksPayloadHash) {
  const CredentialStore s = store();
  const std::string body = "Welcome to Amazon S3.";
  SignedRequest r;
  r.method = "PUT";
  r.target = "/test$file.text";
  r.headers = {
      {"Host", "examplebucket.s3.amazonaws.com"},
      {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
      {"x-amz-date", "20130524T000000Z"},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"x-amz-content-sha256", sha256_hex(body)},
      {"Authorization", auth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                             "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")}};
  EXPECT_EQ(sha256_hex(body), "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(authenticate(r, &s, kExampleTime, sha256_hex(body)).kind, AuthResult::Kind::kSigned);
  // The same signed hash over other bytes: the body was changed on the way.
  AuthResult bad = authenticate(r, &s, kExampleTime, sha256_hex("Welcome to Amazon S4."));
  EXPECT_EQ(bad.kind, AuthResult::Kind::kRefused);
  EXPECT_EQ(bad.code, ErrorCode::kXAmzContentSHA256Mismatch);
}

TEST(SigV4Test, S3ExamplePresignedUrl) {
  const CredentialStore s = store();
  SignedRequest r;
  r.method = "GET";
  const std::string query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
      "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
      "SignedHeaders=host&X-Amz-Signature=";
  r.target =
      "/test.txt?" + query + "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  EXPECT_EQ(authenticate(r, &s, kExampleTime + 3600).kind, AuthResult::Kind::kSigned);
  // Expired one second after X-Amz-Date + X-Amz-Expires.
  AuthResult expired = authenticate(r, &s, kExampleTime + 86401);
  EXPECT_EQ(expired.code, ErrorCode::kAccessDenied);
  EXPECT_EQ(expired.message, "Request has expired");
  // Dated more than 15 minutes ahead of this clock.
  EXPECT_EQ(authenticate(r, &s, kExampleTime - 901).code, ErrorCode::kAccessDenied);
  // Another key.
  SignedRequest other = r;
  other.target =
      "/test2.txt?" + query + "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
  EXPECT_EQ(authenticate(other, &s, kExampleTime).code, ErrorCode::kSignatureDoesNotMatch);
  // Both forms at once.
  r.headers.emplace_back("Authorization", auth("host", std::string(64, '0')));
  EXPECT_EQ(authenticate(r, &s, kExampleTime).code, ErrorCode::kInvalidArgument);
}

TEST(SigV4Test, RefusalsNameS3Codes) {
  const CredentialStore s = store();
  // Skewed clock: 15 minutes is fine, a second more is not.
  EXPECT_EQ(authenticate(get_object_example(), &s, kExampleTime + 900).kind,
            AuthResult::Kind::kSigned);
  EXPECT_EQ(authenticate(get_object_example(), &s, kExampleTime + 901).code,
            ErrorCode::kRequestTimeTooSkewed);
  EXPECT_EQ(authenticate(get_object_example(), &s, kExampleTime - 901).code,
            ErrorCode::kRequestTimeTooSkewed);
  // A signed header changed.
  SignedRequest r = get_object_example();
  set_header(&r, "Range", "bytes=0-10");
  EXPECT_EQ(authenticate(r, &s, kExampleTime).code, ErrorCode::kSignatureDoesNotMatch);
  // Wrong secret.
  std::string error;
  auto wrong = CredentialStore::parse(
      std::string("{\"credentials\": [{\"access_key_id\": \"") + kAkid +
          "\", \"secret_access_key\": \"not-the-secret\", \"buckets\": [\"*\"]}]}",
      &error);
  ASSERT_TRUE(wrong) << error;
  EXPECT_EQ(authenticate(get_object_example(), &*wrong, kExampleTime).code,
            ErrorCode::kSignatureDoesNotMatch);
  // Unknown key id; no store at all.
  r = get_object_example();
  std::string a = r.headers.back().second;
  a.replace(a.find(kAkid), std::string(kAkid).size(), "AKIAOTHER");
  r.headers.back().second = a;
  EXPECT_EQ(authenticate(r, &s, kExampleTime).code, ErrorCode::kInvalidAccessKeyId);
  EXPECT_EQ(authenticate(get_object_example(), nullptr, kExampleTime).code,
            ErrorCode::kInvalidAccessKeyId);
  // No payload hash header.
  r = get_object_example();
  r.headers.erase(r.headers.begin() + 2);
  EXPECT_EQ(authenticate(r, &s, kExampleTime).code, ErrorCode::kInvalidRequest);
  // SigV2 and garbage.
  r = get_object_example();
  r.headers.back().second = "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=";
  EXPECT_EQ(authenticate(r, &s, kExampleTime).code, ErrorCode::kInvalidRequest);
  r.headers.back().second = "AWS4-HMAC-SHA512 Credential=x";
  EXPECT_EQ(authenticate(r, &s, kExampleTime).code, ErrorCode::kAuthorizationHeaderMalformed);
  r.headers.pop_back();
  r.target = "/test.txt?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x&Expires=1369357200";
  EXPECT_EQ(authenticate(r, &s, kExampleTime).code, ErrorCode::kInvalidRequest);
  // Unsigned: anonymous.
  r = get_object_example();
  r.headers.pop_back();
  EXPECT_EQ(authenticate(r, &s, kExampleTime).kind, AuthResult::Kind::kAnonymous);
}

TEST(CredentialsTest, ParseAndAllow) {
  std::string error;
  auto s = CredentialStore::parse(
      R"({"credentials": [{"access_key_id": "A1", "secret_access_key": "s", "buckets": ["models", "logs-*"]}]})",
      &error);
  ASSERT_TRUE(s) << error;
  const Credential* c = s->find("A1");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->allows("models"));
  EXPECT_TRUE(c->allows("logs-2026"));
  EXPECT_FALSE(c->allows("model"));
  EXPECT_FALSE(c->allows("other"));
  EXPECT_EQ(s->find("A2"), nullptr);
  for (
      const char* bad :
      {R"({"credentials": []})",
       R"({"credentials": [{"access_key_id": "A1", "secret_access_key": "s"}]})",
       R"({"credentials": [{"access_key_id": "A 1", "secret_access_key": "s", "buckets": ["*"]}]})",
       R"({"credentials": [{"access_key_id": "A1", "secret_access_key": "s", "buckets": ["B_"]}]})",
       R"({"credentials": [{"access_key_id": "A1", "secret_access_key": "s", "buckets": ["*"], "x": 1}]})",
       R"({"credentials": [{"access_key_id": "A1", "secret_access_key": "s", "buckets": ["*"]},
                               {"access_key_id": "A1", "secret_access_key": "t", "buckets": ["*"]}]})",
       R"({"creds": []})", "[", "{}"}) {
    EXPECT_FALSE(CredentialStore::parse(bad, &error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace shoal::s3api
