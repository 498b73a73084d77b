// The TCP side of Membership::Impl (peer/membership_impl.h): join through seeds (a Join frame to
// every address of every seed in parallel, answered with the full member list; addresses that
// are this node are skipped; repeated with backoff, names resolved again, while no join
// succeeded and we are alone), the periodic push-pull with one random live member, and the
// inbound sessions on the peer port: a Join or PushPull first frame is served here, any other
// first frame hands the authenticated stream to the StreamHandler. An inbound connection must
// prove the key (its first frame header verifies) within handshake_timeout, and at most
// max_handshakes_per_source connections per source address may be that far; every exchange and
// session is bounded by tcp_timeout.
//
// Thread rules: the io_context thread only.
#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "peer/address.h"
#include "peer/codec.h"
#include "peer/membership_impl.h"

namespace shoal::peer {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

bool is_auth_error(const error_code& ec) {
  if (ec.category() != peer_category()) return false;
  auto e = static_cast<Error>(ec.value());
  return e == Error::kBadEnvelope || e == Error::kModeMismatch || e == Error::kBadTag ||
         e == Error::kBadProof || e == Error::kVersionMismatch;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

// One client-side TCP exchange: connect, handshake, send one frame, read the PushPull answer
// and its member list, close. The whole exchange is bounded by `timeout`.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  using Done = std::function<void(error_code, const std::string&, std::vector<MemberRecord>)>;

  Exchange(asio::io_context& io, const ClusterKey& key, Millis timeout, Done done)
      : stream_(FrameStream::create(tcp::socket(io), key, FrameStream::Role::kClient)),
        timer_(io),
        timeout_(timeout),
        done_(std::move(done)) {}

  std::shared_ptr<FrameStream> stream() const { return stream_; }

  void run(const tcp::endpoint& to, std::string header, std::string payload) {
    header_ = std::move(header);
    payload_ = std::move(payload);
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->finish(asio::error::timed_out, {});
    });
    stream_->socket().async_connect(to, [self = shared_from_this()](error_code ec) {
      if (ec) return self->finish(ec, {});
      self->stream_->async_handshake([self](error_code ec) { self->on_handshake(ec); });
    });
  }

 private:
  void on_handshake(error_code ec) {
    if (ec) return finish(ec, {});
    stream_->async_write_frame(header_, payload_, nullptr,
                               [self = shared_from_this()](error_code ec) {
                                 if (ec) return self->finish(ec, {});
                                 self->read_reply();
                               });
  }

  void read_reply() {
    stream_->async_read_frame(kMaxPushPullBytes,
                              [self = shared_from_this()](error_code ec, Frame f) {
                                if (ec) return self->finish(ec, {});
                                self->on_reply(std::move(f));
                              });
  }

  void on_reply(Frame f) {
    FrameHeader h;
    Status st = decode_frame_header(f.header, &h);
    if (st.ok() && !std::holds_alternative<PushPull>(h)) {
      st = Status::failure(Error::kUnexpectedMessage, "reply is not a push-pull");
    }
    std::vector<MemberRecord> members;
    if (st.ok()) st = decode_member_list(f.payload.view(), &members);
    if (!st.ok()) return finish(make_error_code(st.code), {});
    finish({}, std::move(members));
  }

  void finish(error_code ec, std::vector<MemberRecord> members) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    stream_->close();
    done_(ec, stream_->error_detail(), std::move(members));
  }

  std::shared_ptr<FrameStream> stream_;
  asio::steady_timer timer_;
  Millis timeout_;
  Done done_;
  std::string header_;
  std::string payload_;
  bool finished_ = false;
};

}  // namespace

// One inbound TCP session until its first frame has been handled.
struct Membership::Impl::Session {
  Session(std::shared_ptr<FrameStream> s, asio::io_context& io) : stream(std::move(s)), timer(io) {}
  std::shared_ptr<FrameStream> stream;
  asio::steady_timer timer;
  tcp::endpoint remote;
  bool proven = false;  // its first frame header verified: it holds the key
  bool ended = false;
};

// --- Push-pull ---

void Membership::Impl::schedule_push_pull() {
  push_pull_timer_.expires_after(config_.push_pull_interval);
  push_pull_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->stopped_) return;
    self->push_pull_round();
    self->schedule_push_pull();
  });
}

