// Encryption of the TCP frames of one direction of one peer connection: AES-256-GCM (NIST SP
// 800-38D; OpenSSL EVP) under a per-connection, per-direction key, the header and the payload of
// each frame sealed separately (docs/peer-protocol.md, sections 1 and 2):
//
//   k_dir = HMAC-SHA256(tcp_key, label || nc || ns),  label "c2s v3" or "s2c v3"
//   frame i (i = 0, 1, ... in this direction):
//     header:  GCM(k_dir, IV = u32 BE 0 || u64 BE i, AAD = the 8 prefix bytes)
//     payload: GCM(k_dir, IV = u32 BE 1 || u64 BE i, AAD = the 8 prefix bytes), only when the
//              frame has payload bytes
//
// Each (key, IV) pair is used once: a key belongs to one direction of one connection (both
// hello nonces are fresh), i only grows, and the two parts of a frame differ in the IV's first
// word. Sequence 2^64 - 1 is never used: reaching it fails with kSequenceExhausted and the
// connection must be closed (it cannot happen in practice: 2^64 frames).
//
// Separate sealing lets a reader verify and decode a header before it chooses where the payload
// goes, then decrypt the payload in place in that buffer (peer/stream.h): nothing is parsed
// before it is verified, and the payload is never copied. The payload is processed as a stream
// of chunks of any size; its one tag is checked after the last chunk.
//
// Open mode (ClusterKey::open()): bytes pass unchanged and tags are all zero (a reader refuses
// a non-zero tag: the peer is keyed).
//
// Thread rules: one object is used from one thread at a time. Methods throw std::bad_alloc only
// when OpenSSL cannot allocate (a valid key and IV cannot fail otherwise) and std::logic_error
// on misuse (calls out of the order header -> payload chunks -> finish).
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "peer/auth.h"
#include "peer/frame.h"
#include "peer/status.h"

namespace shoal::peer {

using FrameTag = std::array<std::uint8_t, kFrameTagBytes>;

// The direction key k_dir (all zero in open mode). For tests and docs.
Tag frame_direction_key(const ClusterKey& key, const Nonce& client_nonce, const Nonce& server_nonce,
                        bool client_to_server);

// What both sides share: the key, the sequence, the state of the frame in progress.
class FrameCipherBase {
 public:
  // The sequence number of the next (or current) frame.
  std::uint64_t sequence() const { return seq_; }
  bool keyed() const { return keyed_; }
  // Payload bytes of the current frame still to be passed in.
  std::uint64_t payload_left() const { return payload_left_; }

 protected:
  // `first_sequence` is for tests (to reach the end of the sequence space); always 0 otherwise.
  FrameCipherBase(const ClusterKey& key, const Nonce& client_nonce, const Nonce& server_nonce,
                  bool client_to_server, bool encrypt, std::uint64_t first_sequence);
  ~FrameCipherBase();
  FrameCipherBase(const FrameCipherBase&) = delete;
  FrameCipherBase& operator=(const FrameCipherBase&) = delete;

  // Starts one GCM message: part 0 (header) or 1 (payload) of frame seq_, AAD = prefix_.
  void begin(std::uint32_t part);
  // Passes `n` bytes from `in` to `out` (which may be `in`) through the cipher.
  void update(const char* in, char* out, std::size_t n);
  // Ends the GCM message (encrypting: returns the tag; decrypting: `*tag` is the expected tag
  // and the result says whether it verified).
  bool finish(FrameTag* tag);
  // Checks the order and the sequence before a header and records the prefix. Errors:
  // kSequenceExhausted, kMalformed (`prefix` is not 8 bytes). Throws std::logic_error when a
  // payload is still due.
  Status start_frame(std::string_view prefix, std::uint32_t payload_bytes);
  // Passes the header of the frame start_frame() began through the cipher, in place, and ends
  // its GCM message (as finish()); when that succeeded, moves on to the payload (begin(1)) or,
  // without one, to the next frame.
  bool run_header(std::span<char> header, FrameTag* tag);
  // Checks that `n` more payload bytes are due (std::logic_error otherwise).
  void take_payload(std::size_t n);
  // After a header (without payload) or a payload: the frame is done.
  void end_frame();

  bool keyed_;
  bool encrypt_;
  bool in_frame_ = false;  // a header was processed, its payload is still due
  std::uint64_t payload_left_ = 0;
  std::uint64_t seq_;
  std::array<char, kFramePrefixBytes> prefix_{};  // of the current frame (the payload's AAD)

 private:
  struct CtxFree {
    void operator()(evp_cipher_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_cipher_ctx_st, CtxFree> ctx_;  // keyed only: AES-256-GCM, key set once
};

// The sending side.
class FrameSealer : public FrameCipherBase {
 public:
  FrameSealer(const ClusterKey& key, const Nonce& client_nonce, const Nonce& server_nonce,
              bool client_to_server, std::uint64_t first_sequence = 0)
      : FrameCipherBase(key, client_nonce, server_nonce, client_to_server, true, first_sequence) {}

  // Starts frame sequence(): encrypts `header` in place and sets `*tag`. `prefix` is the frame's
  // 8 prefix bytes, whose payload length is `payload_bytes`. With payload_bytes 0 the frame is
  // complete; otherwise seal_payload() must be given exactly that many bytes, then
  // finish_payload(). Errors: kSequenceExhausted (nothing changed; close the connection).
  Status seal_header(std::string_view prefix, std::span<char> header, std::uint32_t payload_bytes,
                     FrameTag* tag);
  // Encrypts the next `n` payload bytes of the current frame from `in` into `out` (`out` may
  // equal `in`; no other overlap).
  void seal_payload(const char* in, char* out, std::size_t n);
  // Open mode only (std::logic_error otherwise): the next `n` payload bytes go out as they are,
  // so the caller sends them from where they lie.
  void pass_payload(std::size_t n);
  // The payload's tag, once every payload byte was sealed; completes the frame.
  FrameTag finish_payload();
};

// The receiving side.
class FrameOpener : public FrameCipherBase {
 public:
  FrameOpener(const ClusterKey& key, const Nonce& client_nonce, const Nonce& server_nonce,
              bool client_to_server, std::uint64_t first_sequence = 0)
      : FrameCipherBase(key, client_nonce, server_nonce, client_to_server, false, first_sequence) {}

  // Verifies and decrypts the header of frame sequence() in place. `prefix` is the frame's 8
  // prefix bytes as received, `payload_bytes` the payload length they give, `tag` the 16 bytes
  // that followed the header. On failure the header's bytes are garbage and must not be used.
  // Errors: kBadTag (wrong key, tampered prefix, header or tag, a frame out of order),
  // kSequenceExhausted. Either way the connection must be closed.
  Status open_header(std::string_view prefix, std::span<char> header, std::uint32_t payload_bytes,
                     std::string_view tag);
  // Decrypts the next `n` payload bytes in place. They are unverified until finish_payload()
  // succeeds.
  void open_payload(char* data, std::size_t n);
  // Verifies the payload's tag once every payload byte was passed in; completes the frame.
  // Errors: kBadTag (the payload bytes must not be used; close the connection).
  Status finish_payload(std::string_view tag);
};

}  // namespace shoal::peer
