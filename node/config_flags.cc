// parse_command_line() (node/config.h): shoald's flags in groups by area. Each group registers
// its CLI11 options (plain values straight into the NodeConfig, values that need converting into
// its own strings) and, after parsing, converts its strings, returning "--flag: reason" for the
// first bad one. --help lists the flags in the order the groups register them.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "node/config.h"
#include "node/config_file.h"
#include "ring/base/host_port.h"
#include "ring/base/size.h"

namespace shoal::node {
namespace {

using Error = std::optional<std::string>;

// Parses a size flag value; returns an error naming the flag.
Error size_flag(const std::string& flag, const std::string& text, std::uint64_t* out) {
  auto v = base::parse_size(text);
  if (!v) return flag + ": not a size (examples: 512MiB, 2GB, 1.5GiB), got '" + text + "'";
  *out = *v;
  return std::nullopt;
}

// Parses a plain decimal number ("0.99"), or with `percent` also "5%" (= 0.05); returns an error
// naming the flag. Range checks are NodeConfig::validate()'s.
Error fraction_flag(const std::string& flag, const std::string& text, bool percent, double* out) {
  std::string_view digits = text;
  const bool is_percent = percent && !digits.empty() && digits.back() == '%';
  if (is_percent) digits.remove_suffix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return flag + ": not a number" + (percent ? " or percentage (0.05, 5%)" : std::string()) +
           ", got '" + text + "'";
  }
  *out = is_percent ? v / 100 : v;
  return std::nullopt;
}

std::string default_node_id(std::uint16_t port) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + std::to_string(port);
}

// Logging and the configuration file: --config, --print-config, --log-level.
struct ProcessFlags {
  bool print_config = false;
  std::string log_level = "info";

  void add(CLI::App& app) {
    // --config FILE: JSON, keys are flag names (node/config_file.h); the command line wins.
    app.config_formatter(std::make_shared<JsonConfigFile>());
    app.set_config("--config", "",
                   "JSON file of flag values (keys: flag names without '--'); flags given on the "
                   "command line win");
    app.allow_config_extras(CLI::config_extras_mode::error);
    app.add_flag("--print-config", print_config,
                 "Print the effective configuration as JSON (secrets masked) and exit")
        ->configurable(false);
    app.add_option("--log-level", log_level, "error, warn, info or debug")->capture_default_str();
  }

  Error apply(NodeConfig& cfg) const {
    auto level = base::parse_log_level(log_level);
    if (!level) return "--log-level: expected error, warn, info or debug, got '" + log_level + "'";
    cfg.log_level = *level;
    return std::nullopt;
  }
};

// The client port: its address, the node id, threads, per-connection limits and drain.
struct ClientFlags {
  std::string listen = "0.0.0.0:8080";
  std::string send_buffer = "auto";

  void add(CLI::App& app, NodeConfig& cfg) {
    app.add_option("--listen", listen, "Client address HOST:PORT")->capture_default_str();
    app.add_option("--node-id", cfg.node_id, "Stable node id (default: HOSTNAME:PORT)");
    app.add_option("--threads", cfg.threads, "Event-loop threads (0 = one per core)")
        ->capture_default_str();
    app.add_option("--readahead-pages", cfg.readahead_pages,
                   "Pages fetched ahead of the one being sent, per response")
        ->capture_default_str();
    app.add_option("--max-header-bytes", cfg.header_limit, "Largest request header accepted")
        ->capture_default_str();
    app.add_option("--max-header-fields", cfg.max_header_fields,
                   "Most request header fields accepted (more: 431)")
        ->capture_default_str();
    app.add_option("--max-connections", cfg.max_connections,
                   "Most open client connections; more are answered 503 and closed")
        ->capture_default_str();
    app.add_option("--header-timeout-ms", cfg.header_timeout_ms,
                   "Close a connection whose request header takes longer than this to arrive")
        ->capture_default_str();
    app.add_option("--idle-timeout-ms", cfg.idle_timeout_ms,
                   "Close a keep-alive connection idle this long")
        ->capture_default_str();
    app.add_option("--write-timeout-ms", cfg.write_timeout_ms,
                   "Close a connection whose client accepts no bytes this long")
        ->capture_default_str();
    app.add_option("--client-send-buffer", send_buffer,
                   "Send buffer of each client connection (SO_SNDBUF); auto: 256KiB for clients "
                   "on this host, the kernel's autotuning for others; kernel: the kernel's "
                   "autotuning for all; a size (e.g. 256KiB): that for all, which over a network "
                   "caps a connection at size/RTT")
        ->capture_default_str();
    app.add_option("--drain-notice-ms", cfg.drain_notice_ms,
                   "On SIGTERM, keep serving (and /stats saying \"draining\": true) this long "
                   "at least, for load balancers' health checks")
        ->capture_default_str();
    app.add_option("--drain-timeout-ms", cfg.drain_timeout_ms,
                   "On SIGTERM, then wait this long at most for in-flight requests")
        ->capture_default_str();
  }

