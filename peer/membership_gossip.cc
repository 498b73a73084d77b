// The UDP side of Membership::Impl (peer/membership_impl.h): every packet we send is sealed
// (peer/auth.h) and filled up to udp_budget with queued gossip updates (peer/broadcast_queue.h,
// each sent retransmit_limit times); every datagram received is authenticated (refusals
// counted, never answered), decoded and dispatched message by message; and every
// gossip_interval, queued updates go to gossip_nodes random members (recent tombstones
// included, so a member wrongly declared dead learns it and refutes).
//
// Thread rules: the io_context thread only.
#include "peer/codec.h"
#include "peer/membership_impl.h"

namespace shoal::peer {

namespace asio = boost::asio;

namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Membership::Impl::send(const udp::endpoint& to, const std::string& to_id,
                            std::vector<std::string> messages) {
  std::size_t used = kUdpEnvelopeBytes + 16 + config_.node_id.size();
  for (const std::string& m : messages) used += m.size();
  if (used < config_.udp_budget && messages.size() < kMaxMessagesPerPacket) {
    std::vector<std::string> extra =
        broadcasts_.take(config_.udp_budget - used, kMaxMessagesPerPacket - messages.size(),
                         retransmit_limit(config_.retransmit_mult, nodes_.size()));
    for (std::string& m : extra) messages.push_back(std::move(m));
  }
  if (messages.empty() || stopped_) return;
  auto datagram = std::make_shared<std::string>(
      udp_auth_.seal(encode_packet(config_.node_id, messages), unix_ms(), to_id));
  bump(&MembershipCounters::packets_sent);
  bump(&MembershipCounters::bytes_sent, datagram->size());
  udp_.async_send_to(asio::buffer(*datagram), to, [datagram](error_code, std::size_t) {});
}

void Membership::Impl::do_receive() {
  udp_.async_receive_from(
      asio::buffer(recv_buf_), sender_, [self = shared_from_this()](error_code ec, std::size_t n) {
        if (self->stopped_ || ec == asio::error::operation_aborted) return;
        if (!ec) self->on_datagram(std::string_view(self->recv_buf_.data(), n), self->sender_);
        self->do_receive();
      });
}

void Membership::Impl::count_refusal(const Status& st, const udp::endpoint& from) {
  if (st.code == Error::kStale) return bump(&MembershipCounters::stale_packets);
  if (st.code == Error::kReplay) return bump(&MembershipCounters::replays);
  bump(&MembershipCounters::auth_failures);
  if (st.code == Error::kVersionMismatch) {
    bump(&MembershipCounters::version_mismatches);
    log_version_mismatch("refused datagrams from " + from.address().to_string() + ":" +
                         std::to_string(from.port()) + ": " + st.reason);
  }
}

void Membership::Impl::log_version_mismatch(const std::string& line) {
  const Clock::time_point now = Clock::now();
  if (version_logged_ && now - *version_logged_ < std::chrono::minutes(1)) return;
  version_logged_ = now;
  log(line +
      " (a mixed-version cluster: upgrade every member; further such refusals are "
      "counted, logged once a minute)");
}

void Membership::Impl::on_datagram(std::string_view datagram, const udp::endpoint& from) {
  bump(&MembershipCounters::packets_received);
  bump(&MembershipCounters::bytes_received, datagram.size());
  std::string_view body;
  Status st = udp_auth_.open(datagram, unix_ms(), &body);
  if (!st.ok()) return count_refusal(st, from);
  Packet p;
  st = decode_packet(body, &p);
  if (!st.ok()) return bump(&MembershipCounters::decode_errors);
  if (p.from == config_.node_id) return;
  for (const Message& m : p.messages) on_message(m, p, from);
}

void Membership::Impl::on_message(const Message& m, const Packet& p, const udp::endpoint& from) {
  if (const auto* ping = std::get_if<Ping>(&m)) return on_ping(*ping, p.from, from);
  if (const auto* req = std::get_if<PingReq>(&m)) return on_ping_req(*req, p.from, from);
  if (const auto* ack = std::get_if<Ack>(&m)) return on_ack(ack->seq);
  if (const auto* nack = std::get_if<Nack>(&m)) return on_nack(nack->seq);
  if (const auto* u = std::get_if<Update>(&m)) return apply(*u);
  if (const auto* l = std::get_if<Leave>(&m)) {
    if (l->id != p.from) return bump(&MembershipCounters::misdirected);
    apply(Update{l->id, l->incarnation, MemberState::kLeft, l->id, std::nullopt});
  }
}

// --- Gossip ---

void Membership::Impl::schedule_gossip() {
  gossip_timer_.expires_after(config_.gossip_interval);
  gossip_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->stopped_) return;
    self->gossip_round();
    self->schedule_gossip();
  });
}

void Membership::Impl::gossip_round() {
  reap_tombstones();
  if (broadcasts_.empty()) return;
  for (Node* n : pick_members(static_cast<std::size_t>(config_.gossip_nodes), "", true)) {
    if (broadcasts_.empty()) break;
    send(n->endpoint, n->rec.id, {});
  }
}

}  // namespace shoal::peer
