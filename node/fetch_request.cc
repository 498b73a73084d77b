#include "node/fetch_request.h"

#include <algorithm>

#include "ring/base/fetch_path.h"
#include "ring/base/names.h"

namespace shoal::node {
namespace http = boost::beast::http;

namespace {

constexpr std::size_t kMaxBuckets = BucketPolicy::kMaxBuckets;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Values of every field named `name`, in order (a repeatable header).
std::vector<std::string_view> field_values(const http::request<http::empty_body>& req,
                                           std::string_view name) {
  std::vector<std::string_view> out;
  auto [first, last] = req.equal_range(name);
  for (auto it = first; it != last; ++it) out.push_back(it->value());
  return out;
}

bool has_trailers_token(std::string_view te) {
  while (!te.empty()) {
    auto comma = te.find(',');
    std::string_view item = trim(te.substr(0, comma));
    item = trim(item.substr(0, item.find(';')));
    if (item.size() == 8) {
      std::string lower(item);
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "trailers") return true;
    }
    if (comma == std::string_view::npos) break;
    te.remove_prefix(comma + 1);
  }
  return false;
}

// The C0-Bucket names (repeated fields or comma-separated, duplicates dropped), each an S3 bucket
// name, at most kMaxBuckets, then what the bucket policy makes of them for `kind`.
std::optional<RequestError> parse_buckets(const http::request<http::empty_body>& req,
                                          const std::string& kind, const BucketPolicy& policy,
                                          std::vector<std::string>* out) {
  std::vector<std::string> requested;
  for (std::string_view v : field_values(req, "C0-Bucket")) {
    while (true) {
      auto comma = v.find(',');
      std::string_view b = trim(v.substr(0, comma));
      if (auto reason = base::check_bucket(b)) return RequestError{400, "C0-Bucket: " + *reason};
      if (requested.size() == kMaxBuckets) {
        return RequestError{400, "C0-Bucket: at most " + std::to_string(kMaxBuckets) + " buckets"};
      }
      if (std::find(requested.begin(), requested.end(), b) == requested.end()) {
        requested.emplace_back(b);
      }
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  if (auto refusal = policy.resolve(kind, requested, out)) {
    return RequestError{refusal->status,
                        (requested.empty() ? "" : "C0-Bucket: ") + refusal->reason};
  }
  return std::nullopt;
}

}  // namespace

bool is_fetch_target(std::string_view target) {
  return target.starts_with("/fetch/");
}

std::variant<FetchRequest, RequestError> parse_fetch_request(
    const http::request<http::empty_body>& req, const FetchRules& rules) {
  FetchRequest fr;
  if (req.method() == http::verb::head) {
    fr.head = true;
  } else if (req.method() != http::verb::get) {
    return RequestError{405, "only GET and HEAD are allowed on /fetch"};
  }
  base::FetchTarget target;
  if (auto err = base::parse_fetch_target(req.target(), &target)) return RequestError{400, *err};
  fr.kind = std::move(target.kind);
  fr.object = std::move(target.object);

  if (req.count(http::field::range) > 1) {
    return RequestError{416, "one Range field only"};
  }
  base::RangeError re = base::parse_byte_range(req[http::field::range], &fr.range);
  if (re != base::RangeError::kOk) {
    return RequestError{base::range_error_status(re), std::string(base::range_error_reason(re))};
  }
  if (auto err = parse_buckets(req, fr.kind, *rules.buckets, &fr.options.buckets)) return *err;

  // Several C0-Config fields are one list, in order (a later key wins).
  std::string c0_config;
  for (std::string_view v : field_values(req, "C0-Config")) (c0_config += v) += ' ';
  if (auto err =
          origin::apply_c0_config(c0_config, rules.defaults, rules.caps, &fr.options.config)) {
    return RequestError{400, *err};
  }
  fr.options.config_text = origin::c0_config_text(fr.options.config, rules.defaults);
  fr.want_trailers = has_trailers_token(req[http::field::te]);
  return fr;
}

std::variant<FetchRequest, RequestError> parse_fetch_request(
    const http::request<http::empty_body>& req, const NodeConfig& cfg) {
  return parse_fetch_request(req, cfg.fetch_rules());
}

}  // namespace shoal::node
