// Tests for peer/frame_cipher.h: the per-direction key and AES-256-GCM sealing of frame headers
// and payloads against answers computed independently (Python's `cryptography`,
// tests/tools/peer_frame_kat.py), refusal of tampering, reordering, replay and the other
// direction's frames, chunked payloads, open mode, and the end of the sequence space.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "peer/frame_cipher.h"

namespace shoal::test {
namespace {

using namespace shoal::peer;

ClusterKey key_of(std::string_view secret) {
  return *ClusterKey::from_secret(secret);
}

std::string hex_of(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : s) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& t) {
  return hex_of({reinterpret_cast<const char*>(t.data()), N});
}

std::string prefix_of(std::uint32_t header, std::uint32_t payload) {
  auto p = encode_frame_prefix({header, payload});
  return {p.data(), p.size()};
}

// One sealed frame as it goes on the wire, in parts.
struct Sealed {
  std::string prefix, header;
  FrameTag header_tag{};
  std::string payload;
  FrameTag payload_tag{};
};

Sealed seal(FrameSealer& s, std::string header, std::string payload) {
  Sealed out;
  out.prefix = prefix_of(static_cast<std::uint32_t>(header.size()),
                         static_cast<std::uint32_t>(payload.size()));
  out.header = std::move(header);
  EXPECT_TRUE(s.seal_header(out.prefix, out.header, static_cast<std::uint32_t>(payload.size()),
                            &out.header_tag)
                  .ok());
  if (!payload.empty()) {
    out.payload.resize(payload.size());
    s.seal_payload(payload.data(), out.payload.data(), payload.size());
    out.payload_tag = s.finish_payload();
  }
  return out;
}

std::string_view view(const FrameTag& t) {
  return {reinterpret_cast<const char*>(t.data()), t.size()};
}

// Opens `f` with `o`: the header and payload plaintexts, or the first error.
Status open(FrameOpener& o, Sealed f, std::string* header, std::string* payload) {
  const auto size = static_cast<std::uint32_t>(f.payload.size());
  Status st = o.open_header(f.prefix, f.header, size, view(f.header_tag));
  if (!st.ok()) return st;
  *header = f.header;
  if (size == 0) return st;
  o.open_payload(f.payload.data(), f.payload.size());
  st = o.finish_payload(view(f.payload_tag));
  if (st.ok()) *payload = f.payload;
  return st;
}

struct Nonces {
  Nonce nc{}, ns{};
  Nonces() {
    for (std::uint8_t i = 0; i < 16; ++i) {
      nc[i] = i;
      ns[i] = static_cast<std::uint8_t>(16 + i);
    }
  }
};

// Known answers from tests/tools/peer_frame_kat.py (hmac + cryptography's AESGCM).
TEST(PeerFrameCipher, MatchesIndependentKnownAnswers) {
  const ClusterKey key = key_of("0123456789abcdef-shoal-test");
  Nonces n;
  EXPECT_EQ(hex(frame_direction_key(key, n.nc, n.ns, true)),
            "af60fce63b0abc05630734919bc2bb4ba7263f0c0dba85efe3e380b5f8f53dd2");
  EXPECT_EQ(hex(frame_direction_key(key, n.nc, n.ns, false)),
            "a6133af4aec51c111d45e3b13e7b96a41a1aa18d6fcb4623c4bde55c5599cbea");
  FrameSealer s(key, n.nc, n.ns, true);
  Sealed f0 = seal(s, "header", "payload");
  EXPECT_EQ(hex_of(f0.header), "d1b98d1203c5");
  EXPECT_EQ(hex(f0.header_tag), "f98d7b75604de1342f3ecdc57cf4e750");
  EXPECT_EQ(hex_of(f0.payload), "c0ab57c72048b8");
  EXPECT_EQ(hex(f0.payload_tag), "190a59a06e2cff942147488f5d9d4f3c");
  Sealed f1 = seal(s, "h", "");
  EXPECT_EQ(hex_of(f1.header), "83");
  EXPECT_EQ(hex(f1.header_tag), "8d5b3fed3ff2d2fb1b2ad18ccfcbeff3");
  EXPECT_EQ(s.sequence(), 2u);

  FrameOpener o(key, n.nc, n.ns, true);
  std::string header, payload;
  ASSERT_TRUE(open(o, f0, &header, &payload).ok());
  EXPECT_EQ(header, "header");
  EXPECT_EQ(payload, "payload");
  ASSERT_TRUE(open(o, f1, &header, &payload).ok());
  EXPECT_EQ(header, "h");
}

TEST(PeerFrameCipher, RefusesTamperingReorderingReplayAndTheOtherDirection) {
  const ClusterKey key = key_of("cluster-secret-0001");
  Nonce nc = random_nonce(), ns = random_nonce();
  FrameSealer s(key, nc, ns, true);
  const Sealed f0 = seal(s, "h0", "payload0");
  const Sealed f1 = seal(s, "h1", "payload1");
  std::string h, p;
  FrameOpener wrong_dir(key, nc, ns, false);
  EXPECT_EQ(open(wrong_dir, f0, &h, &p).code, Error::kBadTag);
  FrameOpener other_conn(key, random_nonce(), ns, true);
  EXPECT_EQ(open(other_conn, f0, &h, &p).code, Error::kBadTag);
  FrameOpener other_key(key_of("cluster-secret-0002"), nc, ns, true);
  EXPECT_EQ(open(other_key, f0, &h, &p).code, Error::kBadTag);

  // Every single-bit flip anywhere in the frame is refused.
  for (int part = 0; part < 5; ++part) {
    const std::size_t n = part == 0   ? f0.prefix.size()
                          : part == 1 ? f0.header.size()
                          : part == 2 ? f0.header_tag.size()
                          : part == 3 ? f0.payload.size()
                                      : f0.payload_tag.size();
    for (std::size_t i = 0; i < n; ++i) {
      Sealed t = f0;
      auto flip = [&](auto& bytes) { bytes[i] ^= 0x01; };
      if (part == 0) flip(t.prefix);
      if (part == 1) flip(t.header);
      if (part == 2) flip(t.header_tag);
      if (part == 3) flip(t.payload);
      if (part == 4) flip(t.payload_tag);
      FrameOpener o(key, nc, ns, true);
      EXPECT_EQ(open(o, t, &h, &p).code, Error::kBadTag) << "part " << part << " byte " << i;
    }
  }
  // A payload moved to another frame (the nonces differ) is refused.
  {
    Sealed swapped = f0;
    swapped.payload = f1.payload;
    swapped.payload_tag = f1.payload_tag;
    FrameOpener o(key, nc, ns, true);
    EXPECT_EQ(open(o, swapped, &h, &p).code, Error::kBadTag);
  }
  FrameOpener o(key, nc, ns, true);
  EXPECT_EQ(open(o, f1, &h, &p).code, Error::kBadTag);  // reordered
  ASSERT_TRUE(open(o, f0, &h, &p).ok());
  EXPECT_EQ(p, "payload0");
  EXPECT_EQ(open(o, f0, &h, &p).code, Error::kBadTag);  // replayed
  ASSERT_TRUE(open(o, f1, &h, &p).ok());
  EXPECT_EQ(h, "h1");
  EXPECT_EQ(o.sequence(), 2u);
}

// The header and the payload of a frame use different IVs: the header's keystream never
// encrypts payload bytes (equal plaintexts give different ciphertexts).
TEST(PeerFrameCipher, HeaderAndPayloadNeverShareAKeystream) {
  const ClusterKey key = key_of("cluster-secret-0001");
  FrameSealer s(key, random_nonce(), random_nonce(), true);
  const std::string same(64, 'x');
  Sealed f = seal(s, same, same);
  EXPECT_NE(f.header, f.payload);
  EXPECT_NE(f.header, same);
  Sealed g = seal(s, same, same);  // the next frame: new IVs again
  EXPECT_NE(g.header, f.header);
  EXPECT_NE(g.payload, f.payload);
}

TEST(PeerFrameCipher, ChunkingDoesNotChangeTheWireBytes) {
  const ClusterKey key = key_of("cluster-secret-0001");
  Nonce nc = random_nonce(), ns = random_nonce();
  std::string payload(100'000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  FrameSealer whole(key, nc, ns, false), chunked(key, nc, ns, false);
  Sealed a = seal(whole, "head", payload);
  Sealed b;
  b.prefix = a.prefix;
  b.header = "head";
  ASSERT_TRUE(chunked.seal_header(b.prefix, b.header, 100'000, &b.header_tag).ok());
  b.payload.resize(payload.size());
  for (std::size_t at = 0; at < payload.size(); at += 7'777) {
    const std::size_t n = std::min<std::size_t>(7'777, payload.size() - at);
    chunked.seal_payload(payload.data() + at, b.payload.data() + at, n);
  }
  b.payload_tag = chunked.finish_payload();
  EXPECT_EQ(a.header, b.header);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.payload_tag, b.payload_tag);
  // Opened in other pieces, in place.
  FrameOpener o(key, nc, ns, false);
  ASSERT_TRUE(o.open_header(a.prefix, a.header, 100'000, view(a.header_tag)).ok());
  for (std::size_t at = 0; at < a.payload.size(); at += 4'096) {
    o.open_payload(a.payload.data() + at, std::min<std::size_t>(4'096, a.payload.size() - at));
  }
  ASSERT_TRUE(o.finish_payload(view(a.payload_tag)).ok());
  EXPECT_EQ(a.payload, payload);
}

TEST(PeerFrameCipher, OpenModePassesBytesWithZeroTags) {
  Nonce nc = random_nonce(), ns = random_nonce();
  FrameSealer s(ClusterKey::open(), nc, ns, true);
  Sealed f = seal(s, "plain header", "plain payload");
  EXPECT_EQ(f.header, "plain header");
  EXPECT_EQ(f.payload, "plain payload");
  EXPECT_EQ(f.header_tag, FrameTag{});
  EXPECT_EQ(f.payload_tag, FrameTag{});
  std::string h, p;
  FrameOpener o(ClusterKey::open(), nc, ns, true);
  ASSERT_TRUE(open(o, f, &h, &p).ok());
  EXPECT_EQ(p, "plain payload");
  // A keyed peer's (non-zero) tag is refused.
  Sealed t = f;
  t.header_tag[0] = 1;
  EXPECT_EQ(open(o, t, &h, &p).code, Error::kBadTag);
  // Plaintext pass-through is for open mode only.
  FrameSealer keyed(key_of("cluster-secret-0001"), nc, ns, true);
  std::string header = "h";
  FrameTag tag;
  ASSERT_TRUE(keyed.seal_header(prefix_of(1, 5), header, 5, &tag).ok());
  EXPECT_THROW(keyed.pass_payload(5), std::logic_error);
}

// Sequence 2^64 - 1 is never used: the connection must end before a (key, IV) pair could repeat.
TEST(PeerFrameCipher, RefusesToWrapTheSequence) {
  const ClusterKey key = key_of("cluster-secret-0001");
  Nonce nc = random_nonce(), ns = random_nonce();
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  FrameSealer s(key, nc, ns, true, kMax - 1);
  FrameOpener o(key, nc, ns, true, kMax - 1);
  Sealed f = seal(s, "last", "frame");
  std::string h, p;
  ASSERT_TRUE(open(o, f, &h, &p).ok());
  EXPECT_EQ(p, "frame");
  EXPECT_EQ(s.sequence(), kMax);
  std::string header = "one more";
  FrameTag tag;
  EXPECT_EQ(s.seal_header(prefix_of(8, 0), header, 0, &tag).code, Error::kSequenceExhausted);
  EXPECT_EQ(header, "one more");  // nothing was sealed
  EXPECT_EQ(o.open_header(prefix_of(8, 0), header, 0, view(tag)).code, Error::kSequenceExhausted);
}

TEST(PeerFrameCipher, RefusesCallsOutOfOrder) {
  const ClusterKey key = key_of("cluster-secret-0001");
  FrameSealer s(key, random_nonce(), random_nonce(), true);
  std::string header = "h", payload = "12345";
  FrameTag tag;
  EXPECT_THROW(s.seal_payload(payload.data(), payload.data(), 5), std::logic_error);
  ASSERT_TRUE(s.seal_header(prefix_of(1, 5), header, 5, &tag).ok());
  EXPECT_THROW(s.seal_header(prefix_of(1, 0), header, 0, &tag), std::logic_error);
  EXPECT_THROW(s.seal_payload(payload.data(), payload.data(), 6), std::logic_error);
  s.seal_payload(payload.data(), payload.data(), 4);
  EXPECT_THROW(s.finish_payload(), std::logic_error);
  s.seal_payload(payload.data() + 4, payload.data() + 4, 1);
  s.finish_payload();
  EXPECT_EQ(s.sequence(), 1u);
}

}  // namespace
}  // namespace shoal::test