void Membership::Impl::push_pull_round() {
  if (leaving_) return;
  std::vector<Node*> peers = pick_members(1, "", false);
  if (peers.empty()) return;
  tcp::endpoint to(peers.front()->endpoint.address(), peers.front()->endpoint.port());
  exchange(to, PushPull{false}, member_list(),
           [self = shared_from_this(), to](error_code ec, const std::string& detail,
                                           std::vector<MemberRecord> members) {
             if (self->stopped_) return;
             if (ec) {
               self->note_tcp_refusal(ec, detail, endpoint_text(to));
               return self->bump(&MembershipCounters::push_pull_failures);
             }
             self->bump(&MembershipCounters::push_pulls);
             self->merge(members);
           });
}

std::string Membership::Impl::member_list() const {
  std::vector<MemberRecord> records;
  records.reserve(nodes_.size());
  for (const auto& [id, n] : nodes_) records.push_back(n.rec);
  return encode_member_list(records);
}

// --- Inbound sessions ---

void Membership::Impl::track(const std::shared_ptr<FrameStream>& stream) {
  std::erase_if(streams_, [](const std::weak_ptr<FrameStream>& w) { return w.expired(); });
  streams_.push_back(stream);
}

void Membership::Impl::exchange(const tcp::endpoint& to, const FrameHeader& header,
                                std::string payload, ExchangeDone done) {
  auto ex = std::make_shared<Exchange>(io_, key_, config_.tcp_timeout, std::move(done));
  track(ex->stream());
  ex->run(to, encode_frame_header(header), std::move(payload));
}

void Membership::Impl::do_accept() {
  acceptor_.async_accept([self = shared_from_this()](error_code ec, tcp::socket socket) {
    if (self->stopped_ || ec == asio::error::operation_aborted) return;
    if (!ec) self->serve(std::move(socket));
    self->do_accept();
  });
}

void Membership::Impl::serve(tcp::socket socket) {
  error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  if (inbound_ >= config_.max_inbound_tcp) {
    bump(&MembershipCounters::tcp_errors);
    return;  // the socket closes on destruction
  }
  // Frames of page streams are written back to back: Nagle would hold a small one until the
  // peer's delayed ACK (tens of ms).
  error_code nodelay_ec;
  socket.set_option(tcp::no_delay(true), nodelay_ec);
  std::size_t& handshaking = handshakes_[remote.address()];
  if (handshaking >= config_.max_handshakes_per_source) {
    bump(&MembershipCounters::handshakes_refused);
    bump(&MembershipCounters::tcp_errors);
    return;
  }
  ++handshaking;
  auto s = std::make_shared<Session>(
      FrameStream::create(std::move(socket), key_, FrameStream::Role::kServer), io_);
  s->remote = remote;
  ++inbound_;
  track(s->stream);
  s->timer.expires_after(config_.handshake_timeout);
  s->timer.async_wait([self = shared_from_this(), s](error_code ec) {
    if (!ec) self->end_session(s, asio::error::timed_out);
  });
  s->stream->async_handshake([self = shared_from_this(), s](error_code ec) {
    if (ec) return self->end_session(s, ec);
    self->read_first_frame(s);
  });
}

// Reads the first frame in two steps: once its header verified the peer has proven the key
// (on_proven), then its payload, if any, is read into a buffer of its own.
void Membership::Impl::read_first_frame(const std::shared_ptr<Session>& s) {
  s->stream->async_read_header(
      kMaxPushPullBytes, [self = shared_from_this(), s](error_code ec, std::string header,
                                                        std::uint32_t payload_bytes) {
        if (ec) return self->end_session(s, ec);
        self->on_proven(s);
        auto frame = std::make_shared<Frame>();
        frame->header = std::move(header);
        if (payload_bytes == 0) return self->on_first_frame(s, std::move(*frame));
        frame->payload.data = std::make_unique_for_overwrite<char[]>(payload_bytes);
        frame->payload.size = payload_bytes;
        s->stream->async_read_payload(frame->payload.data.get(), [self, s, frame](error_code ec) {
          if (ec) return self->end_session(s, ec);
          self->on_first_frame(s, std::move(*frame));
        });
      });
}

