#include "node/s3api/payload_check.h"

#include <openssl/evp.h>

#include <cctype>

#include "node/s3api/sigv4.h"

namespace shoal::s3api {

struct PayloadCheck::Digests {
  EVP_MD_CTX* sha256 = nullptr;  // null: not checked
  EVP_MD_CTX* md5 = nullptr;
  std::string want_sha256_hex;  // lower-case
  std::string want_md5;         // 16 raw bytes
  ~Digests() {
    EVP_MD_CTX_free(sha256);
    EVP_MD_CTX_free(md5);
  }
};

PayloadCheck::PayloadCheck() : d_(std::make_unique<Digests>()) {}
PayloadCheck::PayloadCheck(PayloadCheck&&) noexcept = default;
PayloadCheck& PayloadCheck::operator=(PayloadCheck&&) noexcept = default;
PayloadCheck::~PayloadCheck() = default;

std::optional<std::string> base64_decode(std::string_view s) {
  if (s.size() % 4 != 0) return std::nullopt;
  std::string out(s.size() / 4 * 3, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = 0;
  if (!s.empty() && s.back() == '=') ++pad;
  if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::variant<PayloadCheck, PayloadCheck::Refusal> PayloadCheck::make(std::string_view sha256,
                                                                     std::string_view md5) {
  PayloadCheck c;
  if (!sha256.empty() && sha256 != kUnsignedPayload) {
    bool hex = sha256.size() == 64;
    for (char ch : sha256) hex = hex && std::isxdigit(static_cast<unsigned char>(ch));
    if (!hex) {
      return Refusal{ErrorCode::kInvalidRequest,
                     "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 in hex"};
    }
    c.d_->want_sha256_hex.reserve(64);
    for (char ch : sha256) {
      c.d_->want_sha256_hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    c.d_->sha256 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c.d_->sha256, EVP_sha256(), nullptr);
  }
  if (!md5.empty()) {
    auto raw = base64_decode(md5);
    if (!raw || raw->size() != 16) {
      return Refusal{ErrorCode::kInvalidDigest, "The Content-MD5 you specified was invalid."};
    }
    c.d_->want_md5 = std::move(*raw);
    c.d_->md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c.d_->md5, EVP_md5(), nullptr);
  }
  return c;
}

void PayloadCheck::update(std::string_view bytes) {
  if (d_->sha256) EVP_DigestUpdate(d_->sha256, bytes.data(), bytes.size());
  if (d_->md5) EVP_DigestUpdate(d_->md5, bytes.data(), bytes.size());
}

std::optional<PayloadCheck::Refusal> PayloadCheck::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (d_->sha256) {
    EVP_DigestFinal_ex(d_->sha256, out, &n);
    if (hex_encode(std::string_view(reinterpret_cast<char*>(out), n)) != d_->want_sha256_hex) {
      return Refusal{
          ErrorCode::kXAmzContentSHA256Mismatch,
          "The provided 'x-amz-content-sha256' header does not match what was computed."};
    }
  }
  if (d_->md5) {
    EVP_DigestFinal_ex(d_->md5, out, &n);
    if (std::string_view(reinterpret_cast<char*>(out), n) != d_->want_md5) {
      return Refusal{ErrorCode::kBadDigest,
                     "The Content-MD5 you specified did not match what we received."};
    }
  }
  return std::nullopt;
}

}  // namespace shoal::s3api