  // --listen, then the default node id (which names the port).
  Error apply(NodeConfig& cfg) const {
    auto hp = base::split_host_port(listen);
    if (!hp) return "--listen: expected HOST:PORT, got '" + listen + "'";
    cfg.listen_host = hp->host;
    cfg.listen_port = hp->port;
    if (cfg.node_id.empty()) cfg.node_id = default_node_id(cfg.listen_port);
    using Mode = NodeConfig::SendBufferMode;
    if (send_buffer == "auto") {
      cfg.client_send_buffer_mode = Mode::kAuto;
    } else if (send_buffer == "kernel") {
      cfg.client_send_buffer_mode = Mode::kKernel;
    } else {
      if (auto e = size_flag("--client-send-buffer", send_buffer, &cfg.client_send_buffer)) {
        return e;
      }
      // 0 meant the kernel's autotuning before "kernel" existed.
      cfg.client_send_buffer_mode = cfg.client_send_buffer == 0 ? Mode::kKernel : Mode::kFixed;
    }
    return std::nullopt;
  }
};

// Memory and pages: the memory tier, the page size and the budget of fetches in progress.
struct MemoryFlags {
  std::string memory = "4GiB", page_size = "16MiB", inflight_memory = "1GiB";
  std::string hot_copy_memory = "auto";

  void add(CLI::App& app, NodeConfig& cfg) {
    app.add_option("--memory", memory, "Memory tier budget (e.g. 512MiB, 2GB, 1.5GiB)")
        ->capture_default_str();
    app.add_option("--page-size", page_size, "Page size, a power of two >= 64KiB")
        ->capture_default_str();
    app.add_option("--max-origin-fetches", cfg.max_origin_fetches,
                   "Most page fetches from the origin in progress; more misses get 503")
        ->capture_default_str();
    app.add_option("--max-inflight-memory", inflight_memory,
                   "Budget for page buffers of fetches in progress, apart from --memory")
        ->capture_default_str();
    app.add_option("--hot-copy-memory", hot_copy_memory,
                   "Share of --memory for copies of hot pages other members own (with "
                   "--peer-listen); auto: 1/8 of --memory; 0: no copies")
        ->capture_default_str();
  }

  Error apply(NodeConfig& cfg) const {
    if (auto e = size_flag("--memory", memory, &cfg.memory_bytes)) return e;
    if (auto e = size_flag("--page-size", page_size, &cfg.page_size)) return e;
    if (auto e = size_flag("--max-inflight-memory", inflight_memory, &cfg.max_inflight_bytes)) {
      return e;
    }
    if (hot_copy_memory == "auto") return std::nullopt;
    std::uint64_t bytes = 0;
    if (auto e = size_flag("--hot-copy-memory", hot_copy_memory, &bytes)) return e;
    cfg.hot_copy_memory = bytes;
    return std::nullopt;
  }
};

// The origin: S3 endpoint, region and addressing (credentials come from the environment).
struct OriginFlags {
  std::string endpoint, region, addressing = "auto";

  void add(CLI::App& app) {
    app.add_option("--s3-endpoint", endpoint,
                   "S3 endpoint URL (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS's)");
    app.add_option("--s3-region", region, "S3 region (else AWS_REGION, AWS_DEFAULT_REGION)");
    app.add_option("--s3-addressing", addressing, "auto, path or virtual")->capture_default_str();
  }

  Error apply(NodeConfig& cfg) const {
    if (auto e = origin::resolve_s3_config(endpoint, region, origin::environment_map(), &cfg.s3)) {
      return "--s3-endpoint: " + *e;
    }
    if (addressing == "auto") {
      cfg.s3.addressing = origin::Addressing::kAuto;
    } else if (addressing == "path") {
      cfg.s3.addressing = origin::Addressing::kPath;
    } else if (addressing == "virtual") {
      cfg.s3.addressing = origin::Addressing::kVirtual;
    } else {
      return "--s3-addressing: expected auto, path or virtual, got '" + addressing + "'";
    }
    return std::nullopt;
  }
};

