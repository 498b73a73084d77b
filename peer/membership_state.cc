// The member table of Membership::Impl (peer/membership_impl.h): news about members applied by
// the precedence rules of peer/swim_rules.h (new members, state changes, confirmations of a
// suspicion, news about ourselves that we refute), push-pull merges (a remote "dead" is taken as
// "suspect"), tombstone reaping, the epoch (bumped on a change of the live set or a live weight)
// and the published view with its ring, change events (posted) and log lines, and the random
// choice of members to gossip to or probe through.
//
// Thread rules: the io_context thread only; publish() takes view_mu_ to swap the snapshot.
#include <algorithm>
#include <boost/asio/post.hpp>

#include "peer/address.h"
#include "peer/codec.h"
#include "peer/membership_impl.h"

namespace shoal::peer {

namespace asio = boost::asio;

void Membership::Impl::apply(const Update& u) {
  if (u.id == config_.node_id) return apply_about_self(u);
  auto it = nodes_.find(u.id);
  if (it == nodes_.end()) return add_member(u);
  Node& n = it->second;
  if (u.state == MemberState::kSuspect && n.rec.state == MemberState::kSuspect &&
      u.incarnation == n.rec.incarnation) {
    return confirm_suspicion(n, u);
  }
  if (!supersedes(u.incarnation, u.state, n.rec.incarnation, n.rec.state)) return;
  change_member(n, u);
}

void Membership::Impl::add_member(const Update& u) {
  if (u.state != MemberState::kAlive || !u.meta) return;  // news of unknown tombstones: ignored
  std::optional<udp::endpoint> ep = parse_peer_endpoint(u.meta->peer_addr);
  if (!ep) return;
  Node n;
  n.rec = MemberRecord{u.id, u.incarnation, MemberState::kAlive, *u.meta};
  n.endpoint = *ep;
  n.changed = Clock::now();
  nodes_.emplace(u.id, std::move(n));
  probe_order_.insert(u.id, rng_);
  broadcasts_.push(u.id, encode_message(u));
  ++epoch_;
  publish();
  log("member " + u.id + " is alive (incarnation " + std::to_string(u.incarnation) + ", new)");
  emit(u.id, std::nullopt, MemberState::kAlive, u.incarnation, true);
}

void Membership::Impl::change_member(Node& n, const Update& u) {
  MemberState before = n.rec.state;
  double old_weight = n.rec.meta.weight;
  n.rec.incarnation = u.incarnation;
  n.rec.state = u.state;
  if (u.meta) {
    n.rec.meta = *u.meta;
    if (auto ep = parse_peer_endpoint(u.meta->peer_addr)) n.endpoint = *ep;
  }
  if (before != u.state) n.changed = Clock::now();
  if (u.state == MemberState::kSuspect) {
    start_suspicion(n, u.from);
  } else {
    n.suspicion.reset();
    n.suspicion_timer.reset();
  }
  broadcasts_.push(u.id, encode_message(u));
  bool epoch_changed =
      is_live(before) != is_live(u.state) || (is_live(u.state) && old_weight != n.rec.meta.weight);
  if (epoch_changed) ++epoch_;
  publish();
  if (before == u.state && !epoch_changed) return;
  log("member " + u.id + " is " + std::string(state_name(u.state)) + " (incarnation " +
      std::to_string(u.incarnation) + ", was " + std::string(state_name(before)) + ", by " +
      u.from + ")");
  emit(u.id, before, u.state, u.incarnation, epoch_changed);
}

void Membership::Impl::apply_about_self(const Update& u) {
  if (leaving_) return;
  const MemberRecord& me = self_node().rec;
  if (u.incarnation < me.incarnation) return;
  if (u.state == MemberState::kAlive && u.incarnation == me.incarnation && u.meta &&
      *u.meta == me.meta) {
    return;
  }
  refute(u.incarnation);
}

void Membership::Impl::refute(std::uint64_t heard) {
  MemberRecord& me = self_node().rec;
  me.incarnation = std::max(me.incarnation, heard) + 1;
  awareness_.apply(1);
  bump(&MembershipCounters::refutations);
  broadcasts_.push(me.id, encode_message(self_update()));
  publish();
  log("refuting: now alive at incarnation " + std::to_string(me.incarnation));
}

void Membership::Impl::merge(const std::vector<MemberRecord>& records) {
  for (const MemberRecord& r : records) {
    switch (r.state) {
      case MemberState::kAlive:
        apply(Update{r.id, r.incarnation, MemberState::kAlive, r.id, r.meta});
        break;
      case MemberState::kSuspect:
      case MemberState::kDead:  // a remote death is only a suspicion here (memberlist)
        apply(Update{r.id, r.incarnation, MemberState::kSuspect, config_.node_id, std::nullopt});
        break;
      case MemberState::kLeft:
        apply(Update{r.id, r.incarnation, MemberState::kLeft, r.id, std::nullopt});
        break;
    }
  }
}

void Membership::Impl::reap_tombstones() {
  Clock::time_point now = Clock::now();
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    Node& n = it->second;
    if (is_live(n.rec.state) || n.rec.id == config_.node_id ||
        now - n.changed < config_.tombstone_timeout) {
      ++it;
      continue;
    }
    std::string id = n.rec.id;
    MemberState before = n.rec.state;
    std::uint64_t inc = n.rec.incarnation;
    it = nodes_.erase(it);
    publish();
    log("member " + id + " reaped (was " + std::string(state_name(before)) + ")");
    emit(id, before, std::nullopt, inc, false);
  }
}

