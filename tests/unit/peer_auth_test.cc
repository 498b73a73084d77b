// Tests for peer/auth.h and peer/stream.h: HMAC-SHA256 against RFC 4231, cluster key loading,
// UDP sealing (accept, wrong key, tampering, replay, stale, open/keyed mismatch), the replay
// cache's floor, the TCP handshake and per-frame tags, and FrameStream over loopback sockets
// (round trips, wrong key, tampered and oversized frames).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "peer/auth.h"
#include "peer/codec.h"
#include "peer/stream.h"

namespace shoal::test {
namespace {

using namespace shoal::peer;
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

ClusterKey key_of(std::string_view secret) {
  return *ClusterKey::from_secret(secret);
}

template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& t) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : t) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

constexpr std::int64_t kNow = 1'700'000'000'000;  // a fixed Unix time in ms

TEST(PeerHmac, MatchesRfc4231TestCase2) {
  Tag t = hmac_sha256(bytes_of("Jefe"), {"what do ya want ", "for nothing?"});
  EXPECT_EQ(hex(t), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  Hmac h(bytes_of("Jefe"));
  h.update("what do ya want for nothing?");
  EXPECT_EQ(h.finish(), t);
}

TEST(PeerHmac, ComparesTagsByValueAndSize) {
  Tag a = hmac_sha256(bytes_of("k"), {"x"});
  Tag b = a;
  EXPECT_TRUE(tags_equal(a, b));
  b[31] ^= 1;
  EXPECT_FALSE(tags_equal(a, b));
  EXPECT_FALSE(tags_equal({a.data(), 31}, {a.data(), 32}));
}

TEST(PeerClusterKey, RejectsShortSecretsAndDerivesDistinctKeys) {
  std::string error;
  EXPECT_FALSE(ClusterKey::from_secret("short", &error).has_value());
  EXPECT_NE(error.find("5 bytes"), std::string::npos);
  ClusterKey k = key_of("0123456789abcdef");
  EXPECT_TRUE(k.keyed());
  EXPECT_NE(k.udp_key(), k.tcp_key());
  EXPECT_NE(key_of("0123456789abcdeg").udp_key(), k.udp_key());
  EXPECT_FALSE(ClusterKey::open().keyed());
}

TEST(PeerClusterKey, LoadsFileWithoutTrailingWhitespace) {
  auto path =
      std::filesystem::temp_directory_path() / ("shoal_key_" + std::to_string(::getpid()) + ".txt");
  { std::ofstream(path) << "0123456789abcdef0123456789abcdef\r\n \t"; }
  std::string error;
  std::optional<ClusterKey> k = ClusterKey::load_file(path.string(), &error);
  ASSERT_TRUE(k.has_value()) << error;
  EXPECT_EQ(k->udp_key(), key_of("0123456789abcdef0123456789abcdef").udp_key());
  { std::ofstream(path) << "tooshort\n"; }
  EXPECT_FALSE(ClusterKey::load_file(path.string(), &error).has_value());
  std::filesystem::remove(path);
  EXPECT_FALSE(ClusterKey::load_file(path.string(), &error).has_value());
  EXPECT_NE(error.find("cannot open"), std::string::npos);
}

TEST(PeerUdpAuth, AcceptsItsOwnSealedDatagramOnce) {
  UdpAuth a(key_of("cluster-secret-0001"));
  UdpAuth b(key_of("cluster-secret-0001"));
  std::string d = a.seal("hello body", kNow);
  EXPECT_EQ(d.size(), kUdpEnvelopeBytes + 10);
  std::string_view body;
  ASSERT_TRUE(b.open(d, kNow + 5, &body).ok());
  EXPECT_EQ(body, "hello body");
  EXPECT_EQ(b.open(d, kNow + 6, &body).code, Error::kReplay);
  // A second seal of the same body has a fresh nonce and is accepted.
  EXPECT_TRUE(b.open(a.seal("hello body", kNow), kNow, &body).ok());
}

TEST(PeerUdpAuth, RejectsWrongKeyAndTampering) {
  UdpAuth a(key_of("cluster-secret-0001"));
  UdpAuth b(key_of("cluster-secret-0002"));
  std::string_view body;
  EXPECT_EQ(b.open(a.seal("x", kNow), kNow, &body).code, Error::kBadTag);
  UdpAuth c(key_of("cluster-secret-0001"));
  std::string d = a.seal("payload", kNow);
  for (std::size_t i = 4; i < d.size(); ++i) {  // every byte after the magic and mode
    std::string t = d;
    t[i] ^= 0x20;
    EXPECT_EQ(c.open(t, kNow, &body).code, Error::kBadTag) << "byte " << i;
  }
  EXPECT_TRUE(c.open(d, kNow, &body).ok());  // the untampered one still verifies
}

TEST(PeerUdpAuth, RejectsStaleAndFutureTimestamps) {
  UdpAuth a(key_of("cluster-secret-0001"), {30'000, 100});
  std::string_view body;
  EXPECT_EQ(a.open(a.seal("x", kNow - 30'001), kNow, &body).code, Error::kStale);
  EXPECT_EQ(a.open(a.seal("x", kNow + 30'001), kNow, &body).code, Error::kStale);
  EXPECT_TRUE(a.open(a.seal("x", kNow - 30'000), kNow, &body).ok());
  EXPECT_TRUE(a.open(a.seal("x", kNow + 30'000), kNow, &body).ok());
}

// Timestamps are attacker-chosen 64-bit values: extremes must be refused without overflow
// (found by fuzz_peer_frame; the sanitizer build turns an overflow into a failure).
TEST(PeerUdpAuth, RefusesExtremeTimestampsWithoutOverflow) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  UdpAuth a(ClusterKey::open());
  std::string_view body;
  EXPECT_EQ(a.open(a.seal("x", kMax), kNow, &body).code, Error::kStale);
  EXPECT_EQ(a.open(a.seal("x", kMin), kNow, &body).code, Error::kStale);
  EXPECT_EQ(a.open(a.seal("x", kMin), kMax, &body).code, Error::kStale);
  EXPECT_EQ(a.open(a.seal("x", kMax), kMin, &body).code, Error::kStale);
  std::string edge = a.seal("x", kMax - 5);
  EXPECT_TRUE(a.open(edge, kMax, &body).ok());
  edge = a.seal("x", kMin + 5);
  EXPECT_TRUE(a.open(edge, kMin, &body).ok());
}

TEST(PeerUdpAuth, RefusesModeMismatchBothWays) {
  UdpAuth keyed(key_of("cluster-secret-0001"));
  UdpAuth open(ClusterKey::open());
  std::string_view body;
  EXPECT_EQ(keyed.open(open.seal("x", kNow), kNow, &body).code, Error::kModeMismatch);
  EXPECT_EQ(open.open(keyed.seal("x", kNow), kNow, &body).code, Error::kModeMismatch);
  std::string d = open.seal("open body", kNow);
  ASSERT_TRUE(open.open(d, kNow, &body).ok());
  EXPECT_EQ(body, "open body");  // body views d
}

TEST(PeerUdpAuth, RejectsShortForeignAndOversizedDatagrams) {
  UdpAuth a(key_of("cluster-secret-0001"));
  std::string_view body;
  EXPECT_EQ(a.open("", kNow, &body).code, Error::kBadEnvelope);
  std::string d = a.seal("", kNow);
  EXPECT_EQ(a.open(d.substr(0, kUdpEnvelopeBytes - 1), kNow, &body).code, Error::kBadEnvelope);
  d[0] = 'X';
  EXPECT_EQ(a.open(d, kNow, &body).code, Error::kBadEnvelope);
  EXPECT_EQ(a.open(std::string(kMaxUdpPacketBytes + 1, 'S'), kNow, &body).code,
            Error::kPacketTooLarge);
}

TEST(PeerReplayCache, EvictionRaisesTheFloorSoReplaysStayRefused) {
  ReplayCache cache(2);
  Nonce n1{1}, n2{2}, n3{3}, n4{4};
  EXPECT_TRUE(cache.insert(100, n1, 0));
  EXPECT_TRUE(cache.insert(200, n2, 0));
  EXPECT_FALSE(cache.insert(100, n1, 0));  // replay
  EXPECT_TRUE(cache.insert(300, n3, 0));   // evicts (100, n1): floor 100
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.insert(100, n1, 0));  // forgotten, but below the floor
  EXPECT_FALSE(cache.insert(50, n4, 0));   // older than the floor
  EXPECT_FALSE(cache.insert(200, n2, 0));  // still remembered
  EXPECT_TRUE(cache.insert(250, n4, 0));
}

TEST(PeerReplayCache, ExpiresOldEntries) {
  ReplayCache cache(10);
  Nonce n{9};
  EXPECT_TRUE(cache.insert(100, n, 0));
  EXPECT_TRUE(cache.insert(1000, Nonce{8}, 500));  // expires (100, n)
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.insert(100, n, 500));  // and the floor still refuses it
}

TEST(PeerHandshake, DerivesMatchingKeysAndProvesTheServer) {
  ClusterKey key = key_of("cluster-secret-0001");
  Nonce nc = random_nonce(), ns = random_nonce();
  std::string ch = encode_client_hello(key, nc);
  ASSERT_EQ(ch.size(), kClientHelloBytes);
  Nonce got_nc;
  ASSERT_TRUE(parse_client_hello(ch, key, &got_nc).ok());
  EXPECT_EQ(got_nc, nc);
  std::string sh = encode_server_hello(key, nc, ns);
  ASSERT_EQ(sh.size(), kServerHelloBytes);
  Nonce got_ns;
  ASSERT_TRUE(parse_server_hello(sh, key, nc, &got_ns).ok());
  EXPECT_EQ(got_ns, ns);
  // A server without the key (or answering another client nonce) fails the proof.
  EXPECT_EQ(parse_server_hello(encode_server_hello(key_of("cluster-secret-0002"), nc, ns), key, nc,
                               &got_ns)
                .code,
            Error::kBadProof);
  EXPECT_EQ(parse_server_hello(sh, key, random_nonce(), &got_ns).code, Error::kBadProof);
  EXPECT_EQ(parse_server_hello(encode_server_hello(key, nc, nc), key, nc, &got_ns).code,
            Error::kBadProof);
  EXPECT_EQ(parse_client_hello(encode_client_hello(ClusterKey::open(), nc), key, &got_nc).code,
            Error::kModeMismatch);
  EXPECT_EQ(parse_client_hello("GET / HTTP/1.1\r\nHost: x\r\n\r\n", key, &got_nc).code,
            Error::kBadEnvelope);
}

TEST(PeerFrameMac, VerifiesInOrderOnlyAndPerDirection) {
  ClusterKey key = key_of("cluster-secret-0001");
  Nonce nc = random_nonce(), ns = random_nonce();
  FrameMac send(key, nc, ns, true), recv(key, nc, ns, true), wrong_dir(key, nc, ns, false);
  FrameTag t0 = send.seal("p0", "h0", "payload0");
  FrameTag t1 = send.seal("p1", "h1", "payload1");
  EXPECT_EQ(wrong_dir.verify("p0", "h0", "payload0", as_bytes(t0)).code, Error::kBadTag);
  EXPECT_EQ(recv.verify("p1", "h1", "payload1", as_bytes(t1)).code, Error::kBadTag);  // reorder
  ASSERT_TRUE(recv.verify("p0", "h0", "payload0", as_bytes(t0)).ok());
  EXPECT_EQ(recv.verify("p0", "h0", "payload0", as_bytes(t0)).code, Error::kBadTag);  // replay
  EXPECT_EQ(recv.verify("p1", "h1", "payload!", as_bytes(t1)).code, Error::kBadTag);  // tamper
  ASSERT_TRUE(recv.verify("p1", "h1", "payload1", as_bytes(t1)).ok());
  EXPECT_EQ(recv.sequence(), 2u);
  // Another connection (other nonces) has other keys.
  FrameMac other(key, random_nonce(), ns, true);
  EXPECT_EQ(other.verify("p0", "h0", "payload0", as_bytes(t0)).code, Error::kBadTag);
}

// Known answers computed independently (Python: hmac + cryptography's AESGCM with an empty
// plaintext): k_c2s = HMAC(HMAC(secret, "shoal peer tcp v1"), "c2s" || nc || ns), IV = 4 zero
// bytes || u64 BE frame number, AAD = prefix || header || payload.
TEST(PeerFrameMac, IsAesGmacUnderTheDirectionKey) {
  Nonce nc{}, ns{};
  for (std::uint8_t i = 0; i < 16; ++i) {
    nc[i] = i;
    ns[i] = static_cast<std::uint8_t>(16 + i);
  }
  FrameMac send(key_of("0123456789abcdef-shoal-test"), nc, ns, true);
  EXPECT_EQ(hex(send.seal("prefix", "header", "payload")), "0fd38f32dcde41ed8fb845baaae6658f");
  EXPECT_EQ(hex(send.seal("p", "h", "")), "d64161dba0e26575f5829b80ab2894e9");
}

TEST(PeerFrameMac, OpenModeUsesZeroTags) {
  Nonce nc = random_nonce(), ns = random_nonce();
  FrameMac send(ClusterKey::open(), nc, ns, true), recv(ClusterKey::open(), nc, ns, true);
  FrameTag t = send.seal("p", "h", "x");
  EXPECT_EQ(t, FrameTag{});
  EXPECT_TRUE(recv.verify("p", "h", "x", as_bytes(t)).ok());
  FrameTag junk{};
  junk[0] = 1;
  EXPECT_EQ(recv.verify("p", "h", "x", as_bytes(junk)).code, Error::kBadTag);
}

// Two FrameStreams (or a stream and a raw socket) over loopback.
class StreamPair : public ::testing::Test {
 protected:
  StreamPair() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  // Connects a client socket and accepts the server side.
  std::pair<tcp::socket, tcp::socket> connect() {
    tcp::socket client(io_), server(io_);
    client.connect(acceptor_.local_endpoint());
    acceptor_.accept(server);
    return {std::move(client), std::move(server)};
  }

  void run() {
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
};

TEST_F(StreamPair, ExchangesFramesBothWays) {
  ClusterKey key = key_of("cluster-secret-0001");
  auto [c, s] = connect();
  auto client = FrameStream::create(std::move(c), key, FrameStream::Role::kClient);
  auto server = FrameStream::create(std::move(s), key, FrameStream::Role::kServer);
  std::string big(3 << 20, 'z');
  std::vector<std::string> got;
  error_code client_ec = asio::error::would_block, server_ec = asio::error::would_block;
  server->async_handshake([&](error_code ec) {
    server_ec = ec;
    server->async_read_frame(16 << 20, [&](error_code ec, Frame f) {
      server_ec = ec;
      got.push_back(f.header + "|" + std::to_string(f.payload.size));
      server->async_read_frame(16 << 20, [&](error_code ec, Frame f) {
        server_ec = ec;
        got.push_back(f.header + "|" + std::string(f.payload.view()));
        server->async_write_frame("reply", "done", nullptr, [&](error_code ec) { server_ec = ec; });
      });
    });
  });
  client->async_handshake([&](error_code ec) {
    client_ec = ec;
    // Two writes queued back to back go out in order.
    client->async_write_frame("first", big, nullptr, [](error_code) {});
    client->async_write_frame("second", "small", nullptr, [&](error_code ec) {
      client_ec = ec;
      client->async_read_frame(100, [&](error_code ec, Frame f) {
        client_ec = ec;
        got.push_back(f.header + "|" + std::string(f.payload.view()));
      });
    });
  });
  run();
  EXPECT_FALSE(client_ec) << client_ec.message();
  EXPECT_FALSE(server_ec) << server_ec.message();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "first|" + std::to_string(big.size()));
  EXPECT_EQ(got[1], "second|small");
  EXPECT_EQ(got[2], "reply|done");
}

TEST_F(StreamPair, ClientRefusesServerWithWrongKey) {
  auto [c, s] = connect();
  auto client =
      FrameStream::create(std::move(c), key_of("cluster-secret-0001"), FrameStream::Role::kClient);
  auto server =
      FrameStream::create(std::move(s), key_of("cluster-secret-0002"), FrameStream::Role::kServer);
  error_code client_ec, write_ec;
  client->async_handshake([&](error_code ec) {
    client_ec = ec;
    client->async_write_frame("x", "", nullptr, [&](error_code ec) { write_ec = ec; });
  });
  server->async_handshake([](error_code) {});
  run();
  EXPECT_EQ(client_ec, make_error_code(Error::kBadProof));
  EXPECT_EQ(write_ec, make_error_code(Error::kBadProof));  // a broken stream stays broken
}

TEST_F(StreamPair, ServerRefusesForgedAndOversizedFrames) {
  ClusterKey key = key_of("cluster-secret-0001");
  for (bool oversized : {false, true}) {
    auto [c, s] = connect();
    auto server = FrameStream::create(std::move(s), key, FrameStream::Role::kServer);
    error_code server_ec;
    bool handshaken = false;
    server->async_handshake([&](error_code ec) {
      ASSERT_FALSE(ec);
      handshaken = true;
      server->async_read_frame(10, [&](error_code ec, Frame) { server_ec = ec; });
    });
    // A client that skips the proof and sends a frame with a made-up tag.
    std::string hello = encode_client_hello(key, random_nonce());
    asio::write(c, asio::buffer(hello));
    io_.restart();
    while (!handshaken && io_.run_one_for(std::chrono::seconds(5)) > 0) {
    }
    std::string reply(kServerHelloBytes, '\0');
    asio::read(c, asio::buffer(reply));
    std::string header = encode_frame_header(PushPull{false});
    auto prefix =
        encode_frame_prefix({static_cast<std::uint32_t>(header.size()), oversized ? 11u : 0u});
    std::string frame = std::string(prefix.data(), prefix.size()) + header +
                        std::string(oversized ? 11 : 0, 'p') + std::string(kTagBytes, '\x5a');
    asio::write(c, asio::buffer(frame));
    run();
    EXPECT_EQ(server_ec, make_error_code(oversized ? Error::kPayloadTooLarge : Error::kBadTag));
  }
}

TEST_F(StreamPair, OpenStreamsWorkAndRefuseKeyedPeers) {
  auto [c, s] = connect();
  auto client = FrameStream::create(std::move(c), ClusterKey::open(), FrameStream::Role::kClient);
  auto server =
      FrameStream::create(std::move(s), key_of("cluster-secret-0001"), FrameStream::Role::kServer);
  error_code client_ec, server_ec;
  client->async_handshake([&](error_code ec) { client_ec = ec; });
  server->async_handshake([&](error_code ec) {
    server_ec = ec;
    server->close();
  });
  run();
  EXPECT_EQ(server_ec, make_error_code(Error::kModeMismatch));
  EXPECT_TRUE(client_ec);  // the server hung up

  auto [c2, s2] = connect();
  auto oc = FrameStream::create(std::move(c2), ClusterKey::open(), FrameStream::Role::kClient);
  auto os = FrameStream::create(std::move(s2), ClusterKey::open(), FrameStream::Role::kServer);
  std::string got;
  oc->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    oc->async_write_frame("h", "open payload", nullptr, [](error_code) {});
  });
  os->async_handshake([&](error_code ec) {
    ASSERT_FALSE(ec);
    os->async_read_frame(100, [&](error_code ec, Frame f) {
      ASSERT_FALSE(ec);
      got = std::string(f.payload.view());
    });
  });
  run();
  EXPECT_EQ(got, "open payload");
}

TEST_F(StreamPair, RefusesFramesBeforeTheHandshake) {
  auto [c, s] = connect();
  auto client =
      FrameStream::create(std::move(c), key_of("cluster-secret-0001"), FrameStream::Role::kClient);
  error_code read_ec, write_ec;
  client->async_read_frame(1, [&](error_code ec, Frame) { read_ec = ec; });
  client->async_write_frame("h", "", nullptr, [&](error_code ec) { write_ec = ec; });
  run();
  EXPECT_EQ(read_ec, make_error_code(Error::kUnexpectedMessage));
  EXPECT_EQ(write_ec, make_error_code(Error::kUnexpectedMessage));
}

}  // namespace
}  // namespace shoal::test
