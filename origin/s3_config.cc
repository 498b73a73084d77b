// Endpoint, region and credential resolution, and object URLs; see s3_config.h.
#include "origin/s3_config.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <filesystem>
#include <memory>
#include <system_error>

#include "ring/base/names.h"

extern char** environ;

namespace shoal::origin {
namespace {

// Returns env[name], treating an empty value as unset (as the AWS CLI does).
std::string lookup(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

std::string first_of(std::initializer_list<std::string> candidates) {
  for (const std::string& c : candidates) {
    if (!c.empty()) return c;
  }
  return std::string();
}

std::string strip_trailing_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// Reads one profile of an AWS shared credentials file (INI). `explicit_file` / `explicit_profile`
// say whether the user named them; a missing default file or profile means "anonymous".
std::optional<std::string> read_credentials_file(const std::string& path, bool explicit_file,
                                                 const std::string& profile, bool explicit_profile,
                                                 Credentials* out) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (explicit_file) return "credentials file " + path + " does not exist";
    return std::nullopt;
  }
  boost::property_tree::ptree tree;
  try {
    boost::property_tree::ini_parser::read_ini(path, tree);
  } catch (const boost::property_tree::ini_parser_error& e) {
    return "credentials file " + path + ": " + e.what();
  }
  auto section = tree.get_child_optional(boost::property_tree::ptree::path_type(profile, '\0'));
  if (!section) {
    if (explicit_profile) return "profile " + profile + " not found in " + path;
    return std::nullopt;
  }
  Credentials creds;
  creds.access_key_id = section->get<std::string>("aws_access_key_id", "");
  creds.secret_access_key = section->get<std::string>("aws_secret_access_key", "");
  creds.session_token = section->get<std::string>("aws_session_token", "");
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return "profile " + profile + " in " + path +
           " needs both aws_access_key_id and aws_secret_access_key";
  }
  *out = creds;
  return std::nullopt;
}

std::optional<std::string> resolve_credentials(const std::map<std::string, std::string>& env,
                                               Credentials* out) {
  const std::string id = lookup(env, "AWS_ACCESS_KEY_ID");
  const std::string secret = lookup(env, "AWS_SECRET_ACCESS_KEY");
  if (!id.empty() || !secret.empty()) {
    if (id.empty() || secret.empty()) {
      return std::string("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    *out = Credentials{id, secret, lookup(env, "AWS_SESSION_TOKEN")};
    return std::nullopt;
  }
  std::string path = lookup(env, "AWS_SHARED_CREDENTIALS_FILE");
  const bool explicit_file = !path.empty();
  if (!explicit_file) {
    const std::string home = lookup(env, "HOME");
    if (home.empty()) return std::nullopt;  // nowhere to look: anonymous
    path = home + "/.aws/credentials";
  }
  std::string profile = lookup(env, "AWS_PROFILE");
  const bool explicit_profile = !profile.empty();
  if (!explicit_profile) profile = "default";
  *out = Credentials{};
  return read_credentials_file(path, explicit_file, profile, explicit_profile, out);
}

using CurlUrl = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;
using CurlString = std::unique_ptr<char, decltype(&curl_free)>;

// Returns one part of a parsed URL, empty when absent.
std::string url_part(CURLU* url, CURLUPart part) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, 0) != CURLUE_OK) return std::string();
  CurlString owned(raw, &curl_free);
  return std::string(raw);
}

std::optional<std::string> validate_endpoint(const std::string& endpoint) {
  CurlUrl url(curl_url(), &curl_url_cleanup);
  if (!url || curl_url_set(url.get(), CURLUPART_URL, endpoint.c_str(), 0) != CURLUE_OK) {
    return "endpoint " + endpoint + " is not a URL";
  }
  const std::string scheme = url_part(url.get(), CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") {
    return "endpoint " + endpoint + " must use http or https";
  }
  const std::string path = url_part(url.get(), CURLUPART_PATH);
  if (endpoint.find("://") == std::string::npos || url_part(url.get(), CURLUPART_HOST).empty() ||
      (path != "/" && !path.empty()) || !url_part(url.get(), CURLUPART_QUERY).empty() ||
      !url_part(url.get(), CURLUPART_FRAGMENT).empty() ||
      !url_part(url.get(), CURLUPART_USER).empty() || endpoint.back() == '/') {
    return "endpoint " + endpoint + " must be scheme://host[:port] without path or query";
  }
  return std::nullopt;
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// What object URLs keep unencoded: RFC 3986's unreserved characters, and in keys also '/' (a key
// is a path of segments). Everything else is percent-encoded once, hex digits in upper case.
constexpr boost::urls::grammar::lut_chars kBucketChars = boost::urls::unreserved_chars;
constexpr boost::urls::grammar::lut_chars kKeyChars = boost::urls::unreserved_chars + '/';

bool use_virtual_host(const S3Config& cfg, const std::string& bucket) {
  switch (cfg.addressing) {
    case Addressing::kPath:
      return false;
    case Addressing::kVirtual:
      return true;
    case Addressing::kAuto:
      return cfg.endpoint_is_default && base::is_dns_label_bucket(bucket);
  }
  return false;
}

}  // namespace

