// SWIM failure detection in Membership::Impl (peer/membership_impl.h): once per protocol period
// a ping to the next member in randomized round-robin order (peer/probe_order.h), ping-reqs
// through indirect_checks members when it stays unanswered for probe_timeout, and a suspicion
// when no ack arrived by the end of the period; relaying ping-reqs for other members (a nack at
// probe_timeout, a late ack still relayed until the requester's period ends); Lifeguard's local
// health (probe timing scaled by awareness) and suspicion timers that shrink with independent
// confirmations (peer/swim_rules.h). Packets go out through send() (membership_gossip.cc).
//
// Thread rules: the io_context thread only.
#include <algorithm>

#include "peer/address.h"
#include "peer/codec.h"
#include "peer/membership_impl.h"

namespace shoal::peer {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxRelays = 1024;  // ping-reqs being served at once

}  // namespace

// --- Probing ---

void Membership::Impl::arm_probe_timer(Clock::time_point at) {
  std::uint64_t gen = ++probe_gen_;
  probe_timer_.expires_at(at);
  probe_timer_.async_wait([self = shared_from_this(), gen](error_code ec) {
    if (ec || self->stopped_ || gen != self->probe_gen_) return;
    self->on_probe_timer();
  });
}

void Membership::Impl::on_probe_timer() {
  if (leaving_) return;
  if (!probe_) return start_probe();
  if (!probe_->indirect) return start_indirect();
  probe_failed();
}

void Membership::Impl::start_probe() {
  Node* target = next_probe_target();
  Clock::time_point now = Clock::now();
  if (!target) return arm_probe_timer(now + scaled(config_.probe_interval));
  probe_ = Probe{next_seq(), target->rec.id, target->rec.incarnation, now};
  bump(&MembershipCounters::probes);
  send(target->endpoint, target->rec.id, {encode_message(Ping{probe_->seq, target->rec.id})});
  arm_probe_timer(now + scaled(config_.probe_timeout));
}

void Membership::Impl::start_indirect() {
  probe_->indirect = true;
  auto it = nodes_.find(probe_->target);
  if (it == nodes_.end() || !is_live(it->second.rec.state)) {
    probe_.reset();  // the target left or died meanwhile: nothing to decide
    return start_probe();
  }
  const Node& target = it->second;
  PingReq req{probe_->seq, target.rec.id, target.rec.meta.peer_addr};
  std::vector<Node*> helpers =
      pick_members(static_cast<std::size_t>(config_.indirect_checks), target.rec.id, false);
  std::string encoded = encode_message(req);
  for (Node* h : helpers) {
    if (h->rec.state != MemberState::kAlive) continue;
    send(h->endpoint, h->rec.id, {encoded});
    ++probe_->expected_nacks;
    bump(&MembershipCounters::indirect_probes);
  }
  arm_probe_timer(probe_->start + scaled(config_.probe_interval));
}

void Membership::Impl::probe_failed() {
  Probe p = std::move(*probe_);
  probe_.reset();
  awareness_.apply(p.expected_nacks > 0 ? std::max(0, p.expected_nacks - p.nacks) : 1);
  bump(&MembershipCounters::probe_failures);
  auto it = nodes_.find(p.target);
  if (it != nodes_.end() && is_live(it->second.rec.state)) {
    // The incarnation probed, not the current one: if the member refuted or rejoined meanwhile,
    // this suspicion is stale and the precedence rules drop it (as memberlist does).
    apply(Update{p.target, p.incarnation, MemberState::kSuspect, config_.node_id, std::nullopt});
  }
  start_probe();
}

void Membership::Impl::probe_succeeded() {
  awareness_.apply(-1);
  Clock::time_point next = probe_->start + scaled(config_.probe_interval);
  probe_.reset();
  arm_probe_timer(std::max(next, Clock::now()));
}

Membership::Impl::Node* Membership::Impl::next_probe_target() {
  auto probe_able = [this](const std::string& id) {
    auto it = nodes_.find(id);
    return it != nodes_.end() && id != config_.node_id && is_live(it->second.rec.state);
  };
  auto all = [this] {
    std::vector<std::string> ids;
    for (const auto& [id, n] : nodes_) {
      if (id != config_.node_id && is_live(n.rec.state)) ids.push_back(id);
    }
    return ids;
  };
  std::optional<std::string> id = probe_order_.next(probe_able, all, rng_);
  return id ? &nodes_.find(*id)->second : nullptr;
}

