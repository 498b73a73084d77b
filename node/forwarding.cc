#include "node/forwarding.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <deque>

#include "peer/address.h"
#include "peer/codec.h"
#include "ring/base/log.h"

namespace shoal::node {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

PageResult transport_error(const std::string& why) {
  PageResult r;
  r.outcome = base::Outcome::kTransportError;
  r.message = "peer: " + why;
  return r;
}

}  // namespace

// ---- ForwardClient ------------------------------------------------------------------------------

struct ForwardClient::Conn {
  std::string peer_addr;
  std::shared_ptr<peer::FrameStream> stream;
  bool ready = false;  // handshake done
  bool broken = false;
  std::deque<peer::ForwardRequest> queued;  // sent once ready
  std::vector<std::uint64_t> ids;           // requests sent or queued on this connection
};

ForwardClient::ForwardClient(net::io_context& peer_loop, peer::ClusterKey key,
                             std::uint64_t page_size, NodeMetrics& metrics)
    : loop_(peer_loop), key_(std::move(key)), page_size_(page_size), metrics_(metrics) {}

ForwardClient::~ForwardClient() = default;

void ForwardClient::fetch(const std::string& peer_addr, const base::PageKey& key,
                          const FetchOptions& opts, std::uint64_t epoch, net::any_io_executor ex,
                          PageFetcher::PageHandler done) {
  peer::ForwardRequest req;
  req.kind = key.kind;
  req.object = key.object;
  req.page = key.page;
  req.buckets = opts.buckets;
  req.config = opts.config_text;
  req.hop = true;
  req.sender_epoch = epoch;
  req.offset = opts.slice_offset;
  req.length = opts.slice_length;
  auto timeout = opts.config.operation_timeout + kForwardGrace;
  Pending pending{std::move(ex), std::move(done), nullptr, key.page};
  net::post(loop_, [this, peer_addr, req = std::move(req), timeout,
                    pending = std::move(pending)]() mutable {
    start(peer_addr, std::move(req), timeout, std::move(pending));
  });
}

void ForwardClient::start(const std::string& peer_addr, peer::ForwardRequest req,
                          std::chrono::milliseconds timeout, Pending pending) {
  const std::uint64_t id = next_id_++;
  req.request_id = id;
  pending.timer = std::make_unique<net::steady_timer>(loop_, timeout);
  pending.timer->async_wait([this, id](boost::system::error_code ec) {
    if (!ec) complete(id, transport_error("no answer in time"));
  });
  pending_.emplace(id, std::move(pending));
  auto c = connection(peer_addr);
  pending_conn_[id] = c;
  c->ids.push_back(id);
  if (c->ready) {
    send(c, req);
  } else {
    c->queued.push_back(std::move(req));
  }
}

std::shared_ptr<ForwardClient::Conn> ForwardClient::connection(const std::string& peer_addr) {
  auto it = conns_.find(peer_addr);
  if (it != conns_.end() && !it->second->broken) return it->second;
  auto c = std::make_shared<Conn>();
  c->peer_addr = peer_addr;
  conns_[peer_addr] = c;
  auto udp = peer::parse_peer_endpoint(peer_addr);
  if (!udp) {
    net::post(loop_, [this, c] { fail(c, "bad peer address " + c->peer_addr); });
    return c;
  }
  tcp::endpoint endpoint(udp->address(), udp->port());
  auto socket = std::make_shared<tcp::socket>(loop_);
  socket->async_connect(endpoint, [this, c, socket](boost::system::error_code ec) {
    if (ec) return fail(c, "connect " + c->peer_addr + ": " + ec.message());
    socket->set_option(tcp::no_delay(true), ec);
    c->stream =
        peer::FrameStream::create(std::move(*socket), key_, peer::FrameStream::Role::kClient);
    c->stream->async_handshake([this, c](boost::system::error_code hec) {
      if (hec) {
        // A refusal by the protocol (another version, another key) is a peer error.
        if (hec.category() == peer::peer_category()) {
          metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
        }
        const std::string& detail = c->stream->error_detail();
        return fail(c, "handshake with " + c->peer_addr + ": " + hec.message() +
                           (detail.empty() ? "" : " (" + detail + ")"));
      }
      c->ready = true;
      while (!c->queued.empty()) {
        send(c, c->queued.front());
        c->queued.pop_front();
      }
      read_loop(c);
    });
  });
  return c;
}

void ForwardClient::send(const std::shared_ptr<Conn>& c, const peer::ForwardRequest& req) {
  metrics_.forwards_out.fetch_add(1, std::memory_order_relaxed);
  c->stream->async_write_frame(peer::encode_frame_header(req), {}, nullptr,
                               [this, c](boost::system::error_code ec) {
                                 if (ec) fail(c, "write: " + ec.message());
                               });
}

