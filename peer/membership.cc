// Membership: the configuration check, the lifecycle (binding the peer port, start, leave,
// stop), our own app state (weight, stats), the view and counters, and the public facade of
// peer/membership.h over Membership::Impl (peer/membership_impl.h, where the other parts are).
//
// Thread rules: as peer/membership.h; view() and counters() from any thread.
#include "peer/membership.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>
#include <stdexcept>

#include "peer/address.h"
#include "peer/codec.h"
#include "peer/membership_impl.h"

namespace shoal::peer {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

constexpr int kMaxBindAttempts = 16;

}  // namespace

std::optional<std::string> MembershipConfig::validate() const {
  if (auto r = check_node_id(node_id)) return "node id: " + *r;
  MemberMeta meta{client_addr, advertise.empty() ? "127.0.0.1:1" : advertise, weight, {}};
  if (auto r = check_meta(meta)) return r;
  std::optional<udp::endpoint> bind = parse_peer_endpoint(listen, true);
  if (!bind) return "listen: '" + listen + "' is not IP:port";
  if (advertise.empty() && bind->address().is_unspecified()) {
    return "advertise: required when listening on an unspecified address";
  }
  if (probe_interval.count() <= 0 || probe_timeout.count() <= 0 ||
      probe_timeout >= probe_interval) {
    return "probe_timeout must be > 0 and < probe_interval";
  }
  if (gossip_interval.count() <= 0 || push_pull_interval.count() <= 0 || tcp_timeout.count() <= 0 ||
      handshake_timeout.count() <= 0 || join_retry_interval.count() <= 0 ||
      leave_timeout.count() < 0) {
    return "intervals and timeouts must be > 0";
  }
  if (join_retry_max < join_retry_interval) return "join_retry_max must be >= join_retry_interval";
  if (indirect_checks < 0 || gossip_nodes < 1 || suspicion_mult < 1 ||
      suspicion_max_timeout_mult < 1 || retransmit_mult < 1 || join_max_attempts < 0 ||
      awareness_max_multiplier < 1 || max_inbound_tcp < 1 || max_handshakes_per_source < 1) {
    return "counts and multipliers out of range";
  }
  if (tombstone_timeout < gossip_to_dead) return "tombstone_timeout must be >= gossip_to_dead";
  if (udp_budget < 512 || udp_budget > 65000) return "udp_budget must be in 512..65000";
  if (udp_auth.window_ms <= 0 || udp_auth.replay_cache_entries < 1) {
    return "udp_auth window and cache must be > 0";
  }
  return std::nullopt;
}

const MemberRecord* MembershipView::find(std::string_view id) const {
  auto it = std::lower_bound(members.begin(), members.end(), id,
                             [](const MemberRecord& r, std::string_view v) { return r.id < v; });
  return it != members.end() && it->id == id ? &*it : nullptr;
}

Membership::Impl::Impl(asio::io_context& io, MembershipConfig config, ClusterKey key)
    : io_(io),
      config_(std::move(config)),
      key_(key),
      udp_auth_(key, config_.node_id, config_.udp_auth),
      awareness_(config_.awareness_max_multiplier),
      rng_(std::random_device{}()),
      udp_(io),
      acceptor_(io),
      resolver_(io),
      probe_timer_(io),
      gossip_timer_(io),
      push_pull_timer_(io),
      join_timer_(io),
      leave_timer_(io) {
  auto v = std::make_shared<MembershipView>();
  v->self_id = config_.node_id;
  v->ring = std::make_shared<ring::Ring>();
  ring_ = v->ring;
  view_ = std::move(v);
}

// --- Setup ---

