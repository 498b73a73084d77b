#include "peer/auth.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/endian/conversion.hpp>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>

#include "ring/base/private_file.h"

namespace shoal::peer {
namespace {

// UDP envelope "SH" + version byte. Version 2: the tag binds the destination's node id;
// version 1 did not.
constexpr char kUdpMagic[2] = {'S', 'H'};
// TCP hello "SHT" + version byte. Version 3: frames are encrypted, header and payload sealed
// separately (AES-256-GCM); version 2 tagged whole frames with AES-256-GMAC; version 1 with
// HMAC-SHA256.
constexpr char kTcpMagic[3] = {'S', 'H', 'T'};
constexpr std::size_t kUdpSignedPrefix = 28;  // magic(3) mode(1) timestamp(8) nonce(16)

std::uint8_t mode_byte(const ClusterKey& key) {
  return key.keyed() ? 1 : 0;
}

// The fetched HMAC implementation; EVP_MAC objects are reference counted and thread safe.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) throw std::bad_alloc();
  return mac;
}

std::span<const std::uint8_t> key_span(const Tag& t) {
  return {t.data(), t.size()};
}

}  // namespace

// --- ClusterKey ---

ClusterKey ClusterKey::open() {
  return ClusterKey();
}

std::optional<ClusterKey> ClusterKey::from_secret(std::string_view secret, std::string* error) {
  if (secret.size() < kMinSecretBytes || secret.size() > kMaxSecretBytes) {
    if (error) {
      *error = "cluster key has " + std::to_string(secret.size()) + " bytes (want " +
               std::to_string(kMinSecretBytes) + ".." + std::to_string(kMaxSecretBytes) + ")";
    }
    return std::nullopt;
  }
  std::span<const std::uint8_t> s(reinterpret_cast<const std::uint8_t*>(secret.data()),
                                  secret.size());
  ClusterKey k;
  k.keyed_ = true;
  k.udp_key_ = hmac_sha256(s, {"shoal peer udp v1"});
  k.tcp_key_ = hmac_sha256(s, {"shoal peer tcp v1"});
  return k;
}

std::optional<ClusterKey> ClusterKey::load_file(const std::string& path, std::string* error) {
  // Only the node's user (or root) may be able to write it (ring/base/private_file.h).
  std::string secret;
  if (auto reason = base::read_private_file(path, kMaxSecretBytes + 64, &secret)) {
    if (error) *error = "cluster key file: " + *reason;
    return std::nullopt;
  }
  while (!secret.empty() && std::strchr(" \t\r\n", secret.back()) != nullptr) secret.pop_back();
  return from_secret(secret, error);
}

// --- HMAC ---

Hmac::Hmac(std::span<const std::uint8_t> key) : ctx_(EVP_MAC_CTX_new(hmac_algorithm())) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx_, key.data(), key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx_);
    throw std::bad_alloc();
  }
}

Hmac::~Hmac() {
  EVP_MAC_CTX_free(ctx_);
}

void Hmac::update(std::string_view bytes) {
  if (bytes.empty()) return;
  if (EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()) !=
      1) {
    throw std::bad_alloc();
  }
}

Tag Hmac::finish() {
  Tag tag;
  std::size_t len = 0;
  if (EVP_MAC_final(ctx_, tag.data(), &len, tag.size()) != 1 || len != tag.size()) {
    throw std::bad_alloc();
  }
  return tag;
}

Tag hmac_sha256(std::span<const std::uint8_t> key, std::initializer_list<std::string_view> parts) {
  Hmac h(key);
  for (std::string_view p : parts) h.update(p);
  return h.finish();
}

bool tags_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Nonce random_nonce() {
  Nonce n;
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return n;
}

// --- ReplayCache ---

void ReplayCache::forget_oldest() {
  floor_ = std::max(floor_, seen_.begin()->first);
  seen_.erase(seen_.begin());
}

