// Tests for peer/membership.h: 3-5 Membership instances in one process on real loopback UDP and
// TCP sockets with short intervals (probe 100 ms), all on one io_context run by the test thread.
// Covers convergence, failure detection (suspect, then dead, within the Lifeguard bound),
// graceful leave, the cluster key keeping an outsider out (join and UDP injection), replay
// refusal, refutation of a false suspicion, rejoin at a higher incarnation, tombstone reaping,
// gossip of weight and stats, push-pull, and the hand-over of forwarding streams.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "peer/codec.h"
#include "peer/membership.h"

namespace shoal::test {
namespace {

using namespace shoal::peer;
namespace asio = boost::asio;
using asio::ip::udp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

const ClusterKey& good_key() {
  static const ClusterKey k = *ClusterKey::from_secret("membership-test-secret");
  return k;
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "n0", "n1", ... (appended, not operator+: GCC 12 -Wrestrict false positive, PR 105329).
std::string node_name(std::size_t i) {
  std::string s = "n";
  s += std::to_string(i);
  return s;
}

MembershipConfig fast_config(const std::string& id) {
  MembershipConfig c;
  c.node_id = id;
  c.client_addr = "127.0.0.1:8080";
  c.listen = "127.0.0.1:0";
  c.probe_interval = Millis(100);
  c.probe_timeout = Millis(40);
  c.indirect_checks = 2;
  c.gossip_interval = Millis(30);
  c.push_pull_interval = Millis(300);
  c.tcp_timeout = Millis(1000);
  c.gossip_to_dead = Millis(2000);
  c.tombstone_timeout = Millis(5000);
  c.join_retry_interval = Millis(100);
  c.leave_timeout = Millis(200);
  return c;
}

class PeerMembership : public ::testing::Test {
 protected:
  ~PeerMembership() override {
    nodes_.clear();
    io_.poll();
  }

  // Creates and starts a member; returns its index.
  std::size_t add(MembershipConfig c, const ClusterKey& key = good_key()) {
    nodes_.push_back(std::make_unique<Membership>(io_, std::move(c), key));
    nodes_.back()->start();
    return nodes_.size() - 1;
  }

  // Starts n members "n0".."n{n-1}" and joins each through the full address list (self
  // included, as an operator would configure it), then waits until all see all alive.
  void start_cluster(std::size_t n, const std::function<void(MembershipConfig&)>& tweak = {}) {
    for (std::size_t i = 0; i < n; ++i) {
      MembershipConfig c = fast_config(node_name(i));
      if (tweak) tweak(c);
      add(std::move(c));
    }
    std::vector<std::string> seeds;
    for (const auto& m : nodes_) seeds.push_back(m->peer_addr());
    for (const auto& m : nodes_) m->join(seeds);
    ASSERT_TRUE(run_until([&] { return all_alive(n); }, Millis(5000))) << dump();
  }

  // Runs the io_context until `done` holds or `limit` passed. Returns done().
  bool run_until(const std::function<bool()>& done, Millis limit) {
    Clock::time_point end = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() >= end) return false;
      io_.run_for(Millis(5));
    }
    return true;
  }

  void run_for(Millis d) {
    run_until([] { return false; }, d);
  }

  // The state member `observer` holds for `id`, or nullopt when it does not know it.
  std::optional<MemberState> state(std::size_t observer, const std::string& id) const {
    const MemberRecord* r = nodes_[observer]->view()->find(id);
    return r ? std::optional(r->state) : std::nullopt;
  }

  std::uint64_t incarnation(std::size_t observer, const std::string& id) const {
    return nodes_[observer]->view()->find(id)->incarnation;
  }

  // Every running member among the first n sees exactly the first n members, all alive.
  bool all_alive(std::size_t n) const {
    for (std::size_t i = 0; i < n; ++i) {
      auto v = nodes_[i]->view();
      if (v->members.size() != n) return false;
      for (const MemberRecord& r : v->members) {
        if (r.state != MemberState::kAlive) return false;
      }
    }
    return true;
  }

