#include "peer/membership.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>

#include "peer/address.h"
#include "peer/broadcast_queue.h"
#include "peer/codec.h"

namespace shoal::peer {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxRelays = 1024;  // ping-reqs being served at once
constexpr int kMaxBindAttempts = 16;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

// One inbound TCP session until its first frame has been handled.
struct Session {
  Session(std::shared_ptr<FrameStream> s, asio::io_context& io) : stream(std::move(s)), timer(io) {}
  std::shared_ptr<FrameStream> stream;
  asio::steady_timer timer;
  bool ended = false;
};

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
      join_retry_interval.count() <= 0 || leave_timeout.count() < 0) {
    return "intervals and timeouts must be > 0";
  }
  if (indirect_checks < 0 || gossip_nodes < 1 || suspicion_mult < 1 ||
      suspicion_max_timeout_mult < 1 || retransmit_mult < 1 || join_max_attempts < 0 ||
      awareness_max_multiplier < 1 || max_inbound_tcp < 1) {
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

// ---------------------------------------------------------------------------------------------

class Membership::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, MembershipConfig config, ClusterKey key);

  void start();
  void join(std::vector<std::string> seeds);
  void leave(std::function<void()> done);
  void stop();
  std::optional<std::string> set_weight(double weight);
  std::optional<std::string> set_stats(StatsSummary stats);
  void on_change(ChangeHandler h) { change_handler_ = std::move(h); }
  void on_stream(StreamHandler h) { stream_handler_ = std::move(h); }
  std::shared_ptr<const MembershipView> view() const;
  MembershipCounters counters() const;
  udp::endpoint local_endpoint() const { return local_; }
  const std::string& peer_addr() const { return advertise_; }
  const std::string& self_id() const { return config_.node_id; }

 private:
  struct Node {
    MemberRecord rec;
    udp::endpoint endpoint;
    Clock::time_point changed;
    std::unique_ptr<Suspicion> suspicion;
    Clock::time_point suspicion_start;
    std::unique_ptr<asio::steady_timer> suspicion_timer;
    std::uint64_t suspicion_gen = 0;
  };
  struct Probe {
    std::uint32_t seq = 0;
    std::string target;
    std::uint64_t incarnation = 0;  // the target's, when the probe started
    Clock::time_point start;
    bool indirect = false;
    int expected_nacks = 0;
    int nacks = 0;
  };
  struct Relay {
    udp::endpoint requester;
    std::uint32_t seq = 0;  // the requester's probe sequence number
    bool nacked = false;
    std::unique_ptr<asio::steady_timer> timer;
  };
  struct JoinRound {
    std::size_t pending = 0;  // seeds not finished yet
    bool ok = false;          // some seed accepted the join
    bool others = false;      // some seed was not this node (worth retrying)
    std::uint64_t gen = 0;
  };

  // Setup
  void bind_sockets();
  void add_self();

  // State changes
  void apply(const Update& u);
  void add_member(const Update& u);
  void change_member(Node& n, const Update& u);
  void apply_about_self(const Update& u);
  void refute(std::uint64_t heard);
  void start_suspicion(Node& n, const std::string& accuser);
  void arm_suspicion_timer(Node& n);
  void on_suspicion_timeout(const std::string& id, std::uint64_t incarnation, std::uint64_t gen);
  void confirm_suspicion(Node& n, const Update& u);
  void merge(const std::vector<MemberRecord>& records);
  void reap_tombstones();
  void publish();
  void emit(const std::string& id, std::optional<MemberState> before,
            std::optional<MemberState> after, std::uint64_t incarnation, bool epoch_changed);
  void log(const std::string& line) const;
  Update self_update() const;
  Node& self_node() { return nodes_.at(config_.node_id); }
  std::size_t live_count() const;
  bool alone() const { return live_count() <= 1; }
  std::vector<Node*> pick_members(std::size_t k, const std::string& exclude, bool include_dead);

  // UDP
  void send(const udp::endpoint& to, std::vector<std::string> messages);
  void do_receive();
  void on_datagram(std::string_view datagram, const udp::endpoint& from);
  void on_message(const Message& m, const Packet& p, const udp::endpoint& from);
  void on_ping(const Ping& m, const udp::endpoint& from);
  void on_ping_req(const PingReq& m, const udp::endpoint& from);
  void on_relay_timer(std::uint32_t seq);
  void on_ack(std::uint32_t seq);
  void on_nack(std::uint32_t seq);
  std::uint32_t next_seq() { return ++seq_; }

  // Probing
  void arm_probe_timer(Clock::time_point at);
  void on_probe_timer();
  void start_probe();
  void start_indirect();
  void probe_failed();
  void probe_succeeded();
  Node* next_probe_target();
  Millis scaled(Millis d) const { return awareness_.scale(d); }

  // Gossip and push-pull
  void schedule_gossip();
  void gossip_round();
  void schedule_push_pull();
  void push_pull_round();
  std::string member_list() const;

  // TCP
  void do_accept();
  void serve(tcp::socket socket);
  void on_first_frame(const std::shared_ptr<Session>& s, Frame f);
  void serve_join(const std::shared_ptr<Session>& s, const Join& j);
  void serve_push_pull(const std::shared_ptr<Session>& s, const PushPull& pp,
                       std::string_view payload);
  void reply(const std::shared_ptr<Session>& s, bool join_reply);
  void end_session(const std::shared_ptr<Session>& s, error_code ec);
  void exchange(const tcp::endpoint& to, const FrameHeader& header, std::string payload,
                Exchange::Done done);
  void track(const std::shared_ptr<FrameStream>& stream);

  // Join and leave
  void join_round();
  void join_seed(const std::string& seed, const std::shared_ptr<JoinRound>& round);
  void seed_done(const std::shared_ptr<JoinRound>& round, bool ok);
  bool is_self_endpoint(const tcp::endpoint& ep) const;
  void finish_leave();

  void bump(std::uint64_t MembershipCounters::*field, std::uint64_t n = 1) {
    std::lock_guard lock(counters_mu_);
    counters_.*field += n;
  }
  void count_refusal(Error e);

  asio::io_context& io_;
  MembershipConfig config_;
  ClusterKey key_;
  UdpAuth udp_auth_;
  Awareness awareness_;
  BroadcastQueue broadcasts_;
  std::mt19937_64 rng_;

  udp::socket udp_;
  tcp::acceptor acceptor_;
  tcp::resolver resolver_;
  udp::endpoint local_;
  std::string advertise_;
  std::optional<udp::endpoint> advertise_ep_;
  std::array<char, 65536> recv_buf_;
  udp::endpoint sender_;

  std::map<std::string, Node, std::less<>> nodes_;
  std::uint64_t epoch_ = 0;
  std::uint64_t ring_epoch_ = 0;
  std::shared_ptr<const ring::Ring> ring_;

  asio::steady_timer probe_timer_;
  std::uint64_t probe_gen_ = 0;
  std::optional<Probe> probe_;
  std::vector<std::string> probe_order_;
  std::size_t probe_index_ = 0;
  std::uint32_t seq_ = 0;
  std::map<std::uint32_t, Relay> relays_;

  asio::steady_timer gossip_timer_;
  asio::steady_timer push_pull_timer_;
  asio::steady_timer join_timer_;
  asio::steady_timer leave_timer_;
  std::vector<std::string> seeds_;
  std::uint64_t join_gen_ = 0;
  int join_attempts_ = 0;
  std::vector<std::function<void()>> leave_done_;

  std::size_t inbound_ = 0;
  std::vector<std::weak_ptr<FrameStream>> streams_;

  bool started_ = false;
  bool leaving_ = false;
  bool stopped_ = false;
  ChangeHandler change_handler_;
  StreamHandler stream_handler_;

  mutable std::mutex view_mu_;
  std::shared_ptr<const MembershipView> view_;
  mutable std::mutex counters_mu_;
  MembershipCounters counters_;
};

