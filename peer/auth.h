// Authentication of the peer port: HMAC-SHA256 (RFC 2104, FIPS 180-4; OpenSSL EVP_MAC) over
// every UDP datagram and the TCP handshake, under keys derived from the cluster key, with replay
// protection. TCP frames after the handshake are encrypted and authenticated with AES-256-GCM
// under per-connection keys (peer/frame_cipher.h). UDP datagrams are authenticated, not
// encrypted (membership news is not customer data; see docs/peer-protocol.md, "Security").
// Tags are compared in constant time (CRYPTO_memcmp).
//
// Keys: the cluster secret (a file's bytes, >= 16) is never used directly; HMAC(secret, label)
// derives one key per use, labels "shoal peer udp v1" and "shoal peer tcp v1", so a tag made
// for one context never verifies in another.
//
// UDP datagram (kUdpEnvelopeBytes of envelope, then the msgpack body):
//   "SH" 0x02 mode | u64 BE timestamp (Unix ms) | 16-byte random nonce | 32-byte tag | body
//   tag = HMAC(udp key, first 28 envelope bytes || u8 len(dest) || dest || body), dest = the
//   receiver's node id (bound, not sent); mode 1 = keyed, 0 = open (tag zero). Accepted when the
//   version and mode match ours, the tag verifies under our own id, |timestamp - now| <= window,
//   and (timestamp, nonce) was not seen before (ReplayCache). Binding the destination makes a
//   datagram refused as a replay by one member useless at every other member too.
//
// TCP connection: client hello "SHT" 0x03 mode 0 0 0 | client nonce (24 bytes); server hello
//   "SHT" 0x03 mode 0 0 0 | server nonce | proof (56 bytes), proof = HMAC(tcp key,
//   "server proof" || nc || ns). Fresh nonces on both sides make every connection's frame keys
//   new (peer/frame_cipher.h), so a recorded connection cannot be replayed. The server proves
//   the key before the client sends anything; the client proves it with its first frame, which
//   the server verifies before parsing it. A hello of another version is refused with
//   kVersionMismatch (a server answers it with its own hello first, so the other side can tell
//   why), never misread.
//
// Open ("insecure") mode is explicit: ClusterKey::open(). Both ends must agree; a keyed
// endpoint refuses every open packet or hello and vice versa (kModeMismatch).
//
// Thread rules: ClusterKey and the free functions are safe from any thread; a UdpAuth (its
// replay cache) must be used from one thread at a time.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "peer/status.h"

namespace shoal::peer {

inline constexpr std::size_t kTagBytes = 32;
inline constexpr std::size_t kNonceBytes = 16;
inline constexpr std::size_t kMinSecretBytes = 16;
inline constexpr std::size_t kMaxSecretBytes = 4096;
inline constexpr std::size_t kUdpEnvelopeBytes = 60;
// Largest UDP datagram accepted (the IPv4 UDP payload maximum).
inline constexpr std::size_t kMaxUdpPacketBytes = 65507;
inline constexpr std::size_t kClientHelloBytes = 24;
inline constexpr std::size_t kServerHelloBytes = 56;
// Versions this build speaks: the UDP envelope's and the TCP hello's.
inline constexpr std::uint8_t kUdpEnvelopeVersion = 2;
inline constexpr std::uint8_t kTcpHelloVersion = 3;

using Tag = std::array<std::uint8_t, kTagBytes>;
using Nonce = std::array<std::uint8_t, kNonceBytes>;

// The cluster key, or the explicit absence of one (open mode). Immutable, cheap to copy.
class ClusterKey {
 public:
  // Open mode: no tags, no authentication. Callers must make this an explicit operator choice.
  static ClusterKey open();
  // Derives the keys from `secret` (kMinSecretBytes..kMaxSecretBytes bytes). Returns nullopt
  // and sets `*error` (if not null) when the length is out of range.
  static std::optional<ClusterKey> from_secret(std::string_view secret,
                                               std::string* error = nullptr);
  // Reads a key file: its bytes with trailing whitespace (space, \t, \r, \n) removed are the
  // secret (e.g. `openssl rand -hex 32 > key`). Returns nullopt and sets `*error` when the file
  // cannot be read, is larger than kMaxSecretBytes + 64 bytes, could be written by someone but
  // the node's user or root (base::read_private_file), or the secret is too short.
  static std::optional<ClusterKey> load_file(const std::string& path, std::string* error = nullptr);

