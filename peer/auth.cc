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

constexpr char kUdpMagic[3] = {'S', 'H', 0x01};
// Version 2: frame tags are AES-256-GMAC (16 bytes); version 1 used HMAC-SHA256 (32 bytes).
constexpr char kTcpMagic[4] = {'S', 'H', 'T', 0x02};
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

UdpAuth::UdpAuth(ClusterKey key, UdpAuthConfig config)
    : key_(key), config_(config), replay_(config.replay_cache_entries) {}

std::string UdpAuth::seal(std::string_view body, std::int64_t now_ms) const {
  std::string out(kUdpEnvelopeBytes, '\0');
  std::memcpy(out.data(), kUdpMagic, 3);
  out[3] = static_cast<char>(mode_byte(key_));
  boost::endian::store_big_u64(reinterpret_cast<unsigned char*>(out.data()) + 4,
                               static_cast<std::uint64_t>(now_ms));
  Nonce nonce = random_nonce();
  std::memcpy(out.data() + 12, nonce.data(), nonce.size());
  if (key_.keyed()) {
    Tag tag = hmac_sha256(key_span(key_.udp_key()),
                          {std::string_view(out).substr(0, kUdpSignedPrefix), body});
    std::memcpy(out.data() + kUdpSignedPrefix, tag.data(), tag.size());
  }
  out.append(body);
  return out;
}

Status UdpAuth::open(std::string_view datagram, std::int64_t now_ms, std::string_view* body) {
  if (datagram.size() > kMaxUdpPacketBytes) {
    return Status::failure(Error::kPacketTooLarge, "datagram above 65507 bytes");
  }
  if (datagram.size() < kUdpEnvelopeBytes || std::memcmp(datagram.data(), kUdpMagic, 3) != 0) {
    return Status::failure(Error::kBadEnvelope, "not a shoal peer datagram");
  }
  if (static_cast<std::uint8_t>(datagram[3]) != mode_byte(key_)) {
    return Status::failure(Error::kModeMismatch, key_.keyed() ? "sender has no cluster key"
                                                              : "sender uses a cluster key");
  }
  std::string_view payload = datagram.substr(kUdpEnvelopeBytes);
  std::string_view tag = datagram.substr(kUdpSignedPrefix, kTagBytes);
  Tag want{};
  if (key_.keyed()) {
    want = hmac_sha256(key_span(key_.udp_key()), {datagram.substr(0, kUdpSignedPrefix), payload});
  }
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
  std::memcpy(out.data(), kTcpMagic, 4);
  out[4] = static_cast<char>(mode_byte(key));
  out.append(as_bytes(nonce));
  return out;
}

Status parse_hello_head(std::string_view hello, std::size_t size, const ClusterKey& key,
                        Nonce* nonce) {
  if (hello.size() != size || std::memcmp(hello.data(), kTcpMagic, 4) != 0 || hello[5] != 0 ||
      hello[6] != 0 || hello[7] != 0) {
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

// --- Frames ---

FrameMac::FrameMac(const ClusterKey& key, const Nonce& client_nonce, const Nonce& server_nonce,
                   bool client_to_server)
    : keyed_(key.keyed()) {
  if (!keyed_) return;
  const Tag k = hmac_sha256(
      key_span(key.tcp_key()),
      {client_to_server ? "c2s" : "s2c", as_bytes(client_nonce), as_bytes(server_nonce)});
  gcm_.reset(EVP_CIPHER_CTX_new());
  if (!gcm_ || EVP_EncryptInit_ex(gcm_.get(), EVP_aes_256_gcm(), nullptr, k.data(), nullptr) != 1) {
    throw std::bad_alloc();
  }
}

namespace {

// Feeds `bytes` to a GCM context as additional authenticated data (int-sized pieces).
bool gmac_update(EVP_CIPHER_CTX* ctx, std::string_view bytes) {
  constexpr std::size_t kStep = 1u << 30;
  int ignored = 0;
  for (std::size_t at = 0; at < bytes.size(); at += kStep) {
    const std::size_t n = std::min(kStep, bytes.size() - at);
    if (EVP_EncryptUpdate(ctx, nullptr, &ignored,
                          reinterpret_cast<const unsigned char*>(bytes.data() + at),
                          static_cast<int>(n)) != 1) {
      return false;
    }
  }
  return true;
}

}  // namespace

void FrameMac::CipherCtxFree::operator()(evp_cipher_ctx_st* ctx) const {
  EVP_CIPHER_CTX_free(ctx);
}

FrameTag FrameMac::compute(std::string_view prefix, std::string_view header,
                           std::string_view payload) {
  if (!keyed_) return FrameTag{};
  EVP_CIPHER_CTX* ctx = gcm_.get();
  unsigned char iv[12] = {};
  boost::endian::store_big_u64(iv + 4, seq_);
  FrameTag tag{};
  unsigned char none[16];
  int ignored = 0;
  const bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv) == 1 &&
                  gmac_update(ctx, prefix) && gmac_update(ctx, header) &&
                  gmac_update(ctx, payload) && EVP_EncryptFinal_ex(ctx, none, &ignored) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kFrameMacBytes, tag.data()) == 1;
  if (!ok) throw std::bad_alloc();  // only an allocation can fail with a valid key and IV
  return tag;
}

FrameTag FrameMac::seal(std::string_view prefix, std::string_view header,
                        std::string_view payload) {
  FrameTag t = compute(prefix, header, payload);
  ++seq_;
  return t;
}

Status FrameMac::verify(std::string_view prefix, std::string_view header, std::string_view payload,
                        std::string_view tag) {
  FrameTag want = compute(prefix, header, payload);
  if (!tags_equal({want.data(), want.size()},
                  {reinterpret_cast<const std::uint8_t*>(tag.data()), tag.size()})) {
    return Status::failure(Error::kBadTag,
                           "frame " + std::to_string(seq_) + " tag does not verify");
  }
  ++seq_;
  return Status::success();
}

}  // namespace shoal::peer