void ForwardClient::read_loop(const std::shared_ptr<Conn>& c) {
  c->stream->async_read_frame(page_size_,
                              [this, c](boost::system::error_code ec, peer::Frame frame) {
                                if (ec) return fail(c, "read: " + ec.message());
                                on_frame(c, std::move(frame));
                                if (!c->broken) read_loop(c);
                              });
}

void ForwardClient::on_frame(const std::shared_ptr<Conn>& c, peer::Frame frame) {
  peer::FrameHeader header;
  auto st = peer::decode_frame_header(frame.header, &header);
  if (!st.ok()) {
    metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    return fail(c, "bad frame: " + st.reason);
  }
  if (auto* resp = std::get_if<peer::ForwardResponse>(&header)) {
    return on_head(c, *resp, std::move(frame.payload));
  }
  if (auto* data = std::get_if<peer::ForwardData>(&header)) {
    return on_data(c, *data, frame.payload.view());
  }
  if (auto* end = std::get_if<peer::ForwardEnd>(&header)) return on_end(*end);
  metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
  fail(c, "unexpected frame");
}

// The head of a forwarded page: the page (the asked part of it) is made and delivered at once;
// its bytes arrive in this frame's payload and the ForwardData frames after it.
void ForwardClient::on_head(const std::shared_ptr<Conn>& c, const peer::ForwardResponse& resp,
                            base::Bytes payload) {
  PageResult r;
  r.outcome = resp.outcome;
  r.message = resp.message;
  r.source = PageSource::kPeer;
  if (resp.outcome != base::Outcome::kOk) {
    if (r.message.empty()) {
      r.message = "owner answered " + std::string(base::outcome_name(resp.outcome));
    }
    return complete(resp.request_id, std::move(r));
  }
  auto pending = pending_.find(resp.request_id);
  const std::uint64_t page = pending == pending_.end() ? 0 : pending->second.page;
  // The stream must fit the page and the object; a legacy head without a length is its payload.
  const std::uint64_t length = resp.length > 0 ? resp.length : payload.size;
  const std::uint64_t page_bytes = page_length(resp.object_size, page_size_, page);
  if (length == 0 || resp.offset >= page_bytes || length > page_bytes - resp.offset ||
      payload.size > length) {
    metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    return fail(c, "page stream of " + std::to_string(length) + " bytes at " +
                       std::to_string(resp.offset) + " does not fit the page");
  }
  auto p = std::make_shared<Page>();
  if (payload.size == length) {
    p->body = std::move(payload);  // all of it in the head: adopted, not copied
  } else {
    p->body.data = std::make_unique_for_overwrite<char[]>(length);
    p->body.size = length;
    std::memcpy(p->body.data.get(), payload.data.get(), payload.size);
    p->fill = std::make_shared<PageFill>(length, length);
    p->fill->advance(0, payload.size);
    // The request's timer now bounds the stream (complete() below no longer owns it).
    Stream stream{p, payload.size, c, std::move(pending->second.timer)};
    stream.timer->async_wait([this, id = resp.request_id](boost::system::error_code ec) {
      if (!ec) expire_stream(id);
    });
    streams_[resp.request_id] = std::move(stream);
  }
  p->object_size = resp.object_size;
  p->etag = resp.etag;
  p->last_modified = resp.last_modified;
  p->bucket = resp.bucket;
  p->cached_at = resp.cached_at;
  p->body_offset = resp.offset;
  metrics_.peer_ingress_bytes.fetch_add(payload.size, std::memory_order_relaxed);
  r.page = std::move(p);
  complete(resp.request_id, std::move(r));
}

void ForwardClient::on_data(const std::shared_ptr<Conn>& c, const peer::ForwardData& data,
                            std::string_view bytes) {
  auto it = streams_.find(data.request_id);
  if (it == streams_.end()) return;  // a stream this side gave up on (timeout)
  Stream& s = it->second;
  Page& p = *s.page;
  if (data.at != s.received || bytes.size() > p.body.size - s.received) {
    metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    return fail(c, "page stream out of order or too long");
  }
  std::memcpy(p.body.data.get() + s.received, bytes.data(), bytes.size());
  s.received += bytes.size();
  metrics_.peer_ingress_bytes.fetch_add(bytes.size(), std::memory_order_relaxed);
  p.fill->advance(0, s.received);
  if (s.received == p.body.size) {
    auto page = std::move(s.page);
    if (s.timer) s.timer->cancel();
    streams_.erase(it);
    page->fill->complete();
  }
}

