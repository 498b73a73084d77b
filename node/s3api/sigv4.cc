#include "node/s3api/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "node/s3api/text.h"

namespace shoal::s3api {

namespace {

using text::iequals;
using text::trim;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trimmed, with inner runs of spaces collapsed to one (SigV4's canonical header value).
std::string canonical_value(std::string_view v) {
  v = trim(v);
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

const std::string* find_header(const SignedRequest& req, std::string_view name) {
  for (const auto& [n, v] : req.headers) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The query's parameters, decoded (a bad escape keeps the raw text).
std::vector<std::pair<std::string, std::string>> query_params(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    if (!item.empty()) {
      auto eq = item.find('=');
      std::string_view name = item.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
      out.emplace_back(percent_decode(name).value_or(std::string(name)),
                       percent_decode(value).value_or(std::string(value)));
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

constexpr const char* kSigV2Refusal =
    "The authorization mechanism you have provided is not supported. Please use "
    "AWS4-HMAC-SHA256.";

AuthResult refuse(ErrorCode code, std::string message) {
  AuthResult r;
  r.kind = AuthResult::Kind::kRefused;
  r.code = code;
  r.message = std::move(message);
  return r;
}

// The parts both kinds of signature carry.
struct Parts {
  std::string key_id, date, region, service, terminal;
  std::string signed_headers, signature, amz_date;
};

// "AKID/DATE/REGION/SERVICE/aws4_request" into `p`.
bool split_credential(std::string_view cred, Parts* p) {
  std::vector<std::string> f;
  while (true) {
    auto slash = cred.find('/');
    f.emplace_back(cred.substr(0, slash));
    if (slash == std::string_view::npos) break;
    cred.remove_prefix(slash + 1);
  }
  if (f.size() != 5 || f[0].empty() || f[1].size() != 8 || f[2].empty()) return false;
  p->key_id = f[0];
  p->date = f[1];
  p->region = f[2];
  p->service = f[3];
  p->terminal = f[4];
  return true;
}

// Checks common to both forms; on success the credential. `malformed` is the form's error.
std::optional<AuthResult> check_parts(const Parts& p, ErrorCode malformed,
                                      const CredentialStore* store, const Credential** out) {
  if (p.service != "s3" || p.terminal != "aws4_request") {
    return refuse(malformed, "the credential scope must end in /s3/aws4_request");
  }
  if (!p.amz_date.starts_with(p.date)) {
    return refuse(malformed, "the credential scope's date is not the request's X-Amz-Date day");
  }
  if (p.signed_headers.empty() || p.signature.size() != 64) {
    return refuse(malformed, "SignedHeaders and a 64-digit Signature are required");
  }
  bool host = false;
  std::string_view sh = p.signed_headers;
  while (true) {
    auto semi = sh.find(';');
    if (sh.substr(0, semi) == "host") host = true;
    if (semi == std::string_view::npos) break;
    sh.remove_prefix(semi + 1);
  }
  if (!host) return refuse(malformed, "the host header must be signed");
  const Credential* c = store ? store->find(p.key_id) : nullptr;
  if (!c) {
    return refuse(ErrorCode::kInvalidAccessKeyId,
                  "The AWS Access Key Id you provided does not exist in our records.");
  }
  *out = c;
  return std::nullopt;
}

AuthResult verify_signature(const SignedRequest& req, const Parts& p, const Credential& c,
                            std::string_view payload_hash, bool presigned) {
  const std::string scope = p.date + "/" + p.region + "/" + p.service + "/" + p.terminal;
  auto sig = compute_signature(req, p.signed_headers, payload_hash, p.amz_date, scope, c.secret,
                               presigned);
  const std::string given = lower(p.signature);
  if (!sig || sig->size() != given.size() ||
      CRYPTO_memcmp(sig->data(), given.data(), given.size()) != 0) {
    return refuse(ErrorCode::kSignatureDoesNotMatch,
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your key and signing method.");
  }
  AuthResult r;
  r.kind = AuthResult::Kind::kSigned;
  r.credential = &c;
  return r;
}

AuthResult authenticate_header(const SignedRequest& req, std::string_view auth,
                               const CredentialStore* store, std::time_t now,
                               std::string_view body_sha256, bool accept_streaming) {
  constexpr std::string_view kAlgo = "AWS4-HMAC-SHA256";
  const ErrorCode malformed = ErrorCode::kAuthorizationHeaderMalformed;
  if (auth.starts_with("AWS ")) return refuse(ErrorCode::kInvalidRequest, kSigV2Refusal);
  if (!auth.starts_with(kAlgo) || auth.size() == kAlgo.size() || auth[kAlgo.size()] != ' ') {
    return refuse(malformed, "only AWS4-HMAC-SHA256 (Signature Version 4) is supported");
  }
  auth.remove_prefix(kAlgo.size());
  Parts p;
  bool have_cred = false;
  while (!auth.empty()) {
    auto comma = auth.find(',');
    std::string_view item = trim(auth.substr(0, comma));
    auto eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    if (name == "Credential") {
      have_cred = split_credential(value, &p);
    } else if (name == "SignedHeaders") {
      p.signed_headers = value;
    } else if (name == "Signature") {
      p.signature = value;
    }
    if (comma == std::string_view::npos) break;
    auth.remove_prefix(comma + 1);
  }
  if (!have_cred) {
    return refuse(malformed, "Credential=ACCESSKEY/YYYYMMDD/REGION/s3/aws4_request is required");
  }
  const std::string* date = find_header(req, "x-amz-date");
  std::optional<std::time_t> t = date ? parse_amz_date(*date) : std::nullopt;
  if (!t) return refuse(ErrorCode::kAccessDenied, "a valid x-amz-date header is required");
  p.amz_date = *date;
  const Credential* c = nullptr;
  if (auto r = check_parts(p, malformed, store, &c)) return *r;
  if (std::llabs(static_cast<long long>(*t - now)) > kMaxSkewSeconds) {
    return refuse(ErrorCode::kRequestTimeTooSkewed,
                  "The difference between the request time and the current time is too large.");
  }
  const std::string* payload = find_header(req, "x-amz-content-sha256");
  if (!payload) {
    return refuse(ErrorCode::kInvalidRequest,
                  "Missing required header for this request: x-amz-content-sha256");
  }
  constexpr std::string_view kSignedChunks = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
  constexpr std::string_view kUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
  if (payload->starts_with("STREAMING-")) {
    if (!accept_streaming || (*payload != kSignedChunks && *payload != kUnsignedTrailer)) {
      return refuse(ErrorCode::kInvalidRequest,
                    "aws-chunked payloads are accepted on writes only, as "
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD or STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    }
    AuthResult r = verify_signature(req, p, *c, *payload, false);
    if (r.kind != AuthResult::Kind::kSigned) return r;
    AuthResult::Streaming st;
    st.signed_chunks = *payload == kSignedChunks;
    st.scope = p.date + "/" + p.region + "/" + p.service + "/" + p.terminal;
    st.signing_key = signing_key(c->secret, st.scope).value_or("");
    st.amz_date = p.amz_date;
    st.seed_signature = lower(p.signature);
    r.streaming = std::move(st);
    return r;
  }
  if (*payload != kUnsignedPayload && !is_hex64(*payload)) {
    return refuse(ErrorCode::kInvalidArgument,
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD "
                  "or the lower-case hex SHA-256 of the body");
  }
  AuthResult r = verify_signature(req, p, *c, *payload, false);
  if (r.kind != AuthResult::Kind::kSigned) return r;
  if (*payload != kUnsignedPayload && *payload != body_sha256) {
    return refuse(ErrorCode::kXAmzContentSHA256Mismatch,
                  "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return r;
}

AuthResult authenticate_query(const SignedRequest& req,
                              const std::vector<std::pair<std::string, std::string>>& q,
                              const CredentialStore* store, std::time_t now) {
  const ErrorCode malformed = ErrorCode::kAuthorizationQueryParametersError;
  auto get = [&q](std::string_view name) -> const std::string* {
    for (const auto& [n, v] : q) {
      if (n == name) return &v;
    }
    return nullptr;
  };
  const std::string* algo = get("X-Amz-Algorithm");
  if (!algo || *algo != "AWS4-HMAC-SHA256") {
    return refuse(malformed, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  Parts p;
  const std::string* cred = get("X-Amz-Credential");
  if (!cred || !split_credential(*cred, &p)) {
    return refuse(malformed,
                  "X-Amz-Credential=ACCESSKEY/YYYYMMDD/REGION/s3/aws4_request is "
                  "required");
  }
  const std::string* date = get("X-Amz-Date");
  std::optional<std::time_t> t = date ? parse_amz_date(*date) : std::nullopt;
  if (!t) return refuse(malformed, "X-Amz-Date must be in the ISO8601 Long Format");
  p.amz_date = *date;
  const std::string* expires = get("X-Amz-Expires");
  long secs = -1;
  if (expires && !expires->empty() && expires->size() <= 7 &&
      std::all_of(expires->begin(), expires->end(), ::isdigit)) {
    secs = std::stol(*expires);
  }
  if (secs < 1 || secs > kMaxPresignSeconds) {
    return refuse(malformed, "X-Amz-Expires must be between 1 and 604800 seconds");
  }
  if (const std::string* sh = get("X-Amz-SignedHeaders")) p.signed_headers = *sh;
  if (const std::string* sig = get("X-Amz-Signature")) p.signature = *sig;
  const Credential* c = nullptr;
  if (auto r = check_parts(p, malformed, store, &c)) return *r;
  if (now > *t + secs) return refuse(ErrorCode::kAccessDenied, "Request has expired");
  if (*t > now + kMaxSkewSeconds) {
    return refuse(ErrorCode::kAccessDenied, "Request is not valid yet");
  }
  const std::string* payload = find_header(req, "x-amz-content-sha256");
  return verify_signature(req, p, *c, payload ? std::string_view(*payload) : kUnsignedPayload,
                          true);
}

}  // namespace

std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string canonical_uri(std::string_view raw_path) {
  if (raw_path.empty()) return "/";
  auto decoded = percent_decode(raw_path);
  if (!decoded) return std::string(raw_path);
  return uri_encode(*decoded, true);
}

std::string canonical_query(std::string_view raw_query, bool drop_signature) {
  std::vector<std::pair<std::string, std::string>> params;
  for (auto& [n, v] : query_params(raw_query)) {
    if (drop_signature && n == "X-Amz-Signature") continue;
    params.emplace_back(uri_encode(n, false), uri_encode(v, false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [n, v] : params) {
    if (!out.empty()) out += '&';
    out += n + "=" + v;
  }
  return out;
}

std::optional<std::string> canonical_headers(const SignedRequest& req,
                                             std::string_view signed_headers) {
  std::string out;
  while (true) {
    auto semi = signed_headers.find(';');
    std::string_view name = signed_headers.substr(0, semi);
    std::string value;
    bool found = false;
    for (const auto& [n, v] : req.headers) {
      if (!iequals(n, name)) continue;
      if (found) value += ',';
      value += canonical_value(v);
      found = true;
    }
    if (!found) return std::nullopt;
    out += lower(name) + ":" + value + "\n";
    if (semi == std::string_view::npos) break;
    signed_headers.remove_prefix(semi + 1);
  }
  return out;
}

std::optional<std::string> compute_signature(const SignedRequest& req,
                                             std::string_view signed_headers,
                                             std::string_view payload_hash,
                                             std::string_view amz_date, std::string_view scope,
                                             std::string_view secret, bool presigned) {
  std::string_view target = req.target;
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  auto headers = canonical_headers(req, signed_headers);
  if (!headers) return std::nullopt;
  const std::string creq = req.method + "\n" + canonical_uri(path) + "\n" +
                           canonical_query(query, presigned) + "\n" + *headers + "\n" +
                           std::string(signed_headers) + "\n" + std::string(payload_hash);
  const std::string sts = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(scope) +
                          "\n" + sha256_hex(creq);
  auto key = signing_key(secret, scope);
  if (!key) return std::nullopt;
  return hex_encode(hmac_sha256(*key, sts));
}

std::optional<std::string> signing_key(std::string_view secret, std::string_view scope) {
  // Scope fields: DATE/REGION/SERVICE/aws4_request.
  std::vector<std::string_view> f;
  std::string_view s = scope;
  while (true) {
    auto slash = s.find('/');
    f.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) break;
    s.remove_prefix(slash + 1);
  }
  if (f.size() != 4) return std::nullopt;
  std::string key = hmac_sha256("AWS4" + std::string(secret), f[0]);
  key = hmac_sha256(key, f[1]);
  key = hmac_sha256(key, f[2]);
  return hmac_sha256(key, f[3]);
}

std::optional<std::time_t> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  int y, mo, d, h, mi, se;
  if (!text::digits(s, 0, 4, &y) || !text::digits(s, 4, 2, &mo) || !text::digits(s, 6, 2, &d) ||
      !text::digits(s, 9, 2, &h) || !text::digits(s, 11, 2, &mi) || !text::digits(s, 13, 2, &se)) {
    return std::nullopt;
  }
  return text::utc_time(y, mo, d, h, mi, se);
}

AuthResult authenticate(const SignedRequest& req, const CredentialStore* store, std::time_t now,
                        std::string_view body_sha256, bool accept_streaming) {
  const std::string* auth = find_header(req, "authorization");
  std::string_view target = req.target;
  const auto qpos = target.find('?');
  const auto q = query_params(qpos == std::string_view::npos ? "" : target.substr(qpos + 1));
  const bool presigned = std::any_of(q.begin(), q.end(), [](const auto& p) {
    return p.first == "X-Amz-Algorithm" || p.first == "X-Amz-Signature";
  });
  if (auth && presigned) {
    return refuse(ErrorCode::kInvalidArgument,
                  "Only one auth mechanism allowed; only the "
                  "X-Amz-Algorithm query parameter or the "
                  "Authorization header should be specified");
  }
  if (auth) return authenticate_header(req, *auth, store, now, body_sha256, accept_streaming);
  const bool sigv2 = std::any_of(q.begin(), q.end(), [](const auto& p) {
    return p.first == "AWSAccessKeyId" || p.first == "Signature";
  });
  if (sigv2) return refuse(ErrorCode::kInvalidRequest, kSigV2Refusal);
  if (presigned) return authenticate_query(req, q, store, now);
  AuthResult r;
  r.kind = AuthResult::Kind::kAnonymous;
  return r;
}

}  // namespace shoal::s3api
