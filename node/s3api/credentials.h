// The S3 port's credentials (--s3-api-credentials-file): who may call it, with which secret, for
// which buckets.
//
// File format (JSON, at most kMaxFileBytes, read with base::read_private_file's rules: a file
// only the node's user or root can write):
//   {"credentials": [
//     {"access_key_id": "AKIA...", "secret_access_key": "...", "buckets": ["models", "logs-*"]},
//     {"access_key_id": "ADMIN", "secret_access_key": "...", "buckets": ["*"]}]}
// A bucket entry is a bucket name, "*" (every bucket) or a prefix ending in "*" ("logs-*").
// "write": true (optional, default false) lets the credential write (PutObject, DeleteObject,
// multipart uploads) to its buckets; without it the credential only reads.
// Access key ids are 1-128 characters of [A-Za-z0-9_.-]; secrets are 1-256 printable ASCII
// characters; ids are unique; unknown keys are errors.
//
// Thread-safe: immutable after construction.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::s3api {

struct Credential {
  std::string access_key_id;
  std::string secret;
  std::vector<std::string> buckets;  // names, "*" or "prefix*"
  bool write = false;                // may write to its buckets, not only read

  // True when `bucket` matches an entry of `buckets`.
  bool allows(std::string_view bucket) const;
};

class CredentialStore {
 public:
  static constexpr std::size_t kMaxFileBytes = 1 << 20;

  // Parses the file's JSON text. Returns nullopt with *error a one-line reason naming the place
  // ("credentials[1].buckets: expected a list of bucket names") on failure.
  static std::optional<CredentialStore> parse(std::string_view json_text, std::string* error);
  // Reads (base::read_private_file) and parses the file at `path`; errors as parse()'s or the
  // file rule's.
  static std::optional<CredentialStore> load_file(const std::string& path, std::string* error);

  // The credential with this access key id, or nullptr.
  const Credential* find(std::string_view access_key_id) const;
  std::size_t size() const { return credentials_.size(); }

 private:
  std::vector<Credential> credentials_;
};

}  // namespace shoal::s3api