void ForwardClient::expire_stream(std::uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  auto page = std::move(it->second.page);
  streams_.erase(it);
  page->fill->fail(base::Outcome::kTimeout, "peer: the page stream stalled past its deadline");
}

void ForwardClient::on_end(const peer::ForwardEnd& end) {
  auto it = streams_.find(end.request_id);
  if (it == streams_.end()) return;
  auto page = std::move(it->second.page);
  if (it->second.timer) it->second.timer->cancel();
  streams_.erase(it);
  page->fill->fail(end.outcome, "owner: " + end.message);
}

void ForwardClient::fail(const std::shared_ptr<Conn>& c, const std::string& why) {
  if (c->broken) return;
  c->broken = true;
  SHOAL_LOG(kWarn, "forwarding to " << c->peer_addr << " failed: " << why);
  if (c->stream) c->stream->close();
  auto it = conns_.find(c->peer_addr);
  if (it != conns_.end() && it->second == c) conns_.erase(it);
  for (std::uint64_t id : c->ids) complete(id, transport_error(why));
  c->ids.clear();
  // Streams of this connection still filling cannot complete.
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->second.conn.lock() != c) {
      ++it;
      continue;
    }
    auto page = std::move(it->second.page);
    if (it->second.timer) it->second.timer->cancel();
    it = streams_.erase(it);
    page->fill->fail(base::Outcome::kTransportError, "peer: " + why);
  }
  c->queued.clear();
}