// TLS on the client port and the admin API's token: values taken as given (validate() checks
// that the files can be read).
struct SecurityFlags {
  void add(CLI::App& app, NodeConfig& cfg) {
    app.add_flag("--tls-self", cfg.tls_self,
                 "Serve HTTPS with a generated self-signed certificate");
    app.add_option("--tls-cert", cfg.tls_cert, "TLS certificate chain (PEM); needs --tls-key");
    app.add_option("--tls-key", cfg.tls_key, "TLS private key (PEM); needs --tls-cert");
    app.add_option("--admin-token-file", cfg.admin_token_file,
                   "Bearer token for the /admin/ API (shoalctl); without it /admin/ answers 403");
  }
};

// The S3-compatible port: --s3-api-listen (converted here), its domain and who may call it.
struct S3ApiFlags {
  std::string max_write;
  void add(CLI::App& app, NodeConfig& cfg) {
    app.add_option("--s3-api-listen", cfg.s3_api_listen,
                   "S3-compatible port HOST:PORT (GetObject/HeadObject through the cache; the "
                   "--tls-* flags apply)");
    app.add_option("--s3-api-domain", cfg.s3_api_domain,
                   "Domain of virtual-hosted requests on the S3 port (Host: BUCKET.DOMAIN)");
    app.add_option("--s3-api-credentials-file", cfg.s3_api_credentials_file,
                   "JSON file: access key ids, secrets and buckets of S3 port callers");
    app.add_flag("--s3-api-anonymous", cfg.s3_api_anonymous,
                 "The S3 port accepts unsigned requests (reads only)");
    app.add_option("--s3-api-max-write-size", max_write,
                   "Largest request body a write through the S3 port may carry (default 5GiB, "
                   "S3's PutObject limit)");
  }

  Error apply(NodeConfig& cfg) {
    if (!max_write.empty()) {
      if (auto e = size_flag("--s3-api-max-write-size", max_write, &cfg.s3_api_max_write_bytes)) {
        return e;
      }
    }
    if (cfg.s3_api_listen.empty()) return std::nullopt;
    auto hp = base::split_host_port(cfg.s3_api_listen);
    if (!hp) return "--s3-api-listen: expected HOST:PORT, got '" + cfg.s3_api_listen + "'";
    cfg.s3_api_host = hp->host;
    cfg.s3_api_port = hp->port;
    return std::nullopt;
  }
};

// What clients may ask for: the bucket policy and the caps on C0-Config (docs/operations.md,
// "Security").
struct ClientTrustFlags {
  int max_timeout_ms = 60000, max_attempts = 5, max_backoff_ms = 5000;

  void add(CLI::App& app, NodeConfig& cfg) {
    app.add_option("--bucket-policy-file", cfg.bucket_policy_file,
                   "JSON file: the buckets each kind may be read from (C0-Bucket may only "
                   "choose among them)");
    app.add_flag("--trust-client-buckets", cfg.trust_client_buckets,
                 "Without a policy, let C0-Bucket name any bucket (any client can then fill the "
                 "cache from any bucket the node can read)");
    app.add_option("--max-client-timeout-ms", max_timeout_ms,
                   "Highest C0-Config timeout (ct, rt, oat, ot) a client gets; above is lowered")
        ->capture_default_str();
    app.add_option("--max-client-attempts", max_attempts,
                   "Highest C0-Config ma (attempts per page) a client gets; above is lowered")
        ->capture_default_str();
    app.add_option("--max-client-backoff-ms", max_backoff_ms,
                   "Highest C0-Config backoff (ib, mb) a client gets; above is lowered")
        ->capture_default_str();
  }

  // The caps (range checks are NodeConfig::validate()'s), then the policy file.
  Error apply(NodeConfig& cfg) const {
    cfg.client_caps.max_timeout = std::chrono::milliseconds(max_timeout_ms);
    cfg.client_caps.max_attempts = max_attempts;
    cfg.client_caps.max_backoff = std::chrono::milliseconds(max_backoff_ms);
    if (cfg.trust_client_buckets) cfg.bucket_policy = BucketPolicy::trust_client();
    if (cfg.bucket_policy_file.empty()) return std::nullopt;
    std::string error;
    auto policy = BucketPolicy::load_file(cfg.bucket_policy_file, &error);
    if (!policy) return "--bucket-policy-file: " + error;
    cfg.bucket_policy = std::move(*policy);
    return std::nullopt;
  }
};

