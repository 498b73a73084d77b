#include "node/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>

#include "ring/base/private_file.h"

namespace shoal::node {

std::optional<std::string> load_admin_token(const std::string& path, std::string* error) {
  std::string token;
  if (auto reason = base::read_private_file(path, kMaxAdminTokenFileBytes, &token)) {
    *error = *reason;
    return std::nullopt;
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) {
    *error = path + " is empty";
    return std::nullopt;
  }
  if (token.size() < kMinAdminTokenBytes) {
    *error =
        "token in " + path + " is shorter than " + std::to_string(kMinAdminTokenBytes) + " bytes";
    return std::nullopt;
  }
  for (unsigned char ch : token) {
    if (ch <= 0x20 || ch == 0x7f) {
      *error = "token in " + path + " contains whitespace or control characters";
      return std::nullopt;
    }
  }
  return token;
}

bool token_equals(std::string_view a, std::string_view b) {
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int la = 0, lb = 0;
  EVP_Digest(a.data(), a.size(), da, &la, EVP_sha256(), nullptr);
  EVP_Digest(b.data(), b.size(), db, &lb, EVP_sha256(), nullptr);
  return la == lb && la == 32 && CRYPTO_memcmp(da, db, la) == 0;
}

std::optional<std::string_view> bearer_token(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size() + 1) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) != kScheme[i]) return std::nullopt;
  }
  if (v[kScheme.size()] != ' ') return std::nullopt;
  v.remove_prefix(kScheme.size() + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.empty()) return std::nullopt;
  return v;
}

std::optional<AdminAuthFailure> check_admin_auth(const std::optional<std::string>& token,
                                                 std::string_view authorization) {
  if (!token) {
    return AdminAuthFailure{
        403, "admin API disabled (start shoald with --admin-token-file to enable it)", ""};
  }
  auto presented = bearer_token(authorization);
  if (!presented) {
    return AdminAuthFailure{401, "admin token required (Authorization: Bearer)",
                            "Bearer realm=\"shoal-admin\""};
  }
  if (!token_equals(*presented, *token)) {
    return AdminAuthFailure{401, "wrong admin token",
                            "Bearer realm=\"shoal-admin\", error=\"invalid_token\""};
  }
  return std::nullopt;
}

}  // namespace shoal::node
