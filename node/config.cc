#include "node/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>

#include "node/size.h"

namespace shoal::node {

std::optional<std::pair<std::string, std::uint16_t>> parse_host_port(const std::string& s) {
  std::string host;
  std::string port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (host.empty() || port.empty()) return std::nullopt;
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return std::make_pair(host, static_cast<std::uint16_t>(value));
}

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
  if (auto e = origin_request.validate()) return *e;
  if (auto e = s3.validate()) return "--s3-endpoint: " + *e;
  return std::nullopt;
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
  auto v = parse_size(text);
  if (!v) return flag + ": not a size (examples: 512MiB, 2GB, 1.5GiB), got '" + text + "'";
  *out = *v;
  return std::nullopt;
}

}  // namespace

ParseResult parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"shoald: a node of Shoal, a distributed read-through cache for object storage.\n"
               "Serves GET|HEAD /fetch/{kind}/{object} with a Range, /stats and /metrics."};
  app.set_version_flag("-V,--version", std::string("shoald ") + SHOAL_VERSION);
  NodeConfig cfg;
  std::string listen = "0.0.0.0:8080", memory = "4GiB", page_size = "16MiB";
  std::string endpoint, region, addressing = "auto", log_level = "info";
  std::string inflight_memory = "1GiB";
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
      r.output = std::string("shoald: ") + e.what() + "\n";
    }
    return r;
  }
  auto fail = [](const std::string& msg) {
    ParseResult r;
    r.exit_code = 2;
    r.output = "shoald: " + msg + "\n";
    return r;
  };
  auto hp = parse_host_port(listen);
  if (!hp) return fail("--listen: expected HOST:PORT, got '" + listen + "'");
  cfg.listen_host = hp->first;
  cfg.listen_port = hp->second;
  if (auto e = size_flag("--memory", memory, &cfg.memory_bytes)) return fail(*e);
  if (auto e = size_flag("--page-size", page_size, &cfg.page_size)) return fail(*e);
  if (auto e = size_flag("--max-inflight-memory", inflight_memory, &cfg.max_inflight_bytes)) {
    return fail(*e);
  }
  auto level = parse_log_level(log_level);
  if (!level) return fail("--log-level: expected error, warn, info or debug, got '" + log_level + "'");
  cfg.log_level = *level;
  if (cfg.node_id.empty()) cfg.node_id = default_node_id(cfg.listen_port);
  if (auto e = origin::resolve_s3_config(endpoint, region, origin::environment_map(), &cfg.s3)) {
    return fail("--s3-endpoint: " + *e);
  }
  if (addressing == "auto") cfg.s3.addressing = origin::Addressing::kAuto;
  else if (addressing == "path") cfg.s3.addressing = origin::Addressing::kPath;
  else if (addressing == "virtual") cfg.s3.addressing = origin::Addressing::kVirtual;
  else return fail("--s3-addressing: expected auto, path or virtual, got '" + addressing + "'");
  if (auto e = cfg.validate()) return fail(*e);
  ParseResult r;
  r.config = std::move(cfg);
  return r;
}

}  // namespace shoal::node
