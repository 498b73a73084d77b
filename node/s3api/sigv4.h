// AWS Signature Version 4 verification for the S3 port: the Authorization header and presigned
// URLs (query parameters), as in
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html.
//
// The verifier recomputes the signature from the request as received: canonical URI (the path
// percent-decoded, then each byte outside RFC 3986's unreserved set and '/' encoded once, as S3
// does: no path normalisation), canonical query (names and values decoded, re-encoded, sorted;
// X-Amz-Signature left out), the signed headers (lower-case names, values trimmed and inner
// runs of spaces collapsed, repeated fields joined with ','), and the payload hash
// (x-amz-content-sha256, "UNSIGNED-PAYLOAD" for presigned URLs without it). The key is derived
// from the secret, the scope's date, region and service ("s3"; any region is accepted: it is
// signed, so a client's choice cannot be changed by others). Signatures are compared in constant
// time (CRYPTO_memcmp). OpenSSL's HMAC/SHA-256 throughout.
//
// Thread-safe: pure functions (the credential store is read only).
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/s3api/credentials.h"
#include "node/s3api/s3_error.h"

namespace shoal::s3api {

// Largest clock difference accepted for header-signed requests, and the future tolerance of
// presigned ones (seconds).
inline constexpr std::time_t kMaxSkewSeconds = 15 * 60;
// Longest X-Amz-Expires of a presigned URL (seven days, S3's limit).
inline constexpr long kMaxPresignSeconds = 7 * 24 * 3600;
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// SHA-256 of the empty string, hex.
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// What the verifier reads of a request.
struct SignedRequest {
  std::string method;  // "GET"
  std::string target;  // the request target as received: raw path, then "?query" if any
  std::vector<std::pair<std::string, std::string>> headers;  // names in any case, in order
};

// ---- building blocks (exposed for tests) -----------------------------------------------------
std::string hex_encode(std::string_view bytes);
std::string sha256_hex(std::string_view data);
// HMAC-SHA256(key, data), raw 32 bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);
// Each byte outside [A-Za-z0-9-._~] (and '/' when keep_slash) as %XX (upper-case hex).
std::string uri_encode(std::string_view s, bool keep_slash);
// %XX decoded; nullopt for a '%' not followed by two hex digits. '+' stays '+'.
std::optional<std::string> percent_decode(std::string_view s);
// The canonical URI of a raw path ("/" for an empty one); a path with bad %-escapes is used as
// sent.
std::string canonical_uri(std::string_view raw_path);
// The canonical query string of a raw query (without '?'), leaving out X-Amz-Signature when
// `drop_signature`.
std::string canonical_query(std::string_view raw_query, bool drop_signature);
// "name:value\n" for each of `signed_headers` (lower-case, ';'-separated list as sent), or
// nullopt when the request lacks one of them.
std::optional<std::string> canonical_headers(const SignedRequest& req,
                                             std::string_view signed_headers);
// The signature (lower-case hex) of `req` for the given parts; nullopt when a signed header is
// missing. `scope` is "DATE/REGION/SERVICE/aws4_request".
std::optional<std::string> compute_signature(const SignedRequest& req,
                                             std::string_view signed_headers,
                                             std::string_view payload_hash,
                                             std::string_view amz_date, std::string_view scope,
                                             std::string_view secret, bool presigned);
// Seconds since the epoch of an ISO 8601 basic time "YYYYMMDDTHHMMSSZ", or nullopt.
std::optional<std::time_t> parse_amz_date(std::string_view s);

// ---- verification ----------------------------------------------------------------------------
struct AuthResult {
  enum class Kind {
    kSigned,     // a valid signature by `credential`
    kAnonymous,  // neither an Authorization header nor X-Amz-Algorithm
    kRefused,    // `code` and `message` say why
  };
  Kind kind = Kind::kRefused;
  const Credential* credential = nullptr;  // kSigned: points into the store
  ErrorCode code = ErrorCode::kAccessDenied;
  std::string message;
  // kSigned with an aws-chunked payload (accept_streaming): what its decoder verifies chunks
  // and trailers with (node/s3api/aws_chunked.h).
  struct Streaming {
    bool signed_chunks = false;  // STREAMING-AWS4-HMAC-SHA256-PAYLOAD (else ...UNSIGNED...TRAILER)
    std::string signing_key;     // raw 32 bytes
    std::string amz_date, scope, seed_signature;
  };
  std::optional<Streaming> streaming;
};

// Verifies `req` against `store` at `now` (seconds since the epoch). `body_sha256` is the hex
// SHA-256 of the body received (kEmptySha256 for none). Refusals:
//   AuthorizationHeaderMalformed / AuthorizationQueryParametersError: not AWS4-HMAC-SHA256, a
//     missing or malformed Credential, SignedHeaders, Signature, X-Amz-Date or X-Amz-Expires, a
//     scope whose service is not "s3" or whose date is not the request's, or "host" unsigned;
//   InvalidArgument: both an Authorization header and X-Amz-Algorithm;
//   InvalidAccessKeyId: an id not in `store` (or `store` null);
//   InvalidRequest: Signature Version 2 (an "AWS " Authorization header, or AWSAccessKeyId /
//     Signature query parameters); a header-signed request without x-amz-content-sha256, or a
//     STREAMING-* payload unless `accept_streaming` (a write, whose body the caller decodes)
//     and it is STREAMING-AWS4-HMAC-SHA256-PAYLOAD or STREAMING-UNSIGNED-PAYLOAD-TRAILER
//     (AuthResult::streaming then says how to verify it);
//   RequestTimeTooSkewed: x-amz-date more than kMaxSkewSeconds away from `now`;
//   AccessDenied: a presigned URL expired, or dated more than kMaxSkewSeconds in the future;
//   SignatureDoesNotMatch: the signature differs, or a signed header is missing;
//   XAmzContentSHA256Mismatch: a signed payload hash that is not the body's.
AuthResult authenticate(const SignedRequest& req, const CredentialStore* store, std::time_t now,
                        std::string_view body_sha256 = kEmptySha256, bool accept_streaming = false);
// The SigV4 signing key (raw) of `secret` for `scope` ("DATE/REGION/SERVICE/aws4_request"), or
// nullopt for a scope without four parts.
std::optional<std::string> signing_key(std::string_view secret, std::string_view scope);

}  // namespace shoal::s3api
