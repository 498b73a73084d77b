#include "node/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>

#include "node/config_file.h"
#include "ring/base/host_port.h"
#include "ring/base/size.h"

namespace shoal::node {

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
  if (drain_timeout_ms < 0) return "--drain-timeout-ms: must be >= 0";
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
  if (!admin_token_file.empty() && access(admin_token_file.c_str(), R_OK) != 0) {
    return "--admin-token-file: cannot read " + admin_token_file;
  }
  if (auto e = origin_request.validate()) return *e;
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
    if (probe_interval_ms < 10) return "--probe-interval-ms: must be >= 10";
    if (probe_timeout_ms < 5 || probe_timeout_ms >= probe_interval_ms) {
      return "--probe-timeout-ms: must be >= 5 and below --probe-interval-ms";
    }
    if (gossip_interval_ms < 5) return "--gossip-interval-ms: must be >= 5";
    if (push_pull_interval_ms < 100) return "--push-pull-interval-ms: must be >= 100";
  } else if (!seeds.empty()) {
    return "--seed: needs --peer-listen";
  }
  if (disk_enabled()) {
    if (auto e = disk_config().validate()) return with_disk_flag(*e);
  } else if (disk_capacity != 0 || disk_kind != store::DeviceKind::kFile) {
    return disk_capacity != 0 ? "--disk-capacity: needs --disk-path"
                              : "--disk-kind: needs --disk-path";
  }
  if (auto e = s3.validate()) return "--s3-endpoint: " + *e;
  return std::nullopt;
}

