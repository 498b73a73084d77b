#include "node/config.h"

#include <unistd.h>

#include <algorithm>

#include "node/admin_auth.h"
#include "node/s3api/credentials.h"
#include "node/tls.h"
#include "peer/auth.h"
#include "ring/base/host_port.h"
#include "ring/base/private_file.h"

namespace shoal::node {
namespace {

// "FLAG: reason" when the secret file `path` (if given) cannot be read or could be written by
// someone but this user or root (base::read_private_file), so shoald stops before any port opens.
std::optional<std::string> check_secret_file(const char* flag, const std::string& path) {
  if (path.empty()) return std::nullopt;
  constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;
  std::string contents;
  if (auto reason = base::read_private_file(path, kMaxSecretFileBytes, &contents)) {
    return std::string(flag) + ": " + *reason;
  }
  return std::nullopt;
}

// A DNS name: 1-253 characters of [a-z0-9.-], no empty label, no label starting or ending with
// '-'.
bool dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.') return false;
  char prev = '.';
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok || (c == '.' && (prev == '.' || prev == '-')) || (c == '-' && prev == '.')) {
      return false;
    }
    prev = c;
  }
  return prev != '-';
}

}  // namespace

std::optional<std::string> NodeConfig::validate() const {
  if (page_size < (64ull << 10) || (page_size & (page_size - 1)) != 0) {
    return "--page-size: must be a power of two >= 64KiB, got " + std::to_string(page_size);
  }
  if (memory_bytes < page_size) {
    return "--memory: must hold at least one page (" + std::to_string(page_size) + " bytes)";
  }
  if (threads < 0 || threads > 256) return "--threads: must be in [0, 256]";
  if (readahead_pages < 1 || readahead_pages > 64) return "--readahead-pages: must be in [1, 64]";
  if (header_limit < 1024 || header_limit > (1u << 20)) {
    return "--max-header-bytes: must be in [1KiB, 1MiB]";
  }
  if (idle_timeout_ms < 100) return "--idle-timeout-ms: must be >= 100";
  if (header_timeout_ms < 100) return "--header-timeout-ms: must be >= 100";
  if (max_header_fields < 8 || max_header_fields > 10000) {
    return "--max-header-fields: must be in [8, 10000]";
  }
  if (max_connections < 1) return "--max-connections: must be >= 1";
  if (max_origin_fetches < 1) return "--max-origin-fetches: must be >= 1";
  if (max_inflight_bytes < page_size) {
    return "--max-inflight-memory: must hold at least one page (" + std::to_string(page_size) +
           " bytes)";
  }
  if (write_timeout_ms < 100) return "--write-timeout-ms: must be >= 100";
  if (client_send_buffer_mode == SendBufferMode::kFixed &&
      (client_send_buffer < (4u << 10) || client_send_buffer > (64u << 20))) {
    return "--client-send-buffer: must be auto, kernel or a size in [4KiB, 64MiB]";
  }
  if (drain_timeout_ms < 0) return "--drain-timeout-ms: must be >= 0";
  if (drain_notice_ms < 0 || drain_notice_ms > 600'000) {
    return "--drain-notice-ms: must be in [0, 600000]";
  }
  if (tls_self && (!tls_cert.empty() || !tls_key.empty())) {
    return "--tls-self: cannot be combined with --tls-cert/--tls-key";
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return tls_cert.empty() ? "--tls-key: requires --tls-cert" : "--tls-cert: requires --tls-key";
  }
  if (tls_cert.size() && access(tls_cert.c_str(), R_OK) != 0) {
    return "--tls-cert: cannot read " + tls_cert;
  }
  if (tls_key.size() && access(tls_key.c_str(), R_OK) != 0) {
    return "--tls-key: cannot read " + tls_key;
  }
  if (auto e = check_secret_file("--admin-token-file", admin_token_file)) return e;
  if (auto e = check_secret_files()) return e;
  if (auto e = origin_request.validate()) return *e;
  if (auto e = client_caps.validate(origin_request)) return *e;
  if (trust_client_buckets && !bucket_policy_file.empty()) {
    return "--trust-client-buckets: cannot be combined with --bucket-policy-file";
  }
  if (!(hedge_quantile >= 0 && hedge_quantile < 1)) {
    return "--hedge-quantile: must be 0 (off) or in (0, 1), got " + std::to_string(hedge_quantile);
  }
  if (!(hedge_budget >= 0 && hedge_budget <= 1)) {
    return "--hedge-budget: must be in [0, 1] (or 0%-100%), got " + std::to_string(hedge_budget);
  }
  if (breaker_cooldown_ms < 1 || breaker_cooldown_ms > 3'600'000) {
    return "--breaker-cooldown-ms: must be in [1, 3600000]";
  }
  if (cluster_enabled()) {
    if (!base::split_host_port(peer_listen)) return "--peer-listen: expected HOST:PORT";
    if (!peer_advertise.empty() && !base::split_host_port(peer_advertise)) {
      return "--peer-advertise: expected HOST:PORT";
    }
    if (!client_advertise.empty() && !base::split_host_port(client_advertise)) {
      return "--client-advertise: expected HOST:PORT";
    }
    for (const auto& seed : seeds) {
      if (!base::split_host_port(seed)) return "--seed: expected HOST:PORT, got '" + seed + "'";
    }
    if (!(weight == 0 || (weight >= 1e-6 && weight <= 1e15))) {
      return "--weight: must be 0 or in [1e-6, 1e15]";
    }
    if (cluster_key_file.empty() && !insecure_peer) {
      return "--cluster-key-file: required with --peer-listen (or --insecure-peer to run the "
             "peer port unauthenticated)";
    }
    if (auto e = check_secret_file("--cluster-key-file", cluster_key_file)) return e;
    if (probe_interval_ms < 10) return "--probe-interval-ms: must be >= 10";
    if (probe_timeout_ms < 5 || probe_timeout_ms >= probe_interval_ms) {
      return "--probe-timeout-ms: must be >= 5 and below --probe-interval-ms";
    }
    if (gossip_interval_ms < 5) return "--gossip-interval-ms: must be >= 5";
    if (push_pull_interval_ms < 100) return "--push-pull-interval-ms: must be >= 100";
    if (auto e = forward_deadlines().validate()) return e;
    if (hot_copy_memory && *hot_copy_memory != 0 &&
        (*hot_copy_memory < page_size || *hot_copy_memory > memory_bytes - page_size)) {
      return "--hot-copy-memory: must be 0 (off), or at least one page (" +
             std::to_string(page_size) + " bytes) and leave --memory at least one page, got " +
             std::to_string(*hot_copy_memory);
    }
  } else if (auto flag = cluster_flag_set()) {
    return *flag + ": needs --peer-listen";
  }
  if (disk_enabled()) {
    if (auto e = disk_config().validate()) return with_disk_flag(*e);
  } else if (disk_capacity != 0) {
    return "--disk-capacity: needs --disk-path";
  } else if (disk_kind != store::DeviceKind::kFile) {
    return "--disk-kind: needs --disk-path";
  } else if (disk_header_cache != store::DiskConfig{}.header_cache_bytes) {
    return "--disk-header-cache: needs --disk-path";
  }
  if (auto e = validate_s3_api()) return e;
  if (auto e = s3.validate()) return "--s3-endpoint: " + *e;
  return std::nullopt;
}

