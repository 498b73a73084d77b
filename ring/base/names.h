// The names every input path shares: buckets, kinds and object keys. One rule each, applied
// wherever a name comes in (the client port's path and C0-Bucket, peer frames, the admin API,
// the bucket policy file), so a name that would change the origin request we send (a host, a
// port, a path segment) never reaches origin/.
//
// Bucket (Amazon S3's naming rules for general purpose buckets): 3-63 characters of lowercase
// letters, digits, '.' and '-'; starts and ends with a letter or digit; no ".."; not formatted
// as an IPv4 address ("192.168.5.4"); no "xn--" or "sthree-" prefix; no "-s3alias" or "--ol-s3"
// suffix. Legacy names (upper case, '_', longer than 63) are refused.
//
// Kind (the name of a set of buckets, the first segment of /fetch/{kind}/...): 1..kMaxKindBytes
// (64) characters of letters, digits, '.', '_' and '-', starting and ending with a letter or
// digit (so never "." or ".."). Every valid bucket name is a valid kind.
//
// Object key: 1..kMaxObjectBytes (1024) bytes of valid UTF-8 without control characters
// (0x00-0x1F, 0x7F), and no "." or ".." segment between '/'s: an origin that normalises paths
// would read another key ("a/../b" is "b"), and "./x" would be a second cache entry for "x".
// Empty segments ("a//b", a leading or trailing '/') are allowed: S3 keeps them as they are.
//
// Thread-safe: pure functions. Reasons are one line and never echo the name's bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ring/base/page_key.h"

namespace shoal::base {

// Why `name` is not a valid bucket name ("bucket name must be 3-63 characters, got 2"), or
// nullopt.
std::optional<std::string> check_bucket(std::string_view name);

// Why `kind` is not a valid kind ("kind must be 1-64 bytes, got 65"), or nullopt.
std::optional<std::string> check_kind(std::string_view kind);

// Why `object` is not a valid object key ("object has a '..' segment"), or nullopt.
std::optional<std::string> check_object(std::string_view object);

// True when `name` is a DNS label that can stand in front of an endpoint's host name with a
// wildcard TLS certificate (S3's virtual-host style): 3-63 characters of [a-z0-9-], starting and
// ending with a letter or digit. A valid bucket name with a '.' is not one.
bool is_dns_label_bucket(std::string_view name);

}  // namespace shoal::base
