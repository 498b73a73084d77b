// Membership::Impl, the private half of peer/membership.h: one object per Membership that holds
// the member table and the sockets and timers of SWIM + Lifeguard. Only the membership*.cc files
// include this header; everything else uses peer/membership.h. Its members are defined by seam:
//   membership.cc        config check, lifecycle (bind, start, leave, stop), app state
//                        (weight, stats), the view and counters, the public facade
//   membership_state.cc  the member table: applying news by the precedence rules, refutation,
//                        push-pull merges, tombstone reaping, epochs, publishing the view,
//                        change events and log lines, member selection
//   membership_probe.cc  failure detection: the probe cycle (ping, ping-req, ack, nack),
//                        relaying ping-reqs for others, Lifeguard suspicion timers
//   membership_gossip.cc the UDP side: sealing and sending packets with piggybacked gossip,
//                        receiving, authenticating and dispatching them, the gossip round
//   membership_sync.cc   the TCP side: join through seeds (with retries), periodic push-pull,
//                        inbound join/push-pull sessions, handing other streams over
// The behaviour is specified in peer/membership.h (what) and peer/swim_rules.h (rules).
//
// Thread rules: as Membership's. Everything runs on the io_context's single thread, except
// view() and counters(), which take their own mutex and may be called from any thread. Every
// asynchronous handler holds a shared_ptr to the Impl and returns at once when stopped_ is set;
// timers whose decisions can go stale carry a generation number (probe_gen_, suspicion_gen,
// join_gen_) and are ignored when it moved on.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "peer/auth.h"
#include "peer/broadcast_queue.h"
#include "peer/membership.h"
#include "peer/messages.h"
#include "peer/probe_order.h"
#include "peer/stream.h"
#include "peer/swim_rules.h"
#include "ring/rendezvous.h"

namespace shoal::peer {

class Membership::Impl : public std::enable_shared_from_this<Impl> {
 public:
  using udp = boost::asio::ip::udp;
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;
  using Clock = std::chrono::steady_clock;

  Impl(boost::asio::io_context& io, MembershipConfig config, ClusterKey key);

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
  // One known member, self and tombstones included.
  struct Node {
    MemberRecord rec;
    udp::endpoint endpoint;
    Clock::time_point changed;  // last change of state (tombstones are reaped from here)
    std::unique_ptr<Suspicion> suspicion;
    Clock::time_point suspicion_start;
    std::unique_ptr<boost::asio::steady_timer> suspicion_timer;
    std::uint64_t suspicion_gen = 0;
  };
  // Our probe of one member in this protocol period.
  struct Probe {
    std::uint32_t seq = 0;
    std::string target;
    std::uint64_t incarnation = 0;  // the target's, when the probe started
    Clock::time_point start;
    bool indirect = false;
    int expected_nacks = 0;
    int nacks = 0;
  };
  // A ping-req we serve for another member.
  struct Relay {
    udp::endpoint requester;
    std::string requester_id;
    std::uint32_t seq = 0;  // the requester's probe sequence number
    bool nacked = false;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  // One round of join attempts: one per seed, then one per address a seed resolved to.
  struct JoinRound {
    std::size_t pending = 0;  // seeds and addresses not finished yet
    bool ok = false;          // some address accepted the join
    bool others = false;      // some seed was not this node (worth retrying)
    std::uint64_t gen = 0;
  };
  // One inbound TCP session until its first frame has been handled (membership_sync.cc).
  struct Session;
  // The end of one client-side TCP exchange: the error (with the stream's error_detail()), or
  // the member list of the answer.
  using ExchangeDone =
      std::function<void(error_code, const std::string& detail, std::vector<MemberRecord>)>;

  // Lifecycle (membership.cc)
  void bind_sockets();
  void add_self();
  void finish_leave();

  // The member table (membership_state.cc)
  void apply(const Update& u);
  void add_member(const Update& u);
  void change_member(Node& n, const Update& u);
  void apply_about_self(const Update& u);
  void refute(std::uint64_t heard);
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

