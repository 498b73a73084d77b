#include "peer/frame_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/endian/conversion.hpp>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

namespace shoal::peer {

namespace {

constexpr std::uint64_t kLastSequence = std::numeric_limits<std::uint64_t>::max();
// EVP calls take int lengths: larger inputs go in pieces.
constexpr std::size_t kMaxEvpStep = std::size_t{1} << 30;

}  // namespace

Tag frame_direction_key(const ClusterKey& key, const Nonce& client_nonce, const Nonce& server_nonce,
                        bool client_to_server) {
  if (!key.keyed()) return Tag{};
  return hmac_sha256(
      {key.tcp_key().data(), key.tcp_key().size()},
      {client_to_server ? "c2s v3" : "s2c v3", as_bytes(client_nonce), as_bytes(server_nonce)});
}

void FrameCipherBase::CtxFree::operator()(evp_cipher_ctx_st* ctx) const {
  EVP_CIPHER_CTX_free(ctx);
}

FrameCipherBase::FrameCipherBase(const ClusterKey& key, const Nonce& client_nonce,
                                 const Nonce& server_nonce, bool client_to_server, bool encrypt,
                                 std::uint64_t first_sequence)
    : keyed_(key.keyed()), encrypt_(encrypt), seq_(first_sequence) {
  if (!keyed_) return;
  const Tag k = frame_direction_key(key, client_nonce, server_nonce, client_to_server);
  ctx_.reset(EVP_CIPHER_CTX_new());
  const int ok =
      !ctx_      ? 0
      : encrypt_ ? EVP_EncryptInit_ex(ctx_.get(), EVP_aes_256_gcm(), nullptr, k.data(), nullptr)
                 : EVP_DecryptInit_ex(ctx_.get(), EVP_aes_256_gcm(), nullptr, k.data(), nullptr);
  if (ok != 1) throw std::bad_alloc();
}

FrameCipherBase::~FrameCipherBase() = default;

Status FrameCipherBase::start_frame(std::string_view prefix, std::uint32_t payload_bytes) {
  if (in_frame_) throw std::logic_error("frame cipher: header while a payload is due");
  if (prefix.size() != prefix_.size()) {
    return Status::failure(Error::kMalformed, "frame prefix is not 8 bytes");
  }
  if (seq_ == kLastSequence) {
    return Status::failure(Error::kSequenceExhausted,
                           "frame sequence exhausted: the connection must be reopened");
  }
  std::memcpy(prefix_.data(), prefix.data(), prefix_.size());
  payload_left_ = payload_bytes;
  return Status::success();
}

void FrameCipherBase::take_payload(std::size_t n) {
  if (!in_frame_ || n > payload_left_) {
    throw std::logic_error("frame cipher: payload bytes not announced by the header");
  }
  payload_left_ -= n;
}

void FrameCipherBase::end_frame() {
  in_frame_ = false;
  payload_left_ = 0;
  ++seq_;
}

void FrameCipherBase::begin(std::uint32_t part) {
  if (!keyed_) return;
  unsigned char iv[12];
  boost::endian::store_big_u32(iv, part);
  boost::endian::store_big_u64(iv + 4, seq_);
  int ignored = 0;
  constexpr int kAad = static_cast<int>(kFramePrefixBytes);
  const auto* aad = reinterpret_cast<const unsigned char*>(prefix_.data());
  const bool ok = encrypt_ ? EVP_EncryptInit_ex(ctx_.get(), nullptr, nullptr, nullptr, iv) == 1 &&
                                 EVP_EncryptUpdate(ctx_.get(), nullptr, &ignored, aad, kAad) == 1
                           : EVP_DecryptInit_ex(ctx_.get(), nullptr, nullptr, nullptr, iv) == 1 &&
                                 EVP_DecryptUpdate(ctx_.get(), nullptr, &ignored, aad, kAad) == 1;
  if (!ok) throw std::bad_alloc();
}

void FrameCipherBase::update(const char* in, char* out, std::size_t n) {
  if (!keyed_) {
    if (out != in && n > 0) std::memmove(out, in, n);
    return;
  }
  for (std::size_t at = 0; at < n; at += kMaxEvpStep) {
    const int step = static_cast<int>(std::min(kMaxEvpStep, n - at));
    const auto* src = reinterpret_cast<const unsigned char*>(in + at);
    auto* dst = reinterpret_cast<unsigned char*>(out + at);
    int written = 0;
    const int ok = encrypt_ ? EVP_EncryptUpdate(ctx_.get(), dst, &written, src, step)
                            : EVP_DecryptUpdate(ctx_.get(), dst, &written, src, step);
    // GCM is a stream mode: every byte comes out at once.
    if (ok != 1 || written != step) throw std::bad_alloc();
  }
}

bool FrameCipherBase::finish(FrameTag* tag) {
  if (!keyed_) {
    if (encrypt_) *tag = FrameTag{};
    return encrypt_ || *tag == FrameTag{};
  }
  unsigned char none[16];
  int ignored = 0;
  if (encrypt_) {
    if (EVP_EncryptFinal_ex(ctx_.get(), none, &ignored) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_GET_TAG, kFrameTagBytes, tag->data()) != 1) {
      throw std::bad_alloc();
    }
    return true;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_SET_TAG, kFrameTagBytes, tag->data()) != 1) {
    throw std::bad_alloc();
  }
  // The tag comparison inside is constant time (CRYPTO_memcmp).
  return EVP_DecryptFinal_ex(ctx_.get(), none, &ignored) == 1;
}

