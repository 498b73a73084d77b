// The aws-chunked decoder (node/s3api/aws_chunked.h): AWS's published signed-chunk example,
// trailing checksums of every kind, bodies split at every byte, and hostile input.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "node/s3api/aws_chunked.h"
#include "node/s3api/sigv4.h"

namespace shoal::s3api {
namespace {

// AWS's example (sigv4-streaming.html): 65536 + 1024 bytes of 'a' in two signed chunks.
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const std::string kDate = "20130524T000000Z";
const std::string kScope = "20130524/us-east-1/s3/aws4_request";
const std::string kSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

std::string signing_key() {
  std::string k = hmac_sha256("AWS4" + kSecret, "20130524");
  k = hmac_sha256(k, "us-east-1");
  k = hmac_sha256(k, "s3");
  return hmac_sha256(k, "aws4_request");
}

AwsChunkedDecoder::Config signed_config(std::uint64_t length) {
  AwsChunkedDecoder::Config c;
  c.mode = AwsChunkedDecoder::Mode::kSigned;
  c.decoded_length = length;
  c.signing_key = signing_key();
  c.amz_date = kDate;
  c.scope = kScope;
  c.seed_signature = kSeed;
  return c;
}

std::string signed_body() {
  return "10000;chunk-signature="
         "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" +
         std::string(65536, 'a') +
         "\r\n400;chunk-signature="
         "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" +
         std::string(1024, 'a') +
         "\r\n0;chunk-signature="
         "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n"
         "\r\n";
}

struct Outcome {
  std::optional<AwsChunkedDecoder::Refusal> refusal;
  std::string decoded;
};

// Decodes `body` fed in pieces of `step` bytes.
Outcome decode(AwsChunkedDecoder::Config c, std::string_view body, std::size_t step) {
  auto made = AwsChunkedDecoder::make(std::move(c));
  if (auto* r = std::get_if<AwsChunkedDecoder::Refusal>(&made)) return {*r, {}};
  auto& d = std::get<AwsChunkedDecoder>(made);
  Outcome o;
  for (std::size_t i = 0; i < body.size(); i += step) {
    if ((o.refusal = d.feed(body.substr(i, step), &o.decoded))) return o;
  }
  o.refusal = d.finish();
  return o;
}

TEST(AwsChunked, AwsSignedExampleDecodesInAnySplit) {
  const std::string body = signed_body();
  for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, body.size()}) {
    const Outcome o = decode(signed_config(66560), body, step);
    ASSERT_FALSE(o.refusal) << step << ": " << o.refusal->message;
    EXPECT_EQ(o.decoded, std::string(66560, 'a'));
  }
}

TEST(AwsChunked, ABadChunkSignatureIsRefusedAndItsDataNeverReleased) {
  std::string body = signed_body();
  body[100] = 'b';  // data of the first chunk
  Outcome o = decode(signed_config(66560), body, 1000);
  ASSERT_TRUE(o.refusal);
  EXPECT_EQ(o.refusal->code, ErrorCode::kSignatureDoesNotMatch);
  EXPECT_TRUE(o.decoded.empty());
  // A wrong seed (the request's signature) fails the first chunk too.
  auto c = signed_config(66560);
  c.seed_signature[0] = c.seed_signature[0] == '4' ? '5' : '4';
  EXPECT_EQ(decode(c, signed_body(), 4096).refusal->code, ErrorCode::kSignatureDoesNotMatch);
  // Chunks reordered or the final one dropped.
  std::string cut = signed_body();
  cut.resize(cut.find("\r\n0;chunk") + 2);
  EXPECT_EQ(decode(signed_config(66560), cut, 4096).refusal->code, ErrorCode::kIncompleteBody);
}