Membership::Impl::Impl(asio::io_context& io, MembershipConfig config, ClusterKey key)
    : io_(io),
      config_(std::move(config)),
      key_(key),
      udp_auth_(key, config_.udp_auth),
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

// --- State changes ---

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
  std::uniform_int_distribution<std::size_t> at(probe_index_, probe_order_.size());
  probe_order_.insert(probe_order_.begin() + static_cast<std::ptrdiff_t>(at(rng_)), u.id);
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

// --- UDP ---

void Membership::Impl::send(const udp::endpoint& to, std::vector<std::string> messages) {
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
      udp_auth_.seal(encode_packet(config_.node_id, messages), unix_ms()));
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

void Membership::Impl::count_refusal(Error e) {
  if (e == Error::kStale) return bump(&MembershipCounters::stale_packets);
  if (e == Error::kReplay) return bump(&MembershipCounters::replays);
  bump(&MembershipCounters::auth_failures);
}

void Membership::Impl::on_datagram(std::string_view datagram, const udp::endpoint& from) {
  bump(&MembershipCounters::packets_received);
  bump(&MembershipCounters::bytes_received, datagram.size());
  std::string_view body;
  Status st = udp_auth_.open(datagram, unix_ms(), &body);
  if (!st.ok()) return count_refusal(st.code);
  Packet p;
  st = decode_packet(body, &p);
  if (!st.ok()) return bump(&MembershipCounters::decode_errors);
  if (p.from == config_.node_id) return;
  for (const Message& m : p.messages) on_message(m, p, from);
}

