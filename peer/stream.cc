#include "peer/stream.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <limits>

namespace shoal::peer {

namespace asio = boost::asio;
using boost::system::error_code;

std::shared_ptr<FrameStream> FrameStream::create(asio::ip::tcp::socket socket, ClusterKey key,
                                                 Role role) {
  return std::shared_ptr<FrameStream>(new FrameStream(std::move(socket), key, role));
}

FrameStream::FrameStream(asio::ip::tcp::socket socket, ClusterKey key, Role role)
    : socket_(std::move(socket)), key_(key), role_(role) {}

error_code FrameStream::fail(const Status& st) {
  if (!broken_) {
    broken_ = make_error_code(st.code);
    error_detail_ = st.reason;
  }
  return broken_;
}

// --- Handshake ---

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
              if (!st.ok()) return handler(self->fail(st));
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
        if (st.code == Error::kVersionMismatch) {
          self->fail(st);
          return self->refuse_version(handler);
        }
        if (!st.ok()) return handler(self->fail(st));
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

// Answers a hello of another version with our own (its proof is of no use to the other side,
// but its version byte says why we refuse), then fails with the mismatch.
void FrameStream::refuse_version(Handler handler) {
  hello_ = encode_server_hello(key_, Nonce{}, random_nonce());
  asio::async_write(
      socket_, asio::buffer(hello_),
      [self = shared_from_this(), handler](error_code, std::size_t) { handler(self->broken_); });
}

void FrameStream::on_handshake(const Nonce& client, const Nonce& server) {
  const bool is_client = role_ == Role::kClient;
  sealer_.emplace(key_, client, server, is_client);
  opener_.emplace(key_, client, server, !is_client);
  hello_.clear();
}

// --- Reading ---

void FrameStream::async_read_header(std::size_t max_payload, HeaderHandler handler) {
  error_code early = broken_;
  if (!early && !opener_) early = make_error_code(Error::kUnexpectedMessage);
  if (!early && payload_due_ > 0) {
    early = fail(Status::failure(Error::kUnexpectedMessage, "header read while a payload is due"));
  }
  if (early) {
    asio::post(socket_.get_executor(),
               [handler = std::move(handler), early] { handler(early, {}, 0); });
    return;
  }
  asio::async_read(socket_, asio::buffer(prefix_),
                   [self = shared_from_this(), max_payload, handler = std::move(handler)](
                       error_code ec, std::size_t) {
                     if (ec) return handler(ec, {}, 0);
                     FramePrefix prefix;
                     Status st = parse_frame_prefix({self->prefix_.data(), self->prefix_.size()},
                                                    max_payload, &prefix);
                     if (!st.ok()) return handler(self->fail(st), {}, 0);
                     self->read_header_body(prefix, handler);
                   });
}

void FrameStream::read_header_body(FramePrefix prefix, HeaderHandler handler) {
  header_in_.resize(prefix.header_bytes + kFrameTagBytes);
  asio::async_read(socket_, asio::buffer(header_in_),
                   [self = shared_from_this(), prefix, handler = std::move(handler)](error_code ec,
                                                                                     std::size_t) {
                     if (ec) return handler(ec, {}, 0);
                     std::string& h = self->header_in_;
                     Status st = self->opener_->open_header(
                         {self->prefix_.data(), self->prefix_.size()},
                         {h.data(), prefix.header_bytes}, prefix.payload_bytes,
                         std::string_view(h).substr(prefix.header_bytes));
                     if (!st.ok()) return handler(self->fail(st), {}, 0);
                     h.resize(prefix.header_bytes);
                     self->payload_due_ = prefix.payload_bytes;
                     handler({}, std::move(h), prefix.payload_bytes);
                   });
}

void FrameStream::async_read_payload(char* dest, Handler handler) {
  error_code early = broken_;
  if (!early && payload_due_ == 0) early = make_error_code(Error::kUnexpectedMessage);
  if (early) {
    asio::post(socket_.get_executor(), [handler = std::move(handler), early] { handler(early); });
    return;
  }
  payload_dest_ = dest;
  payload_done_ = 0;
  if (!opener_->keyed()) {
    // Nothing to decrypt: payload and (zero) tag in one read.
    std::array<asio::mutable_buffer, 2> buffers = {asio::buffer(dest, payload_due_),
                                                   asio::buffer(tag_in_)};
    asio::async_read(
        socket_, buffers,
        [self = shared_from_this(), handler = std::move(handler)](error_code ec, std::size_t) {
          if (ec) return handler(ec);
          self->opener_->open_payload(self->payload_dest_, self->payload_due_);
          self->payload_done_ = self->payload_due_;
          self->read_payload_tag(handler);
        });
    return;
  }
  read_payload_some(std::move(handler));
}

// Keyed: reads what has arrived (at most a chunk) and decrypts it while it is still in cache.
void FrameStream::read_payload_some(Handler handler) {
  if (payload_done_ == payload_due_) {
    asio::async_read(
        socket_, asio::buffer(tag_in_),
        [self = shared_from_this(), handler = std::move(handler)](error_code ec, std::size_t) {
          if (ec) return handler(ec);
          self->read_payload_tag(handler);
        });
    return;
  }
  const std::size_t want = std::min(kSealChunkBytes, payload_due_ - payload_done_);
  socket_.async_read_some(
      asio::buffer(payload_dest_ + payload_done_, want),
      [self = shared_from_this(), handler = std::move(handler)](error_code ec, std::size_t n) {
        if (ec) return handler(ec);
        self->opener_->open_payload(self->payload_dest_ + self->payload_done_, n);
        self->payload_done_ += n;
        self->read_payload_some(handler);
      });
}

// The tag is in tag_in_: verifies the payload.
void FrameStream::read_payload_tag(Handler handler) {
  Status st = opener_->finish_payload(as_bytes(tag_in_));
  payload_due_ = 0;
  payload_dest_ = nullptr;
  handler(st.ok() ? error_code{} : fail(st));
}

void FrameStream::async_read_frame(std::size_t max_payload, FrameHandler handler) {
  async_read_header(max_payload, [self = shared_from_this(), handler = std::move(handler)](
                                     error_code ec, std::string header, std::uint32_t size) {
    if (ec) return handler(ec, Frame{});
    auto frame = std::make_shared<Frame>();
    frame->header = std::move(header);
    if (size == 0) return handler({}, std::move(*frame));
    frame->payload.data = std::make_unique_for_overwrite<char[]>(size);
    frame->payload.size = size;
    self->async_read_payload(frame->payload.data.get(), [frame, handler](error_code ec) {
      if (ec) return handler(ec, Frame{});
      handler({}, std::move(*frame));
    });
  });
}

// --- Writing ---

void FrameStream::async_write_frame(std::string header, std::string_view payload,
                                    std::shared_ptr<const void> keep_alive, Handler handler) {
  error_code early = broken_;
  if (!early && !sealer_) early = make_error_code(Error::kUnexpectedMessage);
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
  const auto prefix = encode_frame_prefix(
      {static_cast<std::uint32_t>(header.size()), static_cast<std::uint32_t>(payload.size())});
  PendingWrite w;
  w.head.reserve(prefix.size() + header.size() + kFrameTagBytes);
  w.head.append(prefix.data(), prefix.size()).append(header).append(kFrameTagBytes, '\0');
  w.payload = payload;
  w.keep_alive = std::move(keep_alive);
  w.handler = std::move(handler);
  writes_.push_back(std::move(w));
  if (!writing_) write_next();
}

// Seals the front write's header (frames are sealed in the order they go out, which is the
// order of their sequence numbers) and starts sending it.
void FrameStream::write_next() {
  if (writes_.empty()) return;
  writing_ = true;
  write_offset_ = 0;
  PendingWrite& w = writes_.front();
  const std::size_t header_bytes = w.head.size() - kFramePrefixBytes - kFrameTagBytes;
  FrameTag tag;
  Status st = sealer_->seal_header(std::string_view(w.head).substr(0, kFramePrefixBytes),
                                   {w.head.data() + kFramePrefixBytes, header_bytes},
                                   static_cast<std::uint32_t>(w.payload.size()), &tag);
  if (!st.ok()) {
    // Only kSequenceExhausted: this connection may send no more; a new one has new keys.
    error_code ec = fail(st);
    writing_ = false;
    fail_writes(ec);
    close();
    return;
  }
  std::memcpy(w.head.data() + kFramePrefixBytes + header_bytes, tag.data(), tag.size());
  if (w.payload.empty()) {
    asio::async_write(
        socket_, asio::buffer(w.head),
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_written(ec); });
  } else if (!sealer_->keyed()) {
    sealer_->pass_payload(w.payload.size());
    tag = sealer_->finish_payload();
    std::memcpy(tag_out_.data(), tag.data(), tag.size());
    std::array<asio::const_buffer, 3> buffers = {asio::buffer(w.head),
                                                 asio::buffer(w.payload.data(), w.payload.size()),
                                                 asio::buffer(tag_out_)};
    asio::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_written(ec);
    });
  } else {
    write_payload_chunk(true);
  }
}

