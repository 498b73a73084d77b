#include "node/cluster.h"

#include <boost/asio/post.hpp>

#include "node/forward_race.h"
#include "node/metrics.h"
#include "ring/base/log.h"
#include "ring/base/page_key.h"

namespace shoal::node {
namespace net = boost::asio;

namespace {
// Members ranked per page: the owner and this many failover ranks at most.
constexpr std::size_t kMaxRanks = 8;
}  // namespace

Cluster::Cluster(boost::asio::io_context& peer_loop, ClusterConfig config, peer::ClusterKey key,
                 PageFetcher& fetcher, const FetchRules& rules, NodeMetrics& metrics,
                 std::uint64_t page_size)
    : loop_(peer_loop),
      config_(std::move(config)),
      self_id_(config_.membership.node_id),
      metrics_(metrics),
      policy_(config_.forward),
      budget_(config_.forward_hedge_budget, std::chrono::seconds(10),
              std::chrono::steady_clock::now()),
      history_(self_id_) {
  config_.membership.log = [](std::string_view line) { SHOAL_LOG(kInfo, "membership: " << line); };
  membership_ = std::make_unique<peer::Membership>(loop_, config_.membership, key);
  client_ = std::make_unique<ForwardClient>(loop_, key, page_size, metrics_, policy_);
  server_ = std::make_unique<ForwardServer>(loop_, fetcher, rules, metrics_);
  invalidation_client_ = std::make_unique<InvalidationClient>(loop_, key, metrics_);
  invalidation_server_ = std::make_unique<InvalidationServer>(fetcher, metrics_);
  membership_->on_stream(
      [this](std::shared_ptr<peer::FrameStream> s, peer::Frame first, peer::FrameHeader header) {
        if (std::holds_alternative<peer::Invalidate>(header)) {
          return invalidation_server_->serve(std::move(s), header);
        }
        server_->serve(std::move(s), std::move(first), std::move(header));
      });
  membership_->on_change([this](const peer::MemberEvent& e) {
    if (e.epoch_changed) {
      auto v = membership_->view();
      history_.observe(v->epoch, v->ring, RingHistory::Clock::now());
    }
    SHOAL_LOG(kInfo, "member " << e.id << ": " << (e.before ? peer::state_name(*e.before) : "new")
                               << " -> " << (e.after ? peer::state_name(*e.after) : "reaped")
                               << " (incarnation " << e.incarnation << ", epoch " << e.epoch
                               << ")");
  });
}

Cluster::~Cluster() = default;

void Cluster::invalidate_members(const std::string& kind, const std::string& object,
                                 std::chrono::milliseconds timeout,
                                 std::function<void(InvalidateReport)> done) {
  net::post(loop_, [this, kind, object, timeout, done = std::move(done)]() mutable {
    std::vector<InvalidationClient::Target> targets;
    const auto v = membership_->view();
    for (const peer::MemberRecord& m : v->members) {
      const bool live =
          m.state == peer::MemberState::kAlive || m.state == peer::MemberState::kSuspect;
      if (live && m.id != self_id_) targets.push_back({m.id, m.meta.peer_addr});
    }
    invalidation_client_->invalidate(std::move(targets), kind, object, timeout, std::move(done));
  });
}

void Cluster::start() {
  membership_->start();
  auto v = membership_->view();
  history_.observe(v->epoch, v->ring, RingHistory::Clock::now());
  SHOAL_LOG(kInfo, "peer port " << membership_->peer_addr() << ", node " << self_id_);
  if (!config_.seeds.empty()) membership_->join(config_.seeds);
}

void Cluster::leave(std::function<void()> done) {
  client_->close_all();
  membership_->leave(std::move(done));
}

void Cluster::stop() {
  client_->close_all();
  membership_->stop();
}

std::vector<PageRouter::Target> Cluster::targets(const base::PageKey& key) const {
  auto v = membership_->view();
  std::vector<Target> out;
  if (!v->ring || v->ring->empty()) return out;
  const std::uint64_t h = base::page_hash(key.kind, key.object, key.page);
  std::vector<RankedMember> ranked;
  for (std::size_t i : v->ring->rank(h, std::min(kMaxRanks, v->ring->size()))) {
    const auto& m = v->ring->members()[i];
    const peer::MemberRecord* rec = v->find(m.id);
    if (rec == nullptr) continue;
    const bool self = m.id == v->self_id;
    const bool alive = rec->state == peer::MemberState::kAlive;
    if (!alive && rec->state != peer::MemberState::kSuspect) continue;
    ranked.push_back(RankedMember{out.size(), !self && (!alive || policy_.slow(m.id))});
    out.push_back(Target{m.id, rec->meta.peer_addr, self});
  }
  std::vector<Target> ordered;
  for (std::size_t i : rank_alive_first(ranked)) ordered.push_back(std::move(out[i]));
  return ordered;
}

void Cluster::forward(const Target& target, const base::PageKey& key, const FetchOptions& opts,
                      std::function<void(PageResult)> done) {
  // The members after `target` in the page's ranking: the next one is the hedge unless it is
  // this node, and every remote one may resume a stalled stream.
  ForwardRace::Plan plan;
  plan.first = ForwardClient::Peer{target.id, target.peer_addr};
  bool after = false, self_next = false;
  for (const Target& t : targets(key)) {
    if (t.id == target.id) {
      after = true;
      continue;
    }
    if (!after) continue;
    if (t.self) {
      if (!plan.hedge) self_next = true;
      continue;
    }
    if (!plan.hedge && !self_next) plan.hedge = ForwardClient::Peer{t.id, t.peer_addr};
    plan.alternates.push_back(ForwardClient::Peer{t.id, t.peer_addr});
  }
  const std::uint64_t epoch = membership_->view()->epoch;
  net::post(loop_,
            [this, plan = std::move(plan), key, opts, epoch, done = std::move(done)]() mutable {
              ForwardRace::run(ForwardRaceDeps{loop_, *client_, policy_, budget_}, std::move(plan),
                               key, opts, epoch, std::move(done));
            });
}

std::optional<PageRouter::Target> Cluster::previous_owner(const base::PageKey& key) const {
  auto v = membership_->view();
  const auto now = RingHistory::Clock::now();
  history_.observe(v->epoch, v->ring, now);
  auto before = history_.previous(now);
  if (!before || before->empty() || !v->ring || v->ring->empty()) return std::nullopt;
  const std::uint64_t h = base::page_hash(key.kind, key.object, key.page);
  const ring::Member* owner = v->ring->owner(h);
  const ring::Member* was = before->owner(h);
  if (owner == nullptr || owner->id != self_id_ || was == nullptr || was->id == self_id_) {
    return std::nullopt;
  }
  const peer::MemberRecord* rec = v->find(was->id);
  if (rec == nullptr || rec->state != peer::MemberState::kAlive) return std::nullopt;
  return Target{rec->id, rec->meta.peer_addr, false};
}

struct Cluster::HandoffRun {
  std::vector<EvictedPage> pages;
  std::size_t next = 0;
  std::size_t running = 0;
  std::chrono::steady_clock::time_point deadline;
  std::function<void(HandoffReport)> done;
  HandoffReport report;
  std::shared_ptr<const ring::Ring> before;
  std::shared_ptr<const peer::MembershipView> view;
};

void Cluster::hand_off(std::vector<EvictedPage> pages,
                       std::chrono::steady_clock::time_point deadline,
                       std::function<void(HandoffReport)> done) {
  auto run = std::make_shared<HandoffRun>();
  run->pages = std::move(pages);
  run->deadline = deadline;
  run->done = std::move(done);
  boost::asio::post(loop_, [this, run] {
    run->view = membership_->view();
    history_.observe(run->view->epoch, run->view->ring, RingHistory::Clock::now());
    run->before = history_.previous(RingHistory::Clock::now());
    handoff_next(run);
  });
}

void Cluster::handoff_next(const std::shared_ptr<HandoffRun>& run) {
  const peer::MembershipView& v = *run->view;
  while (run->before && v.ring && run->running < kHandoffWindow && run->next < run->pages.size() &&
         std::chrono::steady_clock::now() < run->deadline) {
    const EvictedPage& e = run->pages[run->next++];
    const std::uint64_t h = base::page_hash(e.key.kind, e.key.object, e.key.page);
    const ring::Member* was = run->before->owner(h);
    const ring::Member* owner = v.ring->owner(h);
    if (was == nullptr || was->id != self_id_ || owner == nullptr || owner->id == self_id_ ||
        e.page->bucket.empty()) {
      continue;  // not ours before, or still ours: nobody would take it from here
    }
    const peer::MemberRecord* rec = v.find(owner->id);
    if (rec == nullptr || rec->state != peer::MemberState::kAlive) continue;
    FetchOptions opts;
    opts.buckets = {e.page->bucket};
    opts.slice_length = 1;  // the owner takes the whole page; one byte comes back
    ++run->running;
    ++run->report.tried;
    client_->start(ForwardClient::Peer{owner->id, rec->meta.peer_addr}, e.key, opts, v.epoch, {},
                   loop_.get_executor(), [this, run](PageResult r) {
                     --run->running;
                     if (r.outcome == base::Outcome::kOk) ++run->report.handed;
                     handoff_next(run);
                   });
  }
  const bool exhausted = !run->before || !v.ring || run->next >= run->pages.size() ||
                         std::chrono::steady_clock::now() >= run->deadline;
  if (run->running == 0 && exhausted && run->done) {
    auto done = std::move(run->done);
    run->done = nullptr;
    done(run->report);
  }
}

nlohmann::json Cluster::stats_json() const {
  auto v = membership_->view();
  nlohmann::json members = nlohmann::json::array();
  for (const auto& rec : v->members) {
    double share = 0;
    if (v->ring) {
      if (auto idx = v->ring->find(rec.id)) share = v->ring->share(*idx);
    }
    nlohmann::json buckets = nlohmann::json::object();
    for (const peer::BucketStats& b : rec.meta.stats.buckets) {
      buckets[b.bucket] = {{"page_p50_ms", b.p50_ms},
                           {"page_p99_ms", b.p99_ms},
                           {"latency_samples", b.samples},
                           {"error_rate", b.error_rate},
                           {"evidence", b.evidence}};
    }
    members.push_back({{"id", rec.id},
                       {"state", std::string(peer::state_name(rec.state))},
                       {"incarnation", rec.incarnation},
                       {"weight", rec.meta.weight},
                       {"client_addr", rec.meta.client_addr},
                       {"peer_addr", rec.meta.peer_addr},
                       {"owned_share", share},
                       {"in_flight", rec.meta.stats.in_flight},
                       {"egress_bps", rec.meta.stats.egress_bps},
                       {"ingress_bps", rec.meta.stats.ingress_bps},
                       {"buckets", std::move(buckets)}});
  }
  auto c = membership_->counters();
  nlohmann::json peers = nlohmann::json::object();
  for (const auto& [id, f] : policy_.counts()) {
    peers[id] = {{"timeouts", f.timeouts},
                 {"hedges", f.hedges},
                 {"resumes", f.resumes},
                 {"deadline_ms", f.deadline.count()}};
  }
  return {{"epoch", v->epoch},
          {"forward_peers", std::move(peers)},
          {"members", members},
          {"forwarded_out", metrics_.forwards_out.load()},
          {"forwarded_in", metrics_.forwards_in.load()},
          {"forwards_refused", metrics_.forwards_refused.load()},
          {"fallbacks", metrics_.forward_failovers.load()},
          {"uncached_fetches", metrics_.forward_uncached.load()},
          {"handoffs_asked", metrics_.handoffs_asked.load()},
          {"handoffs_taken", metrics_.handoffs_taken.load()},
          {"handoffs_served", metrics_.handoffs_served.load()},
          {"invalidations_acked", metrics_.invalidations_acked.load()},
          {"invalidations_failed", metrics_.invalidations_failed.load()},
          {"invalidations_served", metrics_.invalidations_served.load()},
          {"peer_errors", metrics_.peer_errors.load() + c.decode_errors + c.auth_failures},
          {"auth_failures", c.auth_failures},
          {"version_mismatches", c.version_mismatches},
          {"replays", c.replays},
          {"stale_packets", c.stale_packets},
          {"handshake_timeouts", c.handshake_timeouts},
          {"handshakes_refused", c.handshakes_refused},
          {"join_failures", c.join_failures},
          {"tcp_errors", c.tcp_errors},
          {"suspicions", c.suspicions},
          {"deaths", c.deaths}};
}

void Cluster::write_metrics(PrometheusWriter& out) const {
  auto v = membership_->view();
  auto c = membership_->counters();
  out.gauge("shoal_membership_epoch", "Membership epoch (bumped on every live-set change)",
            static_cast<double>(v->epoch));
  std::size_t alive = 0, suspect = 0, dead = 0, left = 0;
  for (const auto& rec : v->members) {
    switch (rec.state) {
      case peer::MemberState::kAlive:
        ++alive;
        break;
      case peer::MemberState::kSuspect:
        ++suspect;
        break;
      case peer::MemberState::kDead:
        ++dead;
        break;
      case peer::MemberState::kLeft:
        ++left;
        break;
    }
  }
  out.family("shoal_members", "Known members by state", "gauge");
  out.sample({{"state", "alive"}}, static_cast<double>(alive));
  out.sample({{"state", "suspect"}}, static_cast<double>(suspect));
  out.sample({{"state", "dead"}}, static_cast<double>(dead));
  out.sample({{"state", "left"}}, static_cast<double>(left));
  out.counter("shoal_forwards_out_total", "Page requests forwarded to their owner",
              static_cast<double>(metrics_.forwards_out.load()));
  out.counter("shoal_forwards_in_total", "Page requests served for other members",
              static_cast<double>(metrics_.forwards_in.load()));
  out.counter("shoal_forwards_refused_total",
              "Forwarded page requests this node's bucket policy refused",
              static_cast<double>(metrics_.forwards_refused.load()));
  out.counter("shoal_forward_fallbacks_total", "Forwards moved to the next member in the ranking",
              static_cast<double>(metrics_.forward_failovers.load()));
  out.family("shoal_invalidations_total",
             "Cluster-wide invalidations: members that acked one sent from here, that did not, "
             "and Invalidate frames served here",
             "counter");
  out.sample({{"result", "acked"}}, static_cast<double>(metrics_.invalidations_acked.load()));
  out.sample({{"result", "failed"}}, static_cast<double>(metrics_.invalidations_failed.load()));
  out.sample({{"result", "served"}}, static_cast<double>(metrics_.invalidations_served.load()));
  const auto per_peer = policy_.counts();
  auto family = [&](const char* name, const char* help, auto field) {
    out.family(name, help, "counter");
    for (const auto& [id, f] : per_peer) out.sample({{"peer", id}}, static_cast<double>(field(f)));
  };
  family("shoal_forward_timeouts_total",
         "Forwards to a peer past their first-byte deadline or stalled mid-page",
         [](const ForwardPeerCounts& f) { return f.timeouts; });
  family("shoal_forward_hedges_total",
         "Forwards sent to the next member of a page's ranking because this peer was slow",
         [](const ForwardPeerCounts& f) { return f.hedges; });
  family("shoal_forward_resumes_total",
         "Page streams from a peer that stalled or broke and were resumed from another member",
         [](const ForwardPeerCounts& f) { return f.resumes; });
  out.family("shoal_forward_deadline_seconds", "Current first-byte deadline of forwards to a peer",
             "gauge");
  for (const auto& [id, f] : per_peer) {
    out.sample({{"peer", id}}, static_cast<double>(f.deadline.count()) / 1000.0);
  }
  out.counter("shoal_forward_uncached_total",
              "Pages fetched from the origin uncached because no ranked member was reachable",
              static_cast<double>(metrics_.forward_uncached.load()));
  out.counter("shoal_handoffs_asked_total",
              "Misses of pages that moved here lately, asked of their previous owner first",
              static_cast<double>(metrics_.handoffs_asked.load()));
  out.counter("shoal_handoffs_taken_total",
              "Pages taken from their previous owner instead of the origin",
              static_cast<double>(metrics_.handoffs_taken.load()));
  out.counter("shoal_handoffs_served_total",
              "Cache-only reads this node answered with a page for a new owner",
              static_cast<double>(metrics_.handoffs_served.load()));
  out.counter("shoal_peer_errors_total", "Malformed or refused peer frames and packets",
              static_cast<double>(metrics_.peer_errors.load() + c.decode_errors + c.auth_failures));
  out.counter("shoal_peer_version_mismatches_total",
              "Peer datagrams and connections refused for another protocol version",
              static_cast<double>(c.version_mismatches));
  out.counter("shoal_peer_replays_total", "Sealed peer datagrams refused as replays",
              static_cast<double>(c.replays));
  out.counter("shoal_peer_stale_total",
              "Sealed peer datagrams refused for a timestamp outside the replay window",
              static_cast<double>(c.stale_packets));
  out.counter("shoal_peer_handshake_timeouts_total",
              "Inbound peer connections closed for not proving the key in time",
              static_cast<double>(c.handshake_timeouts));
  out.counter("shoal_peer_handshakes_refused_total",
              "Inbound peer connections refused: too many handshakes from one address",
              static_cast<double>(c.handshakes_refused));
  out.counter("shoal_swim_suspicions_total", "Members this node suspected",
              static_cast<double>(c.suspicions));
  out.counter("shoal_swim_probes_total", "SWIM probes sent", static_cast<double>(c.probes));
}

}  // namespace shoal::node
