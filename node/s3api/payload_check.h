// The checks a write's body must pass before its last byte goes to the origin: the signed
// payload hash (x-amz-content-sha256, when it is a hex SHA-256 rather than UNSIGNED-PAYLOAD) and
// Content-MD5 (when sent). The body is fed in as it arrives (update()); finish() then says
// whether it matched. OpenSSL's EVP digests.
//
// Thread rules: one instance per request, one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "node/s3api/s3_error.h"

namespace shoal::s3api {

class PayloadCheck {
 public:
  struct Refusal {
    ErrorCode code;
    std::string message;
  };

  // `content_sha256`: the x-amz-content-sha256 value ("" when absent); `content_md5`: the
  // Content-MD5 value ("" when absent). Returns a refusal for a Content-MD5 that is not base64 of
  // 16 bytes (InvalidDigest) and for a content_sha256 that is neither UNSIGNED-PAYLOAD nor 64 hex
  // digits (InvalidRequest; STREAMING-* payloads are the aws-chunked decoder's, not this one's).
  static std::variant<PayloadCheck, Refusal> make(std::string_view content_sha256,
                                                  std::string_view content_md5);

  PayloadCheck(PayloadCheck&&) noexcept;
  PayloadCheck& operator=(PayloadCheck&&) noexcept;
  ~PayloadCheck();

  void update(std::string_view bytes);
  // After the last byte: nullopt when the body is what the headers said, else
  // XAmzContentSHA256Mismatch or BadDigest.
  std::optional<Refusal> finish();

 private:
  struct Digests;
  PayloadCheck();
  std::unique_ptr<Digests> d_;
};

// `s` decoded from base64 (RFC 4648, padding required), or nullopt.
std::optional<std::string> base64_decode(std::string_view s);

}  // namespace shoal::s3api
