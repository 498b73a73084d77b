// Who may use the admin API (node/admin.h): the admin token and the bearer credential that must
// carry it. Pure apart from load_admin_token()'s file read; every function may be called from any
// thread.
//
// Rules: every /admin/ request needs "Authorization: Bearer <token>", the token being the
// contents of --admin-token-file (trailing whitespace removed). Without a token the admin API
// is disabled (403 to everything); a missing, malformed or wrong credential gets 401 with a
// WWW-Authenticate challenge (RFC 6750 §3). Tokens are compared in constant time.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::node {

// Shortest token an admin token file may hold.
inline constexpr std::size_t kMinAdminTokenBytes = 16;

// Largest admin token file read.
inline constexpr std::size_t kMaxAdminTokenFileBytes = 64 * 1024;

// Reads an admin token file: its contents without trailing whitespace. The file must be one
// only the node's user (or root) can write (base::read_private_file). Returns nullopt and sets
// *error (read_private_file's reasons: "cannot open PATH: reason", "PATH is writable by its
// group or others ...", "PATH is owned by uid N ..."; "PATH is empty", "token in PATH is shorter
// than 16 bytes", "token in PATH contains whitespace or control characters").
std::optional<std::string> load_admin_token(const std::string& path, std::string* error);

// Equality of two secrets in time independent of where they differ and of their lengths
// (compares SHA-256 digests with CRYPTO_memcmp).
bool token_equals(std::string_view a, std::string_view b);

// The value of "Authorization: Bearer <token>" (scheme case-insensitive, RFC 6750 §2.1), or
// nullopt when the field is absent or not a bearer credential.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Why a request may not use the admin API.
struct AdminAuthFailure {
  int status = 401;              // 403: the API is disabled; 401: no or a wrong credential
  std::string message;           // one line for the {"error": ...} body
  std::string www_authenticate;  // the WWW-Authenticate value for a 401, else ""
};

// Checks the Authorization field value `authorization` ("" when absent) against `token`
// (nullopt: the API is disabled). Returns nullopt when the request may proceed, else:
//   403 "admin API disabled (start shoald with --admin-token-file to enable it)";
//   401 "admin token required (Authorization: Bearer)", challenge `Bearer realm="shoal-admin"`;
//   401 "wrong admin token", challenge `Bearer realm="shoal-admin", error="invalid_token"`.
std::optional<AdminAuthFailure> check_admin_auth(const std::optional<std::string>& token,
                                                 std::string_view authorization);

}  // namespace shoal::node
