#include "node/fetch_request.h"

#include <algorithm>

#include "ring/base/fetch_path.h"

namespace shoal::node {
namespace http = boost::beast::http;

namespace {

constexpr std::size_t kMaxBuckets = 8;

// S3 bucket names, including legacy us-east-1 names: 1-255 of [A-Za-z0-9._-]. Anything else
// (spaces, '/', CR/LF, '%') could change the request we send, so it is refused.
bool valid_bucket(std::string_view b) {
  if (b.empty() || b.size() > 255) return false;
  for (char c : b) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

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

std::optional<RequestError> parse_buckets(const http::request<http::empty_body>& req,
                                          const std::string& kind, std::vector<std::string>* out) {
  for (std::string_view v : field_values(req, "C0-Bucket")) {
    while (true) {
      auto comma = v.find(',');
      std::string_view b = trim(v.substr(0, comma));
      if (!valid_bucket(b)) {
        return RequestError{
            400, "C0-Bucket: not a valid bucket name: '" + std::string(b.substr(0, 64)) + "'"};
      }
      if (out->size() == kMaxBuckets) {
        return RequestError{400, "C0-Bucket: at most " + std::to_string(kMaxBuckets) + " buckets"};
      }
      if (std::find(out->begin(), out->end(), b) == out->end()) out->emplace_back(b);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  if (out->empty()) {
    if (!valid_bucket(kind)) {
      return RequestError{400, "kind is not a valid bucket name; name the bucket in C0-Bucket"};
    }
    out->push_back(kind);
  }
  return std::nullopt;
}

}  // namespace

bool is_fetch_target(std::string_view target) {
  return target.starts_with("/fetch/");
}

std::variant<FetchRequest, RequestError> parse_fetch_request(
    const http::request<http::empty_body>& req, const origin::RequestConfig& defaults) {
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
  if (auto err = parse_buckets(req, fr.kind, &fr.options.buckets)) return *err;

  fr.options.config = defaults;
  for (std::string_view v : field_values(req, "C0-Config")) {
    origin::RequestConfig next;
    if (auto err = origin::apply_c0_config(v, fr.options.config, &next)) {
      return RequestError{400, *err};
    }
    fr.options.config = next;
  }
  fr.want_trailers = has_trailers_token(req[http::field::te]);
  return fr;
}

}  // namespace shoal::node