  // Whether every member other than `skip` holds `id` in state `s`.
  bool others_see(std::size_t skip, const std::string& id, MemberState s) const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (i != skip && state(i, id) != s) return false;
    }
    return true;
  }

  std::string dump() const {
    std::string out;
    for (const auto& m : nodes_) {
      auto v = m->view();
      out += v->self_id + " (epoch " + std::to_string(v->epoch) + "):";
      for (const MemberRecord& r : v->members) {
        out += " " + r.id + "=" + std::string(state_name(r.state)) + "@" +
               std::to_string(r.incarnation);
      }
      out += "\n";
    }
    return out;
  }

  // Sends one authenticated (under `key`) UDP packet to member `to` from `socket`.
  void inject(udp::socket& socket, std::size_t to, const Packet& p, const ClusterKey& key) {
    UdpAuth auth(key, p.from);
    std::string d = auth.seal(encode_packet(p), unix_ms(), nodes_[to]->self_id());
    socket.send_to(asio::buffer(d), nodes_[to]->local_endpoint());
  }

  asio::io_context io_;
  std::vector<std::unique_ptr<Membership>> nodes_;
};

TEST_F(PeerMembership, ConvergesToAllAliveWithIdenticalRings) {
  start_cluster(5);
  // Every member has the same ring, and push-pull ran.
  ASSERT_TRUE(run_until(
      [&] {
        for (const auto& m : nodes_) {
          if (m->counters().push_pulls == 0) return false;
        }
        return true;
      },
      Millis(3000)));
  auto first = nodes_[0]->view();
  EXPECT_GT(first->epoch, 1u);
  ASSERT_EQ(first->ring->size(), 5u);
  for (const auto& m : nodes_) {
    auto v = m->view();
    EXPECT_EQ(v->ring->members(), first->ring->members());
    for (std::uint64_t key = 0; key < 100; ++key) {
      EXPECT_EQ(v->ring->owner(key * 0x9e3779b97f4a7c15ull)->id,
                first->ring->owner(key * 0x9e3779b97f4a7c15ull)->id);
    }
    EXPECT_EQ(m->counters().auth_failures, 0u);
    EXPECT_EQ(m->counters().decode_errors, 0u);
  }
}

TEST_F(PeerMembership, DetectsAStoppedMemberAsSuspectThenDead) {
  start_cluster(4);
  std::map<std::string, std::vector<MemberState>> seen;  // observer -> states of n3
  for (std::size_t i = 0; i < 3; ++i) {
    nodes_[i]->on_change([&seen, id = node_name(i)](const MemberEvent& ev) {
      if (ev.id == "n3" && ev.after) seen[id].push_back(*ev.after);
    });
  }
  std::uint64_t epoch_before = nodes_[0]->view()->epoch;
  Clock::time_point stopped = Clock::now();
  nodes_[3]->stop();  // closes its sockets without leaving, like a crash
  // Bound: one full probe cycle over the 3 others plus the probe itself (~400 ms), then the
  // longest suspicion timeout for N = 4 (6 x 400 ms); in practice confirmations shorten it.
  Millis bound(400 + 2400 + 1000);
  ASSERT_TRUE(run_until([&] { return others_see(3, "n3", MemberState::kDead); }, bound)) << dump();
  Millis took = std::chrono::duration_cast<Millis>(Clock::now() - stopped);
  EXPECT_LT(took, bound);
  run_for(Millis(50));  // deliver the queued change events
  for (std::size_t i = 0; i < 3; ++i) {
    std::vector<MemberState> states = seen[node_name(i)];
    ASSERT_FALSE(states.empty());
    EXPECT_EQ(states.back(), MemberState::kDead);
    EXPECT_EQ(states.front(), MemberState::kSuspect) << "n" << i << " skipped suspect";
    auto v = nodes_[i]->view();
    EXPECT_GT(v->epoch, epoch_before);
    EXPECT_EQ(v->ring->size(), 3u);
    EXPECT_FALSE(v->ring->find("n3").has_value());
  }
  MembershipCounters total;
  for (std::size_t i = 0; i < 3; ++i) {
    MembershipCounters c = nodes_[i]->counters();
    total.indirect_probes += c.indirect_probes;
    total.nacks_received += c.nacks_received;
    total.deaths += c.deaths;
  }
  EXPECT_GT(total.indirect_probes, 0u);
  EXPECT_GT(total.nacks_received, 0u);  // live helpers nack (Lifeguard)
  EXPECT_GT(total.deaths, 0u);
}

