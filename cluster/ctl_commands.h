// shoalctl's commands. Each talks to the node given by --node (its admin API, docs/http-api.md)
// and, where the command concerns the whole cluster, to every live member at the client address
// that member advertises (its /stats, or its admin API for changes).
//
// Output: text (tables, summaries) on ctx.out, or with --json one JSON document (for `stats
// --watch`, one per line). Return value: the exit code (0 ok, 1 failed). Failures to reach a
// node or an error answer throw CtlError (exit code 1, message on stderr).
//
// Thread rules: one thread; the /stats fan-out uses short-lived threads internally.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace shoal::ctl {

struct Context {
  std::string node;   // --node HOST:PORT
  std::string token;  // from --token-file; "" sends no Authorization
  bool json = false;  // --json
  std::FILE* out = stdout;
  bool tty = false;  // out is a terminal (progress bar, screen refresh)
};

// --- Reading the cluster (ctl_view.cc) ---

// `members`: every member the node knows, with uptime from each live member's /stats.
int cmd_members(const Context& ctx);
// `status`: members by state, whether the members' views agree, memory, hit ratio, throughput,
// origin errors and hedges, summed over the live members.
int cmd_status(const Context& ctx);
// `locate KIND OBJECT [--range R]`: each page's owner and ranking.
int cmd_locate(const Context& ctx, const std::string& kind, const std::string& object,
               const std::string& range);
// `stats [--watch]`: a per-member table and the cluster total; with `watch`, every `interval`
// (`count` samples, 0 = until interrupted) with request rates between samples.
int cmd_stats(const Context& ctx, bool watch, int count, std::chrono::milliseconds interval);
// `ownership [--simulate-add ID[:W]] [--simulate-remove ID]`.
int cmd_ownership(const Context& ctx, const std::string& add, const std::string& remove);

// --- Changing the cluster (ctl_change.cc) ---

// `drain ID`: weight 0 on ID, wait until every live member shows it, then ID leaves; waits
// until the others see it left. `timeout` bounds the wait for confirmation.
int cmd_drain(const Context& ctx, const std::string& id, std::chrono::milliseconds timeout);
// `leave`: the --node node leaves the cluster and shuts down.
int cmd_leave(const Context& ctx);
// `set-weight ID W`.
int cmd_set_weight(const Context& ctx, const std::string& id, double weight);
// `purge KIND OBJECT` / `purge --kind KIND` (object nullopt): on every live member.
int cmd_purge(const Context& ctx, const std::string& kind,
              const std::optional<std::string>& object);
// `warm KIND OBJECT...`: reads every page of the objects through --node, `batch_pages` pages
// per admin call, showing progress.
int cmd_warm(const Context& ctx, const std::string& kind, const std::vector<std::string>& objects,
             std::uint64_t batch_pages);

// --- Shared by the commands (ctl_view.cc) ---

// GET /admin/members from ctx.node.
nlohmann::json fetch_members(const Context& ctx);
// The client address of member `id` in a /admin/members answer. Throws CtlError when there is
// no such member or it is not alive.
std::string member_addr(const nlohmann::json& members, const std::string& id);
// GET /stats of every alive or suspect member at once; id -> the document, or {"error": why}.
std::map<std::string, nlohmann::json> fan_out_stats(const nlohmann::json& members);

}  // namespace shoal::ctl