std::optional<std::string> NodeConfig::validate_s3_api() const {
  if (!s3_api_enabled()) {
    if (!s3_api_credentials_file.empty()) return "--s3-api-credentials-file: needs --s3-api-listen";
    if (s3_api_anonymous) return "--s3-api-anonymous: needs --s3-api-listen";
    if (!s3_api_domain.empty()) return "--s3-api-domain: needs --s3-api-listen";
    return std::nullopt;
  }
  if (s3_api_credentials_file.empty() && !s3_api_anonymous) {
    return "--s3-api-listen: needs --s3-api-credentials-file (signed requests) or "
           "--s3-api-anonymous (unsigned reads), or both";
  }
  if (s3_api_host == listen_host && s3_api_port == listen_port && s3_api_port != 0) {
    return "--s3-api-listen: must differ from --listen";
  }
  if (!s3_api_domain.empty() && !dns_name(s3_api_domain)) {
    return "--s3-api-domain: expected a DNS name such as s3.example.com, got '" + s3_api_domain +
           "'";
  }
  return std::nullopt;
}

// The files whose contents the node needs before it opens a port, read as the server will read
// them: the TLS certificate and key, the admin token, the cluster key.
std::optional<std::string> NodeConfig::check_secret_files() const {
  if (!tls_cert.empty()) {
    std::optional<boost::asio::ssl::context> tls;
    if (auto e = make_tls_context(false, tls_cert, tls_key, listen_host, &tls)) return e;
  }
  std::string error;
  if (!admin_token_file.empty() && !load_admin_token(admin_token_file, &error)) {
    return "--admin-token-file: " + error;
  }
  if (cluster_enabled() && !cluster_key_file.empty() &&
      !peer::ClusterKey::load_file(cluster_key_file, &error)) {
    return "--cluster-key-file: " + error;
  }
  if (!s3_api_credentials_file.empty() &&
      !s3api::CredentialStore::load_file(s3_api_credentials_file, &error)) {
    return "--s3-api-credentials-file: " + error;
  }
  return std::nullopt;
}

