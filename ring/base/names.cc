// Bucket, kind and object-key rules; see names.h.
#include "ring/base/names.h"

#include <algorithm>

#include "ring/base/fetch_path.h"

namespace shoal::base {
namespace {

constexpr std::size_t kMinBucketBytes = 3;
constexpr std::size_t kMaxBucketBytes = 63;

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

// "192.168.5.4": four groups of 1-3 digits separated by dots.
bool looks_like_ipv4(std::string_view s) {
  int groups = 0;
  while (true) {
    const std::size_t dot = s.find('.');
    const std::string_view group = s.substr(0, dot);
    if (group.empty() || group.size() > 3) return false;
    if (!std::all_of(group.begin(), group.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    ++groups;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return groups == 4;
}

std::string bytes_reason(std::string_view what, std::size_t min, std::size_t max, std::size_t got) {
  return std::string(what) + " must be " + std::to_string(min) + "-" + std::to_string(max) +
         " characters, got " + std::to_string(got);
}

}  // namespace

std::optional<std::string> check_bucket(std::string_view name) {
  if (name.size() < kMinBucketBytes || name.size() > kMaxBucketBytes) {
    return bytes_reason("bucket name", kMinBucketBytes, kMaxBucketBytes, name.size());
  }
  for (char c : name) {
    if (!is_lower_alnum(c) && c != '.' && c != '-') {
      return std::string("bucket name may hold only a-z, 0-9, '.' and '-'");
    }
  }
  if (!is_lower_alnum(name.front()) || !is_lower_alnum(name.back())) {
    return std::string("bucket name must start and end with a letter or digit");
  }
  if (name.find("..") != std::string_view::npos) {
    return std::string("bucket name must not contain '..'");
  }
  if (looks_like_ipv4(name)) return std::string("bucket name must not be an IP address");
  for (std::string_view prefix : {"xn--", "sthree-"}) {
    if (name.starts_with(prefix)) {
      return "bucket name must not start with '" + std::string(prefix) + "'";
    }
  }
  for (std::string_view suffix : {"-s3alias", "--ol-s3"}) {
    if (name.ends_with(suffix)) {
      return "bucket name must not end with '" + std::string(suffix) + "'";
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > kMaxKindBytes) {
    return "kind must be 1-" + std::to_string(kMaxKindBytes) + " bytes, got " +
           std::to_string(kind.size());
  }
  for (char c : kind) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
      return std::string("kind may hold only letters, digits, '.', '_' and '-'");
    }
  }
  if (!is_alnum(kind.front()) || !is_alnum(kind.back())) {
    return std::string("kind must start and end with a letter or digit");
  }
  return std::nullopt;
}

std::optional<std::string> check_object(std::string_view object) {
  if (object.empty() || object.size() > kMaxObjectBytes) {
    return "object must be 1-" + std::to_string(kMaxObjectBytes) + " bytes, got " +
           std::to_string(object.size());
  }
  if (!is_valid_utf8(object)) return std::string("object is not valid UTF-8");
  if (std::any_of(object.begin(), object.end(), is_control)) {
    return std::string("object contains a control character");
  }
  std::string_view rest = object;
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "." || segment == "..") {
      return "object has a '" + std::string(segment) +
             "' segment (refused: an origin may "
             "normalise it)";
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return std::nullopt;
}

bool is_dns_label_bucket(std::string_view name) {
  if (name.size() < kMinBucketBytes || name.size() > kMaxBucketBytes) return false;
  if (!is_lower_alnum(name.front()) || !is_lower_alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_lower_alnum(c) || c == '-'; });
}

}  // namespace shoal::base
