// shoalctl: administer a Shoal cluster through any node's admin API (docs/operations.md,
// "shoalctl"; the API itself in docs/http-api.md, "Admin API").
//
//   shoalctl [--node HOST:PORT] [--json] [--token-file F] [--tls [--cacert F | --insecure]]
//            COMMAND [ARGS]
//
// Exit codes: 0 ok, 1 the command failed (a node unreachable or answering an error, 401
// included), 2 usage (unknown command or option, missing or malformed arguments).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "cluster/ctl_commands.h"
#include "cluster/ctl_http.h"
#include "ring/base/host_port.h"

namespace {

using namespace shoal::ctl;

// A usage error found after parsing (exit code 2).
int usage(const std::string& message) {
  std::fprintf(stderr, "shoalctl: %s\nRun with --help for more information.\n", message.c_str());
  return 2;
}

// Object names for `warm --from-file`: one per line; blank lines and lines starting with '#'
// are skipped; a trailing '\r' is dropped.
std::vector<std::string> read_object_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CtlError("--from-file: cannot read " + path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    out.push_back(line);
  }
  return out;
}

bool valid_weight(double w) {
  return w == 0 || (w >= 1e-6 && w <= 1e15);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoalctl: administer a Shoal cluster through any node's admin API."};
  app.set_version_flag("-V,--version", std::string("shoalctl ") + SHOAL_VERSION);
  app.fallthrough();  // global options may follow the command
  app.require_subcommand(1);
  Context ctx;
  ctx.node = "127.0.0.1:8080";
  std::string token_file;
  app.add_option("--node", ctx.node, "A node's client address HOST:PORT")
      ->envname("SHOALCTL_NODE")
      ->capture_default_str();
  app.add_flag("--json", ctx.json, "Print JSON for scripts instead of tables");
  app.add_option("--token-file", token_file,
                 "File holding the admin token (shoald --admin-token-file)")
      ->envname("SHOALCTL_TOKEN_FILE")
      ->check(CLI::ExistingFile);
  TlsOptions tls;
  app.add_flag("--tls", tls.enabled, "Use https (nodes run with --tls-cert or --tls-self)");
  app.add_option("--cacert", tls.ca_file, "Trust the CAs in this PEM file (implies --tls)")
      ->check(CLI::ExistingFile);
  bool insecure = false;
  app.add_flag("--insecure", insecure,
               "Do not verify the nodes' certificates (implies --tls; e.g. --tls-self)");

  app.add_subcommand("members", "Every member: address, state, incarnation, weight, share, uptime");
  app.add_subcommand("status", "Cluster health at a glance");

  std::string kind, object, range;
  auto* locate = app.add_subcommand("locate", "Each page's owner and the rest of its ranking");
  locate->add_option("KIND", kind, "Kind (bucket set)")->required();
  locate->add_option("OBJECT", object, "Object key")->required();
  locate->add_option("--range", range, "Only the pages of this range, bytes=a-b");

  bool watch = false;
  double interval_s = 2;
  int samples = 0;
  auto* stats = app.add_subcommand("stats", "Cluster-wide figures from every member's /stats");
  stats->add_flag("--watch", watch, "Refresh until interrupted (or --count samples)");
  stats->add_option("--interval", interval_s, "Seconds between refreshes")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  stats->add_option("--count", samples, "With --watch: stop after this many samples (0: never)")
      ->check(CLI::NonNegativeNumber);

  std::string add, remove;
  auto* ownership = app.add_subcommand("ownership", "Shares, and what a change would move");
  ownership->add_option("--simulate-add", add, "A member joining (or re-weighted), ID[:W]");
  ownership->add_option("--simulate-remove", remove, "A member leaving, ID");

  std::string id;
  int timeout_ms = 30000;
  auto* drain = app.add_subcommand("drain", "Weight 0, hand ownership over, then leave");
  drain->add_option("ID", id, "Member id")->required();
  drain->add_option("--timeout-ms", timeout_ms, "Wait this long for every member to see weight 0")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();

  auto* leave = app.add_subcommand("leave", "The --node node leaves the cluster and shuts down");

  double weight = 1;
  auto* set_weight = app.add_subcommand("set-weight", "Change a member's ring weight");
  set_weight->add_option("ID", id, "Member id")->required();
  set_weight->add_option("W", weight, "Weight: 0 or 1e-6..1e15")->required();

  std::vector<std::string> purge_args;
  std::string purge_kind;
  auto* purge =
      app.add_subcommand("purge", "Drop an object's pages (or a whole kind's) everywhere");
  purge->add_option("KIND OBJECT", purge_args, "Kind and object")->expected(0, 2);
  purge->add_option("--kind", purge_kind, "Drop every object of this kind");

  std::vector<std::string> warm_args;
  std::string from_file;
  std::uint64_t batch_pages = 8;
  auto* warm = app.add_subcommand("warm", "Read objects' pages onto their owners");
  warm->add_option("KIND OBJECT...", warm_args, "Kind, then object keys")->expected(1, -1);
  warm->add_option("--from-file", from_file, "More object keys, one per line")
      ->check(CLI::ExistingFile);
  warm->add_option("--batch-pages", batch_pages, "Pages per admin call")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!shoal::base::split_host_port(ctx.node)) {
    return usage("--node: expected HOST:PORT, got '" + ctx.node + "'");
  }
  if (set_weight->parsed() && !valid_weight(weight)) {
    return usage("set-weight: W must be 0 or in [1e-6, 1e15]");
  }
  if (purge->parsed() && (purge_kind.empty() ? purge_args.size() != 2 : !purge_args.empty())) {
    return usage("purge: give KIND OBJECT, or --kind KIND alone");
  }
  ctx.tty = isatty(fileno(stdout)) == 1;
  tls.enabled = tls.enabled || insecure || !tls.ca_file.empty();
  tls.verify = !insecure;
  set_tls(tls);
  try {
    if (!token_file.empty()) ctx.token = read_token_file(token_file);
    if (app.got_subcommand("members")) return cmd_members(ctx);
    if (app.got_subcommand("status")) return cmd_status(ctx);
    if (locate->parsed()) return cmd_locate(ctx, kind, object, range);
    if (stats->parsed()) {
      auto interval = std::chrono::milliseconds(static_cast<long long>(interval_s * 1000));
      return cmd_stats(ctx, watch, samples, interval);
    }
    if (ownership->parsed()) return cmd_ownership(ctx, add, remove);
    if (drain->parsed()) return cmd_drain(ctx, id, std::chrono::milliseconds(timeout_ms));
    if (leave->parsed()) return cmd_leave(ctx);
    if (set_weight->parsed()) return cmd_set_weight(ctx, id, weight);
    if (purge->parsed()) {
      if (!purge_kind.empty()) return cmd_purge(ctx, purge_kind, std::nullopt);
      return cmd_purge(ctx, purge_args[0], purge_args[1]);
    }
    if (warm->parsed()) {
      std::vector<std::string> objects(warm_args.begin() + 1, warm_args.end());
      if (!from_file.empty()) {
        auto more = read_object_list(from_file);
        objects.insert(objects.end(), more.begin(), more.end());
      }
      if (objects.empty()) return usage("warm: give at least one object (or --from-file)");
      return cmd_warm(ctx, warm_args[0], objects, batch_pages);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shoalctl: %s\n", e.what());
    return 1;
  }
  return usage("no command");
}
