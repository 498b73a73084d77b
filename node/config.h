// shoald's configuration: every command-line flag, its default, and validation.
//
// parse_command_line() turns argv into a NodeConfig, rejecting bad values with a message that
// names the flag (e.g. "--page-size: must be a power of two >= 64KiB, got 100000"). Origin
// settings (endpoint, region, credentials) are resolved from flags and the environment the AWS
// way (origin/s3_config.h). The flags are registered and converted in groups by area (client
// port, memory and pages, origin, TLS and admin, origin resilience, cluster, disk tier, logging
// and the config file) in node/config_flags.cc; NodeConfig::validate() checks the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/bucket_policy.h"
#include "node/forward_policy.h"
#include "node/store/disk_tier.h"
#include "origin/request_config.h"
#include "origin/s3_config.h"
#include "ring/base/log.h"

namespace shoal::node {

struct NodeConfig {
  std::string listen_host = "0.0.0.0";  // --listen HOST:PORT (client port)
  std::uint16_t listen_port = 8080;
  std::string node_id;                      // --node-id; default "<hostname>:<port>"
  std::uint64_t memory_bytes = 4ull << 30;  // --memory
  std::uint64_t page_size = 16ull << 20;    // --page-size
  int threads = 0;                          // --threads; 0 = one per core
  int readahead_pages = 4;                  // --readahead-pages: pages fetched ahead per response
  std::uint64_t header_limit = 16 * 1024;   // --max-header-bytes
  int max_header_fields = 100;              // --max-header-fields
  int max_connections = 10000;              // --max-connections: more are refused with 503
  int header_timeout_ms = 10000;            // --header-timeout-ms: whole header must arrive in this
  int max_origin_fetches = 256;             // --max-origin-fetches: misses in progress, else 503
  std::uint64_t max_inflight_bytes = 1ull << 30;  // --max-inflight-memory: their page buffers
  // --hot-copy-memory: the share of --memory for hot copies of pages other members own
  // (node/hot_copies.h); nullopt ("auto"): 1/8 of --memory. Only with --peer-listen.
  std::optional<std::uint64_t> hot_copy_memory;
  // The hot copies' bytes, taken out of --memory: 0 without --peer-listen or with
  // --hot-copy-memory 0; "auto" gives 1/8 of --memory, or 0 when that is less than a page.
  std::uint64_t hot_copy_bytes() const;
  int idle_timeout_ms = 60000;   // --idle-timeout-ms: keep-alive idle / header read
  int write_timeout_ms = 60000;  // --write-timeout-ms: a client must accept bytes this often
  // --client-send-buffer: the send buffer (SO_SNDBUF) of each client connection, by mode:
  //   kAuto ("auto", the default): kLocalClientSendBuffer for a client on this host (a loopback
  //     address, or the address it connected to: node/client_socket.h), where the reader shares
  //     the sender's caches and a fixed buffer measured faster (docs/benchmarks.md); the kernel's
  //     autotuning (net.ipv4.tcp_wmem) for every other client, which a fixed buffer would cap at
  //     about size/RTT;
  //   kKernel ("kernel"): the kernel's autotuning for every client;
  //   kFixed (a size): client_send_buffer bytes for every client.
  // The kernel doubles a size it is given and caps it at net.core.wmem_max.
  enum class SendBufferMode { kAuto, kKernel, kFixed };
  static constexpr std::uint64_t kLocalClientSendBuffer = 256 << 10;  // bytes
  SendBufferMode client_send_buffer_mode = SendBufferMode::kAuto;
  std::uint64_t client_send_buffer = 0;  // bytes, with kFixed only
  // The SO_SNDBUF in bytes to set on a connection from a client on this host (`local`) or not;
  // 0: leave the kernel's autotuning on. Pure; any thread.
  std::uint64_t client_send_buffer_for(bool local) const;
  int drain_notice_ms = 0;        // --drain-notice-ms: SIGTERM keeps serving this long at least
  int drain_timeout_ms = 30000;   // --drain-timeout-ms: then waits this long at most
  bool tls_self = false;          // --tls-self
  std::string tls_cert, tls_key;  // --tls-cert, --tls-key
  base::LogLevel log_level = base::LogLevel::kInfo;  // --log-level
  std::string admin_token_file;  // --admin-token-file: enables /admin/ (node/admin.h)
  origin::S3Config s3;           // --s3-endpoint, --s3-region, --s3-addressing, env

  // The S3-compatible port (enabled by --s3-api-listen; node/s3_api_response.h, docs/s3-api.md).
  std::string s3_api_listen;            // --s3-api-listen HOST:PORT (the --tls-* flags apply)
  std::string s3_api_host;              // from --s3-api-listen
  std::uint16_t s3_api_port = 0;        // from --s3-api-listen
  std::string s3_api_domain;            // --s3-api-domain: Host bucket.DOMAIN is virtual-hosted
  std::string s3_api_credentials_file;  // --s3-api-credentials-file (node/s3api/credentials.h)
  bool s3_api_anonymous = false;        // --s3-api-anonymous: unsigned requests may read
  std::uint64_t s3_api_max_write_bytes = 5ull << 30;  // --s3-api-max-write-size
  bool s3_api_enabled() const { return !s3_api_listen.empty(); }

