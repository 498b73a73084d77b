// Membership: SWIM failure detection and gossip membership with the Lifeguard refinements, over
// UDP and TCP on one peer port (Das et al. 2002; Dadgar et al. 2017; constants and structure as
// in HashiCorp memberlist). Rules in peer/swim_rules.h, messages in peer/messages.h, wire format
// and security in docs/peer-protocol.md.
//
// What it does, per protocol period:
//   - Probes one member per probe_interval in randomized round-robin order (the order is
//     reshuffled each pass; new members are inserted at random places). A ping unanswered within
//     probe_timeout is followed by ping-reqs through indirect_checks random members; helpers that
//     get no answer send a nack (Lifeguard). No ack by the end of the interval: the target becomes
//     suspect.
//   - A suspect member is declared dead when its suspicion timeout ends: the timeout starts at
//     max and shrinks towards min with each independent confirmation (swim_rules.h); min =
//     suspicion_mult * max(1, log10 N) * probe_interval, max = suspicion_max_timeout_mult * min.
//   - A member that hears it is suspected (or dead, or left) refutes by bumping its incarnation
//     and gossiping alive; it also does so when it hears of itself at a higher incarnation (a
//     restart with a lower incarnation than its old life).
//   - Every gossip_interval, queued updates are sent to gossip_nodes random members (also to
//     members dead for less than gossip_to_dead, so a wrongly declared member learns and
//     refutes); all packets (pings, acks) piggyback updates too. Each update is sent
//     retransmit_mult * ceil(log10(N + 1)) times.
//   - Every push_pull_interval, a full state exchange over TCP with one random live member;
//     remote "dead" is taken as "suspect" (memberlist), so a sync never kills directly.
//   - join(seeds): a TCP join (the joiner's record, answered with the full state) to every
//     address of every seed, in parallel: a seed name is resolved and each address it resolves
//     to is tried (a Kubernetes headless Service names every member); addresses that are this
//     node (its bound or advertised address, or a server that finds the joiner has its own id)
//     are skipped. While no join succeeded and the node knows no other live member, the round
//     is repeated, names resolved again, after join_retry_interval, doubling up to
//     join_retry_max (join_max_attempts, 0 = forever). A seed that is an IP literal of this
//     node is never retried; a name always is (it may resolve to more members later).
//   - leave(): state "left" at a new incarnation, sent directly to every live member and gossiped;
//     after leave_timeout the node stops. "left" is distinct from "dead" everywhere.
//   - Tombstones (dead, left) are removed tombstone_timeout after their last change.
//   - Lifeguard local health (awareness): probe timeouts and the interval are multiplied by
//     (score + 1), score 0..awareness_max_multiplier - 1.
//   - App state: each member gossips its weight and a bounded StatsSummary; set_stats() and
//     set_weight() bump our incarnation so the change propagates.
// The membership epoch starts at 1 and is bumped on every change of the live set (alive +
// suspect members) or of a live member's weight; each bump rebuilds the ring (ring/rendezvous.h).
//
// Every datagram is authenticated for its receiver (peer/auth.h) and every frame encrypted and
// authenticated (peer/frame_cipher.h) unless the ClusterKey is open; refused input is counted
// (counters()), never answered. An inbound TCP connection must prove the key within
// handshake_timeout, and one source address may have at most max_handshakes_per_source
// connections that have not yet.
//
// Thread rules: a Membership runs on one io_context, which must be run by a single thread (or
// all calls and handlers must be serialised by the caller). start, join, leave, stop,
// set_weight, set_stats, on_change and on_stream must be called on that thread (post to it from
// elsewhere). view() and counters() may be called from any thread. Change and stream handlers
// run on the io_context thread, posted (never from inside a Membership call). Destroy a
// Membership before its io_context; pending handlers keep its internals alive until they ran
// (or until the io_context is destroyed).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "peer/auth.h"
#include "peer/messages.h"
#include "peer/stream.h"
#include "peer/swim_rules.h"
#include "ring/rendezvous.h"

namespace shoal::peer {

struct MembershipConfig {
  // Stable node id (--node-id), check_node_id rules.
  std::string node_id;
  // Advertised HTTP address of this node (host:port), may be empty.
  std::string client_addr;
  // UDP + TCP bind address, "IP:port"; port 0 picks a free port.
  std::string listen = "127.0.0.1:7947";
  // Peer address the others use ("IP:port"); empty = the bound address, which then must not be
  // unspecified (0.0.0.0 / [::]).
  std::string advertise;
  // Ring weight: 0 or ring::kMinWeight..ring::kMaxWeight.
  double weight = 1.0;
  // Our incarnation at start (e.g. Unix milliseconds, so a restart overtakes its old life at once;
  // with 0 a restarted node refutes its old tombstone instead, one gossip round later).
  std::uint64_t initial_incarnation = 0;