// Origin resilience: hedging and the circuit breaker.
struct ResilienceFlags {
  std::string hedge_quantile = "0.99", hedge_budget = "5%";

  void add(CLI::App& app, NodeConfig& cfg) {
    app.add_option("--hedge-quantile", hedge_quantile,
                   "Hedge a page fetch once it runs longer than this latency quantile of its "
                   "bucket (0 disables)")
        ->capture_default_str();
    app.add_option("--hedge-budget", hedge_budget,
                   "Most hedges, as a share of origin requests over 10 s (0.05 or 5%)")
        ->capture_default_str();
    app.add_option("--breaker-cooldown-ms", cfg.breaker_cooldown_ms,
                   "How long a bucket's open circuit breaker waits before a probe")
        ->capture_default_str();
  }

  Error apply(NodeConfig& cfg) const {
    if (auto e = fraction_flag("--hedge-quantile", hedge_quantile, false, &cfg.hedge_quantile)) {
      return e;
    }
    return fraction_flag("--hedge-budget", hedge_budget, true, &cfg.hedge_budget);
  }
};

// The cluster: the peer port, seeds, weight, key and SWIM timings (checked by validate()).
struct ClusterFlags {
  void add(CLI::App& app, NodeConfig& cfg) {
    app.add_option("--peer-listen", cfg.peer_listen,
                   "Peer address HOST:PORT (UDP+TCP); enables the cluster");
    app.add_option("--peer-advertise", cfg.peer_advertise,
                   "Peer address other members use (default: the bound address)");
    app.add_option("--client-advertise", cfg.client_advertise,
                   "Client address other members and routers use (default: --listen)");
    app.add_option("--seed", cfg.seeds, "A member to join through, HOST:PORT (repeatable)");
    app.add_option("--weight", cfg.weight, "Share of pages this node owns, relative to others")
        ->capture_default_str();
    app.add_option("--cluster-key-file", cfg.cluster_key_file,
                   "Secret that authenticates peer packets and encrypts peer frames (AES-256-GCM)");
    app.add_flag("--insecure-peer", cfg.insecure_peer,
                 "Run the peer port without authentication (tests and trusted networks only)");
    app.add_option("--probe-interval-ms", cfg.probe_interval_ms, "SWIM protocol period")
        ->capture_default_str();
    app.add_option("--probe-timeout-ms", cfg.probe_timeout_ms, "SWIM direct probe timeout")
        ->capture_default_str();
    app.add_option("--gossip-interval-ms", cfg.gossip_interval_ms, "Gossip period")
        ->capture_default_str();
    app.add_option("--push-pull-interval-ms", cfg.push_pull_interval_ms,
                   "Full state sync period (TCP)")
        ->capture_default_str();
    app.add_option("--forward-deadline-min-ms", cfg.forward_deadline_min_ms,
                   "Least first-byte deadline of a forward (the peer's p99 is clamped to it)")
        ->capture_default_str();
    app.add_option("--forward-deadline-max-ms", cfg.forward_deadline_max_ms,
                   "Most first-byte deadline of a forward; a forward this slow is always hedged")
        ->capture_default_str();
    app.add_option("--forward-stall-ms", cfg.forward_stall_ms,
                   "A forwarded page stream silent this long is resumed from the next member")
        ->capture_default_str();
  }
};

// The disk tier: path, kind, capacity and the header cache.
struct DiskFlags {
  std::string kind = "fs", capacity,
              header_cache = base::format_size(store::DiskConfig{}.header_cache_bytes);

  void add(CLI::App& app, NodeConfig& cfg) {
    app.add_option("--disk-path", cfg.disk_path,
                   "Disk tier: a directory (file shoal.slots in it), a file, or a block device; "
                   "without it the node is memory-only");
    app.add_option("--disk-kind", kind, "fs (directory or file) or block (a block device)")
        ->capture_default_str();
    app.add_option("--disk-capacity", capacity,
                   "Disk tier size (e.g. 100GiB); default 80% of the free space at --disk-path");
    app.add_option("--disk-header-cache", header_cache,
                   "RAM for the disk tier's verified slot headers, so a disk hit reads only its "
                   "payload blocks (about 2.4KiB per 16MiB page: 16MiB covers about 110GiB of "
                   "pages); outside --memory; 0 turns it off")
        ->capture_default_str();
  }