  // Cluster (enabled by --peer-listen).
  std::string peer_listen;            // --peer-listen HOST:PORT (UDP + TCP)
  std::string peer_advertise;         // --peer-advertise HOST:PORT (default: bound address)
  std::string client_advertise;       // --client-advertise HOST:PORT (default: --listen)
  std::vector<std::string> seeds;     // --seed HOST:PORT, repeatable
  double weight = 1.0;                // --weight
  std::string cluster_key_file;       // --cluster-key-file
  bool insecure_peer = false;         // --insecure-peer: run the peer port without a key
  int probe_interval_ms = 1000;       // --probe-interval-ms (SWIM protocol period)
  int probe_timeout_ms = 500;         // --probe-timeout-ms
  int gossip_interval_ms = 200;       // --gossip-interval-ms
  int push_pull_interval_ms = 30000;  // --push-pull-interval-ms
  // Forward deadlines (node/forward_policy.h): first byte within the peer's p99, clamped.
  int forward_deadline_min_ms = 50;    // --forward-deadline-min-ms
  int forward_deadline_max_ms = 1000;  // --forward-deadline-max-ms
  int forward_stall_ms = 1000;         // --forward-stall-ms: most time between page frames
  ForwardDeadlineConfig forward_deadlines() const;
  bool cluster_enabled() const { return !peer_listen.empty(); }
  origin::RequestConfig origin_request;  // defaults for C0-Config keys

  // What clients may ask for (docs/operations.md, "Security").
  std::string bucket_policy_file;  // --bucket-policy-file: which buckets each kind may be read from
  bool trust_client_buckets = false;  // --trust-client-buckets: C0-Bucket may name any bucket
  BucketPolicy bucket_policy;         // loaded from the two above (node/bucket_policy.h)
  origin::ClientCaps client_caps;     // --max-client-timeout-ms, -attempts, -backoff-ms
  // The rules requests are held to (refers to this object's bucket_policy).
  FetchRules fetch_rules() const { return FetchRules{origin_request, client_caps, &bucket_policy}; }
  double hedge_quantile = 0.99;     // --hedge-quantile: hedge after this latency; 0: off
  double hedge_budget = 0.05;       // --hedge-budget: hedges per origin request (10 s window)
  int breaker_cooldown_ms = 30000;  // --breaker-cooldown-ms: open breaker -> half-open probe

  // Disk tier (enabled by --disk-path; node/store/disk_tier.h).
  std::string disk_path;  // --disk-path: directory, file or block device
  store::DeviceKind disk_kind = store::DeviceKind::kFile;  // --disk-kind fs|block
  std::uint64_t disk_capacity = 0;  // --disk-capacity; 0: 80% of the free space at the path
  // --disk-header-cache: RAM for verified slot headers kept in memory (DiskConfig::
  // header_cache_bytes, about 2.4 KiB per 16 MiB page on disk); 0 turns the cache off.
  std::uint64_t disk_header_cache = store::DiskConfig{}.header_cache_bytes;
  bool disk_enabled() const { return !disk_path.empty(); }
  // Page bytes of disk writes allowed to wait for an I/O thread (at least 16 pages); they are
  // held outside --memory until written (docs/configuration.md, "Disk tier").
  static constexpr std::uint64_t kMaxQueuedWriteBytes = 64ull << 20;
  // The disk tier's settings from the flags above and --page-size.
  store::DiskConfig disk_config() const;

  // Returns "--flag: reason" for the first invalid setting, or nullopt. Reads the files the
  // node needs before it opens a port (check_secret_files), so a bad one stops it at start.
  std::optional<std::string> validate() const;
  // Loads the TLS certificate and key, the admin token, (with --peer-listen) the cluster key and
  // the S3 port's credentials file as the server will; returns "--flag: reason" for the first that
  // fails, or nullopt.
  std::optional<std::string> check_secret_files() const;
  // The S3 port's flags: --s3-api-listen needs --s3-api-credentials-file or --s3-api-anonymous
  // and a port other than --listen's; the others need --s3-api-listen; --s3-api-domain is a DNS
  // name. "--flag: reason" or nullopt.
  std::optional<std::string> validate_s3_api() const;
  // Without --peer-listen: the first cluster flag whose value differs from its default (a
  // value that would be ignored), e.g. "--weight"; nullopt when none does.
  std::optional<std::string> cluster_flag_set() const;
};

struct ParseResult {
  std::optional<NodeConfig> config;  // set when the daemon should start
  int exit_code = 0;                 // otherwise exit with this (0 for --help/--version)
  std::string output;                // text to print (help, version or error)
};

ParseResult parse_command_line(int argc, const char* const* argv);

// A disk tier message ("field: reason" naming a store::DiskConfig field, node/store/disk_tier.h)
// with the flag that sets the field in its place: "capacity_bytes: ..." -> "--disk-capacity:
// ...". A message naming no such field is put under --disk-path.
std::string with_disk_flag(const std::string& message);

}  // namespace shoal::node