std::optional<std::string> S3Config::validate() const {
  if (auto reason = validate_endpoint(endpoint)) return reason;
  if (region.empty()) return std::string("region must not be empty");
  for (char c : region) {
    if (!is_lower_alnum(c) && c != '-') return "region " + region + " has invalid characters";
  }
  if (credentials.anonymous() != credentials.secret_access_key.empty()) {
    return std::string("credentials need both an access key id and a secret access key");
  }
  if (max_connections_per_host < 1 || max_connections_total < 1) {
    return std::string("connection limits must be >= 1");
  }
  return std::nullopt;
}

std::optional<std::string> resolve_s3_config(const std::string& endpoint_flag,
                                             const std::string& region_flag,
                                             const std::map<std::string, std::string>& env,
                                             S3Config* out) {
  S3Config cfg = *out;
  cfg.region = first_of(
      {region_flag, lookup(env, "AWS_REGION"), lookup(env, "AWS_DEFAULT_REGION"), "us-east-1"});
  cfg.endpoint = strip_trailing_slashes(first_of(
      {endpoint_flag, lookup(env, "AWS_ENDPOINT_URL_S3"), lookup(env, "AWS_ENDPOINT_URL")}));
  const std::string aws = "https://s3." + cfg.region + ".amazonaws.com";
  if (cfg.endpoint.empty()) cfg.endpoint = aws;
  cfg.endpoint_is_default = cfg.endpoint == aws;
  if (auto reason = resolve_credentials(env, &cfg.credentials)) return reason;
  if (auto reason = cfg.validate()) return reason;
  *out = cfg;
  return std::nullopt;
}

std::map<std::string, std::string> environment_map() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string kv(*entry);
    const std::size_t eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

std::optional<std::string> object_url(const S3Config& cfg, const std::string& bucket,
                                      const std::string& key, std::string* url) {
  const std::string encoded_key = boost::urls::encode(key, kKeyChars);
  if (!use_virtual_host(cfg, bucket)) {
    *url = cfg.endpoint + "/" + boost::urls::encode(bucket, kBucketChars) + "/" + encoded_key;
    return std::nullopt;
  }
  // The bucket becomes part of the host: anything but one DNS label could name another host
  // or port ("127.0.0.1:28399/#"), so it is refused, never pasted.
  if (!base::is_dns_label_bucket(bucket)) {
    return std::string(
        "bucket name is not a DNS label (3-63 of a-z, 0-9, '-'), as virtual-host addressing "
        "needs");
  }
  const std::size_t scheme_end = cfg.endpoint.find("://");
  const std::size_t host_begin = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  *url = cfg.endpoint.substr(0, host_begin) + bucket + "." + cfg.endpoint.substr(host_begin) + "/" +
         encoded_key;
  return std::nullopt;
}

std::string canonical_query(const QueryParams& params) {
  QueryParams encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    encoded.emplace_back(boost::urls::encode(name, kBucketChars),
                         boost::urls::encode(value, kBucketChars));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out.append(name).append("=").append(value);
  }
  return out;
}

std::optional<std::string> bucket_url(const S3Config& cfg, const std::string& bucket,
                                      const QueryParams& query, std::string* url) {
  std::string out;
  if (auto reason = object_url(cfg, bucket, "", &out)) return reason;
  if (!use_virtual_host(cfg, bucket)) out.pop_back();  // "endpoint/bucket/" -> ".../bucket"
  if (!query.empty()) out.append("?").append(canonical_query(query));
  *url = std::move(out);
  return std::nullopt;
}

}  // namespace shoal::origin