  // Timing (memberlist LAN defaults).
  Millis probe_interval{1000};
  Millis probe_timeout{500};  // must be < probe_interval
  int indirect_checks = 3;
  Millis gossip_interval{200};
  int gossip_nodes = 3;
  Millis push_pull_interval{30'000};
  Millis tcp_timeout{10'000};  // bound on one whole TCP exchange (connect .. reply)
  // Bound on an inbound connection's handshake: from accept until its first frame's header
  // verified (the proof that the other side holds the key); then tcp_timeout applies.
  Millis handshake_timeout{1500};
  int suspicion_mult = 4;
  int suspicion_max_timeout_mult = 6;
  int retransmit_mult = 4;
  Millis gossip_to_dead{30'000};
  Millis tombstone_timeout{60'000};  // must be >= gossip_to_dead
  Millis join_retry_interval{1000};  // first delay between join rounds, doubling per round
  Millis join_retry_max{10'000};     // the largest delay between join rounds
  int join_max_attempts = 0;         // 0 = retry while alone, forever
  Millis leave_timeout{500};
  int awareness_max_multiplier = 8;  // 1 disables Lifeguard local health

  std::size_t udp_budget = 1400;     // soft size of a UDP datagram, 512..65000 bytes (piggybacking
                                     // stops there; a single larger update still goes alone)
  UdpAuthConfig udp_auth;            // replay window and cache
  std::size_t max_inbound_tcp = 64;  // concurrent membership TCP sessions served
  // Inbound connections from one source address still in their handshake (not proven the key):
  // more are closed at once, so one host cannot fill max_inbound_tcp with idle connections.
  std::size_t max_handshakes_per_source = 8;

  // Called for notable events (member transitions, join failures), one line without newline.
  std::function<void(std::string_view)> log;

  // Returns nullopt when the config is usable, else the first problem as one line.
  std::optional<std::string> validate() const;
};

// A change of one member's state, reported after it was applied (view() already shows it).
struct MemberEvent {
  std::string id;
  std::optional<MemberState> before;  // nullopt: the member was new
  std::optional<MemberState> after;   // nullopt: the tombstone was reaped
  std::uint64_t incarnation = 0;
  std::uint64_t epoch = 0;     // the epoch after the change
  bool epoch_changed = false;  // the live set or a live weight changed (ring rebuilt)
};

// An immutable snapshot of the membership.
struct MembershipView {
  std::uint64_t epoch = 0;
  std::string self_id;
  std::vector<MemberRecord> members;  // every known member, self and tombstones included, by id
  std::shared_ptr<const ring::Ring> ring;  // the live members (alive + suspect) and weights

  // The record of member `id`, or nullptr.
  const MemberRecord* find(std::string_view id) const;
};

// Monotonic counters (events since start).
struct MembershipCounters {
  std::uint64_t packets_received = 0;
  std::uint64_t packets_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t auth_failures = 0;       // bad envelope, version or mode mismatch, tag or proof
  std::uint64_t version_mismatches = 0;  // of those: another protocol version (UDP or TCP)
  std::uint64_t stale_packets = 0;       // outside the replay window
  std::uint64_t replays = 0;
  std::uint64_t decode_errors = 0;  // UDP and TCP
  std::uint64_t misdirected = 0;    // pings for another id, leaves not from the leaver
  std::uint64_t probes = 0;
  std::uint64_t probe_failures = 0;   // probes that ended in a suspicion
  std::uint64_t indirect_probes = 0;  // ping-reqs sent
  std::uint64_t nacks_received = 0;
  std::uint64_t suspicions = 0;  // members that became suspect here
  std::uint64_t refutations = 0;
  std::uint64_t deaths = 0;      // members declared dead by our own suspicion timer
  std::uint64_t push_pulls = 0;  // completed exchanges, both directions
  std::uint64_t push_pull_failures = 0;
  std::uint64_t joins = 0;          // seeds that accepted our join
  std::uint64_t join_failures = 0;  // seed attempts that failed
  std::uint64_t joins_served = 0;
  std::uint64_t tcp_errors = 0;          // TCP sessions ended by an error (auth, decode, timeout)
  std::uint64_t handshake_timeouts = 0;  // inbound connections closed before proving the key
  std::uint64_t handshakes_refused = 0;  // inbound connections over max_handshakes_per_source
  std::uint64_t streams_handed_over = 0;
};

class Membership {
 public:
  using ChangeHandler = std::function<void(const MemberEvent&)>;
  // Receives an inbound, authenticated connection whose first frame is not a membership frame
  // (a ForwardRequest or ForwardResponse), with that frame and its decoded header. The handler
  // owns the stream from then on.
  using StreamHandler =
      std::function<void(std::shared_ptr<FrameStream>, Frame first, FrameHeader header)>;

  // Throws std::invalid_argument with validate()'s reason when `config` is invalid.
  Membership(boost::asio::io_context& io, MembershipConfig config, ClusterKey key);
  // Stops (without leaving).
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Binds the UDP socket and the TCP listener to the same port (with port 0, retries up to 16
  // free ports until both bind), then starts probing, gossip and push-pull. Join with join().
  // Throws boost::system::system_error when binding fails. Call once.
  void start();

  // Joins through `seeds` ("host:port", host may be a name; self is skipped), retrying as
  // described above. May be called again (a new round with the new list).
  void join(std::vector<std::string> seeds);

  // Leaves gracefully; `done` runs (on the io_context) once the node stopped.
  void leave(std::function<void()> done);

  // Stops at once without leaving (as a crash looks to the others): closes the sockets, cancels
  // every timer. Idempotent. A stopped Membership cannot be restarted.
  void stop();

  // Changes our ring weight / stats summary and gossips them (incarnation + 1). Returns the
  // check_* reason and changes nothing when the value is invalid.
  std::optional<std::string> set_weight(double weight);
  std::optional<std::string> set_stats(StatsSummary stats);

  void on_change(ChangeHandler handler);
  void on_stream(StreamHandler handler);

  // The current snapshot (never null after construction). Any thread.
  std::shared_ptr<const MembershipView> view() const;
  // A copy of the counters. Any thread.
  MembershipCounters counters() const;

  // The bound UDP endpoint (after start()) and the advertised peer address.
  boost::asio::ip::udp::endpoint local_endpoint() const;
  std::string peer_addr() const;
  const std::string& self_id() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace shoal::peer