void Membership::Impl::on_message(const Message& m, const Packet& p, const udp::endpoint& from) {
  if (const auto* ping = std::get_if<Ping>(&m)) return on_ping(*ping, from);
  if (const auto* req = std::get_if<PingReq>(&m)) return on_ping_req(*req, from);
  if (const auto* ack = std::get_if<Ack>(&m)) return on_ack(ack->seq);
  if (const auto* nack = std::get_if<Nack>(&m)) return on_nack(nack->seq);
  if (const auto* u = std::get_if<Update>(&m)) return apply(*u);
  if (const auto* l = std::get_if<Leave>(&m)) {
    if (l->id != p.from) return bump(&MembershipCounters::misdirected);
    apply(Update{l->id, l->incarnation, MemberState::kLeft, l->id, std::nullopt});
  }
}

void Membership::Impl::on_ping(const Ping& m, const udp::endpoint& from) {
  if (!m.target.empty() && m.target != config_.node_id) {
    return bump(&MembershipCounters::misdirected);
  }
  send(from, {encode_message(Ack{m.seq})});
}

void Membership::Impl::on_ping_req(const PingReq& m, const udp::endpoint& from) {
  std::optional<udp::endpoint> target = parse_peer_endpoint(m.target_addr);
  if (!target || relays_.size() >= kMaxRelays || leaving_) return;
  std::uint32_t seq = next_seq();
  Relay r{from, m.seq, false, std::make_unique<asio::steady_timer>(io_)};
  r.timer->expires_after(config_.probe_timeout);
  r.timer->async_wait([self = shared_from_this(), seq](error_code ec) {
    if (!ec && !self->stopped_) self->on_relay_timer(seq);
  });
  relays_.insert_or_assign(seq, std::move(r));
  send(*target, {encode_message(Ping{seq, m.target})});
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
  send(r.requester, {encode_message(Nack{r.seq})});
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
  send(it->second.requester, {encode_message(Ack{it->second.seq})});
  relays_.erase(it);
}

void Membership::Impl::on_nack(std::uint32_t seq) {
  if (!probe_ || probe_->seq != seq) return;
  ++probe_->nacks;
  bump(&MembershipCounters::nacks_received);
}

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
  send(target->endpoint, {encode_message(Ping{probe_->seq, target->rec.id})});
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
    send(h->endpoint, {encoded});
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
  for (int pass = 0; pass < 2; ++pass) {
    while (probe_index_ < probe_order_.size()) {
      auto it = nodes_.find(probe_order_[probe_index_++]);
      if (it != nodes_.end() && it->first != config_.node_id && is_live(it->second.rec.state)) {
        return &it->second;
      }
    }
    probe_order_.clear();
    probe_index_ = 0;
    for (const auto& [id, n] : nodes_) {
      if (id != config_.node_id && is_live(n.rec.state)) probe_order_.push_back(id);
    }
    std::shuffle(probe_order_.begin(), probe_order_.end(), rng_);
    if (probe_order_.empty()) return nullptr;
  }
  return nullptr;
}

// --- Gossip and push-pull ---

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
    send(n->endpoint, {});
  }
}

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

// --- TCP ---

void Membership::Impl::track(const std::shared_ptr<FrameStream>& stream) {
  std::erase_if(streams_, [](const std::weak_ptr<FrameStream>& w) { return w.expired(); });
  streams_.push_back(stream);
}

void Membership::Impl::exchange(const tcp::endpoint& to, const FrameHeader& header,
                                std::string payload, Exchange::Done done) {
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

// --- Join and leave ---

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
    if (id != config_.node_id && is_live(n.rec.state)) send(n.endpoint, {notice});
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