std::uint64_t NodeConfig::client_send_buffer_for(bool local) const {
  switch (client_send_buffer_mode) {
    case SendBufferMode::kAuto:
      return local ? kLocalClientSendBuffer : 0;
    case SendBufferMode::kKernel:
      return 0;
    case SendBufferMode::kFixed:
      return client_send_buffer;
  }
  return 0;
}

std::uint64_t NodeConfig::hot_copy_bytes() const {
  if (!cluster_enabled()) return 0;
  if (hot_copy_memory) return *hot_copy_memory;
  const std::uint64_t eighth = memory_bytes / 8;
  return eighth >= page_size ? eighth : 0;
}

std::optional<std::string> NodeConfig::cluster_flag_set() const {
  const NodeConfig d;
  if (!seeds.empty()) return "--seed";
  if (!peer_advertise.empty()) return "--peer-advertise";
  if (!client_advertise.empty()) return "--client-advertise";
  if (weight != d.weight) return "--weight";
  if (!cluster_key_file.empty()) return "--cluster-key-file";
  if (insecure_peer) return "--insecure-peer";
  if (probe_interval_ms != d.probe_interval_ms) return "--probe-interval-ms";
  if (probe_timeout_ms != d.probe_timeout_ms) return "--probe-timeout-ms";
  if (gossip_interval_ms != d.gossip_interval_ms) return "--gossip-interval-ms";
  if (push_pull_interval_ms != d.push_pull_interval_ms) return "--push-pull-interval-ms";
  if (forward_deadline_min_ms != d.forward_deadline_min_ms) return "--forward-deadline-min-ms";
  if (forward_deadline_max_ms != d.forward_deadline_max_ms) return "--forward-deadline-max-ms";
  if (forward_stall_ms != d.forward_stall_ms) return "--forward-stall-ms";
  if (hot_copy_memory) return "--hot-copy-memory";
  return std::nullopt;
}

ForwardDeadlineConfig NodeConfig::forward_deadlines() const {
  ForwardDeadlineConfig c;
  c.floor = std::chrono::milliseconds(forward_deadline_min_ms);
  c.ceiling = std::chrono::milliseconds(forward_deadline_max_ms);
  c.stall = std::chrono::milliseconds(forward_stall_ms);
  return c;
}

std::string with_disk_flag(const std::string& message) {
  static constexpr std::pair<std::string_view, std::string_view> kFlags[] = {
      {"path", "--disk-path"},
      {"kind", "--disk-kind"},
      {"capacity_bytes", "--disk-capacity"},
      {"header_cache_bytes", "--disk-header-cache"},
      {"page_size", "--page-size"}};
  const std::string_view m = message;
  for (const auto& [field, flag] : kFlags) {
    if (m.starts_with(field) && m.substr(field.size()).starts_with(": ")) {
      return std::string(flag) + message.substr(field.size());
    }
  }
  return "--disk-path: " + message;
}

store::DiskConfig NodeConfig::disk_config() const {
  store::DiskConfig c;
  c.path = disk_path;
  c.kind = disk_kind;
  c.capacity_bytes = disk_capacity;
  c.header_cache_bytes = disk_header_cache;
  c.page_size = page_size;
  // Writes waiting for an I/O thread pin their pages outside the memory budget: allow 64 MiB of
  // them (at least 16 pages), so small pages do not see spills refused while a burst of
  // evictions drains (16 pages of 64 KiB was 1 MiB, refused under load).
  c.max_queued_writes = std::max<std::size_t>(16, kMaxQueuedWriteBytes / page_size);
  return c;
}

}  // namespace shoal::node