  bool keyed() const { return keyed_; }
  // Derived keys (all zero in open mode).
  const Tag& udp_key() const { return udp_key_; }
  const Tag& tcp_key() const { return tcp_key_; }

 private:
  ClusterKey() = default;
  bool keyed_ = false;
  Tag udp_key_{};
  Tag tcp_key_{};
};

// Incremental HMAC-SHA256 (EVP_MAC). Throws std::bad_alloc if OpenSSL cannot allocate.
class Hmac {
 public:
  explicit Hmac(std::span<const std::uint8_t> key);
  ~Hmac();
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  void update(std::string_view bytes);
  // The tag of everything passed to update(). Call once.
  Tag finish();

 private:
  EVP_MAC_CTX* ctx_;
};

// HMAC-SHA256 of the concatenation of `parts` under `key`.
Tag hmac_sha256(std::span<const std::uint8_t> key, std::initializer_list<std::string_view> parts);

// Constant-time equality (CRYPTO_memcmp); false when the sizes differ.
bool tags_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// 16 bytes from OpenSSL's CSPRNG (RAND_bytes). Throws std::runtime_error if it fails.
Nonce random_nonce();

// A view of a Tag or Nonce as bytes.
template <std::size_t N>
std::string_view as_bytes(const std::array<std::uint8_t, N>& a) {
  return {reinterpret_cast<const char*>(a.data()), N};
}

// Remembers recently accepted (timestamp, nonce) pairs, at most `capacity` of them. When full it
// forgets the oldest pair and raises a floor: any pair with timestamp <= floor is refused from
// then on, so forgetting never re-admits a replay (it can only refuse late, old packets).
class ReplayCache {
 public:
  explicit ReplayCache(std::size_t capacity) : capacity_(capacity) {}

  // Forgets pairs with timestamp < `expire_before_ms` (raising the floor to them), then records
  // (ts_ms, nonce). Returns false, recording nothing, when the pair was seen or ts_ms <= floor.
  bool insert(std::int64_t ts_ms, const Nonce& nonce, std::int64_t expire_before_ms);

  std::size_t size() const { return seen_.size(); }

 private:
  void forget_oldest();

  std::size_t capacity_;
  std::set<std::pair<std::int64_t, Nonce>> seen_;
  std::int64_t floor_ = std::numeric_limits<std::int64_t>::min();
};

struct UdpAuthConfig {
  std::int64_t window_ms = 30'000;           // accepted clock difference, either way
  std::size_t replay_cache_entries = 65536;  // ReplayCache capacity
};

// Seals and opens the UDP datagrams of one member (layout above).
class UdpAuth {
 public:
  // `self_id` is this member's node id: the destination datagrams must be sealed for.
  UdpAuth(ClusterKey key, std::string self_id, UdpAuthConfig config = {});

  // The datagram for `body` sent at `now_ms` (Unix ms) to the member `to_id` (its node id, at
  // most 255 bytes), with a fresh random nonce.
  std::string seal(std::string_view body, std::int64_t now_ms, std::string_view to_id) const;

  // Checks `datagram` received at `now_ms`; on success `*body` views its msgpack body. Errors,
  // in the order checked: kPacketTooLarge, kBadEnvelope (short, bad magic), kVersionMismatch
  // (another envelope version), kModeMismatch, kBadTag (wrong key, tampered, or sealed for
  // another member), kStale (outside the window), kReplay.
  Status open(std::string_view datagram, std::int64_t now_ms, std::string_view* body);

  bool keyed() const { return key_.keyed(); }

 private:
  Tag tag_for(std::string_view signed_prefix, std::string_view to_id, std::string_view body) const;

  ClusterKey key_;
  std::string self_id_;
  UdpAuthConfig config_;
  ReplayCache replay_;
};

// The TCP hello messages (layout above).
std::string encode_client_hello(const ClusterKey& key, const Nonce& client_nonce);
// Errors: kBadEnvelope (size, magic), kVersionMismatch (the reason names both versions),
// kModeMismatch.
Status parse_client_hello(std::string_view hello, const ClusterKey& key, Nonce* client_nonce);
std::string encode_server_hello(const ClusterKey& key, const Nonce& client_nonce,
                                const Nonce& server_nonce);
// Errors: kBadEnvelope, kVersionMismatch, kModeMismatch, kBadProof (keyed mode: proof does not
// verify, or the server echoed the client's nonce).
Status parse_server_hello(std::string_view hello, const ClusterKey& key, const Nonce& client_nonce,
                          Nonce* server_nonce);

}  // namespace shoal::peer
