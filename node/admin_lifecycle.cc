// The admin API's lifecycle routes: POST /admin/weight, /admin/drain (weight 0, wait until every
// live member shows it, hand the pages in memory to their new owners, then leave) and
// /admin/leave.
#include <future>
#include <map>
#include <set>
#include <thread>

#include "node/admin.h"
#include "node/admin_call.h"
#include "node/cluster.h"
#include "router/view.h"

namespace shoal::node {
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Pause between two rounds of drain's confirmation polling.
constexpr std::chrono::milliseconds kDrainPoll{200};
// The hand-off of a drained node's pages gets the rest of the drain's timeout, and at least this.
constexpr std::chrono::milliseconds kMinHandoff{5000};

}  // namespace

// --- POST /admin/weight, /admin/drain, /admin/leave ---------------------------------------------

void AdminApi::weight(std::shared_ptr<Call> c) {
  json body;
  if (auto e = parse_body(c->req.body, {"weight"}, &body)) return c->reply(error_response(400, *e));
  if (!body.contains("weight") || !body["weight"].is_number()) {
    return c->reply(error_response(400, "'weight' (a number) is required"));
  }
  const double w = body["weight"].get<double>();
  if (!valid_weight(w))
    return c->reply(error_response(400, "weight must be 0 or in [1e-06, 1e+15]"));
  Cluster* cl = host_.cluster();
  if (cl == nullptr)
    return c->reply(error_response(409, "not a cluster member (no --peer-listen)"));
  host_.post_to_peer_loop([c, cl, w] {
    auto before = cl->view();
    const peer::MemberRecord* me = before->find(cl->self_id());
    const double previous = me ? me->meta.weight : 0;
    if (auto e = cl->set_weight(w)) return c->reply(error_response(409, *e));
    c->reply(json_response(200, {{"id", cl->self_id()},
                                 {"weight", w},
                                 {"previous_weight", previous},
                                 {"epoch", cl->view()->epoch}}));
  });
}

void AdminApi::drain(std::shared_ptr<Call> c) {
  json body;
  if (auto e = parse_body(c->req.body, {"timeout_ms"}, &body))
    return c->reply(error_response(400, *e));
  std::chrono::milliseconds timeout = kDefaultDrainTimeout;
  if (body.contains("timeout_ms")) {
    if (!body["timeout_ms"].is_number_unsigned() || body["timeout_ms"].get<std::uint64_t>() < 1 ||
        body["timeout_ms"].get<std::uint64_t>() > 3'600'000) {
      return c->reply(error_response(400, "timeout_ms must be an integer in [1, 3600000]"));
    }
    timeout = std::chrono::milliseconds(body["timeout_ms"].get<std::uint64_t>());
  }
  Cluster* cl = host_.cluster();
  if (cl == nullptr)
    return c->reply(error_response(409, "not a cluster member (no --peer-listen)"));
  if (draining_.exchange(true))
    return c->reply(error_response(409, "a drain is already under way"));
  SHOAL_LOG(kInfo, "admin: draining (weight 0, then leave)");
  host_.post_to_peer_loop([this, c, cl, timeout] {
    if (auto e = cl->set_weight(0)) {
      draining_ = false;
      return c->reply(error_response(409, *e));
    }
    post_guarded(c, [this, c, timeout] {
      AdminResponse r;
      try {
        r = wait_for_weight_zero(timeout);
      } catch (...) {
        draining_ = false;
        throw;
      }
      if (r.status == 200) {
        SHOAL_LOG(kInfo, "admin: weight 0 confirmed by every live member; leaving");
        host_.begin_shutdown();
      } else {
        draining_ = false;
        SHOAL_LOG(kWarn, "admin: drain not confirmed; weight stays 0, not leaving");
      }
      c->reply(std::move(r));
    });
  });
}

AdminResponse AdminApi::wait_for_weight_zero(std::chrono::milliseconds timeout) {
  const NodeConfig& cfg = host_.config();
  const auto started = Clock::now();
  const auto deadline = started + timeout;
  std::set<std::string> confirmed;
  std::map<std::string, std::string> pending;  // id -> why not yet
  while (!stopping_) {
    pending.clear();
    std::vector<std::pair<std::string, std::string>> ask;  // id, client_addr
    {
      // Hold the view while reading it: the peer loop may publish a new one meanwhile.
      const auto view = host_.cluster()->view();
      for (const peer::MemberRecord& rec : view->members) {
        if (rec.id == cfg.node_id || rec.state != peer::MemberState::kAlive) continue;
        if (!confirmed.count(rec.id)) ask.emplace_back(rec.id, rec.meta.client_addr);
      }
    }
    for (const MemberStats& s : fetch_member_stats(ask)) {
      std::string why = s.error;
      std::optional<router::NodeInfo> me;
      if (why.empty()) me = router::find_node_info(s.doc, cfg.node_id, &why);
      if (me && me->weight == 0.0) {
        confirmed.insert(s.id);
      } else {
        pending[s.id] = me ? "still shows weight " + dump(json(me->weight)) : why;
      }
    }
    if (pending.empty() && !stopping_) {
      const json handed = hand_off_pages(std::max(deadline, Clock::now() + kMinHandoff));
      return json_response(
          200,
          {{"id", cfg.node_id},
           {"confirmed_by", confirmed},
           {"handed_off", handed["handed_off"]},
           {"handoff_tried", handed["handoff_tried"]},
           {"waited_ms",
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()},
           {"leaving", true}});
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kDrainPoll);
  }
  std::string why;
  for (const auto& [id, reason] : pending) why += (why.empty() ? "" : "; ") + id + ": " + reason;
  return error_response(504, "weight 0 not confirmed within " + std::to_string(timeout.count()) +
                                 " ms by " + why + " (weight stays 0; not leaving)");
}

// Every member shows weight 0: the pages in memory this node owned go to their new owners
// (Cluster::hand_off), so reads after it left find them there, not at the origin.
json AdminApi::hand_off_pages(Clock::time_point deadline) {
  auto result = std::make_shared<std::promise<Cluster::HandoffReport>>();
  std::future<Cluster::HandoffReport> report = result->get_future();
  host_.cluster()->hand_off(host_.fetcher().memory().resident_pages(), deadline,
                            [result](Cluster::HandoffReport r) { result->set_value(r); });
  // Requests still out at the deadline get a moment to answer; then the node leaves anyway.
  if (report.wait_until(deadline + std::chrono::seconds(2)) != std::future_status::ready) {
    SHOAL_LOG(kWarn, "admin: drain's page hand-off did not finish in time; leaving");
    return {{"handed_off", 0}, {"handoff_tried", 0}};
  }
  const Cluster::HandoffReport r = report.get();
  SHOAL_LOG(kInfo,
            "admin: handed " << r.handed << " of " << r.tried << " pages to their new owners");
  return {{"handed_off", r.handed}, {"handoff_tried", r.tried}};
}

void AdminApi::leave(std::shared_ptr<Call> c) {
  if (!c->req.body.empty()) {
    json body;
    if (auto e = parse_body(c->req.body, {}, &body)) return c->reply(error_response(400, *e));
  }
  if (host_.cluster() == nullptr) {
    return c->reply(error_response(409, "not a cluster member (no --peer-listen)"));
  }
  SHOAL_LOG(kInfo, "admin: leaving the cluster and shutting down");
  host_.begin_shutdown();
  c->reply(json_response(200, {{"id", host_.config().node_id}, {"leaving", true}}));
}

}  // namespace shoal::node