// The first frame header verified: the other side holds the key. Its handshake slot is free
// again and the rest of the session gets tcp_timeout.
void Membership::Impl::on_proven(const std::shared_ptr<Session>& s) {
  release_handshake(*s);
  s->proven = true;
  s->timer.expires_after(config_.tcp_timeout);
  s->timer.async_wait([self = shared_from_this(), s](error_code ec) {
    if (!ec) self->end_session(s, asio::error::timed_out);
  });
}

void Membership::Impl::release_handshake(Session& s) {
  if (s.proven) return;
  auto it = handshakes_.find(s.remote.address());
  if (it == handshakes_.end()) return;
  if (--it->second == 0) handshakes_.erase(it);
}

void Membership::Impl::on_first_frame(const std::shared_ptr<Session>& s, Frame f) {
  if (stopped_) return end_session(s, asio::error::operation_aborted);
  FrameHeader h;
  Status st = decode_frame_header(f.header, &h);
  if (!st.ok()) {
    bump(&MembershipCounters::decode_errors);
    return end_session(s, make_error_code(st.code));
  }
  if (const auto* j = std::get_if<Join>(&h)) return serve_join(s, *j);
  if (const auto* pp = std::get_if<PushPull>(&h)) return serve_push_pull(s, *pp, f.payload.view());
  if (!stream_handler_) return end_session(s, make_error_code(Error::kUnexpectedMessage));
  s->ended = true;
  s->timer.cancel();
  release_handshake(*s);
  --inbound_;
  bump(&MembershipCounters::streams_handed_over);
  stream_handler_(s->stream, std::move(f), std::move(h));
}

void Membership::Impl::serve_join(const std::shared_ptr<Session>& s, const Join& j) {
  if (j.member.id == config_.node_id || j.member.state != MemberState::kAlive || leaving_) {
    // Our own id (a seed list that includes us, or a duplicate id) or a bad join: refuse.
    return end_session(s, make_error_code(Error::kUnexpectedMessage));
  }
  apply(Update{j.member.id, j.member.incarnation, MemberState::kAlive, j.member.id, j.member.meta});
  bump(&MembershipCounters::joins_served);
  reply(s, true);
}

void Membership::Impl::serve_push_pull(const std::shared_ptr<Session>& s, const PushPull& pp,
                                       std::string_view payload) {
  std::vector<MemberRecord> members;
  Status st = pp.join_reply ? Status::failure(Error::kUnexpectedMessage, "join reply unasked")
                            : decode_member_list(payload, &members);
  if (!st.ok()) {
    if (st.code != Error::kUnexpectedMessage) bump(&MembershipCounters::decode_errors);
    return end_session(s, make_error_code(st.code));
  }
  reply(s, false);  // our state before the merge: what the other side lacks
  merge(members);
  bump(&MembershipCounters::push_pulls);
}

void Membership::Impl::reply(const std::shared_ptr<Session>& s, bool join_reply) {
  auto payload = std::make_shared<std::string>(member_list());
  s->stream->async_write_frame(
      encode_frame_header(PushPull{join_reply}), *payload, payload,
      [self = shared_from_this(), s](error_code ec) { self->end_session(s, ec); });
}

void Membership::Impl::end_session(const std::shared_ptr<Session>& s, error_code ec) {
  if (s->ended) return;
  s->ended = true;
  s->timer.cancel();
  s->stream->close();
  release_handshake(*s);
  --inbound_;
  if (!ec || stopped_) return;
  if (ec == asio::error::timed_out && !s->proven) bump(&MembershipCounters::handshake_timeouts);
  note_tcp_refusal(ec, s->stream->error_detail(), endpoint_text(s->remote));
  bump(&MembershipCounters::tcp_errors);
}

void Membership::Impl::note_tcp_refusal(error_code ec, const std::string& detail,
                                        const std::string& peer) {
  if (!is_auth_error(ec)) return;
  bump(&MembershipCounters::auth_failures);
  if (ec != make_error_code(Error::kVersionMismatch)) return;
  bump(&MembershipCounters::version_mismatches);
  log_version_mismatch("refused the peer connection with " + peer + ": " + detail);
}

// --- Join ---

void Membership::Impl::join(std::vector<std::string> seeds) {
  seeds_ = std::move(seeds);
  join_attempts_ = 0;
  ++join_gen_;
  join_timer_.cancel();
  join_round();
}

