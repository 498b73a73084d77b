// FrameStream: an authenticated, framed TCP connection of the peer protocol (peer/auth.h for the
// handshake and tags, peer/frame.h for the layout). Membership uses it for join and push-pull;
// the forwarding data path (node/) uses it for page requests and responses.
//
// Use: construct from a connected socket, async_handshake() once, then read and write frames.
// Writes may be issued at any time, also while others are pending: they are tagged in call order
// and go out in that order (an internal queue, Boost.Beast-style). At most one read may be
// pending. After any error the stream is broken: every later operation fails, and the owner
// should close() it. Reads verify a frame's tag before returning it; the header is returned as
// raw msgpack bytes for peer/codec.h to decode (a decode error must also end the connection).
// FrameStream has no timers: the owner bounds each step, e.g. with a steady_timer that calls
// close(), which makes pending operations complete with operation_aborted.
//
// Thread rules: all calls and all handlers on the socket's executor (one thread, or a strand).
// Handlers hold a shared_ptr to the stream, so it lives until its last operation completed.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "peer/auth.h"
#include "peer/frame.h"
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

  static std::shared_ptr<FrameStream> create(boost::asio::ip::tcp::socket socket, ClusterKey key,
                                             Role role);

  // Client: sends its hello, reads and verifies the server's. Server: reads the client's hello,
  // answers. Errors: socket errors, Error::kBadEnvelope, kModeMismatch, kBadProof.
  void async_handshake(Handler handler);

  // Reads the next frame whose payload may be at most `max_payload` bytes. Errors: socket errors
  // (eof when the peer closed between frames), Error::kHeaderTooLarge, kPayloadTooLarge, kBadTag,
  // kUnexpectedMessage (before the handshake completed).
  void async_read_frame(std::size_t max_payload, FrameHandler handler);

  // Queues a frame: `header` (encoded msgpack, 1..kMaxFrameHeaderBytes bytes) and `payload`
  // (< 4 GiB), which must stay valid until the handler runs; `keep_alive` (may be null) is held
  // until then. Errors: socket errors, Error::kHeaderTooLarge / kPayloadTooLarge for sizes out
  // of range, kUnexpectedMessage before the handshake.
  void async_write_frame(std::string header, std::string_view payload,
                         std::shared_ptr<const void> keep_alive, Handler handler);

  // Shuts the socket down and closes it; pending operations complete with operation_aborted.
  void close();

  bool is_open() const { return socket_.is_open(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  FrameStream(boost::asio::ip::tcp::socket socket, ClusterKey key, Role role);

  struct PendingWrite {
    std::string head;  // prefix + header
    std::string_view payload;
    FrameTag tag;
    std::shared_ptr<const void> keep_alive;
    Handler handler;
  };

  void client_handshake(Handler handler);
  void server_handshake(Handler handler);
  void on_handshake(const Nonce& client, const Nonce& server);
  void read_body(FramePrefix prefix, FrameHandler handler);
  void write_next();
  void fail_writes(boost::system::error_code ec);

  boost::asio::ip::tcp::socket socket_;
  ClusterKey key_;
  Role role_;
  Nonce nonce_;                       // ours
  std::string hello_;                 // handshake buffer
  std::optional<FrameMac> send_mac_;  // set by the handshake
  std::optional<FrameMac> recv_mac_;
  std::string prefix_;  // read buffers
  Frame frame_;
  FrameTag tag_in_{};
  std::deque<PendingWrite> writes_;
  bool writing_ = false;
  boost::system::error_code broken_;
};

}  // namespace shoal::peer
