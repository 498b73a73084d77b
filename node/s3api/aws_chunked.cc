#include "node/s3api/aws_chunked.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <array>
#include <cctype>

#include "node/s3api/payload_check.h"
#include "node/s3api/sigv4.h"

namespace shoal::s3api {

namespace {

std::array<std::uint32_t, 256> crc32c_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

// Big-endian bytes of a CRC, as S3's checksum headers carry them (base64 of these).
std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

enum class Phase { kHeader, kData, kDataEnd, kTrailer, kDone, kFailed };

}  // namespace

std::uint32_t crc32c(std::uint32_t crc, std::string_view data) {
  static const std::array<std::uint32_t, 256> table = crc32c_table();
  crc = ~crc;
  for (unsigned char b : data) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

struct AwsChunkedDecoder::State {
  Config cfg;
  Phase phase = Phase::kHeader;
  std::string line;              // a header or trailer line being collected
  std::uint64_t chunk_left = 0;  // data bytes of the current chunk still to come
  std::uint64_t decoded = 0;     // data bytes so far
  bool final_chunk = false;
  std::string chunk;            // kSigned: the chunk's data until it verified
  std::string chunk_signature;  // kSigned: the signature its header announced
  std::string previous;         // kSigned: the previous signature
  bool trailer_seen = false;
  Refusal failure{ErrorCode::kInternalError, ""};
  // kUnsignedTrailer: the running checksum.
  std::uint32_t crc = 0;
  EVP_MD_CTX* md = nullptr;
  ~State() { EVP_MD_CTX_free(md); }
};

AwsChunkedDecoder::AwsChunkedDecoder(Config config) : s_(std::make_unique<State>()) {
  s_->cfg = std::move(config);
  s_->previous = s_->cfg.seed_signature;
}
AwsChunkedDecoder::AwsChunkedDecoder(AwsChunkedDecoder&&) noexcept = default;
AwsChunkedDecoder& AwsChunkedDecoder::operator=(AwsChunkedDecoder&&) noexcept = default;
AwsChunkedDecoder::~AwsChunkedDecoder() = default;

std::variant<AwsChunkedDecoder, AwsChunkedDecoder::Refusal> AwsChunkedDecoder::make(Config c) {
  AwsChunkedDecoder d(std::move(c));
  if (d.s_->cfg.mode == Mode::kUnsignedTrailer) {
    const std::string& t = d.s_->cfg.trailer;
    const EVP_MD* md = t == "x-amz-checksum-sha1"     ? EVP_sha1()
                       : t == "x-amz-checksum-sha256" ? EVP_sha256()
                                                      : nullptr;
    if (md) {
      d.s_->md = EVP_MD_CTX_new();
      EVP_DigestInit_ex(d.s_->md, md, nullptr);
    } else if (t != "x-amz-checksum-crc32" && t != "x-amz-checksum-crc32c") {
      return Refusal{ErrorCode::kInvalidArgument,
                     "x-amz-trailer must name x-amz-checksum-crc32, -crc32c, -sha1 or -sha256"};
    }
  }
  return d;
}

bool AwsChunkedDecoder::done() const {
  return s_->phase == Phase::kDone;
}

std::optional<AwsChunkedDecoder::Refusal> AwsChunkedDecoder::fail(ErrorCode code,
                                                                  std::string message) {
  s_->phase = Phase::kFailed;
  s_->failure = Refusal{code, std::move(message)};
  return s_->failure;
}

std::optional<AwsChunkedDecoder::Refusal> AwsChunkedDecoder::feed(std::string_view in,
                                                                  std::string* out) {
  State& s = *s_;
  while (!in.empty()) {
    switch (s.phase) {
      case Phase::kFailed:
        return s.failure;
      case Phase::kDone:
        return fail(ErrorCode::kInvalidArgument, "bytes after the end of the aws-chunked body");
      case Phase::kData: {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(s.chunk_left, in.size()));
        const std::string_view part = in.substr(0, n);
        if (s.cfg.mode == Mode::kSigned) {
          s.chunk.append(part);
        } else {
          if (s.md) EVP_DigestUpdate(s.md, part.data(), part.size());
          if (s.cfg.trailer == "x-amz-checksum-crc32") {
            s.crc = static_cast<std::uint32_t>(
                ::crc32(s.crc, reinterpret_cast<const Bytef*>(part.data()), static_cast<uInt>(n)));
          } else if (s.cfg.trailer == "x-amz-checksum-crc32c") {
            s.crc = crc32c(s.crc, part);
          }
          out->append(part);
        }
        s.chunk_left -= n;
        in.remove_prefix(n);
        if (s.chunk_left == 0) s.phase = Phase::kDataEnd;
        break;
      }
      case Phase::kHeader:
      case Phase::kDataEnd:
      case Phase::kTrailer: {
        const std::size_t nl = in.find('\n');
        const std::string_view part =
            in.substr(0, nl == std::string_view::npos ? in.size() : nl + 1);
        if (s.line.size() + part.size() > kMaxLineBytes) {
          return fail(ErrorCode::kInvalidArgument, "an aws-chunked line is too long");
        }
        s.line.append(part);
        in.remove_prefix(part.size());
        if (nl == std::string_view::npos) break;
        if (s.line.size() < 2 || s.line[s.line.size() - 2] != '\r') {
          return fail(ErrorCode::kInvalidArgument, "an aws-chunked line does not end in CRLF");
        }
        std::string line = std::move(s.line);
        s.line.clear();
        line.resize(line.size() - 2);
        if (auto r = on_line(line, out)) return r;
        break;
      }
    }
  }
  return std::nullopt;
}

std::optional<AwsChunkedDecoder::Refusal> AwsChunkedDecoder::on_line(std::string_view line,
                                                                     std::string* out) {
  State& s = *s_;
  if (s.phase == Phase::kDataEnd) {
    if (!line.empty()) return fail(ErrorCode::kInvalidArgument, "chunk data longer than its size");
    if (auto r = end_chunk(out)) return r;
    // Signed bodies end with the final chunk's (empty) data; unsigned ones carry trailers.
    s.phase = !s.final_chunk ? Phase::kHeader : Phase::kDone;
    return std::nullopt;
  }
  if (s.phase == Phase::kTrailer) {
    if (line.empty()) {
      if (s.cfg.mode == Mode::kUnsignedTrailer && !s.trailer_seen) {
        return fail(ErrorCode::kInvalidArgument, "the announced trailer is missing");
      }
      s.phase = Phase::kDone;
      return std::nullopt;
    }
    const auto colon = line.find(':');
    if (s.cfg.mode != Mode::kUnsignedTrailer || colon == std::string_view::npos || s.trailer_seen) {
      return fail(ErrorCode::kInvalidArgument, "an unexpected aws-chunked trailer");
    }
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name != s.cfg.trailer) {
      return fail(ErrorCode::kInvalidArgument, "a trailer other than x-amz-trailer announced");
    }
    s.trailer_seen = true;
    std::string want;
    if (s.md) {
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int n = 0;
      EVP_DigestFinal_ex(s.md, md, &n);
      want.assign(reinterpret_cast<char*>(md), n);
    } else {
      want = be32(s.crc);
    }
    const auto got = base64_decode(value);
    if (!got || *got != want) {
      return fail(ErrorCode::kBadDigest, "The " + name + " you specified did not match the body");
    }
    return std::nullopt;
  }
  // A chunk header: HEX[;chunk-signature=SIG]
  const auto semi = line.find(';');
  const std::string_view hex = line.substr(0, semi);
  if (hex.empty() || hex.size() > 16) return fail(ErrorCode::kInvalidArgument, "a bad chunk size");
  std::uint64_t size = 0;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return fail(ErrorCode::kInvalidArgument, "a chunk size that is not hex");
    }
    size = size * 16 + static_cast<std::uint64_t>(std::isdigit(static_cast<unsigned char>(c))
                                                      ? c - '0'
                                                      : std::tolower(c) - 'a' + 10);
  }
  if (size > kMaxChunkBytes || size > s.cfg.decoded_length - s.decoded) {
    return fail(ErrorCode::kInvalidArgument, "a chunk larger than allowed or than the body");
  }
  if (s.cfg.mode == Mode::kSigned) {
    constexpr std::string_view kSig = ";chunk-signature=";
    if (semi == std::string_view::npos || line.substr(semi, kSig.size()) != kSig ||
        line.size() - semi - kSig.size() != 64) {
      return fail(ErrorCode::kInvalidArgument, "a chunk header without its signature");
    }
    s.chunk_signature = std::string(line.substr(semi + kSig.size()));
  } else if (semi != std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "an unsigned chunk header with extensions");
  }
  s.chunk_left = size;
  s.decoded += size;
  s.final_chunk = size == 0;
  if (s.final_chunk && s.decoded != s.cfg.decoded_length) {
    return fail(ErrorCode::kIncompleteBody,
                "the body is shorter than x-amz-decoded-content-length");
  }
  s.phase = size == 0 ? Phase::kDataEnd : Phase::kData;
  if (size == 0 && s.cfg.mode == Mode::kUnsignedTrailer) {
    // "0\r\n" is followed directly by the trailers.
    s.phase = Phase::kTrailer;
    return end_chunk(out);
  }
  return std::nullopt;
}

