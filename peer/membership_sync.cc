// The TCP side of Membership::Impl (peer/membership_impl.h): join through seeds (a Join frame to
// every seed in parallel, answered with the full member list; seeds that are this node are
// skipped; repeated every join_retry_interval while no seed answered and we are alone), the
// periodic push-pull with one random live member, and the inbound sessions on the peer port: a
// Join or PushPull first frame is served here, any other first frame hands the authenticated
// stream to the StreamHandler. Every exchange and session is bounded by tcp_timeout.
//
// Thread rules: the io_context thread only.
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
         e == Error::kBadProof;
}

// One client-side TCP exchange: connect, handshake, send one frame, read the PushPull answer
// and its member list, close. The whole exchange is bounded by `timeout`.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  using Done = std::function<void(error_code, std::vector<MemberRecord>)>;

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
    done_(ec, std::move(members));
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
           [self = shared_from_this()](error_code ec, std::vector<MemberRecord> members) {
             if (self->stopped_) return;
             if (ec) return self->bump(&MembershipCounters::push_pull_failures);
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
  if (inbound_ >= config_.max_inbound_tcp) {
    bump(&MembershipCounters::tcp_errors);
    return;  // the socket closes on destruction
  }
  // Frames of page streams are written back to back: Nagle would hold a small one until the
  // peer's delayed ACK (tens of ms).
  error_code nodelay_ec;
  socket.set_option(tcp::no_delay(true), nodelay_ec);
  auto s = std::make_shared<Session>(
      FrameStream::create(std::move(socket), key_, FrameStream::Role::kServer), io_);
  ++inbound_;
  track(s->stream);
  s->timer.expires_after(config_.tcp_timeout);
  s->timer.async_wait([self = shared_from_this(), s](error_code ec) {
    if (!ec) self->end_session(s, asio::error::timed_out);
  });
  s->stream->async_handshake([self = shared_from_this(), s](error_code ec) {
    if (ec) return self->end_session(s, ec);
    s->stream->async_read_frame(kMaxPushPullBytes, [self, s](error_code ec, Frame f) {
      if (ec) return self->end_session(s, ec);
      self->on_first_frame(s, std::move(f));
    });
  });
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
  --inbound_;
  if (!ec || stopped_) return;
  if (is_auth_error(ec)) bump(&MembershipCounters::auth_failures);
  bump(&MembershipCounters::tcp_errors);
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
  if (auto ep = parse_peer_endpoint(seed); ep && is_self_endpoint({ep->address(), ep->port()})) {
    return seed_done(round, false);  // ourselves: skipped, not retried
  }
  resolver_.async_resolve(
      hp->host, std::to_string(hp->port),
      [self = shared_from_this(), round, seed](error_code ec, tcp::resolver::results_type res) {
        if (self->stopped_) return;
        if (ec) {
          round->others = true;  // may resolve later
          self->log("seed '" + seed + "': " + ec.message());
          return self->seed_done(round, false);
        }
        std::optional<tcp::endpoint> to;
        for (const auto& entry : res) {
          if (self->is_self_endpoint(entry.endpoint())) return self->seed_done(round, false);
          if (!to) to = entry.endpoint();
        }
        if (!to) return self->seed_done(round, false);
        round->others = true;
        self->exchange(*to, Join{self->nodes_.at(self->config_.node_id).rec}, std::string(),
                       [self, round, seed](error_code ec, std::vector<MemberRecord> members) {
                         if (self->stopped_) return;
                         if (ec) {
                           self->bump(&MembershipCounters::join_failures);
                           self->log("join via '" + seed + "' failed: " + ec.message());
                           return self->seed_done(round, false);
                         }
                         self->bump(&MembershipCounters::joins);
                         self->merge(members);
                         self->seed_done(round, true);
                       });
      });
}

void Membership::Impl::seed_done(const std::shared_ptr<JoinRound>& round, bool ok) {
  if (ok) round->ok = true;
  if (--round->pending > 0 || round->gen != join_gen_) return;
  if (round->ok || !round->others || !alone()) return;
  if (config_.join_max_attempts > 0 && join_attempts_ >= config_.join_max_attempts) {
    log("giving up joining after " + std::to_string(join_attempts_) + " attempts");
    return;
  }
  join_timer_.expires_after(config_.join_retry_interval);
  join_timer_.async_wait([self = shared_from_this(), gen = round->gen](error_code ec) {
    if (ec || self->stopped_ || gen != self->join_gen_) return;
    self->join_round();
  });
}
}  // namespace shoal::peer