  // Failure detection (membership_probe.cc)
  void arm_probe_timer(Clock::time_point at);
  void on_probe_timer();
  void start_probe();
  void start_indirect();
  void probe_failed();
  void probe_succeeded();
  Node* next_probe_target();
  Millis scaled(Millis d) const { return awareness_.scale(d); }
  void on_ping(const Ping& m, const std::string& from_id, const udp::endpoint& from);
  void on_ping_req(const PingReq& m, const std::string& from_id, const udp::endpoint& from);
  void on_relay_timer(std::uint32_t seq);
  void on_ack(std::uint32_t seq);
  void on_nack(std::uint32_t seq);
  std::uint32_t next_seq() { return ++seq_; }
  void start_suspicion(Node& n, const std::string& accuser);
  void arm_suspicion_timer(Node& n);
  void on_suspicion_timeout(const std::string& id, std::uint64_t incarnation, std::uint64_t gen);
  void confirm_suspicion(Node& n, const Update& u);

  // UDP packets and gossip (membership_gossip.cc)
  // Seals `messages` (plus piggybacked gossip) for member `to_id` at `to` and sends them.
  void send(const udp::endpoint& to, const std::string& to_id, std::vector<std::string> messages);
  void do_receive();
  void on_datagram(std::string_view datagram, const udp::endpoint& from);
  void on_message(const Message& m, const Packet& p, const udp::endpoint& from);
  // Counts a refused datagram (stale, replay or an authentication failure; a version mismatch
  // is also logged).
  void count_refusal(const Status& st, const udp::endpoint& from);
  void schedule_gossip();
  void gossip_round();

  // TCP: join, push-pull, inbound sessions (membership_sync.cc)
  void join_round();
  void join_seed(const std::string& seed, const std::shared_ptr<JoinRound>& round);
  // `name`: the seed is a name, not an IP literal (worth resolving again later).
  void on_seed_resolved(const std::string& seed, bool name, const std::shared_ptr<JoinRound>& round,
                        error_code ec, const tcp::resolver::results_type& res);
  void join_address(const std::string& seed, const tcp::endpoint& to,
                    const std::shared_ptr<JoinRound>& round);
  void seed_done(const std::shared_ptr<JoinRound>& round, bool ok);
  Millis join_delay() const;
  bool is_self_endpoint(const tcp::endpoint& ep) const;
  void schedule_push_pull();
  void push_pull_round();
  std::string member_list() const;
  void exchange(const tcp::endpoint& to, const FrameHeader& header, std::string payload,
                ExchangeDone done);
  void track(const std::shared_ptr<FrameStream>& stream);
  void do_accept();
  void serve(tcp::socket socket);
  void on_first_frame(const std::shared_ptr<Session>& s, Frame f);
  void serve_join(const std::shared_ptr<Session>& s, const Join& j);
  void serve_push_pull(const std::shared_ptr<Session>& s, const PushPull& pp,
                       std::string_view payload);
  void read_first_frame(const std::shared_ptr<Session>& s);
  void on_proven(const std::shared_ptr<Session>& s);
  void release_handshake(Session& s);
  void reply(const std::shared_ptr<Session>& s, bool join_reply);
  void end_session(const std::shared_ptr<Session>& s, error_code ec);
  // Counts a TCP error in the peer category seen on either side; a version mismatch is also
  // logged with `detail` (the stream's error_detail()), at most once a minute.
  void note_tcp_refusal(error_code ec, const std::string& detail, const std::string& peer);
  // Logs `line` unless a version mismatch was logged less than a minute ago.
  void log_version_mismatch(const std::string& line);

  void bump(std::uint64_t MembershipCounters::*field, std::uint64_t n = 1) {
    std::lock_guard lock(counters_mu_);
    counters_.*field += n;
  }

  boost::asio::io_context& io_;
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

  boost::asio::steady_timer probe_timer_;
  std::uint64_t probe_gen_ = 0;
  std::optional<Probe> probe_;
  ProbeOrder probe_order_;
  std::uint32_t seq_ = 0;
  std::map<std::uint32_t, Relay> relays_;

  boost::asio::steady_timer gossip_timer_;
  boost::asio::steady_timer push_pull_timer_;
  boost::asio::steady_timer join_timer_;
  boost::asio::steady_timer leave_timer_;
  std::vector<std::string> seeds_;
  std::uint64_t join_gen_ = 0;
  int join_attempts_ = 0;
  std::vector<std::function<void()>> leave_done_;

  std::size_t inbound_ = 0;
  // Inbound connections still in their handshake, per source address.
  std::map<boost::asio::ip::address, std::size_t> handshakes_;
  std::vector<std::weak_ptr<FrameStream>> streams_;
  std::optional<Clock::time_point> version_logged_;  // last version-mismatch log line

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

}  // namespace shoal::peer