bool FrameCipherBase::run_header(std::span<char> header, FrameTag* tag) {
  begin(0);
  update(header.data(), header.data(), header.size());
  if (!finish(tag)) return false;
  if (payload_left_ == 0) {
    end_frame();
  } else {
    in_frame_ = true;
    begin(1);
  }
  return true;
}

// --- FrameSealer ---

Status FrameSealer::seal_header(std::string_view prefix, std::span<char> header,
                                std::uint32_t payload_bytes, FrameTag* tag) {
  Status st = start_frame(prefix, payload_bytes);
  if (!st.ok()) return st;
  run_header(header, tag);
  return Status::success();
}

void FrameSealer::seal_payload(const char* in, char* out, std::size_t n) {
  take_payload(n);
  update(in, out, n);
}

void FrameSealer::pass_payload(std::size_t n) {
  if (keyed_) throw std::logic_error("frame cipher: plaintext payload on a keyed connection");
  take_payload(n);
}

FrameTag FrameSealer::finish_payload() {
  if (!in_frame_ || payload_left_ != 0) {
    throw std::logic_error("frame cipher: payload finished before all its bytes were sealed");
  }
  FrameTag tag;
  finish(&tag);
  end_frame();
  return tag;
}

// --- FrameOpener ---

namespace {

bool to_tag(std::string_view bytes, FrameTag* tag) {
  if (bytes.size() != tag->size()) return false;
  std::memcpy(tag->data(), bytes.data(), tag->size());
  return true;
}

}  // namespace

Status FrameOpener::open_header(std::string_view prefix, std::span<char> header,
                                std::uint32_t payload_bytes, std::string_view tag) {
  Status st = start_frame(prefix, payload_bytes);
  if (!st.ok()) return st;
  FrameTag want;
  if (!to_tag(tag, &want)) return Status::failure(Error::kBadTag, "frame tag is not 16 bytes");
  if (!run_header(header, &want)) {
    return Status::failure(Error::kBadTag,
                           "frame " + std::to_string(seq_) + " header tag does not verify");
  }
  return Status::success();
}

void FrameOpener::open_payload(char* data, std::size_t n) {
  take_payload(n);
  update(data, data, n);
}

Status FrameOpener::finish_payload(std::string_view tag) {
  if (!in_frame_ || payload_left_ != 0) {
    throw std::logic_error("frame cipher: payload finished before all its bytes were opened");
  }
  FrameTag want;
  if (!to_tag(tag, &want) || !finish(&want)) {
    return Status::failure(Error::kBadTag,
                           "frame " + std::to_string(seq_) + " payload tag does not verify");
  }
  end_frame();
  return Status::success();
}

}  // namespace shoal::peer