TEST_F(PeerMembership, GracefulLeaveIsLeftNotDead) {
  start_cluster(3);
  bool dead_seen = false;
  for (std::size_t i = 0; i < 2; ++i) {
    nodes_[i]->on_change([&](const MemberEvent& ev) {
      if (ev.id == "n2" && ev.after == MemberState::kDead) dead_seen = true;
    });
  }
  bool done = false;
  nodes_[2]->leave([&] { done = true; });
  ASSERT_TRUE(
      run_until([&] { return done && others_see(2, "n2", MemberState::kLeft); }, Millis(2000)))
      << dump();
  run_for(Millis(500));  // the leaver is gone now; nobody must turn "left" into "dead"
  EXPECT_TRUE(others_see(2, "n2", MemberState::kLeft)) << dump();
  EXPECT_FALSE(dead_seen);
  EXPECT_EQ(nodes_[0]->view()->ring->size(), 2u);
  EXPECT_EQ(state(2, "n2"), MemberState::kLeft);  // the leaver's own view
}

TEST_F(PeerMembership, OutsiderWithWrongKeyCannotJoinOrInject) {
  start_cluster(3);
  ClusterKey wrong = *ClusterKey::from_secret("some-other-secret-key");
  std::size_t intruder = add(fast_config("intruder"), wrong);
  nodes_[intruder]->join({nodes_[0]->peer_addr(), nodes_[1]->peer_addr()});
  ASSERT_TRUE(
      run_until([&] { return nodes_[intruder]->counters().join_failures >= 4; }, Millis(3000)));
  // Forged UDP: a death notice for n1 under the wrong key, and one with no key at all.
  udp::socket sock(io_, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Packet forged{"intruder", {Update{"n1", 99, MemberState::kDead, "intruder", std::nullopt}}};
  inject(sock, 0, forged, wrong);
  inject(sock, 0, forged, ClusterKey::open());
  ASSERT_TRUE(run_until([&] { return nodes_[0]->counters().auth_failures >= 2; }, Millis(1000)));
  run_for(Millis(300));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(state(i, "intruder").has_value()) << dump();
    EXPECT_EQ(state(i, "n1"), MemberState::kAlive) << dump();
  }
  auto iv = nodes_[intruder]->view();
  EXPECT_EQ(iv->members.size(), 1u);  // it learned nothing
  EXPECT_EQ(nodes_[intruder]->counters().joins, 0u);
  // Its refused handshakes count as authentication failures on its side too.
  EXPECT_GE(nodes_[intruder]->counters().auth_failures, 4u);
}

