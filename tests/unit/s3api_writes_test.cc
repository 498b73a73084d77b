// The S3 port's write pieces: which write a request is, the credential's write right, the
// payload checks (x-amz-content-sha256, Content-MD5) and the body pipe to the origin.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <thread>

#include "node/s3api/credentials.h"
#include "node/s3api/payload_check.h"
#include "node/s3api/request.h"
#include "node/s3api/sigv4.h"
#include "origin/body_pipe.h"

namespace shoal::s3api {
namespace {

Operation op(std::string_view method, std::string_view target) {
  auto r = classify(method, target, "h:1", "");
  EXPECT_TRUE(std::holds_alternative<S3Request>(r)) << target;
  return std::holds_alternative<S3Request>(r) ? std::get<S3Request>(r).op : Operation::kOther;
}

TEST(S3WriteOps, MultipartSubResourcesNameTheirOperation) {
  EXPECT_EQ(op("PUT", "/b-1/k"), Operation::kPutObject);
  EXPECT_EQ(op("DELETE", "/b-1/k"), Operation::kDeleteObject);
  EXPECT_EQ(op("POST", "/b-1/k?uploads"), Operation::kCreateMultipartUpload);
  EXPECT_EQ(op("POST", "/b-1/k?uploads="), Operation::kCreateMultipartUpload);
  EXPECT_EQ(op("PUT", "/b-1/k?partNumber=3&uploadId=abc"), Operation::kUploadPart);
  EXPECT_EQ(op("POST", "/b-1/k?uploadId=abc"), Operation::kCompleteMultipartUpload);
  EXPECT_EQ(op("DELETE", "/b-1/k?uploadId=abc"), Operation::kAbortMultipartUpload);
  EXPECT_EQ(op("GET", "/b-1/k?uploadId=abc&max-parts=5"), Operation::kListParts);
  // Anything else with these sub-resources stays unsupported.
  EXPECT_EQ(op("GET", "/b-1/k?uploads"), Operation::kOther);
  EXPECT_EQ(op("PUT", "/b-1/k?uploadId=abc"), Operation::kOther);
  EXPECT_EQ(op("POST", "/b-1/k?uploads&uploadId=abc"), Operation::kOther);
  EXPECT_EQ(op("PUT", "/b-1/k?partNumber=3&uploadId=abc&acl"), Operation::kOther);
  EXPECT_EQ(op("PUT", "/b-1/k?partNumber=3"), Operation::kOther);
  EXPECT_EQ(op("POST", "/b-1/k"), Operation::kOther);
  EXPECT_TRUE(is_write(Operation::kUploadPart));
  EXPECT_FALSE(is_write(Operation::kListParts));
  EXPECT_FALSE(is_write(Operation::kGetObject));
  EXPECT_EQ(operation_name(Operation::kCompleteMultipartUpload), "CompleteMultipartUpload");
}

TEST(S3WriteOps, CredentialsReadOnlyUnlessAllowedToWrite) {
  std::string error;
  auto s = CredentialStore::parse(R"({"credentials": [
      {"access_key_id": "R", "secret_access_key": "s", "buckets": ["*"]},
      {"access_key_id": "W", "secret_access_key": "s", "buckets": ["*"], "write": true}]})",
                                  &error);
  ASSERT_TRUE(s) << error;
  EXPECT_FALSE(s->find("R")->write);
  EXPECT_TRUE(s->find("W")->write);
  EXPECT_FALSE(CredentialStore::parse(
      R"({"credentials": [{"access_key_id": "W", "secret_access_key": "s", "buckets": ["*"],
          "write": "yes"}]})",
      &error));
  EXPECT_NE(error.find("write"), std::string::npos) << error;
}

std::string md5_base64(std::string_view data) {
  unsigned char md[16];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_md5(), nullptr);
  unsigned char out[32];
  const int len = EVP_EncodeBlock(out, md, 16);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
}

std::optional<PayloadCheck::Refusal> run(std::string_view sha, std::string_view md5,
                                         std::string_view body) {
  auto c = PayloadCheck::make(sha, md5);
  if (auto* r = std::get_if<PayloadCheck::Refusal>(&c)) return *r;
  auto& check = std::get<PayloadCheck>(c);
  for (std::size_t i = 0; i < body.size(); i += 7) check.update(body.substr(i, 7));  // in parts
  return check.finish();
}

TEST(S3PayloadCheck, HashesAndDigestsAreCheckedOverTheWholeBody) {
  const std::string body = "the quick brown fox jumps over the lazy dog, twice over";
  EXPECT_FALSE(run(sha256_hex(body), md5_base64(body), body));
  EXPECT_FALSE(run(kUnsignedPayload, "", body));
  EXPECT_FALSE(run("", "", body));
  EXPECT_EQ(run(sha256_hex(body + "x"), "", body)->code, ErrorCode::kXAmzContentSHA256Mismatch);
  EXPECT_EQ(run("", md5_base64(body + "x"), body)->code, ErrorCode::kBadDigest);
  EXPECT_EQ(run("", "not base64!", body)->code, ErrorCode::kInvalidDigest);
  EXPECT_EQ(run("", md5_base64(body).substr(4), body)->code, ErrorCode::kInvalidDigest);
  EXPECT_EQ(run("abc", "", body)->code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(run("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "", body)->code, ErrorCode::kInvalidRequest);
  // Upper-case hex is the same hash.
  std::string upper = sha256_hex(body);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(run(upper, "", body));
  EXPECT_EQ(base64_decode("aGk="), "hi");
  EXPECT_FALSE(base64_decode("aGk"));
}

TEST(S3BodyPipe, StreamsInOrderWithinItsCapacity) {
  origin::BodyPipe pipe(16);
  std::string got;
  std::thread consumer([&] {
    char buf[5];
    for (;;) {
      const long n = pipe.read(buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
  });
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>('a' + i % 26);
  std::string_view rest = data;
  while (!rest.empty()) {
    const std::size_t n = pipe.write(rest);
    EXPECT_LE(n, 16u);
    rest.remove_prefix(n);
    if (n == 0) {
      std::atomic<bool> room{false};
      pipe.when_space([&] { room = true; });
      while (!room) std::this_thread::yield();
    }
  }
  pipe.finish();
  consumer.join();
  EXPECT_EQ(got, data);
}

TEST(S3BodyPipe, AnAbortWakesBothSides) {
  origin::BodyPipe pipe(4);
  EXPECT_EQ(pipe.write("abcdef"), 4u);
  bool woken = false;
  pipe.when_space([&] { woken = true; });
  EXPECT_FALSE(woken);
  pipe.abort();
  EXPECT_TRUE(woken);
  char buf[8];
  EXPECT_EQ(pipe.read(buf, sizeof buf), origin::BodyPipe::kAborted);
  EXPECT_EQ(pipe.write("x"), 0u);
}

}  // namespace
}  // namespace shoal::s3api
