// shoal-router: an owner-aware HTTP front for a Shoal cluster (router/http_front.h). Clients that
// cannot embed the routing library send their /fetch requests here; each goes to the owner of
// its first page. See docs/operations.md ("Owner-aware routing").
//
// Exit status: 0 after SIGTERM/SIGINT, 1 when the listen address cannot be bound, 2 for usage
// errors.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "ring/base/log.h"
#include "router/http_front.h"

namespace {

struct Flags {
  shoal::router::RouterOptions router;
  shoal::router::FrontOptions front;
  std::string log_level = "info";
};

// Parses argv; returns the exit code to use now (help, version, usage error), or -1 to run.
int parse(int argc, char** argv, Flags* f) {
  CLI::App app{"shoal-router: sends each /fetch to the node that owns its first page."};
  app.set_version_flag("-V,--version", std::string("shoal-router ") + SHOAL_VERSION);
  int poll_ms = 1000, connect_ms = 2000, io_ms = 60000, quarantine_ms = 2000;
  f->router.bounded_load = 1.25;  // Mirrokni et al.'s and HAProxy's customary factor
  app.add_option("--listen", f->front.listen, "Address HOST:PORT to serve on (port 0: any)")
      ->capture_default_str();
  app.add_option("--node", f->router.poller.seeds,
                 "A node's client address HOST:PORT to learn the cluster from (repeatable)")
      ->required();
  app.add_option("--poll-ms", poll_ms, "Membership poll interval (GET /stats)")
      ->capture_default_str();
  app.add_option("--bounded-load", f->router.bounded_load,
                 "Skip a node whose in-flight load is over C x the average (C > 1; 0: off)")
      ->capture_default_str();
  app.add_option("--threads", f->front.threads, "Worker threads")->capture_default_str();
  app.add_option("--connect-timeout-ms", connect_ms, "Connect timeout to a node")
      ->capture_default_str();
  app.add_option("--io-timeout-ms", io_ms, "Timeout of any single read or write")
      ->capture_default_str();
  app.add_option("--quarantine-ms", quarantine_ms, "A node that failed is tried last this long")
      ->capture_default_str();
  app.add_option("--log-level", f->log_level, "error, warn, info or debug")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  f->router.poller.interval = std::chrono::milliseconds(poll_ms);
  f->router.poller.timeout = std::chrono::milliseconds(std::max(100, std::min(poll_ms, 2000)));
  f->router.quarantine = std::chrono::milliseconds(quarantine_ms);
  f->front.connect_timeout = std::chrono::milliseconds(connect_ms);
  f->front.io_timeout = std::chrono::milliseconds(io_ms);
  std::optional<std::string> error = f->router.validate();
  if (!error) error = f->front.validate();
  if (!error && !shoal::base::parse_log_level(f->log_level)) error = "log-level: unknown level";
  if (error) {
    std::fprintf(stderr, "shoal-router: %s\n", error->c_str());
    return 2;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Flags flags;
  if (int code = parse(argc, argv, &flags); code >= 0) return code;
  shoal::base::set_log_level(*shoal::base::parse_log_level(flags.log_level));
  shoal::router::HttpFront front(flags.router, flags.front);
  if (auto e = front.open()) {
    SHOAL_LOG(kError, *e);
    return 1;
  }
  SHOAL_LOG(kInfo, "shoal-router " << SHOAL_VERSION << " listening on port " << front.port() << ", "
                                   << flags.front.threads << " threads, bounded load "
                                   << flags.router.bounded_load);
  front.run();
  SHOAL_LOG(kInfo, "stopped");
  return 0;
}