void Membership::Impl::publish() {
  auto v = std::make_shared<MembershipView>();
  v->epoch = epoch_;
  v->self_id = config_.node_id;
  v->members.reserve(nodes_.size());
  std::vector<ring::Member> live;
  for (const auto& [id, n] : nodes_) {
    v->members.push_back(n.rec);
    if (is_live(n.rec.state)) live.push_back({id, n.rec.meta.weight});
  }
  if (ring_epoch_ != epoch_) {
    std::optional<ring::Ring> r = ring::Ring::make(std::move(live));
    ring_ = std::make_shared<const ring::Ring>(r ? std::move(*r) : ring::Ring());
    ring_epoch_ = epoch_;
  }
  v->ring = ring_;
  std::lock_guard lock(view_mu_);
  view_ = std::move(v);
}

void Membership::Impl::emit(const std::string& id, std::optional<MemberState> before,
                            std::optional<MemberState> after, std::uint64_t incarnation,
                            bool epoch_changed) {
  if (!change_handler_) return;
  MemberEvent ev{id, before, after, incarnation, epoch_, epoch_changed};
  asio::post(io_, [self = shared_from_this(), ev = std::move(ev)] {
    if (self->change_handler_) self->change_handler_(ev);
  });
}

void Membership::Impl::log(const std::string& line) const {
  if (config_.log) config_.log(config_.node_id + ": " + line);
}

Update Membership::Impl::self_update() const {
  const MemberRecord& me = nodes_.at(config_.node_id).rec;
  std::optional<MemberMeta> meta;
  if (me.state == MemberState::kAlive) meta = me.meta;
  return Update{me.id, me.incarnation, me.state, me.id, std::move(meta)};
}

std::size_t Membership::Impl::live_count() const {
  return static_cast<std::size_t>(std::count_if(
      nodes_.begin(), nodes_.end(), [](const auto& kv) { return is_live(kv.second.rec.state); }));
}

std::vector<Membership::Impl::Node*> Membership::Impl::pick_members(std::size_t k,
                                                                    const std::string& exclude,
                                                                    bool include_dead) {
  std::vector<Node*> candidates;
  Clock::time_point now = Clock::now();
  for (auto& [id, n] : nodes_) {
    if (id == config_.node_id || id == exclude) continue;
    bool recent_tombstone = include_dead && now - n.changed < config_.gossip_to_dead;
    if (is_live(n.rec.state) || recent_tombstone) candidates.push_back(&n);
  }
  std::shuffle(candidates.begin(), candidates.end(), rng_);
  if (candidates.size() > k) candidates.resize(k);
  return candidates;
}

}  // namespace shoal::peer