// A chunk's data is all there: verified and released (kSigned).
std::optional<AwsChunkedDecoder::Refusal> AwsChunkedDecoder::end_chunk(std::string* out) {
  State& s = *s_;
  if (s.cfg.mode != Mode::kSigned) return std::nullopt;
  const std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n" + s.cfg.amz_date + "\n" + s.cfg.scope +
                          "\n" + s.previous + "\n" + std::string(kEmptySha256) + "\n" +
                          sha256_hex(s.chunk);
  const std::string sig = hex_encode(hmac_sha256(s.cfg.signing_key, sts));
  if (sig.size() != s.chunk_signature.size() ||
      CRYPTO_memcmp(sig.data(), s.chunk_signature.data(), sig.size()) != 0) {
    return fail(ErrorCode::kSignatureDoesNotMatch, "a chunk signature does not match");
  }
  s.previous = sig;
  out->append(s.chunk);
  s.chunk.clear();
  return std::nullopt;
}

std::optional<AwsChunkedDecoder::Refusal> AwsChunkedDecoder::finish() {
  if (s_->phase == Phase::kFailed) return s_->failure;
  if (s_->phase != Phase::kDone) {
    return fail(ErrorCode::kIncompleteBody, "the aws-chunked body ended early");
  }
  return std::nullopt;
}

}  // namespace shoal::s3api