std::string b64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                  reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  return out;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string digest(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string unsigned_body(const std::string& data, const std::string& trailer,
                          const std::string& value) {
  std::string body;
  char hex[32];
  for (std::size_t i = 0; i < data.size(); i += 5000) {
    const std::string part = data.substr(i, 5000);
    std::snprintf(hex, sizeof hex, "%zx", part.size());
    body += std::string(hex) + "\r\n" + part + "\r\n";
  }
  return body + "0\r\n" + trailer + ":" + value + "\r\n\r\n";
}

AwsChunkedDecoder::Config trailer_config(std::uint64_t length, const std::string& trailer) {
  AwsChunkedDecoder::Config c;
  c.mode = AwsChunkedDecoder::Mode::kUnsignedTrailer;
  c.decoded_length = length;
  c.trailer = trailer;
  return c;
}

TEST(AwsChunked, TrailingChecksumsOfEveryKindAreVerified) {
  std::string data;
  for (int i = 0; i < 12345; ++i) data += static_cast<char>(i * 7);
  const std::uint32_t crc = static_cast<std::uint32_t>(
      ::crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  const std::vector<std::pair<std::string, std::string>> sums = {
      {"x-amz-checksum-crc32", b64(be32(crc))},
      {"x-amz-checksum-crc32c", b64(be32(crc32c(0, data)))},
      {"x-amz-checksum-sha1", b64(digest(EVP_sha1(), data))},
      {"x-amz-checksum-sha256", b64(digest(EVP_sha256(), data))}};
  for (const auto& [name, value] : sums) {
    const Outcome ok =
        decode(trailer_config(data.size(), name), unsigned_body(data, name, value), 333);
    ASSERT_FALSE(ok.refusal) << name << ": " << ok.refusal->message;
    EXPECT_EQ(ok.decoded, data) << name;
    std::string other = data;
    other[9] ^= 1;
    const Outcome bad =
        decode(trailer_config(data.size(), name), unsigned_body(other, name, value), 333);
    ASSERT_TRUE(bad.refusal) << name;
    EXPECT_EQ(bad.refusal->code, ErrorCode::kBadDigest) << name;
  }
  // CRC-32C's check value (RFC 3720 / iSCSI).
  EXPECT_EQ(crc32c(0, "123456789"), 0xE3069283u);
}

TEST(AwsChunked, HostileInputIsRefused) {
  const std::string name = "x-amz-checksum-crc32";
  const std::string data(100, 'x');
  const std::string sum = b64(be32(static_cast<std::uint32_t>(
      ::crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())))));
  auto refusal = [&](const std::string& body, std::uint64_t length = 100) {
    auto o = decode(trailer_config(length, name), body, 17);
    return o.refusal ? o.refusal->code : ErrorCode::kInternalError;  // kInternalError: accepted
  };
  EXPECT_EQ(refusal(unsigned_body(data, name, sum)), ErrorCode::kInternalError);  // the good one
  EXPECT_EQ(refusal("zz\r\n"), ErrorCode::kInvalidArgument);                      // not hex
  EXPECT_EQ(refusal("fffffffffffffffff\r\n"), ErrorCode::kInvalidArgument);       // 17 digits
  EXPECT_EQ(refusal("65\r\n" + std::string(101, 'x') + "\r\n"),
            ErrorCode::kInvalidArgument);                                       // > length
  EXPECT_EQ(refusal(std::string(5000, '1')), ErrorCode::kInvalidArgument);      // an endless line
  EXPECT_EQ(refusal("64\n"), ErrorCode::kInvalidArgument);                      // LF without CR
  EXPECT_EQ(refusal("64\r\n" + data + "XY\r\n"), ErrorCode::kInvalidArgument);  // overrun
  EXPECT_EQ(refusal("64;ext=1\r\n"), ErrorCode::kInvalidArgument);              // extensions
  EXPECT_EQ(refusal("64\r\n" + data), ErrorCode::kIncompleteBody);              // truncated
  EXPECT_EQ(refusal("32\r\n" + data.substr(0, 50) + "\r\n0\r\n" + name + ":" + sum + "\r\n\r\n"),
            ErrorCode::kIncompleteBody);  // shorter than announced
  EXPECT_EQ(refusal("64\r\n" + data + "\r\n0\r\n\r\n"), ErrorCode::kInvalidArgument);  // no trailer
  EXPECT_EQ(refusal("64\r\n" + data + "\r\n0\r\nx-amz-checksum-sha1:" + sum + "\r\n\r\n"),
            ErrorCode::kInvalidArgument);  // another trailer
  EXPECT_EQ(refusal(unsigned_body(data, name, sum) + "x"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(refusal(unsigned_body(data, name, "!!!!")), ErrorCode::kBadDigest);
  EXPECT_TRUE(std::holds_alternative<AwsChunkedDecoder::Refusal>(
      AwsChunkedDecoder::make(trailer_config(1, "x-amz-checksum-crc64nvme"))));
  // Signed: a header without its signature, or with a short one.
  EXPECT_EQ(decode(signed_config(1), "1\r\n", 1).refusal->code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(decode(signed_config(1), "1;chunk-signature=abc\r\n", 1).refusal->code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoal::s3api