void ForwardClient::complete(std::uint64_t id, PageResult r) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  pending_conn_.erase(id);
  if (p.timer) p.timer->cancel();
  net::post(p.ex, [done = std::move(p.done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void ForwardClient::close_all() {
  auto conns = conns_;
  for (auto& [addr, c] : conns) fail(c, "shutting down");
}

// ---- ForwardServer ------------------------------------------------------------------------------

ForwardServer::ForwardServer(net::io_context& peer_loop, PageFetcher& fetcher,
                             const FetchRules& rules, NodeMetrics& metrics)
    : loop_(peer_loop), fetcher_(fetcher), rules_(rules), metrics_(metrics) {}

void ForwardServer::serve(std::shared_ptr<peer::FrameStream> stream, peer::Frame /*first*/,
                          peer::FrameHeader header) {
  handle(stream, header);
  read_next(stream);
}

void ForwardServer::read_next(const std::shared_ptr<peer::FrameStream>& s) {
  // Requests carry no payload.
  s->async_read_frame(0, [this, s](boost::system::error_code ec, peer::Frame frame) {
    if (ec) {
      if (ec != net::error::eof && ec != net::error::operation_aborted) {
        metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
        SHOAL_LOG(kDebug, "peer stream closed: " << ec.message());
      }
      return s->close();
    }
    peer::FrameHeader header;
    auto st = peer::decode_frame_header(frame.header, &header);
    if (!st.ok()) return refuse(s, "bad frame header: " + st.reason);
    handle(s, header);
    if (s->is_open()) read_next(s);
  });
}

void ForwardServer::refuse(const std::shared_ptr<peer::FrameStream>& s, const std::string& why) {
  metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
  SHOAL_LOG(kWarn, "refused peer frame: " << why);
  s->close();
}

void ForwardServer::handle(const std::shared_ptr<peer::FrameStream>& s,
                           const peer::FrameHeader& header) {
  const auto* req = std::get_if<peer::ForwardRequest>(&header);
  if (req == nullptr) return refuse(s, "expected a forward request");
  metrics_.forwards_in.fetch_add(1, std::memory_order_relaxed);
  FetchOptions opts;
  opts.config_text = req->config;
  opts.hop = true;
  peer::ForwardResponse resp;
  resp.request_id = req->request_id;
  // This node's rules, not the sender's: its bucket policy (names were checked by the codec),
  // then the C0-Config under its defaults and caps.
  std::optional<std::string> err;
  if (auto refusal = rules_.buckets->resolve(req->kind, req->buckets, &opts.buckets)) {
    metrics_.forwards_refused.fetch_add(1, std::memory_order_relaxed);
    resp.outcome = base::Outcome::kAccessDenied;
    err = "owner: " + refusal->reason;
  } else if ((err = origin::apply_c0_config(req->config, rules_.defaults, rules_.caps,
                                            &opts.config))) {
    resp.outcome = base::Outcome::kMalformed;
  }
  if (err) {
    resp.message = err->substr(0, 200);
    return write(s, peer::encode_frame_header(resp), {}, {});
  }
  base::PageKey key{req->kind, req->object, req->page};
  const std::uint64_t offset = req->offset, length = req->length;
  // The asked part: a disk hit reads only its blocks, a miss fetches it first.
  opts.slice_offset = offset;
  opts.slice_length = length;
  fetcher_.get(key, opts, loop_.get_executor(),
               [this, s, resp, offset, length](PageResult r) mutable {
                 answer(s, std::move(resp), offset, length, std::move(r));
               });
}

// The head of the answer, with as much of the asked bytes as is there (all of it for a page
// that is complete: one frame); the rest follows as it lands.
void ForwardServer::answer(const std::shared_ptr<peer::FrameStream>& s, peer::ForwardResponse resp,
                           std::uint64_t offset, std::uint64_t length, PageResult r) {
  resp.outcome = r.outcome;
  resp.message = r.message.substr(0, 200);
  if (r.outcome != base::Outcome::kOk) return write(s, peer::encode_frame_header(resp), {}, {});
  const Page& p = *r.page;
  resp.object_size = p.object_size;
  resp.etag = p.etag;
  resp.last_modified = p.last_modified;
  resp.bucket = p.bucket;
  const bool cached = r.source == PageSource::kMemory || r.source == PageSource::kDisk;
  resp.cached_at = cached ? p.cached_at : 0;
  // Page-relative [from, from + n) of the body, which starts at p.body_offset.
  const std::uint64_t from = length > 0 ? offset : p.body_offset;
  if (from < p.body_offset || from >= p.body_offset + p.body.size) {
    resp.outcome = base::Outcome::kInvalidRange;
    resp.message = "offset past the page's end";
    return write(s, peer::encode_frame_header(resp), {}, {});
  }
  auto out = std::make_shared<Outgoing>();
  out->stream = s;
  out->page = r.page;
  out->demand = std::move(r.demand);
  out->id = resp.request_id;
  out->begin = from - p.body_offset;
  out->length = std::min(length > 0 ? length : p.body.size, p.body.size - out->begin);
  resp.offset = from;
  resp.length = out->length;
  std::uint64_t first = std::min(p.ready(out->begin), out->length);
  // (A whole page ends its stream only once complete here: see send_more().)
  if (first == out->length && out->begin + out->length == p.body.size && !p.complete()) first = 0;
  out->sent = first;
  metrics_.peer_egress_bytes.fetch_add(first, std::memory_order_relaxed);
  write(s, peer::encode_frame_header(resp), std::string_view(p.body.data.get() + out->begin, first),
        r.page);
  send_more(out);
}

// The stream's next bytes as they land; a page that fails before they are all sent ends the
// stream with a ForwardEnd (the receiver drops what it got).
void ForwardServer::send_more(const std::shared_ptr<Outgoing>& out) {
  const Page& p = *out->page;
  if (out->sent == out->length && out->demand) out->demand->satisfy();
  while (out->sent < out->length && out->stream->is_open()) {
    const std::uint64_t at = out->begin + out->sent;
    const std::uint64_t ready = std::min(p.ready(at), out->length - out->sent);
    if (ready == 0) {
      if (p.failed()) {
        peer::ForwardEnd end{out->id, p.fill->failure(), p.fill->failure_message().substr(0, 200)};
        return write(out->stream, peer::encode_frame_header(end), {}, {});
      }
      return p.fill->when_ready(at, std::min(kWakeBytes, out->length - out->sent),
                                loop_.get_executor(), [this, out] { send_more(out); });
    }
    const std::uint64_t n = std::min(ready, kChunkBytes);
    // A stream to the page's end ends only once the page is complete here (and cached): the
    // asker takes the stream's end for the page's, e.g. /admin/warm's "cached on the owner".
    if (out->sent + n == out->length && out->begin + out->length == p.body.size && !p.complete()) {
      return p.fill->when_ended(loop_.get_executor(), [this, out] { send_more(out); });
    }
    peer::ForwardData data{out->id, out->sent};
    write(out->stream, peer::encode_frame_header(data), std::string_view(p.body.data.get() + at, n),
          out->page);
    out->sent += n;
    metrics_.peer_egress_bytes.fetch_add(n, std::memory_order_relaxed);
    if (out->sent == out->length && out->demand) out->demand->satisfy();
  }
}

void ForwardServer::write(const std::shared_ptr<peer::FrameStream>& s, std::string header,
                          std::string_view payload, std::shared_ptr<const void> keep_alive) {
  s->async_write_frame(std::move(header), payload, std::move(keep_alive),
                       [s](boost::system::error_code ec) {
                         if (ec) s->close();
                       });
}

}  // namespace shoal::node
