// Tests for peer/auth.h: HMAC-SHA256 against RFC 4231, cluster key loading, UDP sealing (accept,
// wrong key, tampering, replay, stale, open/keyed mismatch, another destination, another
// envelope version, a known answer), the replay cache's floor, and the TCP hellos (proof,
// version). Frame encryption: peer_frame_cipher_test.cc; FrameStream: peer_stream_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "peer/auth.h"

namespace shoal::test {
namespace {

using namespace shoal::peer;

ClusterKey key_of(std::string_view secret) {
  return *ClusterKey::from_secret(secret);
}

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  }
  return out;
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
  UdpAuth a(key_of("cluster-secret-0001"), "a");
  UdpAuth b(key_of("cluster-secret-0001"), "b");
  std::string d = a.seal("hello body", kNow, "b");
  EXPECT_EQ(d.size(), kUdpEnvelopeBytes + 10);
  std::string_view body;
  ASSERT_TRUE(b.open(d, kNow + 5, &body).ok());
  EXPECT_EQ(body, "hello body");
  EXPECT_EQ(b.open(d, kNow + 6, &body).code, Error::kReplay);
  // A second seal of the same body has a fresh nonce and is accepted.
  EXPECT_TRUE(b.open(a.seal("hello body", kNow, "b"), kNow, &body).ok());
}

// The destination is bound into the tag: a datagram for member A is refused by member B, so one
// refused as a replay by A cannot be played to B instead (issue 15, item 7).
TEST(PeerUdpAuth, RefusesADatagramSealedForAnotherMember) {
  const ClusterKey key = key_of("cluster-secret-0001");
  UdpAuth sender(key, "s"), a(key, "node-a"), b(key, "node-b"), a_prefix(key, "node-");
  const std::string for_a = sender.seal("ping", kNow, "node-a");
  std::string_view body;
  EXPECT_EQ(b.open(for_a, kNow, &body).code, Error::kBadTag);
  EXPECT_EQ(a_prefix.open(for_a, kNow, &body).code, Error::kBadTag);
  ASSERT_TRUE(a.open(for_a, kNow, &body).ok());
  EXPECT_EQ(a.open(for_a, kNow, &body).code, Error::kReplay);
  EXPECT_EQ(b.open(for_a, kNow, &body).code, Error::kBadTag);  // still refused at B
  EXPECT_TRUE(b.open(sender.seal("ping", kNow, "node-b"), kNow, &body).ok());
}

// Known answer computed independently (tests/tools/peer_frame_kat.py, Python's hmac):
// tag = HMAC(udp_key, the first 28 envelope bytes || u8 len(dest) || dest || body).
TEST(PeerUdpAuth, VerifiesAnIndependentKnownAnswer) {
  std::string d = "SH\x02\x01";
  for (int shift = 56; shift >= 0; shift -= 8) d += static_cast<char>((kNow >> shift) & 0xff);
  for (char i = 0; i < 16; ++i) d += i;  // the nonce
  d += unhex("8818ce17b4c8a28ae1c061800d6c906f8ba8d6005df7ee7f1b20428bdac738fb");
  d += "body";
  const ClusterKey key = key_of("0123456789abcdef-shoal-test");
  UdpAuth node_a(key, "node-a"), node_b(key, "node-b");
  std::string_view body;
  EXPECT_EQ(node_b.open(d, kNow, &body).code, Error::kBadTag);
  ASSERT_TRUE(node_a.open(d, kNow, &body).ok());
  EXPECT_EQ(body, "body");
}

TEST(PeerUdpAuth, RefusesAnotherEnvelopeVersionExplicitly) {
  const ClusterKey key = key_of("cluster-secret-0001");
  UdpAuth a(key, "a");
  std::string d = a.seal("x", kNow, "a");
  ASSERT_EQ(d[2], '\x02');
  d[2] = '\x01';  // the envelope before destinations were bound
  std::string_view body;
  Status st = a.open(d, kNow, &body);
  EXPECT_EQ(st.code, Error::kVersionMismatch);
  EXPECT_NE(st.reason.find("version 1"), std::string::npos) << st.reason;
}

