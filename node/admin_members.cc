// The admin API's view of the members: GET /admin/members and /admin/ownership, and reading
// other members' /stats (router/http_client.h, router/view.h) for ownership and drain.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "node/admin.h"
#include "node/admin_call.h"
#include "node/cluster.h"
#include "ring/move_estimate.h"
#include "ring/rendezvous.h"
#include "router/http_client.h"
#include "router/view.h"

namespace shoal::node {
using json = nlohmann::json;

namespace {

// Member /stats documents read at the same time.
constexpr std::size_t kStatsFanOut = 16;
// Largest /stats body accepted from another member.
constexpr std::size_t kMaxStatsBody = 4 << 20;

// TLS for reading other members' /stats when this node's client port serves HTTPS (the members
// of one cluster share that choice), else nullopt.
std::optional<router::HttpTls> member_tls(const NodeConfig& cfg) {
  if (!cfg.tls_self && cfg.tls_cert.empty()) return std::nullopt;
  std::string unused;  // only a CA file can fail to load
  return router::make_http_tls(/*verify=*/false, "", &unused);
}

// GET /stats of one member: plain HTTP or TLS as this node's own client port, within
// kMemberStatsTimeout. TLS peers are not verified: /stats is public, and a forged answer could
// only end a drain's wait early or skew ownership's figures.
router::HttpRequest stats_request(const std::string& addr,
                                  const std::optional<router::HttpTls>& tls) {
  router::HttpRequest req;
  req.host_port = addr;
  req.target = "/stats";
  req.user_agent = "shoald";
  req.timeout = kMemberStatsTimeout;
  req.max_body_bytes = kMaxStatsBody;
  req.tls = tls;
  return req;
}

// Parses "ID" or "ID:W" (W a number; split at the last ':').
std::optional<std::string> parse_member_arg(const std::string& s, ring::Member* out) {
  out->id = s;
  out->weight = 1.0;
  if (auto colon = s.rfind(':'); colon != std::string::npos) {
    std::string_view w(s.data() + colon + 1, s.size() - colon - 1);
    double v = 0;
    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (!w.empty() && ec == std::errc() && end == w.data() + w.size()) {
      out->id = s.substr(0, colon);
      out->weight = v;
    }
  }
  if (out->id.empty()) return "simulate_add: empty member id";
  if (!valid_weight(out->weight)) return "simulate_add: weight must be 0 or in [1e-06, 1e+15]";
  return std::nullopt;
}

// The change /admin/ownership simulates; neither part set: none.
struct Simulation {
  std::optional<ring::Member> add;    // simulate_add
  std::optional<std::string> remove;  // simulate_remove