void Membership::Impl::join_round() {
  if (stopped_ || leaving_ || !started_ || seeds_.empty()) return;
  ++join_attempts_;
  auto round = std::make_shared<JoinRound>(JoinRound{seeds_.size(), false, false, join_gen_});
  for (const std::string& seed : seeds_) join_seed(seed, round);
}

bool Membership::Impl::is_self_endpoint(const tcp::endpoint& ep) const {
  if (ep.port() != local_.port()) return false;
  if (ep.address() == local_.address()) return true;
  if (advertise_ep_ && ep.address() == advertise_ep_->address()) return true;
  return local_.address().is_unspecified() && ep.address().is_loopback();
}

void Membership::Impl::join_seed(const std::string& seed, const std::shared_ptr<JoinRound>& round) {
  std::optional<base::HostPort> hp = base::split_host_port(seed);
  if (!hp) {
    log("seed '" + seed + "' is not host:port");
    return seed_done(round, false);
  }
  const std::optional<udp::endpoint> literal = parse_peer_endpoint(seed);
  if (literal && is_self_endpoint({literal->address(), literal->port()})) {
    return seed_done(round, false);  // ourselves: skipped, not retried
  }
  resolver_.async_resolve(hp->host, std::to_string(hp->port),
                          [self = shared_from_this(), round, seed, name = !literal](
                              error_code ec, tcp::resolver::results_type res) {
                            if (!self->stopped_) self->on_seed_resolved(seed, name, round, ec, res);
                          });
}

void Membership::Impl::on_seed_resolved(const std::string& seed, bool name,
                                        const std::shared_ptr<JoinRound>& round, error_code ec,
                                        const tcp::resolver::results_type& res) {
  // A name may resolve to other members later (a StatefulSet's pods start one by one).
  if (name) round->others = true;
  if (ec) {
    round->others = true;
    log("seed '" + seed + "': " + ec.message());
    return seed_done(round, false);
  }
  std::vector<tcp::endpoint> targets;
  for (const auto& entry : res) {
    const tcp::endpoint& ep = entry.endpoint();
    if (is_self_endpoint(ep)) continue;
    if (std::find(targets.begin(), targets.end(), ep) == targets.end()) targets.push_back(ep);
  }
  if (targets.empty()) return seed_done(round, false);
  round->others = true;
  round->pending += targets.size() - 1;  // each address finishes on its own
  for (const tcp::endpoint& ep : targets) join_address(seed, ep, round);
}

void Membership::Impl::join_address(const std::string& seed, const tcp::endpoint& to,
                                    const std::shared_ptr<JoinRound>& round) {
  exchange(to, Join{nodes_.at(config_.node_id).rec}, std::string(),
           [self = shared_from_this(), round, seed, to](error_code ec, const std::string& detail,
                                                        std::vector<MemberRecord> members) {
             if (self->stopped_) return;
             if (ec) {
               self->bump(&MembershipCounters::join_failures);
               self->note_tcp_refusal(ec, detail, endpoint_text(to));
               self->log("join via '" + seed + "' (" + endpoint_text(to) +
                         ") failed: " + ec.message() + (detail.empty() ? "" : ": " + detail));
               return self->seed_done(round, false);
             }
             self->bump(&MembershipCounters::joins);
             self->merge(members);
             self->seed_done(round, true);
           });
}

Millis Membership::Impl::join_delay() const {
  // join_attempts_ >= 1 here: the first retry waits join_retry_interval.
  Millis d = config_.join_retry_interval;
  for (int i = 1; i < join_attempts_ && d < config_.join_retry_max; ++i) d *= 2;
  return std::min(d, config_.join_retry_max);
}

void Membership::Impl::seed_done(const std::shared_ptr<JoinRound>& round, bool ok) {
  if (ok) round->ok = true;
  if (--round->pending > 0 || round->gen != join_gen_) return;
  if (round->ok || !round->others || !alone()) return;
  if (config_.join_max_attempts > 0 && join_attempts_ >= config_.join_max_attempts) {
    log("giving up joining after " + std::to_string(join_attempts_) + " attempts");
    return;
  }
  join_timer_.expires_after(join_delay());
  join_timer_.async_wait([self = shared_from_this(), gen = round->gen](error_code ec) {
    if (ec || self->stopped_ || gen != self->join_gen_) return;
    self->join_round();
  });
}
}  // namespace shoal::peer