// --- Serving pings and ping-reqs ---

void Membership::Impl::on_ping(const Ping& m, const std::string& from_id,
                               const udp::endpoint& from) {
  if (!m.target.empty() && m.target != config_.node_id) {
    return bump(&MembershipCounters::misdirected);
  }
  send(from, from_id, {encode_message(Ack{m.seq})});
}

void Membership::Impl::on_ping_req(const PingReq& m, const std::string& from_id,
                                   const udp::endpoint& from) {
  std::optional<udp::endpoint> target = parse_peer_endpoint(m.target_addr);
  if (!target || relays_.size() >= kMaxRelays || leaving_) return;
  std::uint32_t seq = next_seq();
  Relay r{from, from_id, m.seq, false, std::make_unique<asio::steady_timer>(io_)};
  r.timer->expires_after(config_.probe_timeout);
  r.timer->async_wait([self = shared_from_this(), seq](error_code ec) {
    if (!ec && !self->stopped_) self->on_relay_timer(seq);
  });
  relays_.insert_or_assign(seq, std::move(r));
  send(*target, m.target, {encode_message(Ping{seq, m.target})});
}

void Membership::Impl::on_relay_timer(std::uint32_t seq) {
  auto it = relays_.find(seq);
  if (it == relays_.end()) return;
  Relay& r = it->second;
  if (r.nacked) {
    relays_.erase(it);
    return;
  }
  r.nacked = true;
  send(r.requester, r.requester_id, {encode_message(Nack{r.seq})});
  // Keep relaying a late ack until the requester's probe period is over.
  r.timer->expires_after(config_.probe_interval - config_.probe_timeout);
  r.timer->async_wait([self = shared_from_this(), seq](error_code ec) {
    if (!ec && !self->stopped_) self->on_relay_timer(seq);
  });
}

void Membership::Impl::on_ack(std::uint32_t seq) {
  if (probe_ && probe_->seq == seq) return probe_succeeded();
  auto it = relays_.find(seq);
  if (it == relays_.end()) return;
  send(it->second.requester, it->second.requester_id, {encode_message(Ack{it->second.seq})});
  relays_.erase(it);
}

void Membership::Impl::on_nack(std::uint32_t seq) {
  if (!probe_ || probe_->seq != seq) return;
  ++probe_->nacks;
  bump(&MembershipCounters::nacks_received);
}

// --- Suspicion ---

void Membership::Impl::start_suspicion(Node& n, const std::string& accuser) {
  n.suspicion = std::make_unique<Suspicion>(
      accuser, suspicion_bounds(live_count(), config_.suspicion_mult,
                                config_.suspicion_max_timeout_mult, config_.probe_interval));
  n.suspicion_start = Clock::now();
  if (!n.suspicion_timer) n.suspicion_timer = std::make_unique<asio::steady_timer>(io_);
  bump(&MembershipCounters::suspicions);
  arm_suspicion_timer(n);
}

void Membership::Impl::arm_suspicion_timer(Node& n) {
  std::uint64_t gen = ++n.suspicion_gen;
  n.suspicion_timer->expires_at(n.suspicion_start + n.suspicion->timeout());
  n.suspicion_timer->async_wait(
      [self = shared_from_this(), id = n.rec.id, inc = n.rec.incarnation, gen](error_code ec) {
        if (ec || self->stopped_) return;
        self->on_suspicion_timeout(id, inc, gen);
      });
}

void Membership::Impl::on_suspicion_timeout(const std::string& id, std::uint64_t incarnation,
                                            std::uint64_t gen) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  if (n.rec.state != MemberState::kSuspect || n.rec.incarnation != incarnation ||
      n.suspicion_gen != gen) {
    return;
  }
  bump(&MembershipCounters::deaths);
  apply(Update{id, incarnation, MemberState::kDead, config_.node_id, std::nullopt});
}

void Membership::Impl::confirm_suspicion(Node& n, const Update& u) {
  if (!n.suspicion || !n.suspicion->confirm(u.from)) return;
  arm_suspicion_timer(n);
  broadcasts_.push(u.id, encode_message(u));
}

}  // namespace shoal::peer