TEST_F(PeerMembership, AnswersAuthenticPingsAndRefusesTheirReplay) {
  start_cluster(3);
  udp::socket sock(io_, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  UdpAuth auth(good_key(), "tester");
  std::string d = auth.seal(encode_packet(Packet{"tester", {Ping{4242, "n0"}}}), unix_ms(), "n0");
  sock.send_to(asio::buffer(d), nodes_[0]->local_endpoint());
  sock.send_to(asio::buffer(d), nodes_[0]->local_endpoint());  // the same bytes again
  // Sealed for n0, the datagram is refused by n1 too: replay protection holds cluster-wide.
  const std::uint64_t n1_refused = nodes_[1]->counters().auth_failures;
  sock.send_to(asio::buffer(d), nodes_[1]->local_endpoint());
  // A ping for another id is dropped (address reuse guard).
  std::string other =
      auth.seal(encode_packet(Packet{"tester", {Ping{4243, "n1"}}}), unix_ms(), "n0");
  sock.send_to(asio::buffer(other), nodes_[0]->local_endpoint());
  std::array<char, 65536> buf;
  udp::endpoint from;
  std::size_t acks = 0;
  bool got_other = false;
  std::function<void()> receive = [&] {
    sock.async_receive_from(asio::buffer(buf), from, [&](error_code ec, std::size_t n) {
      if (ec) return;
      UdpAuth reader(good_key(), "tester");
      std::string_view body;
      Packet p;
      if (reader.open(std::string_view(buf.data(), n), unix_ms(), &body).ok() &&
          decode_packet(body, &p).ok()) {
        for (const Message& m : p.messages) {
          if (const auto* a = std::get_if<Ack>(&m)) {
            acks += a->seq == 4242;
            got_other |= a->seq == 4243;
          }
        }
      }
      receive();
    });
  };
  receive();
  ASSERT_TRUE(
      run_until([&] { return nodes_[0]->counters().replays >= 1 && acks >= 1; }, Millis(1000)));
  run_for(Millis(100));
  EXPECT_EQ(acks, 1u);  // n1 never answered
  EXPECT_FALSE(got_other);
  EXPECT_GE(nodes_[0]->counters().misdirected, 1u);
  EXPECT_EQ(nodes_[1]->counters().auth_failures, n1_refused + 1);
  sock.close();
}

TEST_F(PeerMembership, RefutesAFalseSuspicion) {
  start_cluster(3);
  std::uint64_t before = incarnation(0, "n1");
  bool dead_seen = false;
  nodes_[0]->on_change([&](const MemberEvent& ev) {
    if (ev.id == "n1" && ev.after == MemberState::kDead) dead_seen = true;
  });
  udp::socket sock(io_, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  // n2 "accuses" n1, told to n0 only; n0 gossips it, n1 hears and refutes.
  inject(sock, 0, Packet{"n2", {Update{"n1", before, MemberState::kSuspect, "n2", std::nullopt}}},
         good_key());
  ASSERT_TRUE(run_until([&] { return nodes_[1]->counters().refutations >= 1; }, Millis(2000)));
  ASSERT_TRUE(run_until(
      [&] {
        for (std::size_t i = 0; i < 3; ++i) {
          if (state(i, "n1") != MemberState::kAlive || incarnation(i, "n1") <= before) return false;
        }
        return true;
      },
      Millis(2000)))
      << dump();
  EXPECT_FALSE(dead_seen);
  EXPECT_GE(nodes_[0]->counters().suspicions, 1u);
}

TEST_F(PeerMembership, RestartedMemberRejoinsAboveItsOldIncarnation) {
  start_cluster(3);
  nodes_[2]->stop();
  ASSERT_TRUE(run_until([&] { return others_see(2, "n2", MemberState::kDead); }, Millis(4000)))
      << dump();
  std::uint64_t dead_inc = incarnation(0, "n2");
  // The same id comes back on a new port with incarnation 0: it learns of its old life in the
  // join reply and refutes to a higher incarnation.
  std::size_t again = add(fast_config("n2"));
  nodes_[again]->join({nodes_[0]->peer_addr()});
  ASSERT_TRUE(run_until(
      [&] {
        return state(0, "n2") == MemberState::kAlive && state(1, "n2") == MemberState::kAlive;
      },
      Millis(3000)))
      << dump();
  EXPECT_GT(incarnation(0, "n2"), dead_inc);
  EXPECT_GE(nodes_[again]->counters().refutations, 1u);
  EXPECT_EQ(nodes_[0]->view()->find("n2")->meta.peer_addr, nodes_[again]->peer_addr());
  EXPECT_EQ(nodes_[0]->view()->ring->size(), 3u);
}

TEST_F(PeerMembership, RejoinWithAHigherInitialIncarnationNeedsNoRefutation) {
  start_cluster(3);
  nodes_[2]->stop();
  ASSERT_TRUE(run_until([&] { return others_see(2, "n2", MemberState::kDead); }, Millis(4000)));
  std::vector<std::uint64_t> revived;  // incarnations at which n0 saw n2 come back
  nodes_[0]->on_change([&](const MemberEvent& ev) {
    if (ev.id == "n2" && ev.after == MemberState::kAlive) revived.push_back(ev.incarnation);
  });
  MembershipConfig c = fast_config("n2");
  c.initial_incarnation = 1000;
  std::size_t again = add(std::move(c));
  nodes_[again]->join({nodes_[1]->peer_addr()});
  ASSERT_TRUE(run_until([&] { return !revived.empty(); }, Millis(3000))) << dump();
  // Accepted at once at its own incarnation (a later false suspicion on a loaded machine could
  // bump it, which is why only the first revival is checked).
  EXPECT_EQ(revived.front(), 1000u);
  EXPECT_GE(incarnation(0, "n2"), 1000u);
}

TEST_F(PeerMembership, ReapsTombstonesAfterTheirTimeout) {
  start_cluster(3, [](MembershipConfig& c) {
    c.gossip_to_dead = Millis(200);
    c.tombstone_timeout = Millis(600);
  });
  bool reaped = false;
  nodes_[0]->on_change([&](const MemberEvent& ev) {
    if (ev.id == "n2" && !ev.after) reaped = true;
  });
  nodes_[2]->leave(nullptr);
  ASSERT_TRUE(run_until([&] { return others_see(2, "n2", MemberState::kLeft); }, Millis(2000)));
  Clock::time_point left = Clock::now();
  ASSERT_TRUE(run_until([&] { return !state(0, "n2") && !state(1, "n2"); }, Millis(3000)))
      << dump();
  EXPECT_GE(Clock::now() - left, Millis(400));  // not before the timeout (minus gossip skew)
  run_for(Millis(50));
  EXPECT_TRUE(reaped);
  EXPECT_EQ(nodes_[0]->view()->members.size(), 2u);
}

TEST_F(PeerMembership, GossipsWeightAndStats) {
  start_cluster(3);
  std::uint64_t epoch = nodes_[1]->view()->epoch;
  StatsSummary stats;
  stats.in_flight = 12;
  stats.egress_bps = 3.5e9;
  stats.buckets = {{"bucket-a", 10.5, 99.0, 0.02}};
  ASSERT_FALSE(nodes_[0]->set_stats(stats).has_value());
  ASSERT_FALSE(nodes_[0]->set_weight(3.0).has_value());
  EXPECT_TRUE(nodes_[0]->set_weight(-1).has_value());
  StatsSummary too_many;
  too_many.buckets.assign(kMaxStatsBuckets + 1, BucketStats{"b", 1, 1, 0});
  EXPECT_TRUE(nodes_[0]->set_stats(too_many).has_value());
  ASSERT_TRUE(run_until(
      [&] {
        for (std::size_t i = 1; i < 3; ++i) {
          const MemberRecord* r = nodes_[i]->view()->find("n0");
          if (r->meta.weight != 3.0 || r->meta.stats != stats) return false;
        }
        return true;
      },
      Millis(2000)))
      << dump();
  auto v = nodes_[1]->view();
  EXPECT_GT(v->epoch, epoch);  // the weight changed the ring
  EXPECT_DOUBLE_EQ(v->ring->share(*v->ring->find("n0")), 3.0 / 5.0);
}

TEST_F(PeerMembership, HandsForwardingStreamsToTheStreamHandler) {
  start_cluster(3);
  ForwardRequest got;
  nodes_[0]->on_stream([&](std::shared_ptr<FrameStream> s, Frame, FrameHeader h) {
    got = std::get<ForwardRequest>(h);
    ForwardResponse resp;
    resp.request_id = got.request_id;
    resp.object_size = 11;
    auto payload = std::make_shared<std::string>("hello world");
    s->async_write_frame(encode_frame_header(resp), *payload, payload, [s](error_code) {});
  });
  auto client =
      FrameStream::create(asio::ip::tcp::socket(io_), good_key(), FrameStream::Role::kClient);
  udp::endpoint ep = nodes_[0]->local_endpoint();
  std::string answer;
  ForwardRequest req;
  req.request_id = 77;
  req.kind = "k";
  req.object = "obj";
  req.page = 3;
  client->socket().async_connect({ep.address(), ep.port()}, [&](error_code ec) {
    ASSERT_FALSE(ec);
    client->async_handshake([&](error_code ec) {
      ASSERT_FALSE(ec);
      client->async_write_frame(encode_frame_header(req), "", nullptr, [](error_code) {});
      client->async_read_frame(1 << 20, [&](error_code ec, Frame f) {
        ASSERT_FALSE(ec);
        FrameHeader h;
        ASSERT_TRUE(decode_frame_header(f.header, &h).ok());
        EXPECT_EQ(std::get<ForwardResponse>(h).request_id, 77u);
        answer = std::string(f.payload.view());
      });
    });
  });
  ASSERT_TRUE(run_until([&] { return !answer.empty(); }, Millis(2000)));
  EXPECT_EQ(answer, "hello world");
  EXPECT_EQ(got, req);
  EXPECT_EQ(nodes_[0]->counters().streams_handed_over, 1u);
  client->close();
}

// Issue 15, item 6: connections that never prove the key are closed after handshake_timeout,
// and one source address can hold at most max_handshakes_per_source of them, so a flood of idle
// handshakes from one host neither fills max_inbound_tcp nor stops real peers.
TEST_F(PeerMembership, IdleHandshakesFromOneAddressAreCappedAndClosed) {
  start_cluster(2, [](MembershipConfig& c) {
    c.handshake_timeout = Millis(600);
    c.max_handshakes_per_source = 4;
    c.max_inbound_tcp = 8;
  });
  const udp::endpoint ep = nodes_[0]->local_endpoint();
  const asio::ip::tcp::endpoint target(ep.address(), ep.port());
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> idle;
  for (int i = 0; i < 20; ++i) {  // another host: 127.0.0.9
    auto sock = std::make_unique<asio::ip::tcp::socket>(io_);
    sock->open(asio::ip::tcp::v4());
    sock->bind({asio::ip::make_address("127.0.0.9"), 0});
    sock->connect(target);
    idle.push_back(std::move(sock));
  }
  ASSERT_TRUE(
      run_until([&] { return nodes_[0]->counters().handshakes_refused >= 16; }, Millis(1000)));
  EXPECT_EQ(nodes_[0]->counters().handshakes_refused, 16u);

  // A real peer (another address) still gets in while the idle ones hold their slots.
  nodes_[0]->on_stream([](std::shared_ptr<FrameStream>, Frame, FrameHeader) {});
  auto client =
      FrameStream::create(asio::ip::tcp::socket(io_), good_key(), FrameStream::Role::kClient);
  bool sent = false;
  client->socket().async_connect(target, [&](error_code ec) {
    ASSERT_FALSE(ec);
    client->async_handshake([&](error_code ec) {
      ASSERT_FALSE(ec);
      ForwardRequest req;
      req.request_id = 1;
      req.kind = "k";
      req.object = "o";
      client->async_write_frame(encode_frame_header(req), "", nullptr,
                                [&](error_code ec) { sent = !ec; });
    });
  });
  ASSERT_TRUE(
      run_until([&] { return nodes_[0]->counters().streams_handed_over == 1; }, Millis(1000)));
  EXPECT_TRUE(sent);
  EXPECT_EQ(nodes_[0]->counters().handshake_timeouts, 0u);

  // The idle ones are closed at their deadline.
  ASSERT_TRUE(
      run_until([&] { return nodes_[0]->counters().handshake_timeouts == 4; }, Millis(2000)));
  run_for(Millis(50));
  for (auto& sock : idle) {
    char byte;
    error_code ec;
    sock->non_blocking(true);
    sock->read_some(asio::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  }
  // Then the address may handshake again: the slots were released.
  EXPECT_TRUE(all_alive(2));
  client->close();
}

TEST(PeerMembershipConfig, ValidatesItsFields) {
  EXPECT_FALSE(fast_config("ok").validate().has_value());
  MembershipConfig c = fast_config("");
  EXPECT_TRUE(c.validate().has_value());
  c = fast_config("ok");
  c.probe_timeout = c.probe_interval;
  EXPECT_TRUE(c.validate().has_value());
  c = fast_config("ok");
  c.listen = "0.0.0.0:7000";
  EXPECT_TRUE(c.validate().has_value());  // needs an advertise address
  c.advertise = "10.1.2.3:7000";
  EXPECT_FALSE(c.validate().has_value());
  c = fast_config("ok");
  c.tombstone_timeout = c.gossip_to_dead - Millis(1);
  EXPECT_TRUE(c.validate().has_value());
  c = fast_config("ok");
  c.weight = std::nan("");
  EXPECT_TRUE(c.validate().has_value());
  asio::io_context io;
  EXPECT_THROW(Membership(io, fast_config(""), good_key()), std::invalid_argument);
}

}  // namespace
}  // namespace shoal::test