  Error apply(NodeConfig& cfg) const {
    if (!capacity.empty()) {
      if (auto e = size_flag("--disk-capacity", capacity, &cfg.disk_capacity)) return e;
      if (cfg.disk_capacity == 0) return std::string("--disk-capacity: must be above 0");
    }
    if (auto e = size_flag("--disk-header-cache", header_cache, &cfg.disk_header_cache)) return e;
    if (kind == "fs") {
      cfg.disk_kind = store::DeviceKind::kFile;
    } else if (kind == "block") {
      cfg.disk_kind = store::DeviceKind::kBlock;
    } else {
      return "--disk-kind: expected fs or block, got '" + kind + "'";
    }
    return std::nullopt;
  }
};

// A ParseResult for CLI11's own exceptions: help, version, or a parse error (exit 2).
ParseResult parse_error_result(const CLI::App& app, const CLI::ParseError& e) {
  ParseResult r;
  r.exit_code = e.get_exit_code();
  if (e.get_name() == "CallForHelp" || e.get_name() == "CallForAllHelp") {
    r.output = app.help();
  } else if (e.get_name() == "CallForVersion") {
    r.output = std::string("shoald ") + SHOAL_VERSION + "\n";
  } else {
    r.exit_code = 2;
    // CLI11 names an unknown config key "INI was not able to parse KEY".
    static constexpr std::string_view kUnknown = "INI was not able to parse ";
    const std::string what = e.what();
    r.output = what.starts_with(kUnknown)
                   ? "shoald: --config: unknown key '" + what.substr(kUnknown.size()) + "'\n"
                   : "shoald: " + what + "\n";
  }
  return r;
}

}  // namespace

ParseResult parse_command_line(int argc, const char* const* argv) {
  CLI::App app{
      "shoald: a node of Shoal, a distributed read-through cache for object storage.\n"
      "Serves GET|HEAD /fetch/{kind}/{object} with a Range, /stats and /metrics."};
  app.set_version_flag("-V,--version", std::string("shoald ") + SHOAL_VERSION);
  NodeConfig cfg;
  ProcessFlags process;
  ClientFlags client;
  MemoryFlags memory;
  OriginFlags origin;
  SecurityFlags security;
  S3ApiFlags s3_api;
  ClientTrustFlags trust;
  ResilienceFlags resilience;
  ClusterFlags cluster;
  DiskFlags disk;
  process.add(app);
  client.add(app, cfg);
  memory.add(app, cfg);
  origin.add(app);
  security.add(app, cfg);
  s3_api.add(app, cfg);
  trust.add(app, cfg);
  resilience.add(app, cfg);
  cluster.add(app, cfg);
  disk.add(app, cfg);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return parse_error_result(app, e);
  }
  auto fail = [](const std::string& msg) {
    ParseResult r;
    r.exit_code = 2;
    r.output = "shoald: " + msg + "\n";
    return r;
  };
  // The first bad value is reported, checked in this order; the S3 settings last, as resolving
  // them reads the environment and the credentials file.
  if (auto e = client.apply(cfg)) return fail(*e);
  if (auto e = memory.apply(cfg)) return fail(*e);
  if (auto e = disk.apply(cfg)) return fail(*e);
  if (auto e = resilience.apply(cfg)) return fail(*e);
  if (auto e = trust.apply(cfg)) return fail(*e);
  if (auto e = s3_api.apply(cfg)) return fail(*e);
  if (auto e = process.apply(cfg)) return fail(*e);
  if (auto e = origin.apply(cfg)) return fail(*e);
  if (auto e = cfg.validate()) return fail(*e);
  ParseResult r;
  if (process.print_config) {
    // The endpoint as resolved, also AWS's own: given back as --s3-endpoint it is still
    // recognised as AWS's (origin/s3_config.h), so the output gives the same node.
    std::map<std::string, nlohmann::json> resolved = {
        {"node-id", cfg.node_id}, {"s3-region", cfg.s3.region}, {"s3-endpoint", cfg.s3.endpoint}};
    r.output = effective_config(app, resolved).dump(2) + "\n";
    return r;
  }
  r.config = std::move(cfg);
  return r;
}

}  // namespace shoal::node