bool ReplayCache::insert(std::int64_t ts_ms, const Nonce& nonce, std::int64_t expire_before_ms) {
  while (!seen_.empty() && seen_.begin()->first < expire_before_ms) forget_oldest();
  if (ts_ms <= floor_) return false;
  if (!seen_.emplace(ts_ms, nonce).second) return false;
  while (seen_.size() > capacity_) forget_oldest();
  // A pair forgotten just now because the cache is full may be the one inserted.
  return ts_ms > floor_;
}

// --- UDP ---

UdpAuth::UdpAuth(ClusterKey key, std::string self_id, UdpAuthConfig config)
    : key_(key),
      self_id_(std::move(self_id)),
      config_(config),
      replay_(config.replay_cache_entries) {}

Tag UdpAuth::tag_for(std::string_view signed_prefix, std::string_view to_id,
                     std::string_view body) const {
  if (!key_.keyed()) return Tag{};
  const char len = static_cast<char>(std::min<std::size_t>(to_id.size(), 255));
  return hmac_sha256(key_span(key_.udp_key()),
                     {signed_prefix, std::string_view(&len, 1), to_id.substr(0, 255), body});
}

std::string UdpAuth::seal(std::string_view body, std::int64_t now_ms,
                          std::string_view to_id) const {
  std::string out(kUdpEnvelopeBytes, '\0');
  std::memcpy(out.data(), kUdpMagic, 2);
  out[2] = static_cast<char>(kUdpEnvelopeVersion);
  out[3] = static_cast<char>(mode_byte(key_));
  boost::endian::store_big_u64(reinterpret_cast<unsigned char*>(out.data()) + 4,
                               static_cast<std::uint64_t>(now_ms));
  Nonce nonce = random_nonce();
  std::memcpy(out.data() + 12, nonce.data(), nonce.size());
  Tag tag = tag_for(std::string_view(out).substr(0, kUdpSignedPrefix), to_id, body);
  std::memcpy(out.data() + kUdpSignedPrefix, tag.data(), tag.size());
  out.append(body);
  return out;
}

Status UdpAuth::open(std::string_view datagram, std::int64_t now_ms, std::string_view* body) {
  if (datagram.size() > kMaxUdpPacketBytes) {
    return Status::failure(Error::kPacketTooLarge, "datagram above 65507 bytes");
  }
  if (datagram.size() < kUdpEnvelopeBytes || std::memcmp(datagram.data(), kUdpMagic, 2) != 0) {
    return Status::failure(Error::kBadEnvelope, "not a shoal peer datagram");
  }
  if (const auto v = static_cast<std::uint8_t>(datagram[2]); v != kUdpEnvelopeVersion) {
    return Status::failure(Error::kVersionMismatch, "datagram envelope version " +
                                                        std::to_string(v) + ", this node speaks " +
                                                        std::to_string(kUdpEnvelopeVersion));
  }
  if (static_cast<std::uint8_t>(datagram[3]) != mode_byte(key_)) {
    return Status::failure(Error::kModeMismatch, key_.keyed() ? "sender has no cluster key"
                                                              : "sender uses a cluster key");
  }
  std::string_view payload = datagram.substr(kUdpEnvelopeBytes);
  std::string_view tag = datagram.substr(kUdpSignedPrefix, kTagBytes);
  const Tag want = tag_for(datagram.substr(0, kUdpSignedPrefix), self_id_, payload);
  if (!tags_equal({want.data(), want.size()},
                  {reinterpret_cast<const std::uint8_t*>(tag.data()), tag.size()})) {
    return Status::failure(Error::kBadTag, "datagram tag does not verify");
  }
  auto ts = static_cast<std::int64_t>(
      boost::endian::load_big_u64(reinterpret_cast<const unsigned char*>(datagram.data()) + 4));
  // |ts - now| in unsigned arithmetic: both are attacker-influenced int64 values (the timestamp
  // always; now in tests and fuzzing), so the signed difference could overflow.
  std::uint64_t distance =
      ts >= now_ms ? static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(now_ms)
                   : static_cast<std::uint64_t>(now_ms) - static_cast<std::uint64_t>(ts);
  if (distance > static_cast<std::uint64_t>(config_.window_ms)) {
    return Status::failure(Error::kStale, "timestamp " + std::to_string(ts) + " ms is " +
                                              std::to_string(distance) + " ms " +
                                              (ts < now_ms ? "old" : "ahead"));
  }
  Nonce nonce;
  std::memcpy(nonce.data(), datagram.data() + 12, nonce.size());
  std::int64_t expire_before = now_ms < std::numeric_limits<std::int64_t>::min() + config_.window_ms
                                   ? std::numeric_limits<std::int64_t>::min()
                                   : now_ms - config_.window_ms;
  if (!replay_.insert(ts, nonce, expire_before)) {
    return Status::failure(Error::kReplay, "datagram seen before");
  }
  *body = payload;
  return Status::success();
}

