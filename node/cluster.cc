#include "node/cluster.h"

#include "node/metrics.h"
#include "ring/base/log.h"
#include "ring/base/page_key.h"

namespace shoal::node {

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
      metrics_(metrics) {
  config_.membership.log = [](std::string_view line) { SHOAL_LOG(kInfo, "membership: " << line); };
  membership_ = std::make_unique<peer::Membership>(loop_, config_.membership, key);
  client_ = std::make_unique<ForwardClient>(loop_, key, page_size, metrics_);
  server_ = std::make_unique<ForwardServer>(loop_, fetcher, rules, metrics_);
  membership_->on_stream(
      [this](std::shared_ptr<peer::FrameStream> s, peer::Frame first, peer::FrameHeader header) {
        server_->serve(std::move(s), std::move(first), std::move(header));
      });
  membership_->on_change([](const peer::MemberEvent& e) {
    SHOAL_LOG(kInfo, "member " << e.id << ": " << (e.before ? peer::state_name(*e.before) : "new")
                               << " -> " << (e.after ? peer::state_name(*e.after) : "reaped")
                               << " (incarnation " << e.incarnation << ", epoch " << e.epoch
                               << ")");
  });
}

Cluster::~Cluster() = default;

void Cluster::start() {
  membership_->start();
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
  for (std::size_t i : v->ring->rank(h, std::min(kMaxRanks, v->ring->size()))) {
    const auto& m = v->ring->members()[i];
    const peer::MemberRecord* rec = v->find(m.id);
    if (rec == nullptr || rec->state != peer::MemberState::kAlive) continue;  // suspect: skip
    out.push_back(Target{m.id, rec->meta.peer_addr, m.id == v->self_id});
  }
  return out;
}

void Cluster::forward(const Target& target, const base::PageKey& key, const FetchOptions& opts,
                      std::function<void(PageResult)> done) {
  client_->fetch(target.peer_addr, key, opts, membership_->view()->epoch, loop_.get_executor(),
                 std::move(done));
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
  return {{"epoch", v->epoch},
          {"members", members},
          {"forwarded_out", metrics_.forwards_out.load()},
          {"forwarded_in", metrics_.forwards_in.load()},
          {"forwards_refused", metrics_.forwards_refused.load()},
          {"fallbacks", metrics_.forward_failovers.load()},
          {"uncached_fetches", metrics_.forward_uncached.load()},
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
  out.counter("shoal_forward_uncached_total",
              "Pages fetched from the origin uncached because no ranked member was reachable",
              static_cast<double>(metrics_.forward_uncached.load()));
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
