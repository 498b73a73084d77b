#include "router/router.h"

#include <algorithm>

namespace shoal::router {

std::optional<std::string> RouterOptions::validate() const {
  if (auto e = poller.validate()) return e;
  if (!(bounded_load == 0 || bounded_load > 1)) return "bounded_load: must be 0 (off) or > 1";
  if (quarantine.count() < 0) return "quarantine: must be >= 0";
  return std::nullopt;
}

Router::Router(boost::asio::any_io_executor control, RouterOptions options)
    : options_(std::move(options)), poller_(std::move(control), options_.poller) {}

std::uint64_t Router::load_of(const NodeInfo& n) const {
  auto it = in_flight_.find(n.id);
  const std::uint64_t ours = it == in_flight_.end() ? 0 : it->second;
  return std::max(n.in_flight, ours);
}

bool Router::is_quarantined(const NodeInfo& n) const {
  auto it = quarantine_.find(n.id);
  return it != quarantine_.end() && std::chrono::steady_clock::now() < it->second;
}

std::vector<Candidate> Router::plan(std::string_view target, std::string_view range) {
  ++requests_;
  auto v = poller_.view();
  if (!v) {
    ++unrouted_;
    return {};
  }
  auto key = route_key(target, range, v->page_size());
  if (!key || !key->first_page) ++spread_;
  MemberState state;
  state.load = [this](const NodeInfo& n) { return load_of(n); };
  state.quarantined = [this](const NodeInfo& n) { return is_quarantined(n); };
  std::vector<Candidate> out;
  {
    std::lock_guard lock(mu_);
    out = choose(*v, key, requests_.load(), ChooseOptions{options_.bounded_load}, state);
  }
  if (out.empty()) ++unrouted_;
  return out;
}

void Router::begin(const std::string& id) {
  std::lock_guard lock(mu_);
  ++in_flight_[id];
}

void Router::end(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = in_flight_.find(id);
  if (it != in_flight_.end() && it->second > 0) --it->second;
}

void Router::failed(const std::string& id) {
  ++upstream_failures_;
  {
    std::lock_guard lock(mu_);
    quarantine_[id] = std::chrono::steady_clock::now() + options_.quarantine;
  }
  poller_.poll_soon();
}

void Router::served(const std::vector<Candidate>& plan, std::size_t attempt) {
  if (attempt >= plan.size()) return;
  if (plan[attempt].owner) ++to_owner_;
  if (attempt > 0) {
    ++fallbacks_;
    return;
  }
  auto owner = std::find_if(plan.begin(), plan.end(), [](const Candidate& c) { return c.owner; });
  if (owner != plan.end() && !plan[attempt].owner && owner->overloaded && !owner->quarantined) {
    ++load_skips_;
  }
}

RouterCounters Router::counters() const {
  return RouterCounters{requests_.load(),         unrouted_.load(),  to_owner_.load(),
                        load_skips_.load(),       fallbacks_.load(), spread_.load(),
                        upstream_failures_.load()};
}

nlohmann::json Router::stats_json() const {
  auto v = poller_.view();
  nlohmann::json members = nlohmann::json::array();
  if (v) {
    std::lock_guard lock(mu_);
    for (const auto& n : v->nodes()) {
      auto it = in_flight_.find(n.id);
      members.push_back({{"id", n.id},
                         {"state", n.state},
                         {"client_addr", n.client_addr},
                         {"weight", n.weight},
                         {"in_flight", n.in_flight},
                         {"router_in_flight", it == in_flight_.end() ? 0 : it->second},
                         {"quarantined", is_quarantined(n)}});
    }
  }
  const RouterCounters c = counters();
  return {{"epoch", v ? v->epoch() : 0},
          {"page_size_bytes", v ? v->page_size() : 0},
          {"view_from", v ? v->source() : ""},
          {"known", poller_.known()},
          {"polls",
           {{"ok", poller_.polls_ok()},
            {"failed", poller_.polls_failed()},
            {"last_error", poller_.last_error()}}},
          {"bounded_load", options_.bounded_load},
          {"members", members},
          {"requests", c.requests},
          {"unrouted", c.unrouted},
          {"to_owner", c.to_owner},
          {"load_skips", c.load_skips},
          {"fallbacks", c.fallbacks},
          {"spread", c.spread},
          {"upstream_failures", c.upstream_failures}};
}

}  // namespace shoal::router
