// shoalctl commands that read the cluster: members, status, locate, stats, ownership.
#include <algorithm>
#include <set>
#include <thread>

#include "cluster/ctl_commands.h"
#include "cluster/ctl_format.h"
#include "cluster/ctl_http.h"

namespace shoal::ctl {
namespace http = boost::beast::http;
using json = nlohmann::json;
using Align = Table::Align;

namespace {

constexpr auto kStatsTimeout = std::chrono::seconds(5);

bool is_live(const json& m) {
  const std::string state = m.value("state", "");
  return state == "alive" || state == "suspect";
}

// A number field at a JSON path, 0 when absent or not a number.
double num(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* key : path) {
    if (!p->is_object() || !p->contains(key)) return 0;
    p = &(*p)[key];
  }
  return p->is_number() ? p->get<double>() : 0;
}

void print(const Context& ctx, const std::string& text) {
  std::fputs(text.c_str(), ctx.out);
}

void print_json(const Context& ctx, const json& j, int indent = 2) {
  print(ctx, j.dump(indent, ' ', false, json::error_handler_t::replace) + "\n");
}

// What a member's /stats says the live ring is: sorted "id=weight" of its alive and suspect
// members. Epoch numbers are each node's own count of changes, so views are compared by this.
std::string ring_fingerprint(const json& stats) {
  std::vector<std::string> parts;
  if (stats.contains("members") && stats["members"].is_array()) {
    for (const json& m : stats["members"]) {
      if (is_live(m)) parts.push_back(m.value("id", "") + "=" + number(num(m, {"weight"})));
    }
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += p + ",";
  return out;
}

// Sums of the /stats figures shoalctl reports, over the members that answered.
json totals(const std::map<std::string, json>& stats) {
  double f[20] = {};
  for (const auto& [id, s] : stats) {
    if (s.contains("error")) continue;
    const double v[] = {num(s, {"requests", "total"}),
                        num(s, {"requests", "in_flight"}),
                        num(s, {"memory", "used_bytes"}),
                        num(s, {"memory", "capacity_bytes"}),
                        num(s, {"memory", "pages"}),
                        num(s, {"memory", "page_bytes"}),
                        num(s, {"pages", "hit_memory"}),
                        num(s, {"pages", "miss"}),
                        num(s, {"pages", "coalesced"}),
                        num(s, {"pages", "error"}),
                        num(s, {"egress_throughput_10s_bps"}) / 8,
                        num(s, {"ingress_throughput_10s_bps"}) / 8,
                        num(s, {"origin", "requests"}),
                        num(s, {"origin", "errors"}),
                        num(s, {"origin", "retries"}),
                        num(s, {"origin", "bytes"}),
                        num(s, {"origin", "hedges", "sent"}),
                        num(s, {"origin", "hedges", "refused"}),
                        num(s, {"cluster", "forwarded_out"}),
                        num(s, {"cluster", "forwarded_in"})};
    for (std::size_t i = 0; i < std::size(v); ++i) f[i] += v[i];
  }
  const double lookups = f[6] + f[7] + f[8];
  return {{"requests", f[0]},
          {"in_flight", f[1]},
          {"memory_used_bytes", f[2]},
          {"memory_capacity_bytes", f[3]},
          {"pages", f[4]},
          {"page_bytes", f[5]},
          {"hits", f[6]},
          {"misses", f[7]},
          {"coalesced", f[8]},
          {"page_errors", f[9]},
          {"hit_ratio", lookups > 0 ? f[6] / lookups : 0.0},
          {"egress_bytes_per_s", f[10]},
          {"ingress_bytes_per_s", f[11]},
          {"origin_requests", f[12]},
          {"origin_errors", f[13]},
          {"origin_retries", f[14]},
          {"origin_bytes", f[15]},
          {"hedges_sent", f[16]},
          {"hedges_refused", f[17]},
          {"forwarded_out", f[18]},
          {"forwarded_in", f[19]}};
}

std::string count(double v) {
  return std::to_string(static_cast<long long>(v));
}

}  // namespace

// --- Shared helpers ------------------------------------------------------------------------------

json fetch_members(const Context& ctx) {
  return call_json(ctx.node, http::verb::get, "/admin/members", ctx.token);
}

std::string member_addr(const json& members, const std::string& id) {
  for (const json& m : members["members"]) {
    if (m.value("id", "") != id) continue;
    if (m.value("state", "") != "alive") {
      throw CtlError("member '" + id + "' is " + m.value("state", "unknown") + ", not alive");
    }
    return m.value("client_addr", "");
  }
  throw CtlError("no member '" + id + "' (see shoalctl members)");
}

std::map<std::string, json> fan_out_stats(const json& members) {
  std::vector<std::string> ids, addrs;
  for (const json& m : members["members"]) {
    if (!is_live(m)) continue;
    ids.push_back(m.value("id", ""));
    addrs.push_back(m.value("client_addr", ""));
  }
  std::vector<json> stats = get_json_all(addrs, "/stats", kStatsTimeout);
  std::map<std::string, json> out;
  for (std::size_t i = 0; i < ids.size(); ++i) out[ids[i]] = std::move(stats[i]);
  return out;
}

// --- members -------------------------------------------------------------------------------------

int cmd_members(const Context& ctx) {
  json members = fetch_members(ctx);
  auto stats = fan_out_stats(members);
  for (json& m : members["members"]) {
    auto it = stats.find(m.value("id", ""));
    const bool known = it != stats.end() && it->second.contains("uptime_s");
    m["uptime_s"] = known ? it->second["uptime_s"] : json(nullptr);
  }
  if (ctx.json) {
    print_json(ctx, members);
    return 0;
  }
  Table t({"ID", "ADDRESS", "STATE", "INCARNATION", "WEIGHT", "OWNS", "UPTIME"},
          {Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kRight, Align::kRight,
           Align::kRight});
  for (const json& m : members["members"]) {
    t.add({m.value("id", ""), m.value("client_addr", ""), m.value("state", ""),
           count(num(m, {"incarnation"})), number(num(m, {"weight"})),
           is_live(m) ? percent(num(m, {"owned_share"})) : "-",
           m["uptime_s"].is_null() ? "-" : human_duration(num(m, {"uptime_s"}))});
  }
  print(ctx, t.render());
  return 0;
}

// --- status --------------------------------------------------------------------------------------

int cmd_status(const Context& ctx) {
  json members = fetch_members(ctx);
  auto stats = fan_out_stats(members);
  std::map<std::string, int> by_state = {{"alive", 0}, {"suspect", 0}, {"dead", 0}, {"left", 0}};
  for (const json& m : members["members"]) ++by_state[m.value("state", "unknown")];
  json epochs = json::object();
  std::set<std::string> views;
  std::vector<std::string> unreachable;
  json buckets = json::object();
  for (const auto& [id, s] : stats) {
    if (s.contains("error")) {
      unreachable.push_back(id);
      continue;
    }
    epochs[id] = s.value("epoch", json(0));
    views.insert(ring_fingerprint(s));
    if (s.contains("origin") && s["origin"].contains("buckets")) {
      for (const auto& [bucket, b] : s["origin"]["buckets"].items()) {
        json& agg = buckets[bucket];
        if (agg.is_null()) agg = {{"error_rate_max", 0.0}, {"hedges_won", 0.0}};
        agg["error_rate_max"] = std::max(agg.value("error_rate_max", 0.0), num(b, {"error_rate"}));
        agg["hedges_won"] = agg.value("hedges_won", 0.0) + num(b, {"hedges", "won"});
        const std::string breaker = b.value("breaker", "closed");
        if (breaker != "closed") agg["breaker_not_closed"].push_back(id + ": " + breaker);
      }
    }
  }
  const int answered = static_cast<int>(stats.size() - unreachable.size());
  const bool agree = views.size() <= 1;
  const bool healthy = agree && unreachable.empty() && by_state["suspect"] == 0;
  json t = totals(stats);
  json out = {{"members", by_state},        {"live_members_answered", answered},
              {"unreachable", unreachable}, {"views_agree", agree},
              {"epochs", epochs},           {"totals", t},
              {"buckets", buckets},         {"healthy", healthy}};
  if (ctx.json) {
    print_json(ctx, out);
    return 0;
  }
  const int total = static_cast<int>(members["members"].size());
  std::string text;
  text += "Health:      " + std::string(healthy ? "healthy" : "DEGRADED") + "\n";
  text += "Members:     " + std::to_string(total) + " (" + std::to_string(by_state["alive"]) +
          " alive, " + std::to_string(by_state["suspect"]) + " suspect, " +
          std::to_string(by_state["dead"]) + " dead, " + std::to_string(by_state["left"]) +
          " left)\n";
  std::string epoch_list;
  for (const auto& [id, e] : epochs.items()) epoch_list += " " + id + "=" + e.dump();
  text += "Views:       " +
          std::string(agree ? "agree (" + std::to_string(answered) + " members see the same ring)"
                            : "DISAGREE (" + std::to_string(views.size()) + " different rings)") +
          "; epochs" + epoch_list + "\n";
  if (!unreachable.empty()) {
    std::string list;
    for (const auto& id : unreachable) list += (list.empty() ? "" : ", ") + id;
    text += "Unreachable: " + list + "\n";
  }
  const double cap = t["memory_capacity_bytes"].get<double>();
  text += "Memory:      " + human_bytes(t["memory_used_bytes"].get<double>()) + " of " +
          human_bytes(cap) + " (" +
          percent(cap > 0 ? t["memory_used_bytes"].get<double>() / cap : 0) + "), " +
          count(t["pages"].get<double>()) + " pages\n";
  text += "Hit ratio:   " + percent(t["hit_ratio"].get<double>()) + " (" +
          count(t["hits"].get<double>()) + " hits, " + count(t["misses"].get<double>()) +
          " misses, " + count(t["coalesced"].get<double>()) + " coalesced)\n";
  text += "Throughput:  egress " + human_rate(t["egress_bytes_per_s"].get<double>()) +
          ", ingress " + human_rate(t["ingress_bytes_per_s"].get<double>()) + " (10 s)\n";
  const double oreq = t["origin_requests"].get<double>();
  text += "Origin:      " + count(oreq) + " requests, " + count(t["origin_errors"].get<double>()) +
          " errors (" + percent(oreq > 0 ? t["origin_errors"].get<double>() / oreq : 0) + "), " +
          count(t["origin_retries"].get<double>()) + " retries\n";
  text += "Hedges:      " + count(t["hedges_sent"].get<double>()) + " sent, " +
          count(t["hedges_refused"].get<double>()) + " refused by the budget\n";
  for (const auto& [bucket, b] : buckets.items()) {
    std::string breakers = "closed everywhere";
    if (b.contains("breaker_not_closed")) {
      breakers.clear();
      for (const json& x : b["breaker_not_closed"])
        breakers += (breakers.empty() ? "" : ", ") + x.get<std::string>();
    }
    text += "Bucket " + bucket + ": error rate up to " +
            percent(b["error_rate_max"].get<double>()) + ", breaker " + breakers + ", " +
            count(b["hedges_won"].get<double>()) + " hedges won\n";
  }
  text += "Forwarding:  " + count(t["forwarded_out"].get<double>()) + " pages out, " +
          count(t["forwarded_in"].get<double>()) + " in\n";
  print(ctx, text);
  return 0;
}

// --- locate --------------------------------------------------------------------------------------

int cmd_locate(const Context& ctx, const std::string& kind, const std::string& object,
               const std::string& range) {
  std::string target =
      "/admin/locate?kind=" + query_encode(kind) + "&object=" + query_encode(object);
  if (!range.empty()) target += "&range=" + query_encode(range);
  json j = call_json(ctx.node, http::verb::get, target, ctx.token);
  if (ctx.json) {
    print_json(ctx, j);
    return 0;
  }
  const auto& pages = j["pages"];
  std::string head = kind + "/" + object + ": " + human_bytes(num(j, {"size"})) + " (" +
                     count(num(j, {"size"})) + " bytes), page size " +
                     human_bytes(num(j, {"page_size"})) + ", " + std::to_string(pages.size()) +
                     " page" + (pages.size() == 1 ? "" : "s") + ", epoch " +
                     count(num(j, {"epoch"})) + " at " + ctx.node + "\n";
  Table t({"PAGE", "BYTES", "OWNER", "RANKING"}, {Align::kRight, Align::kLeft});
  for (const json& p : pages) {
    std::string ranking;
    for (const json& r : p["ranking"]) {
      ranking +=
          (ranking.empty() ? "" : ", ") + r.value("id", "") + " (" + r.value("state", "") + ")";
    }
    t.add({count(num(p, {"page"})), count(num(p, {"first"})) + "-" + count(num(p, {"last"})),
           p["owner"].is_string() ? p["owner"].get<std::string>() : "-", ranking});
  }
  print(ctx, head + t.render());
  return 0;
}

// --- stats ---------------------------------------------------------------------------------------

namespace {

std::string stats_table(const std::map<std::string, json>& stats, const json& total,
                        const std::map<std::string, double>* rates) {
  std::vector<std::string> headers = {
      "NODE",   "REQUESTS", "REQ/S",       "IN FLIGHT",   "HIT%",    "MEMORY", "PAGES",
      "EGRESS", "INGRESS",  "ORIGIN REQS", "ORIGIN ERRS", "FWD OUT", "FWD IN"};
  std::vector<Align> align(headers.size(), Align::kRight);
  align[0] = Align::kLeft;
  Table t(headers, align);
  auto rate = [&](const std::string& id) {
    if (rates == nullptr || !rates->count(id)) return std::string("-");
    return number(std::round(rates->at(id) * 10) / 10);
  };
  for (const auto& [id, s] : stats) {
    if (s.contains("error")) {
      t.add({id, "unreachable"});
      continue;
    }
    const double lookups = num(s, {"pages", "hit_memory"}) + num(s, {"pages", "miss"}) +
                           num(s, {"pages", "coalesced"});
    t.add({id, count(num(s, {"requests", "total"})), rate(id),
           count(num(s, {"requests", "in_flight"})),
           lookups > 0 ? percent(num(s, {"pages", "hit_memory"}) / lookups) : "-",
           human_bytes(num(s, {"memory", "used_bytes"})), count(num(s, {"memory", "pages"})),
           human_rate(num(s, {"egress_throughput_10s_bps"}) / 8),
           human_rate(num(s, {"ingress_throughput_10s_bps"}) / 8),
           count(num(s, {"origin", "requests"})), count(num(s, {"origin", "errors"})),
           count(num(s, {"cluster", "forwarded_out"})),
           count(num(s, {"cluster", "forwarded_in"}))});
  }
  const double lookups = total["hits"].get<double>() + total["misses"].get<double>() +
                         total["coalesced"].get<double>();
  t.add({"TOTAL", count(total["requests"].get<double>()), rate(""),
         count(total["in_flight"].get<double>()),
         lookups > 0 ? percent(total["hit_ratio"].get<double>()) : "-",
         human_bytes(total["memory_used_bytes"].get<double>()), count(total["pages"].get<double>()),
         human_rate(total["egress_bytes_per_s"].get<double>()),
         human_rate(total["ingress_bytes_per_s"].get<double>()),
         count(total["origin_requests"].get<double>()), count(total["origin_errors"].get<double>()),
         count(total["forwarded_out"].get<double>()), count(total["forwarded_in"].get<double>())});
  return t.render();
}

}  // namespace

int cmd_stats(const Context& ctx, bool watch, int samples, std::chrono::milliseconds interval) {
  std::map<std::string, double> previous;  // id ("" = total) -> requests at the last sample
  auto last = std::chrono::steady_clock::now();
  for (int n = 0; !watch || samples == 0 || n < samples; ++n) {
    if (n > 0) std::this_thread::sleep_for(interval);
    json members = fetch_members(ctx);
    auto stats = fan_out_stats(members);
    json total = totals(stats);
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last).count();
    last = now;
    std::map<std::string, double> current, rates;
    for (const auto& [id, s] : stats) {
      if (!s.contains("error")) current[id] = num(s, {"requests", "total"});
    }
    current[""] = total["requests"].get<double>();
    for (const auto& [id, v] : current) {
      if (n > 0 && previous.count(id)) rates[id] = (v - previous[id]) / dt;
    }
    previous = current;
    if (ctx.json) {
      json doc = {{"members", stats}, {"total", total}};
      if (n > 0) doc["requests_per_s"] = rates;
      print_json(ctx, doc, watch ? -1 : 2);
    } else {
      if (watch && ctx.tty) print(ctx, "\033[H\033[2J");  // home, clear screen
      if (watch) print(ctx, "Every " + number(interval.count() / 1000.0) + "s, " + ctx.node + "\n");
      print(ctx, stats_table(stats, total, n > 0 ? &rates : nullptr));
      if (watch && !ctx.tty) print(ctx, "\n");
    }
    std::fflush(ctx.out);
    if (!watch) break;
  }
  return 0;
}