// --- TCP hellos ---

namespace {

std::string hello_head(const ClusterKey& key, const Nonce& nonce) {
  std::string out(8, '\0');
  std::memcpy(out.data(), kTcpMagic, 3);
  out[3] = static_cast<char>(kTcpHelloVersion);
  out[4] = static_cast<char>(mode_byte(key));
  out.append(as_bytes(nonce));
  return out;
}

Status parse_hello_head(std::string_view hello, std::size_t size, const ClusterKey& key,
                        Nonce* nonce) {
  if (hello.size() != size || std::memcmp(hello.data(), kTcpMagic, 3) != 0) {
    return Status::failure(Error::kBadEnvelope, "not a shoal peer hello");
  }
  if (const auto v = static_cast<std::uint8_t>(hello[3]); v != kTcpHelloVersion) {
    return Status::failure(Error::kVersionMismatch,
                           "peer speaks TCP hello version " + std::to_string(v) +
                               ", this node speaks " + std::to_string(kTcpHelloVersion) +
                               ": every member must run a build of the same peer protocol");
  }
  if (hello[5] != 0 || hello[6] != 0 || hello[7] != 0) {
    return Status::failure(Error::kBadEnvelope, "not a shoal peer hello");
  }
  if (static_cast<std::uint8_t>(hello[4]) != mode_byte(key)) {
    return Status::failure(Error::kModeMismatch,
                           key.keyed() ? "peer has no cluster key" : "peer uses a cluster key");
  }
  std::memcpy(nonce->data(), hello.data() + 8, nonce->size());
  return Status::success();
}

Tag server_proof(const ClusterKey& key, const Nonce& nc, const Nonce& ns) {
  if (!key.keyed()) return Tag{};
  return hmac_sha256(key_span(key.tcp_key()), {"server proof", as_bytes(nc), as_bytes(ns)});
}

}  // namespace

std::string encode_client_hello(const ClusterKey& key, const Nonce& client_nonce) {
  return hello_head(key, client_nonce);
}

Status parse_client_hello(std::string_view hello, const ClusterKey& key, Nonce* client_nonce) {
  return parse_hello_head(hello, kClientHelloBytes, key, client_nonce);
}

std::string encode_server_hello(const ClusterKey& key, const Nonce& client_nonce,
                                const Nonce& server_nonce) {
  std::string out = hello_head(key, server_nonce);
  out.append(as_bytes(server_proof(key, client_nonce, server_nonce)));
  return out;
}

Status parse_server_hello(std::string_view hello, const ClusterKey& key, const Nonce& client_nonce,
                          Nonce* server_nonce) {
  Status st = parse_hello_head(hello, kServerHelloBytes, key, server_nonce);
  if (!st.ok()) return st;
  if (key.keyed() && *server_nonce == client_nonce) {
    return Status::failure(Error::kBadProof, "server echoed the client nonce");
  }
  Tag want = server_proof(key, client_nonce, *server_nonce);
  std::string_view got = hello.substr(24, kTagBytes);
  if (!tags_equal({want.data(), want.size()},
                  {reinterpret_cast<const std::uint8_t*>(got.data()), got.size()})) {
    return Status::failure(Error::kBadProof, "server proof does not verify");
  }
  return Status::success();
}

}  // namespace shoal::peer
