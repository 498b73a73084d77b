// Decoder of `aws-chunked` request bodies (Content-Encoding: aws-chunked), as AWS SDKs send
// uploads (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html):
//
//   signed   (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD)
//     HEX(size);chunk-signature=SIG\r\n DATA\r\n ... 0;chunk-signature=SIG\r\n \r\n
//     each SIG = HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" previous
//     SIG "\n" SHA256("") "\n" SHA256(DATA)), the first previous SIG the request's own;
//   unsigned with a trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER, x-amz-trailer names it)
//     HEX(size)\r\n DATA\r\n ... 0\r\n x-amz-checksum-ALG:BASE64\r\n \r\n
//     ALG one of crc32 (zlib), crc32c (Castagnoli, here: no Debian library has it), sha1, sha256
//     (OpenSSL), over the whole decoded body.
//
// feed() takes the encoded bytes as they arrive and appends the decoded ones to its output: in
// signed mode a chunk's data only once its signature verified (so up to one chunk, at most
// kMaxChunkBytes, is held), in trailer mode as they arrive (the caller must hold back the last
// decoded byte until finish() verified the checksum, so a body that fails it never completes
// at the origin). Refusals (each ends decoding; later calls return it again):
//   IncompleteBody  the input ended before the final chunk and trailer (finish());
//   InvalidArgument a chunk header or trailer line that is malformed or longer than
//                   kMaxLineBytes, a size that is not hex, over kMaxChunkBytes, or makes the body
//                   longer than x-amz-decoded-content-length, a missing CRLF after data, bytes
//                   after the end, a trailer other than the one announced, a decoded length other
//                   than announced;
//   SignatureDoesNotMatch  a chunk signature that does not verify (constant-time compare);
//   BadDigest       the trailing checksum is not the body's.
//
// Thread rules: one instance per request, one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "node/s3api/s3_error.h"

namespace shoal::s3api {

// CRC-32C (Castagnoli, reflected, as iSCSI and S3 use it) of `data`, continuing from `crc`.
std::uint32_t crc32c(std::uint32_t crc, std::string_view data);

class AwsChunkedDecoder {
 public:
  static constexpr std::size_t kMaxLineBytes = 1024;
  static constexpr std::uint64_t kMaxChunkBytes = 16 << 20;

  enum class Mode { kSigned, kUnsignedTrailer };
  struct Config {
    Mode mode = Mode::kSigned;
    std::uint64_t decoded_length = 0;  // x-amz-decoded-content-length
    // kSigned: the SigV4 signing key (raw 32 bytes), X-Amz-Date, the credential scope
    // ("DATE/REGION/s3/aws4_request") and the request's own signature (hex).
    std::string signing_key, amz_date, scope, seed_signature;
    // kUnsignedTrailer: the trailer x-amz-trailer announced, lower case ("x-amz-checksum-crc32").
    std::string trailer;
  };
  struct Refusal {
    ErrorCode code;
    std::string message;
  };

  // Refuses (InvalidArgument) a trailer that is not one of the four checksums.
  static std::variant<AwsChunkedDecoder, Refusal> make(Config config);

  AwsChunkedDecoder(AwsChunkedDecoder&&) noexcept;
  AwsChunkedDecoder& operator=(AwsChunkedDecoder&&) noexcept;
  ~AwsChunkedDecoder();

  std::optional<Refusal> feed(std::string_view in, std::string* out);
  // The encoded body ended: nullopt when it was complete and every check passed.
  std::optional<Refusal> finish();
  bool done() const;

 private:
  struct State;
  explicit AwsChunkedDecoder(Config config);
  std::optional<Refusal> fail(ErrorCode code, std::string message);
  std::optional<Refusal> on_line(std::string_view line, std::string* out);
  std::optional<Refusal> end_chunk(std::string* out);
  std::unique_ptr<State> s_;
};

}  // namespace shoal::s3api
