// Which buckets each kind may be read from: the operator's bucket policy.
//
// The cache key is (kind, object, page): the bucket is not part of it, so bytes fetched from any
// bucket a request names are served to every later request for that kind and object, on every
// member. The policy is what makes that safe: a kind is read only from buckets the operator
// listed for it, which are promised to hold the same objects (redundant copies, in preference
// order), so they share cache entries. A client's C0-Bucket may choose among them (and their
// order), never add one.
//
// Three sources, one of them per node (node/config.h):
//   - --bucket-policy-file PATH: a JSON object (at most 1 MiB, a file only the node's user or
//     root can write, base::read_private_file)
//       {"kinds": {"models": "models-prod",                  kind = one bucket
//                  "videos": ["videos-eu", "videos-us"]},    kind -> buckets, preference order
//        "default": "refuse"}                                 kinds not listed
//     "default" is "refuse" (the default: kinds not listed get 403), "kind" (a kind not listed
//     is its own bucket, as without a policy) or a list of buckets (any kind not listed may be
//     read from these, in this order: "any kind may name any of these buckets"). Kinds follow
//     base::check_kind, buckets base::check_bucket; a list holds 1-8 distinct buckets.
//     Unknown keys are errors.
//   - no file, no flag: a kind is its own bucket, and C0-Bucket may name only that bucket (the
//     policy {"default": "kind"}).
//   - --trust-client-buckets: the behaviour before policies (warned about at start): C0-Bucket
//     may name any bucket, else the kind is the bucket. Any client can then fill the cache of a
//     kind from any bucket the node's credentials reach.
//
// Enforced on every input path with resolve(): the client port (/fetch), the peer port (the
// owner checks a forwarded request's buckets against its own policy) and the admin API (warm,
// locate). Every member should run the same policy: an owner refuses what its policy does not
// allow, whatever the sender's says.
//
// Thread-safe: immutable after construction.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "origin/request_config.h"

namespace shoal::node {

class BucketPolicy {
 public:
  // Most buckets a kind may list (the C0-Bucket and forwarded-request limit).
  static constexpr std::size_t kMaxBuckets = 8;
  // Largest policy file read.
  static constexpr std::size_t kMaxFileBytes = 1 << 20;

  // Without a policy file: a kind is its own bucket.
  BucketPolicy() = default;
  // --trust-client-buckets.
  static BucketPolicy trust_client();
  // Parses a policy file's JSON text (format above). Returns nullopt and sets *error to a
  // one-line reason naming the place ("kinds.videos: bucket name must be 3-63 characters, got
  // 2", "default: expected \"refuse\", \"kind\" or a list of buckets") on failure.
  static std::optional<BucketPolicy> parse(std::string_view json_text, std::string* error);
  // Reads and parses the file at `path` (base::read_private_file's rules). Errors as parse()'s,
  // or the file's.
  static std::optional<BucketPolicy> load_file(const std::string& path, std::string* error);

  // Why a request may not read what it asked for.
  struct Refusal {
    int status = 403;    // 403: the policy refuses; 400: the kind is not a bucket name
    std::string reason;  // one line, names the bucket or kind (valid names only)
  };
  // The buckets to read `kind` from, in preference order, for a request whose C0-Bucket named
  // `requested` (in the client's order; empty when it named none). `kind` and every requested
  // name must already follow base::check_kind / base::check_bucket. On success stores into *out
  // `requested` when every one of them is allowed for the kind, or the kind's buckets when
  // `requested` is empty, and returns nullopt; otherwise returns the refusal: a kind the policy
  // does not list (default "refuse"), a requested bucket not among the kind's, or, where the
  // kind is its own bucket, a kind that is not a valid bucket name (400).
  std::optional<Refusal> resolve(const std::string& kind, const std::vector<std::string>& requested,
                                 std::vector<std::string>* out) const;

  bool trusts_client() const { return trust_client_; }
  // The kinds the policy file lists by name, in name order (empty without a file).
  std::vector<std::string> listed_kinds() const;
  // One line for the start log: "bucket policy: 3 kinds, other kinds refused".
  std::string summary() const;

 private:
  enum class Default { kRefuse, kKindIsBucket, kList };

  // The buckets `kind` may be read from, or a refusal.
  std::optional<Refusal> allowed(const std::string& kind, std::vector<std::string>* out) const;

  bool trust_client_ = false;
  bool from_file_ = false;
  std::map<std::string, std::vector<std::string>, std::less<>> kinds_;
  Default default_ = Default::kKindIsBucket;
  std::vector<std::string> default_buckets_;  // Default::kList
};

// The rules a request for pages is held to, on the client port and, for a forwarded request, at
// the page's owner: the node's origin defaults, its caps on C0-Config and its bucket policy.
struct FetchRules {
  origin::RequestConfig defaults;  // NodeConfig::origin_request
  origin::ClientCaps caps;         // --max-client-*
  const BucketPolicy* buckets;     // never null; outlives every user of the rules
};

}  // namespace shoal::node
