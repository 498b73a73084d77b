// Where the origin is and who we are to it, resolved the way the AWS SDKs and CLI do.
//
// Endpoint: --s3-endpoint, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else
//   https://s3.{region}.amazonaws.com.
// Region: --s3-region, else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
// Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the shared
//   credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) section AWS_PROFILE
//   (else "default"), else anonymous (requests are sent unsigned).
// Addressing: path style (http://endpoint/bucket/key) or virtual-host style
//   (http://bucket.endpoint/key). kAuto picks virtual-host for the AWS default endpoint and
//   DNS-compatible bucket names, path style otherwise (custom endpoints such as MinIO, s3rver).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace shoal::origin {

enum class Addressing { kAuto, kPath, kVirtual };

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty when none
  bool anonymous() const { return access_key_id.empty(); }
};

struct S3Config {
  std::string endpoint;  // scheme://host[:port], no trailing slash
  std::string region;
  Credentials credentials;
  Addressing addressing = Addressing::kAuto;
  bool endpoint_is_default = true;    // AWS's own endpoint for the region (derived or given)
  int max_connections_per_host = 64;  // CURLMOPT_MAX_HOST_CONNECTIONS
  int max_connections_total = 256;    // CURLMOPT_MAX_TOTAL_CONNECTIONS
  bool verify_tls = true;

  // Returns why the config is unusable (endpoint not scheme://host[:port] with http/https,
  // region empty or not [a-z0-9-], half a key pair, a connection limit < 1), or nullopt.
  std::optional<std::string> validate() const;
};

// Resolves an S3Config from flags (empty string = not given) and an environment (name -> value;
// pass environment_map() for the process environment; empty values count as unset). Sets
// endpoint (trailing '/' removed), region, credentials and endpoint_is_default of *out and
// keeps its other fields (addressing, connection limits, verify_tls). Returns an error message
// and leaves *out unchanged on failure: an invalid endpoint or region; only one of
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set; a credentials file that
// AWS_SHARED_CREDENTIALS_FILE names explicitly but that is missing or not valid INI; a profile
// that AWS_PROFILE names explicitly but the file lacks; a profile without both keys. A missing
// ~/.aws/credentials or a missing [default] section is not an error: anonymous.
std::optional<std::string> resolve_s3_config(const std::string& endpoint_flag,
                                             const std::string& region_flag,
                                             const std::map<std::string, std::string>& env,
                                             S3Config* out);

// The process environment as a map.
std::map<std::string, std::string> environment_map();

// The URL for `key` (raw, not encoded) in `bucket`, stored in *url; the key is percent-encoded
// once per RFC 3986 (Boost.URL's encode): unreserved characters and '/' are kept, every other
// byte becomes %XX with upper-case hex. A bucket in the path is encoded likewise, '/' included.
// kAuto uses virtual-host style only for endpoint_is_default and buckets that are one DNS label
// (base::is_dns_label_bucket: 3-63 of [a-z0-9-], starting and ending with a letter or digit; no
// dots: they break the wildcard TLS certificate). Returns nullopt on success; with kVirtual, a
// bucket that is not such a label is refused (a reason, *url unchanged): pasted into the host it
// could name another host or port. Callers answer kMalformed without sending anything.
std::optional<std::string> object_url(const S3Config& cfg, const std::string& bucket,
                                      const std::string& key, std::string* url);

// Query parameters (name, value), raw (not encoded).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// `params` as SigV4's canonical query string: every name and value percent-encoded (RFC 3986
// unreserved characters kept, every other byte %XX with upper-case hex, '/' and '=' included),
// sorted by encoded name, then value, joined "n=v&n2=v2" (an empty value keeps its '='). Sent
// as the URL's query it is exactly what gets signed: libcurl 7.88 signs the query as given.
std::string canonical_query(const QueryParams& params);

// The URL of `bucket` itself (ListObjects, ListObjectsV2), stored in *url: path style
// "endpoint/bucket", virtual-host style "scheme://bucket.host/" (chosen as for object_url),
// followed by "?" and canonical_query(query) when `query` is not empty. Refusals as
// object_url's.
std::optional<std::string> bucket_url(const S3Config& cfg, const std::string& bucket,
                                      const QueryParams& query, std::string* url);

}  // namespace shoal::origin
