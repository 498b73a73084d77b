// The bucket policy: its file format and resolve(); see bucket_policy.h.
#include "node/bucket_policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ring/base/names.h"
#include "ring/base/private_file.h"

namespace shoal::node {
namespace {

using json = nlohmann::json;

// A bucket list from a policy file: a string (one bucket) or an array of 1..kMaxBuckets distinct
// bucket names. Returns a reason prefixed with `where`.
std::optional<std::string> parse_buckets(const std::string& where, const json& value,
                                         std::vector<std::string>* out) {
  std::vector<std::string> buckets;
  if (value.is_string()) {
    buckets.push_back(value.get<std::string>());
  } else if (value.is_array()) {
    for (const json& b : value) {
      if (!b.is_string()) return where + ": every bucket must be a string";
      buckets.push_back(b.get<std::string>());
    }
  } else {
    return where + ": expected a bucket name or a list of bucket names";
  }
  if (buckets.empty() || buckets.size() > BucketPolicy::kMaxBuckets) {
    return where + ": expected 1-" + std::to_string(BucketPolicy::kMaxBuckets) + " buckets, got " +
           std::to_string(buckets.size());
  }
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (auto reason = base::check_bucket(buckets[i])) return where + ": " + *reason;
    if (std::find(buckets.begin(), buckets.begin() + static_cast<std::ptrdiff_t>(i), buckets[i]) !=
        buckets.begin() + static_cast<std::ptrdiff_t>(i)) {
      return where + ": bucket '" + buckets[i] + "' is listed twice";
    }
  }
  *out = std::move(buckets);
  return std::nullopt;
}

// 'text' when it is short printable ASCII, else the words "(not printable)": error messages
// stay one line.
std::string quoted_if_printable(const std::string& text) {
  const bool printable = text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
                           return c >= 0x20 && c < 0x7f;
                         });
  return printable ? "'" + text + "'" : std::string("(not printable)");
}

std::string quoted_list(const std::vector<std::string>& buckets) {
  std::string text;
  for (const std::string& b : buckets) text += (text.empty() ? "'" : ", '") + b + "'";
  return text;
}

}  // namespace

BucketPolicy BucketPolicy::trust_client() {
  BucketPolicy p;
  p.trust_client_ = true;
  return p;
}

std::optional<BucketPolicy> BucketPolicy::parse(std::string_view json_text, std::string* error) {
  const json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    *error = "expected a JSON object such as {\"kinds\": {\"KIND\": [\"BUCKET\", ...]}}";
    return std::nullopt;
  }
  BucketPolicy p;
  p.from_file_ = true;
  p.default_ = Default::kRefuse;
  for (const auto& [key, value] : doc.items()) {
    if (key == "kinds") {
      if (!value.is_object()) {
        *error = "kinds: expected an object of kind -> buckets";
        return std::nullopt;
      }
      for (const auto& [kind, buckets] : value.items()) {
        if (auto reason = base::check_kind(kind)) {
          *error = "kinds: " + *reason;
          return std::nullopt;
        }
        if (auto reason = parse_buckets("kinds." + kind, buckets, &p.kinds_[kind])) {
          *error = *reason;
          return std::nullopt;
        }
      }
    } else if (key == "default") {
      if (value == "refuse") {
        p.default_ = Default::kRefuse;
      } else if (value == "kind") {
        p.default_ = Default::kKindIsBucket;
      } else if (value.is_array()) {
        p.default_ = Default::kList;
        if (auto reason = parse_buckets("default", value, &p.default_buckets_)) {
          *error = *reason;
          return std::nullopt;
        }
      } else {
        *error = "default: expected \"refuse\", \"kind\" or a list of buckets";
        return std::nullopt;
      }
    } else {
      *error = "unknown key " + quoted_if_printable(key) + " (expected \"kinds\" and \"default\")";
      return std::nullopt;
    }
  }
  return p;
}

std::optional<BucketPolicy> BucketPolicy::load_file(const std::string& path, std::string* error) {
  std::string text;
  if (auto reason = base::read_private_file(path, kMaxFileBytes, &text)) {
    *error = *reason;
    return std::nullopt;
  }
  auto policy = parse(text, error);
  if (!policy) *error = path + ": " + *error;
  return policy;
}

std::optional<BucketPolicy::Refusal> BucketPolicy::allowed(const std::string& kind,
                                                           std::vector<std::string>* out) const {
  if (auto it = kinds_.find(kind); it != kinds_.end()) {
    *out = it->second;
    return std::nullopt;
  }
  switch (default_) {
    case Default::kRefuse:
      return Refusal{403, "kind '" + kind + "' is not in the bucket policy"};
    case Default::kList:
      *out = default_buckets_;
      return std::nullopt;
    case Default::kKindIsBucket:
      if (auto reason = base::check_bucket(kind)) {
        return Refusal{400, "kind is its own bucket here, and not a valid bucket name: " + *reason};
      }
      *out = {kind};
      return std::nullopt;
  }
  return Refusal{403, "kind '" + kind + "' is not in the bucket policy"};
}

std::optional<BucketPolicy::Refusal> BucketPolicy::resolve(
    const std::string& kind, const std::vector<std::string>& requested,
    std::vector<std::string>* out) const {
  if (trust_client_ && !requested.empty()) {
    *out = requested;
    return std::nullopt;
  }
  std::vector<std::string> buckets;
  if (trust_client_) {
    if (auto reason = base::check_bucket(kind)) {
      return Refusal{
          400, "kind is not a valid bucket name (" + *reason + "); name the bucket in C0-Bucket"};
    }
    buckets = {kind};
  } else if (auto refusal = allowed(kind, &buckets)) {
    return refusal;
  }
  if (requested.empty()) {
    *out = std::move(buckets);
    return std::nullopt;
  }
  for (const std::string& b : requested) {
    if (std::find(buckets.begin(), buckets.end(), b) == buckets.end()) {
      return Refusal{403, "bucket '" + b + "' may not be read for kind '" + kind +
                              "' (bucket policy allows " + quoted_list(buckets) + ")"};
    }
  }
  *out = requested;
  return std::nullopt;
}

std::vector<std::string> BucketPolicy::listed_kinds() const {
  std::vector<std::string> out;
  out.reserve(kinds_.size());
  for (const auto& [kind, buckets] : kinds_) out.push_back(kind);
  return out;
}

std::string BucketPolicy::summary() const {
  if (trust_client_) return "bucket policy: none, C0-Bucket trusted (--trust-client-buckets)";
  if (!from_file_) return "bucket policy: none, each kind is its own bucket";
  std::string text = "bucket policy: " + std::to_string(kinds_.size()) + " kinds, other kinds ";
  switch (default_) {
    case Default::kRefuse:
      return text + "refused";
    case Default::kKindIsBucket:
      return text + "are their own bucket";
    case Default::kList:
      return text + "read from " + quoted_list(default_buckets_);
  }
  return text;
}

}  // namespace shoal::node