// --- ownership -----------------------------------------------------------------------------------

int cmd_ownership(const Context& ctx, const std::string& add, const std::string& remove) {
  std::string target = "/admin/ownership";
  std::string sep = "?";
  if (!add.empty()) target += sep + "simulate_add=" + query_encode(add), sep = "&";
  if (!remove.empty()) target += sep + "simulate_remove=" + query_encode(remove);
  json j =
      call_json(ctx.node, http::verb::get, target, ctx.token, nullptr, std::chrono::seconds(60));
  if (ctx.json) {
    print_json(ctx, j);
    return 0;
  }
  const json& sim = j["simulation"];
  std::map<std::string, const json*> after;
  if (!sim.is_null()) {
    for (const json& m : sim["members"]) after[m.value("id", "")] = &m;
  }
  std::vector<std::string> headers = {"ID", "WEIGHT", "SHARE", "CACHED", "PAGES"};
  if (!sim.is_null()) {
    for (const char* h : {"NEW WEIGHT", "NEW SHARE", "MOVES OUT", "BYTES OUT"})
      headers.push_back(h);
  }
  std::vector<Align> align(headers.size(), Align::kRight);
  align[0] = Align::kLeft;
  Table t(headers, align);
  std::set<std::string> listed;
  for (const json& m : j["members"]) {
    const std::string id = m.value("id", "");
    listed.insert(id);
    const bool known = !m["cached_bytes"].is_null();
    std::vector<std::string> row = {id, number(num(m, {"weight"})), percent(num(m, {"share"})),
                                    known ? human_bytes(num(m, {"cached_bytes"})) : "?",
                                    known ? count(num(m, {"cached_pages"})) : "?"};
    if (!sim.is_null()) {
      const json* a = after.count(id) ? after[id] : nullptr;
      row.push_back(a ? number(num(*a, {"weight"})) : "removed");
      row.push_back(a ? percent(num(*a, {"share"})) : "-");
      row.push_back(percent(num(m, {"moves_out_fraction"})));
      row.push_back(known ? human_bytes(num(m, {"moves_out_fraction"}) * num(m, {"cached_bytes"}))
                          : "?");
    }
    t.add(row);
  }
  for (const auto& [id, a] : after) {
    if (listed.count(id)) continue;
    t.add({id, "-", "-", "-", "-", number(num(*a, {"weight"})), percent(num(*a, {"share"})), "-",
           "-"});
  }
  std::string text = t.render();
  if (!sim.is_null()) {
    std::string change;
    if (sim["remove"].is_string()) change += "remove " + sim["remove"].get<std::string>();
    if (sim["add"].is_object()) {
      change += std::string(change.empty() ? "" : ", ") + "add " + sim["add"].value("id", "") +
                " (weight " + number(num(sim["add"], {"weight"})) + ")";
    }
    text += "\nSimulated " + change + ": " + percent(num(sim, {"moved_fraction"})) +
            " of the key space changes owner; about " + human_bytes(num(sim, {"moved_bytes"})) +
            " in " + count(num(sim, {"moved_pages"})) + " cached pages would move (" +
            count(num(sim, {"samples"})) + " sampled hashes" +
            (j.value("stats_complete", true) ? "" : "; some members' /stats missing") + ").\n";
  } else {
    text += "\nCached: " + human_bytes(num(j, {"cached_bytes"})) + " in total.\n";
  }
  print(ctx, text);
  return 0;
}

}  // namespace shoal::ctl