void Membership::Impl::bind_sockets() {
  std::optional<udp::endpoint> want = parse_peer_endpoint(config_.listen, true);
  bool any_port = want->port() == 0;
  for (int attempt = 1;; ++attempt) {
    udp_.open(want->protocol());
    udp_.bind(*want);
    local_ = udp_.local_endpoint();
    error_code ec;
    tcp::endpoint tcp_ep(local_.address(), local_.port());
    acceptor_.open(tcp_ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(tcp_ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) break;
    error_code ignored;
    acceptor_.close(ignored);
    udp_.close(ignored);
    if (!any_port || attempt == kMaxBindAttempts) {
      throw boost::system::system_error(ec, "bind peer TCP port " + std::to_string(local_.port()));
    }
  }
  advertise_ = config_.advertise.empty() ? format_endpoint(local_.address(), local_.port())
                                         : config_.advertise;
  advertise_ep_ = parse_peer_endpoint(advertise_);
}

void Membership::Impl::add_self() {
  Node me;
  me.rec.id = config_.node_id;
  me.rec.incarnation = config_.initial_incarnation;
  me.rec.state = MemberState::kAlive;
  me.rec.meta = MemberMeta{config_.client_addr, advertise_, config_.weight, {}};
  me.endpoint = *advertise_ep_;
  me.changed = Clock::now();
  nodes_.emplace(config_.node_id, std::move(me));
  epoch_ = 1;
  publish();
  broadcasts_.push(config_.node_id, encode_message(self_update()));
}

void Membership::Impl::start() {
  if (started_ || stopped_) return;
  bind_sockets();  // may throw: then nothing started
  started_ = true;
  add_self();
  do_receive();
  do_accept();
  arm_probe_timer(Clock::now() + config_.probe_interval);
  schedule_gossip();
  schedule_push_pull();
}

// --- Leave and stop ---

void Membership::Impl::leave(std::function<void()> done) {
  if (done) leave_done_.push_back(std::move(done));
  if (!started_ || stopped_) return finish_leave();
  if (leaving_) return;
  leaving_ = true;
  Node& me = self_node();
  ++me.rec.incarnation;
  me.rec.state = MemberState::kLeft;
  me.changed = Clock::now();
  broadcasts_.push(me.rec.id, encode_message(self_update()));
  ++epoch_;
  publish();
  log("leaving at incarnation " + std::to_string(me.rec.incarnation));
  emit(me.rec.id, MemberState::kAlive, MemberState::kLeft, me.rec.incarnation, true);
  std::string notice = encode_message(Leave{me.rec.id, me.rec.incarnation});
  for (auto& [id, n] : nodes_) {
    if (id != config_.node_id && is_live(n.rec.state)) send(n.endpoint, id, {notice});
  }
  leave_timer_.expires_after(config_.leave_timeout);
  leave_timer_.async_wait([self = shared_from_this()](error_code) { self->finish_leave(); });
}

void Membership::Impl::finish_leave() {
  stop();
  std::vector<std::function<void()>> done;
  done.swap(leave_done_);
  for (auto& d : done) asio::post(io_, std::move(d));
}

void Membership::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ignored;
  udp_.close(ignored);
  acceptor_.close(ignored);
  resolver_.cancel();
  probe_timer_.cancel();
  gossip_timer_.cancel();
  push_pull_timer_.cancel();
  join_timer_.cancel();
  leave_timer_.cancel();
  for (auto& [id, n] : nodes_) {
    if (n.suspicion_timer) n.suspicion_timer->cancel();
  }
  relays_.clear();
  for (const std::weak_ptr<FrameStream>& w : streams_) {
    if (auto s = w.lock()) s->close();
  }
  streams_.clear();
}

// --- App state ---

std::optional<std::string> Membership::Impl::set_weight(double weight) {
  if (!started_ || stopped_) return std::string("membership is not running");
  MemberMeta meta = self_node().rec.meta;
  meta.weight = weight;
  if (auto r = check_meta(meta)) return r;
  MemberRecord& me = self_node().rec;
  if (me.meta.weight == weight) return std::nullopt;
  me.meta.weight = weight;
  ++me.incarnation;
  if (me.state == MemberState::kAlive) {
    broadcasts_.push(me.id, encode_message(self_update()));
    ++epoch_;
  }
  publish();
  emit(me.id, me.state, me.state, me.incarnation, me.state == MemberState::kAlive);
  return std::nullopt;
}

std::optional<std::string> Membership::Impl::set_stats(StatsSummary stats) {
  if (!started_ || stopped_) return std::string("membership is not running");
  if (auto r = check_stats(stats)) return r;
  MemberRecord& me = self_node().rec;
  me.meta.stats = std::move(stats);
  ++me.incarnation;
  if (me.state == MemberState::kAlive) broadcasts_.push(me.id, encode_message(self_update()));
  publish();
  return std::nullopt;
}

std::shared_ptr<const MembershipView> Membership::Impl::view() const {
  std::lock_guard lock(view_mu_);
  return view_;
}

MembershipCounters Membership::Impl::counters() const {
  std::lock_guard lock(counters_mu_);
  return counters_;
}

// ---------------------------------------------------------------------------------------------

Membership::Membership(asio::io_context& io, MembershipConfig config, ClusterKey key) {
  if (auto reason = config.validate()) throw std::invalid_argument(*reason);
  impl_ = std::make_shared<Impl>(io, std::move(config), key);
}

Membership::~Membership() {
  impl_->stop();
}

void Membership::start() {
  impl_->start();
}
void Membership::join(std::vector<std::string> seeds) {
  impl_->join(std::move(seeds));
}
void Membership::leave(std::function<void()> done) {
  impl_->leave(std::move(done));
}
void Membership::stop() {
  impl_->stop();
}
std::optional<std::string> Membership::set_weight(double weight) {
  return impl_->set_weight(weight);
}
std::optional<std::string> Membership::set_stats(StatsSummary stats) {
  return impl_->set_stats(std::move(stats));
}
void Membership::on_change(ChangeHandler handler) {
  impl_->on_change(std::move(handler));
}
void Membership::on_stream(StreamHandler handler) {
  impl_->on_stream(std::move(handler));
}
std::shared_ptr<const MembershipView> Membership::view() const {
  return impl_->view();
}
MembershipCounters Membership::counters() const {
  return impl_->counters();
}
udp::endpoint Membership::local_endpoint() const {
  return impl_->local_endpoint();
}
std::string Membership::peer_addr() const {
  return impl_->peer_addr();
}
const std::string& Membership::self_id() const {
  return impl_->self_id();
}

}  // namespace shoal::peer