TEST(PeerUdpAuth, RejectsWrongKeyAndTampering) {
  UdpAuth a(key_of("cluster-secret-0001"), "a");
  UdpAuth b(key_of("cluster-secret-0002"), "a");
  std::string_view body;
  EXPECT_EQ(b.open(a.seal("x", kNow, "a"), kNow, &body).code, Error::kBadTag);
  UdpAuth c(key_of("cluster-secret-0001"), "a");
  std::string d = a.seal("payload", kNow, "a");
  for (std::size_t i = 4; i < d.size(); ++i) {  // every byte after the magic, version and mode
    std::string t = d;
    t[i] ^= 0x20;
    EXPECT_EQ(c.open(t, kNow, &body).code, Error::kBadTag) << "byte " << i;
  }
  EXPECT_TRUE(c.open(d, kNow, &body).ok());  // the untampered one still verifies
}

TEST(PeerUdpAuth, RejectsStaleAndFutureTimestamps) {
  UdpAuth a(key_of("cluster-secret-0001"), "a", {30'000, 100});
  std::string_view body;
  EXPECT_EQ(a.open(a.seal("x", kNow - 30'001, "a"), kNow, &body).code, Error::kStale);
  EXPECT_EQ(a.open(a.seal("x", kNow + 30'001, "a"), kNow, &body).code, Error::kStale);
  EXPECT_TRUE(a.open(a.seal("x", kNow - 30'000, "a"), kNow, &body).ok());
  EXPECT_TRUE(a.open(a.seal("x", kNow + 30'000, "a"), kNow, &body).ok());
}

// Timestamps are attacker-chosen 64-bit values: extremes must be refused without overflow
// (found by fuzz_peer_frame; the sanitizer build turns an overflow into a failure).
TEST(PeerUdpAuth, RefusesExtremeTimestampsWithoutOverflow) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  UdpAuth a(ClusterKey::open(), "a");
  std::string_view body;
  EXPECT_EQ(a.open(a.seal("x", kMax, "a"), kNow, &body).code, Error::kStale);
  EXPECT_EQ(a.open(a.seal("x", kMin, "a"), kNow, &body).code, Error::kStale);
  EXPECT_EQ(a.open(a.seal("x", kMin, "a"), kMax, &body).code, Error::kStale);
  EXPECT_EQ(a.open(a.seal("x", kMax, "a"), kMin, &body).code, Error::kStale);
  std::string edge = a.seal("x", kMax - 5, "a");
  EXPECT_TRUE(a.open(edge, kMax, &body).ok());
  edge = a.seal("x", kMin + 5, "a");
  EXPECT_TRUE(a.open(edge, kMin, &body).ok());
}

TEST(PeerUdpAuth, RefusesModeMismatchBothWays) {
  UdpAuth keyed(key_of("cluster-secret-0001"), "a");
  UdpAuth open(ClusterKey::open(), "a");
  std::string_view body;
  EXPECT_EQ(keyed.open(open.seal("x", kNow, "a"), kNow, &body).code, Error::kModeMismatch);
  EXPECT_EQ(open.open(keyed.seal("x", kNow, "a"), kNow, &body).code, Error::kModeMismatch);
  std::string d = open.seal("open body", kNow, "a");
  ASSERT_TRUE(open.open(d, kNow, &body).ok());
  EXPECT_EQ(body, "open body");  // body views d
}

TEST(PeerUdpAuth, RejectsShortForeignAndOversizedDatagrams) {
  UdpAuth a(key_of("cluster-secret-0001"), "a");
  std::string_view body;
  EXPECT_EQ(a.open("", kNow, &body).code, Error::kBadEnvelope);
  std::string d = a.seal("", kNow, "a");
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
TEST(PeerHandshake, RefusesAnotherHelloVersionExplicitly) {
  ClusterKey key = key_of("cluster-secret-0001");
  Nonce nc = random_nonce(), got;
  std::string ch = encode_client_hello(key, nc);
  ASSERT_EQ(ch[3], '\x03');
  ch[3] = '\x02';  // the GMAC-tagged protocol before frames were encrypted
  Status st = parse_client_hello(ch, key, &got);
  EXPECT_EQ(st.code, Error::kVersionMismatch);
  EXPECT_NE(st.reason.find("version 2"), std::string::npos) << st.reason;
  std::string sh = encode_server_hello(key, nc, random_nonce());
  sh[3] = '\x04';
  EXPECT_EQ(parse_server_hello(sh, key, nc, &got).code, Error::kVersionMismatch);
}

}  // namespace
}  // namespace shoal::test