// Keyed: encrypts the next chunk of the front write's payload into the scratch buffer (with the
// payload's tag after the last chunk) and sends it, behind the head for the first chunk.
void FrameStream::write_payload_chunk(bool first) {
  PendingWrite& w = writes_.front();
  const std::size_t n = std::min(kSealChunkBytes, w.payload.size() - write_offset_);
  if (scratch_bytes_ < n + kFrameTagBytes) {  // sized for the largest chunk so far
    scratch_bytes_ = n + kFrameTagBytes;
    scratch_ = std::make_unique_for_overwrite<char[]>(scratch_bytes_);
  }
  sealer_->seal_payload(w.payload.data() + write_offset_, scratch_.get(), n);
  write_offset_ += n;
  std::size_t len = n;
  if (write_offset_ == w.payload.size()) {
    FrameTag tag = sealer_->finish_payload();
    std::memcpy(scratch_.get() + n, tag.data(), tag.size());
    len += tag.size();
  }
  std::array<asio::const_buffer, 2> buffers = {
      asio::buffer(w.head.data(), first ? w.head.size() : 0), asio::buffer(scratch_.get(), len)};
  asio::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
    if (!ec && self->write_offset_ < self->writes_.front().payload.size()) {
      return self->write_payload_chunk(false);
    }
    self->on_written(ec);
  });
}

void FrameStream::on_written(error_code ec) {
  PendingWrite done = std::move(writes_.front());
  writes_.pop_front();
  writing_ = false;
  if (ec) {
    if (!broken_) broken_ = ec;
    fail_writes(ec);
  } else {
    write_next();
  }
  done.handler(ec);
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