std::string with_disk_flag(const std::string& message) {
  static constexpr std::pair<std::string_view, std::string_view> kFlags[] = {
      {"path", "--disk-path"},
      {"kind", "--disk-kind"},
      {"capacity_bytes", "--disk-capacity"},
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
  c.page_size = page_size;
  // Writes waiting for an I/O thread pin their pages outside the memory budget: allow 64 MiB of
  // them (at least 16 pages), so small pages do not see spills refused while a burst of
  // evictions drains (16 pages of 64 KiB was 1 MiB, refused under load).
  c.max_queued_writes = std::max<std::size_t>(16, kMaxQueuedWriteBytes / page_size);
  return c;
}

namespace {

std::string default_node_id(std::uint16_t port) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + std::to_string(port);
}

// Parses a size flag value; returns an error naming the flag.
std::optional<std::string> size_flag(const std::string& flag, const std::string& text,
                                     std::uint64_t* out) {
  auto v = base::parse_size(text);
  if (!v) return flag + ": not a size (examples: 512MiB, 2GB, 1.5GiB), got '" + text + "'";
  *out = *v;
  return std::nullopt;
}

// Parses a plain decimal number ("0.99"), or with `percent` also "5%" (= 0.05); returns an error
// naming the flag. Range checks are NodeConfig::validate()'s.
std::optional<std::string> fraction_flag(const std::string& flag, const std::string& text,
                                         bool percent, double* out) {
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

}  // namespace

ParseResult parse_command_line(int argc, const char* const* argv) {
  CLI::App app{
      "shoald: a node of Shoal, a distributed read-through cache for object storage.\n"
      "Serves GET|HEAD /fetch/{kind}/{object} with a Range, /stats and /metrics."};
  app.set_version_flag("-V,--version", std::string("shoald ") + SHOAL_VERSION);
  // --config FILE: JSON, keys are flag names (node/config_file.h); the command line wins.
  app.config_formatter(std::make_shared<JsonConfigFile>());
  app.set_config("--config", "",
                 "JSON file of flag values (keys: flag names without '--'); flags given on the "
                 "command line win");
  app.allow_config_extras(CLI::config_extras_mode::error);
  bool print_config = false;
  app.add_flag("--print-config", print_config,
               "Print the effective configuration as JSON (secrets masked) and exit")
      ->configurable(false);
  NodeConfig cfg;
  std::string listen = "0.0.0.0:8080", memory = "4GiB", page_size = "16MiB";
  std::string endpoint, region, addressing = "auto", log_level = "info";
  std::string inflight_memory = "1GiB";
  std::string disk_kind = "fs", disk_capacity;
  app.add_option("--listen", listen, "Client address HOST:PORT")->capture_default_str();
  app.add_option("--node-id", cfg.node_id, "Stable node id (default: HOSTNAME:PORT)");
  app.add_option("--memory", memory, "Memory tier budget (e.g. 512MiB, 2GB, 1.5GiB)")
      ->capture_default_str();
  app.add_option("--page-size", page_size, "Page size, a power of two >= 64KiB")
      ->capture_default_str();
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
  app.add_option("--max-origin-fetches", cfg.max_origin_fetches,
                 "Most page fetches from the origin in progress; more misses get 503")
      ->capture_default_str();
  app.add_option("--max-inflight-memory", inflight_memory,
                 "Budget for page buffers of fetches in progress, apart from --memory")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", cfg.idle_timeout_ms,
                 "Close a keep-alive connection idle this long")
      ->capture_default_str();
  app.add_option("--write-timeout-ms", cfg.write_timeout_ms,
                 "Close a connection whose client accepts no bytes this long")
      ->capture_default_str();
  app.add_option("--drain-timeout-ms", cfg.drain_timeout_ms,
                 "On SIGTERM, wait this long for in-flight requests")
      ->capture_default_str();
  app.add_option("--s3-endpoint", endpoint,
                 "S3 endpoint URL (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS's)");
  app.add_option("--s3-region", region, "S3 region (else AWS_REGION, AWS_DEFAULT_REGION)");
  app.add_option("--s3-addressing", addressing, "auto, path or virtual")->capture_default_str();
  app.add_flag("--tls-self", cfg.tls_self, "Serve HTTPS with a generated self-signed certificate");
  app.add_option("--tls-cert", cfg.tls_cert, "TLS certificate chain (PEM); needs --tls-key");
  app.add_option("--tls-key", cfg.tls_key, "TLS private key (PEM); needs --tls-cert");
  app.add_option("--log-level", log_level, "error, warn, info or debug")->capture_default_str();
  app.add_option("--admin-token-file", cfg.admin_token_file,
                 "Bearer token for the /admin/ API (shoalctl); without it /admin/ answers 403");
  std::string hedge_quantile = "0.99", hedge_budget = "5%";
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
  app.add_option("--disk-path", cfg.disk_path,
                 "Disk tier: a directory (file shoal.slots in it), a file, or a block device; "
                 "without it the node is memory-only");
  app.add_option("--disk-kind", disk_kind, "fs (directory or file) or block (a block device)")
      ->capture_default_str();
  app.add_option("--disk-capacity", disk_capacity,
                 "Disk tier size (e.g. 100GiB); default 80% of the free space at --disk-path");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
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
  auto fail = [](const std::string& msg) {
    ParseResult r;
    r.exit_code = 2;
    r.output = "shoald: " + msg + "\n";
    return r;
  };
  auto hp = base::split_host_port(listen);
  if (!hp) return fail("--listen: expected HOST:PORT, got '" + listen + "'");
  cfg.listen_host = hp->host;
  cfg.listen_port = hp->port;
  if (auto e = size_flag("--memory", memory, &cfg.memory_bytes)) return fail(*e);
  if (auto e = size_flag("--page-size", page_size, &cfg.page_size)) return fail(*e);
  if (auto e = size_flag("--max-inflight-memory", inflight_memory, &cfg.max_inflight_bytes)) {
    return fail(*e);
  }
  if (!disk_capacity.empty()) {
    if (auto e = size_flag("--disk-capacity", disk_capacity, &cfg.disk_capacity)) return fail(*e);
    if (cfg.disk_capacity == 0) return fail("--disk-capacity: must be above 0");
  }
  if (disk_kind == "fs") {
    cfg.disk_kind = store::DeviceKind::kFile;
  } else if (disk_kind == "block") {
    cfg.disk_kind = store::DeviceKind::kBlock;
  } else {
    return fail("--disk-kind: expected fs or block, got '" + disk_kind + "'");
  }
  if (auto e = fraction_flag("--hedge-quantile", hedge_quantile, false, &cfg.hedge_quantile)) {
    return fail(*e);
  }
  if (auto e = fraction_flag("--hedge-budget", hedge_budget, true, &cfg.hedge_budget)) {
    return fail(*e);
  }
  auto level = base::parse_log_level(log_level);
  if (!level)
    return fail("--log-level: expected error, warn, info or debug, got '" + log_level + "'");
  cfg.log_level = *level;
  if (cfg.node_id.empty()) cfg.node_id = default_node_id(cfg.listen_port);
  if (auto e = origin::resolve_s3_config(endpoint, region, origin::environment_map(), &cfg.s3)) {
    return fail("--s3-endpoint: " + *e);
  }
  if (addressing == "auto")
    cfg.s3.addressing = origin::Addressing::kAuto;
  else if (addressing == "path")
    cfg.s3.addressing = origin::Addressing::kPath;
  else if (addressing == "virtual")
    cfg.s3.addressing = origin::Addressing::kVirtual;
  else
    return fail("--s3-addressing: expected auto, path or virtual, got '" + addressing + "'");
  if (auto e = cfg.validate()) return fail(*e);
  ParseResult r;
  if (print_config) {
    std::map<std::string, nlohmann::json> resolved = {{"node-id", cfg.node_id},
                                                      {"s3-region", cfg.s3.region}};
    if (!cfg.s3.endpoint_is_default) resolved["s3-endpoint"] = cfg.s3.endpoint;
    r.output = effective_config(app, resolved).dump(2) + "\n";
    return r;
  }
  r.config = std::move(cfg);
  return r;
}

}  // namespace shoal::node
