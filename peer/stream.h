// FrameStream: an encrypted, authenticated, framed TCP connection of the peer protocol
// (peer/auth.h for the handshake, peer/frame_cipher.h for the frame encryption, peer/frame.h for
// the layout). Membership uses it for join and push-pull; the forwarding data path (node/) uses
// it for page requests and responses.
//
// Use: construct from a connected socket, async_handshake() once, then read and write frames.
// Writes may be issued at any time, also while others are pending: they are sealed and sent in
// call order (an internal queue, Boost.Beast-style). Reads come in two phases, so a receiver can
// decode a frame's header before it chooses where the payload goes:
//   async_read_header   reads the prefix, the header and its tag; verifies and decrypts the
//                       header and hands it over with the payload's length;
//   async_read_payload  (only when that length is > 0, and before the next header) reads the
//                       payload into the caller's buffer, decrypts it there in place as it
//                       arrives and verifies its tag: the buffer's bytes may be used only after
//                       a successful completion.
// async_read_frame does both into an owned buffer. At most one read may be pending. After any
// error the stream is broken: every later operation fails, and the owner should close() it.
// Headers are returned as raw msgpack bytes for peer/codec.h to decode (a decode error must also
// end the connection). In open mode (ClusterKey::open()) bytes travel in clear and both phases
// are plain reads.
//
// Memory: a keyed stream encrypts outgoing payloads chunk by chunk (kSealChunkBytes) into one
// scratch buffer of its own, the size of the largest chunk it sent so far (at most
// kSealChunkBytes); incoming payloads need no buffer of the stream's (they are decrypted in the
// caller's).
//
// FrameStream has no timers: the owner bounds each step, e.g. with a steady_timer that calls
// close(), which makes pending operations complete with operation_aborted.
//
// Thread rules: all calls and all handlers on the socket's executor (one thread, or a strand).
// Handlers hold a shared_ptr to the stream, so it lives until its last operation completed.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "peer/auth.h"
#include "peer/frame.h"
#include "peer/frame_cipher.h"
#include "ring/base/bytes.h"

namespace shoal::peer {

// A received frame's payload: an owning buffer the socket read fills directly (never
// zero-filled first), of the page body's type, so a receiver adopts it as a page's body instead
// of copying it (forwarded pages: node/forwarding.cc).
using FramePayload = base::Bytes;

// One received frame: the msgpack header bytes and the raw payload bytes.
struct Frame {
  std::string header;
  FramePayload payload;
};

class FrameStream : public std::enable_shared_from_this<FrameStream> {
 public:
  enum class Role { kClient, kServer };
  using Handler = std::function<void(boost::system::error_code)>;
  using FrameHandler = std::function<void(boost::system::error_code, Frame)>;
  // The verified, decrypted header bytes and the length of the payload still to be read.
  using HeaderHandler =
      std::function<void(boost::system::error_code, std::string header, std::uint32_t payload)>;

  // Largest piece of payload encrypted (sending) or decrypted (receiving) at a time: small
  // enough that the bytes are still in the CPU's cache for the next step (the kernel's copy),
  // large enough to keep system calls few (measured with bench/peer_stream_bench: 1 MiB used
  // about 3% less CPU per GB than 256 KiB, 64 KiB and 4 MiB more).
  static constexpr std::size_t kSealChunkBytes = 1 << 20;

  static std::shared_ptr<FrameStream> create(boost::asio::ip::tcp::socket socket, ClusterKey key,
                                             Role role);

  // Client: sends its hello, reads and verifies the server's. Server: reads the client's hello,
  // answers. Errors: socket errors, Error::kBadEnvelope, kVersionMismatch (the other side runs
  // another protocol version; a server sends its own hello before failing, so the client can
  // tell), kModeMismatch, kBadProof.
  void async_handshake(Handler handler);

  // Reads the next frame's prefix and header and verifies and decrypts the header; its payload
  // may be at most `max_payload` bytes. Errors: socket errors (eof when the peer closed between
  // frames), Error::kHeaderTooLarge, kPayloadTooLarge, kBadTag, kSequenceExhausted,
  // kUnexpectedMessage (before the handshake, or while a payload is still to be read).
  void async_read_header(std::size_t max_payload, HeaderHandler handler);

  // Reads the payload announced by the last header into `dest` (at least that many bytes, valid
  // until the handler runs), decrypting it in place, and verifies its tag. On error `dest` holds
  // garbage. Errors: socket errors, Error::kBadTag, kUnexpectedMessage (no payload is due).
  void async_read_payload(char* dest, Handler handler);

  // Both phases: the next frame with its payload in an owned buffer. Errors: those above.
  void async_read_frame(std::size_t max_payload, FrameHandler handler);

  // Queues a frame: `header` (encoded msgpack, 1..kMaxFrameHeaderBytes bytes) and `payload`
  // (< 4 GiB), which must stay valid until the handler runs; `keep_alive` (may be null) is held
  // until then. Errors: socket errors, Error::kHeaderTooLarge / kPayloadTooLarge for sizes out
  // of range, kUnexpectedMessage before the handshake, kSequenceExhausted (the stream is then
  // closed: a new connection has new keys).
  void async_write_frame(std::string header, std::string_view payload,
                         std::shared_ptr<const void> keep_alive, Handler handler);

  // Shuts the socket down and closes it; pending operations complete with operation_aborted.
  void close();

  bool is_open() const { return socket_.is_open(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  // Why a protocol error broke the stream, one line ("" when none did), e.g. the versions of a
  // version mismatch.
  const std::string& error_detail() const { return error_detail_; }

 private:
  FrameStream(boost::asio::ip::tcp::socket socket, ClusterKey key, Role role);

  struct PendingWrite {
    std::string head;  // prefix + header (sealed in place when its turn comes) + header tag
    std::string_view payload;
    std::shared_ptr<const void> keep_alive;
    Handler handler;
  };

  void client_handshake(Handler handler);
  void server_handshake(Handler handler);
  void refuse_version(Handler handler);
  void on_handshake(const Nonce& client, const Nonce& server);
  // Marks the stream broken by `st` (keeps the first cause) and returns the error to report.
  boost::system::error_code fail(const Status& st);
  void read_header_body(FramePrefix prefix, HeaderHandler handler);
  void read_payload_some(Handler handler);
  void read_payload_tag(Handler handler);
  void write_next();
  void write_payload_chunk(bool first);
  void on_written(boost::system::error_code ec);
  void fail_writes(boost::system::error_code ec);

  boost::asio::ip::tcp::socket socket_;
  ClusterKey key_;
  Role role_;
  Nonce nonce_;                        // ours
  std::string hello_;                  // handshake buffer
  std::optional<FrameSealer> sealer_;  // set by the handshake
  std::optional<FrameOpener> opener_;
  std::array<char, kFramePrefixBytes> prefix_{};  // read side
  std::string header_in_;
  std::uint32_t payload_due_ = 0;  // announced by the last header, not read yet
  char* payload_dest_ = nullptr;
  std::size_t payload_done_ = 0;
  FrameTag tag_in_{};
  std::deque<PendingWrite> writes_;  // write side; the front one is being written
  bool writing_ = false;
  std::size_t write_offset_ = 0;     // payload bytes of the front write sent so far
  std::unique_ptr<char[]> scratch_;  // ciphertext on its way out: a chunk and a tag
  std::size_t scratch_bytes_ = 0;    // at most kSealChunkBytes + kFrameTagBytes
  FrameTag tag_out_{};               // an open payload's (zero) tag
  boost::system::error_code broken_;
  std::string error_detail_;
};

}  // namespace shoal::peer