  bool any() const { return add || remove; }
};

// Reads /admin/ownership's query parameters into *out; returns the reason for a 400.
std::optional<std::string> parse_simulation(
    const std::vector<std::pair<std::string, std::string>>& query, Simulation* out) {
  for (const auto& [name, value] : query) {
    if (name == "simulate_add") {
      ring::Member m;
      if (auto e = parse_member_arg(value, &m)) return e;
      out->add = std::move(m);
    } else if (name == "simulate_remove") {
      if (value.empty()) return "simulate_remove: empty member id";
      out->remove = value;
    } else {
      return "unknown query parameter '" + name + "'";
    }
  }
  return std::nullopt;
}

// `current` changed by `sim` (first the removal, then the addition) into *out; returns the
// reason for a 400 when the removed member is not in the ring or the added one is invalid.
std::optional<std::string> simulated_ring(const ring::Ring& current, const Simulation& sim,
                                          ring::Ring* out) {
  std::optional<ring::Ring> next = current;
  if (sim.remove) {
    next = next->without_member(*sim.remove);
    if (!next) return "simulate_remove: no live member '" + *sim.remove + "'";
  }
  if (sim.add) {
    std::string error;
    next = next->with_member(*sim.add, &error);
    if (!next) return "simulate_add: " + error;
  }
  *out = std::move(*next);
  return std::nullopt;
}

// A member's cached pages as its /stats reports them, or why they are unknown.
struct CachedFigures {
  std::optional<router::MemoryFigures> memory;
  std::string why;  // when memory is nullopt
};

// The /admin/ownership answer (docs/http-api.md): the members of `current` with their shares
// and cached figures (`cached` by id; a member missing there is unknown), and with a simulation
// what moves to `after`, sampled by ring::estimate_moves.
json ownership_report(const ring::Ring& current, const ring::Ring& after, const Simulation& sim,
                      std::uint64_t epoch, const std::map<std::string, CachedFigures>& cached) {
  const ring::MoveEstimate moves =
      ring::estimate_moves(current, after, sim.any() ? kOwnershipSamples : 0);
  json members = json::array();
  double moved_bytes = 0, moved_pages = 0;
  bool complete = true;
  std::uint64_t cached_bytes = 0;
  for (std::size_t i = 0; i < current.size(); ++i) {
    const ring::Member& m = current.members()[i];
    json row = {{"id", m.id}, {"weight", m.weight}, {"share", current.share(i)}};
    auto it = cached.find(m.id);
    const CachedFigures f = it != cached.end() ? it->second : CachedFigures{{}, "no /stats"};
    const std::optional<router::MemoryFigures>& mem = f.memory;
    row["cached_bytes"] = mem ? json(mem->page_bytes) : json(nullptr);
    row["cached_pages"] = mem ? json(mem->pages) : json(nullptr);
    if (!mem) row["stats_error"] = f.why;
    if (mem) cached_bytes += mem->page_bytes;
    complete = complete && mem;
    if (sim.any()) {
      const double share_out = moves.moves_out_fraction(i);
      row["moves_out_fraction"] = share_out;
      if (mem) {
        moved_bytes += share_out * static_cast<double>(mem->page_bytes);
        moved_pages += share_out * static_cast<double>(mem->pages);
      }
    }
    members.push_back(std::move(row));
  }
  json j = {{"epoch", epoch},
            {"members", std::move(members)},
            {"cached_bytes", cached_bytes},
            {"stats_complete", complete},
            {"simulation", nullptr}};
  if (!sim.any()) return j;
  json next_members = json::array();
  for (std::size_t i = 0; i < after.size(); ++i) {
    const ring::Member& m = after.members()[i];
    next_members.push_back({{"id", m.id},
                            {"weight", m.weight},
                            {"share", after.share(i)},
                            {"sampled_share", moves.sampled_share_after(i)}});
  }
  j["simulation"] = {
      {"add", sim.add ? json{{"id", sim.add->id}, {"weight", sim.add->weight}} : json(nullptr)},
      {"remove", sim.remove ? json(*sim.remove) : json(nullptr)},
      {"samples", kOwnershipSamples},
      {"moved_fraction", moves.moved_fraction()},
      {"moved_bytes", static_cast<std::uint64_t>(std::llround(moved_bytes))},
      {"moved_pages", static_cast<std::uint64_t>(std::llround(moved_pages))},
      {"members", std::move(next_members)}};
  return j;
}

}  // namespace

// --- GET /admin/members -------------------------------------------------------------------------

void AdminApi::members(std::shared_ptr<Call> c) {
  const NodeConfig& cfg = host_.config();
  json j = {{"self", cfg.node_id}, {"cluster", host_.cluster() != nullptr}};
  if (Cluster* cl = host_.cluster()) {
    json s = cl->stats_json();
    j["epoch"] = s["epoch"];
    j["members"] = std::move(s["members"]);
  } else {
    j["epoch"] = 0;
    j["members"] =
        json::array({{{"id", cfg.node_id},
                      {"state", "alive"},
                      {"incarnation", 0},
                      {"weight", cfg.weight},
                      {"client_addr", cfg.listen_host + ":" + std::to_string(cfg.listen_port)},
                      {"peer_addr", ""},
                      {"owned_share", 1.0}}});
  }
  for (json& m : j["members"]) m["self"] = m["id"] == cfg.node_id;
  c->reply(json_response(200, j));
}

// --- GET /admin/ownership -----------------------------------------------------------------------

void AdminApi::ownership(std::shared_ptr<Call> c) {
  auto q = parse_query(c->query);
  if (!q) return c->reply(error_response(400, "bad percent escape in the query"));
  Simulation sim;
  if (auto e = parse_simulation(*q, &sim)) return c->reply(error_response(400, *e));
  const NodeConfig& cfg = host_.config();
  std::shared_ptr<const peer::MembershipView> view;
  if (Cluster* cl = host_.cluster()) view = cl->view();
  ring::Ring current =
      view && view->ring ? *view->ring : *ring::Ring::make({{cfg.node_id, cfg.weight}});
  ring::Ring after;
  if (auto e = simulated_ring(current, sim, &after)) return c->reply(error_response(400, *e));
  post_guarded(c, [this, c, current, after, sim, epoch = view ? view->epoch : 0]() {
    std::map<std::string, CachedFigures> cached;
    for (const MemberStats& s : all_member_stats()) {
      CachedFigures& f = cached[s.id];
      f.why = s.error;
      if (f.why.empty() && !s.doc.is_object()) f.why = "no /stats";
      if (f.why.empty()) f.memory = router::memory_figures(s.doc, &f.why);
    }
    c->reply(json_response(200, ownership_report(current, after, sim, epoch, cached)));
  });
}

std::vector<AdminApi::MemberStats> AdminApi::fetch_member_stats(
    const std::vector<std::pair<std::string, std::string>>& members) {
  const auto tls = member_tls(host_.config());
  const std::string scheme = tls ? "https://" : "http://";
  std::vector<MemberStats> out;
  for (std::size_t i = 0; i < members.size() && !stopping_; i += kStatsFanOut) {
    std::vector<router::HttpRequest> batch;
    for (std::size_t k = i; k < std::min(members.size(), i + kStatsFanOut); ++k) {
      batch.push_back(stats_request(members[k].second, tls));
    }
    std::vector<router::HttpResult> results = router::http_requests(std::move(batch), kStatsFanOut);
    for (std::size_t k = 0; k < results.size(); ++k) {
      const auto& [id, addr] = members[i + k];
      const std::string url = scheme + addr + "/stats";
      router::HttpResult& r = results[k];
      MemberStats m{id, json(), ""};
      if (!r.ok()) {
        m.error = url + ": " + r.error;
      } else if (r.status != 200) {
        m.error = url + ": HTTP " + std::to_string(r.status);
      } else {
        m.doc = json::parse(r.body, nullptr, false);
        if (m.doc.is_discarded() || !m.doc.is_object()) m.error = url + ": not a JSON object";
      }
      out.push_back(std::move(m));
    }
  }
  return out;
}

std::vector<AdminApi::MemberStats> AdminApi::all_member_stats() {
  const NodeConfig& cfg = host_.config();
  std::vector<MemberStats> out;
  out.push_back({cfg.node_id, json::parse(host_.stats_json(), nullptr, false), ""});
  std::vector<std::pair<std::string, std::string>> others;  // id, client_addr
  if (Cluster* cl = host_.cluster()) {
    // Hold the view: the peer loop may publish a new one (freeing this) while we iterate.
    const auto view = cl->view();
    for (const peer::MemberRecord& rec : view->members) {
      if (rec.id != cfg.node_id && peer::is_live(rec.state)) {
        others.emplace_back(rec.id, rec.meta.client_addr);
      }
    }
  }
  for (MemberStats& m : fetch_member_stats(others)) out.push_back(std::move(m));
  return out;
}

}  // namespace shoal::node
