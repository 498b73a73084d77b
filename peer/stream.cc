#include "peer/stream.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <limits>

namespace shoal::peer {

static_assert(kFrameTagBytes == kFrameMacBytes, "the frame tag is the frame MAC");

namespace asio = boost::asio;
using boost::system::error_code;

std::shared_ptr<FrameStream> FrameStream::create(asio::ip::tcp::socket socket, ClusterKey key,
                                                 Role role) {
  return std::shared_ptr<FrameStream>(new FrameStream(std::move(socket), key, role));
}

FrameStream::FrameStream(asio::ip::tcp::socket socket, ClusterKey key, Role role)
    : socket_(std::move(socket)), key_(key), role_(role) {}

void FrameStream::async_handshake(Handler handler) {
  if (role_ == Role::kClient) {
    client_handshake(std::move(handler));
  } else {
    server_handshake(std::move(handler));
  }
}

void FrameStream::client_handshake(Handler handler) {
  nonce_ = random_nonce();
  hello_ = encode_client_hello(key_, nonce_);
  asio::async_write(
      socket_, asio::buffer(hello_),
      [self = shared_from_this(), handler = std::move(handler)](error_code ec, std::size_t) {
        if (ec) return handler(ec);
        self->hello_.assign(kServerHelloBytes, '\0');
        asio::async_read(
            self->socket_, asio::buffer(self->hello_), [self, handler](error_code ec, std::size_t) {
              if (ec) return handler(ec);
              Nonce server;
              Status st = parse_server_hello(self->hello_, self->key_, self->nonce_, &server);
              if (!st.ok()) {
                self->broken_ = make_error_code(st.code);
                return handler(self->broken_);
              }
              self->on_handshake(self->nonce_, server);
              handler({});
            });
      });
}

void FrameStream::server_handshake(Handler handler) {
  hello_.assign(kClientHelloBytes, '\0');
  asio::async_read(
      socket_, asio::buffer(hello_),
      [self = shared_from_this(), handler = std::move(handler)](error_code ec, std::size_t) {
        if (ec) return handler(ec);
        Nonce client;
        Status st = parse_client_hello(self->hello_, self->key_, &client);
        if (!st.ok()) {
          self->broken_ = make_error_code(st.code);
          return handler(self->broken_);
        }
        self->nonce_ = random_nonce();
        self->hello_ = encode_server_hello(self->key_, client, self->nonce_);
        asio::async_write(self->socket_, asio::buffer(self->hello_),
                          [self, handler, client](error_code ec, std::size_t) {
                            if (ec) return handler(ec);
                            self->on_handshake(client, self->nonce_);
                            handler({});
                          });
      });
}

void FrameStream::on_handshake(const Nonce& client, const Nonce& server) {
  bool is_client = role_ == Role::kClient;
  send_mac_.emplace(key_, client, server, is_client);
  recv_mac_.emplace(key_, client, server, !is_client);
  hello_.clear();
}

void FrameStream::async_read_frame(std::size_t max_payload, FrameHandler handler) {
  error_code early = broken_;
  if (!early && !recv_mac_) early = make_error_code(Error::kUnexpectedMessage);
  if (early) {
    asio::post(socket_.get_executor(),
               [handler = std::move(handler), early] { handler(early, Frame{}); });
    return;
  }
  prefix_.assign(kFramePrefixBytes, '\0');
  asio::async_read(socket_, asio::buffer(prefix_),
                   [self = shared_from_this(), max_payload, handler = std::move(handler)](
                       error_code ec, std::size_t) {
                     if (ec) return handler(ec, Frame{});
                     FramePrefix prefix;
                     Status st = parse_frame_prefix(self->prefix_, max_payload, &prefix);
                     if (!st.ok()) {
                       self->broken_ = make_error_code(st.code);
                       return handler(self->broken_, Frame{});
                     }
                     self->read_body(prefix, handler);
                   });
}

void FrameStream::read_body(FramePrefix prefix, FrameHandler handler) {
  frame_.header.assign(prefix.header_bytes, '\0');
  frame_.payload.data = std::make_unique_for_overwrite<char[]>(prefix.payload_bytes);
  frame_.payload.size = prefix.payload_bytes;
  std::array<asio::mutable_buffer, 3> buffers = {
      asio::buffer(frame_.header), asio::buffer(frame_.payload.data.get(), frame_.payload.size),
      asio::buffer(tag_in_)};
  asio::async_read(
      socket_, buffers,
      [self = shared_from_this(), handler = std::move(handler)](error_code ec, std::size_t) {
        if (ec) return handler(ec, Frame{});
        Status st = self->recv_mac_->verify(self->prefix_, self->frame_.header,
                                            self->frame_.payload.view(), as_bytes(self->tag_in_));
        if (!st.ok()) {
          self->broken_ = make_error_code(st.code);
          return handler(self->broken_, Frame{});
        }
        handler({}, std::move(self->frame_));
      });
}

void FrameStream::async_write_frame(std::string header, std::string_view payload,
                                    std::shared_ptr<const void> keep_alive, Handler handler) {
  error_code early = broken_;
  if (!early && !send_mac_) early = make_error_code(Error::kUnexpectedMessage);
  if (!early && (header.empty() || header.size() > kMaxFrameHeaderBytes)) {
    early = make_error_code(Error::kHeaderTooLarge);
  }
  if (!early && payload.size() > std::numeric_limits<std::uint32_t>::max()) {
    early = make_error_code(Error::kPayloadTooLarge);
  }
  if (early) {
    asio::post(socket_.get_executor(), [handler = std::move(handler), early] { handler(early); });
    return;
  }
  std::array<char, kFramePrefixBytes> prefix = encode_frame_prefix(
      {static_cast<std::uint32_t>(header.size()), static_cast<std::uint32_t>(payload.size())});
  std::string_view prefix_view(prefix.data(), prefix.size());
  PendingWrite w;
  w.tag = send_mac_->seal(prefix_view, header, payload);
  w.head.reserve(prefix.size() + header.size());
  w.head.append(prefix_view).append(header);
  w.payload = payload;
  w.keep_alive = std::move(keep_alive);
  w.handler = std::move(handler);
  writes_.push_back(std::move(w));
  if (!writing_) write_next();
}

void FrameStream::write_next() {
  if (writes_.empty()) return;
  writing_ = true;
  PendingWrite& w = writes_.front();
  std::array<asio::const_buffer, 3> buffers = {
      asio::buffer(w.head), asio::buffer(w.payload.data(), w.payload.size()), asio::buffer(w.tag)};
  asio::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
    PendingWrite done = std::move(self->writes_.front());
    self->writes_.pop_front();
    self->writing_ = false;
    if (ec) {
      if (!self->broken_) self->broken_ = ec;
      self->fail_writes(ec);
    } else {
      self->write_next();
    }
    done.handler(ec);
  });
}

void FrameStream::fail_writes(error_code ec) {
  std::deque<PendingWrite> failed;
  failed.swap(writes_);
  for (PendingWrite& w : failed) {
    asio::post(socket_.get_executor(),
               [handler = std::move(w.handler), keep = w.keep_alive, ec] { handler(ec); });
  }
}

void FrameStream::close() {
  if (!broken_) broken_ = asio::error::operation_aborted;
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace shoal::peer
