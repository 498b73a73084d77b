#include "node/forwarding.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <deque>

#include "peer/address.h"
#include "peer/codec.h"
#include "ring/base/buffer_pool.h"
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
  std::unique_ptr<char[]> discard;          // payloads nobody waits for are read into this
  std::size_t discard_bytes = 0;
};

ForwardClient::ForwardClient(net::io_context& peer_loop, peer::ClusterKey key,
                             std::uint64_t page_size, NodeMetrics& metrics, ForwardPolicy& policy)
    : loop_(peer_loop),
      key_(std::move(key)),
      page_size_(page_size),
      metrics_(metrics),
      policy_(policy) {}

ForwardClient::~ForwardClient() = default;

std::uint64_t ForwardClient::start(const Peer& target, const base::PageKey& key,
                                   const FetchOptions& opts, std::uint64_t epoch,
                                   std::vector<Peer> alternates, net::any_io_executor ex,
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
  req.if_match = opts.if_match;
  req.cache_only = opts.cache_only;
  Pending pending;
  pending.ex = std::move(ex);
  pending.done = std::move(done);
  pending.tail.req = req;
  pending.tail.alternates = std::move(alternates);
  const std::uint64_t id = next_id_;
  send_request(target, std::move(req), opts.config.operation_timeout + kForwardGrace,
               std::move(pending));
  return id;
}

void ForwardClient::send_request(const Peer& target, peer::ForwardRequest req,
                                 std::chrono::milliseconds timeout, Pending pending) {
  const std::uint64_t id = next_id_++;
  req.request_id = id;
  pending.peer = target.id;
  pending.sent = std::chrono::steady_clock::now();
  pending.timer = std::make_unique<net::steady_timer>(loop_, timeout);
  pending.timer->async_wait([this, id](boost::system::error_code ec) {
    if (!ec) complete(id, transport_error("no answer in time"));
  });
  pending_.emplace(id, std::move(pending));
  auto c = connection(target.addr);
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
  // A cache-only read is no forward (counted as handoffs_asked by the fetcher).
  if (!req.cache_only) metrics_.forwards_out.fetch_add(1, std::memory_order_relaxed);
  c->stream->async_write_frame(peer::encode_frame_header(req), {}, nullptr,
                               [this, c](boost::system::error_code ec) {
                                 if (ec) fail(c, "write: " + ec.message());
                               });
}

void ForwardClient::read_loop(const std::shared_ptr<Conn>& c) {
  c->stream->async_read_header(
      page_size_, [this, c](boost::system::error_code ec, std::string header, std::uint32_t n) {
        if (ec) return fail(c, "read: " + ec.message());
        last_heard_[c->peer_addr] = std::chrono::steady_clock::now();
        on_header(c, header, n);
      });
}

// Every path below ends in read_payload() (which reads the next frame after the payload) or in
// fail(): a frame's payload is read where its header says it belongs, never copied after.
void ForwardClient::on_header(const std::shared_ptr<Conn>& c, const std::string& bytes,
                              std::uint32_t n) {
  peer::FrameHeader header;
  auto st = peer::decode_frame_header(bytes, &header);
  if (!st.ok()) {
    metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    return fail(c, "bad frame: " + st.reason);
  }
  if (auto* resp = std::get_if<peer::ForwardResponse>(&header)) return on_head(c, *resp, n);
  if (auto* data = std::get_if<peer::ForwardData>(&header)) return on_data(c, *data, n);
  if (auto* end = std::get_if<peer::ForwardEnd>(&header)) {
    on_end(*end);
    return read_payload(c, nullptr, n, nullptr);
  }
  metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
  fail(c, "unexpected frame");
}

void ForwardClient::read_payload(const std::shared_ptr<Conn>& c, char* dest, std::uint32_t n,
                                 std::function<void(bool)> then) {
  if (n == 0) {
    if (then) then(true);
    if (!c->broken) read_loop(c);
    return;
  }
  if (dest == nullptr) {  // a frame nobody waits for (cancelled, a hedge's loser): dropped
    if (c->discard_bytes < n) {
      c->discard = std::make_unique_for_overwrite<char[]>(n);
      c->discard_bytes = n;
    }
    dest = c->discard.get();
  }
  c->stream->async_read_payload(dest,
                                [this, c, then = std::move(then)](boost::system::error_code ec) {
                                  if (ec) {
                                    if (then) then(false);
                                    return fail(c, "read: " + ec.message());
                                  }
                                  last_heard_[c->peer_addr] = std::chrono::steady_clock::now();
                                  if (then) then(true);
                                  if (!c->broken) read_loop(c);
                                });
}

// The head of a forwarded page: the page (the asked part of it) is made and delivered at once;
// its bytes arrive in this frame's payload and the ForwardData frames after it, each read
// straight into the page's body.
void ForwardClient::on_head(const std::shared_ptr<Conn>& c, const peer::ForwardResponse& resp,
                            std::uint32_t n) {
  auto it = pending_.find(resp.request_id);
  if (it == pending_.end()) return read_payload(c, nullptr, n, nullptr);  // given up on
  Pending pending = std::move(it->second);
  pending_.erase(it);
  if (pending.timer) pending.timer->cancel();
  std::erase(c->ids, resp.request_id);
  policy_.record(pending.peer, std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - pending.sent));
  if (pending.tail.page) return on_resume_head(c, std::move(pending), resp, n);
  PageResult r;
  r.outcome = resp.outcome;
  r.message = resp.message;
  r.source = PageSource::kPeer;
  auto deliver = [&pending](PageResult r) {
    net::post(pending.ex,
              [done = std::move(pending.done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
  if (resp.outcome != base::Outcome::kOk) {
    if (r.message.empty()) {
      r.message = "owner answered " + std::string(base::outcome_name(resp.outcome));
    }
    deliver(std::move(r));
    return read_payload(c, nullptr, n, nullptr);
  }
  const std::uint64_t page = pending.tail.req.page;
  // The stream must fit the page and the object; a legacy head without a length is its payload.
  const std::uint64_t length = resp.length > 0 ? resp.length : n;
  const std::uint64_t page_bytes = page_length(resp.object_size, page_size_, page);
  if (length == 0 || resp.offset >= page_bytes || length > page_bytes - resp.offset || n > length) {
    metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    deliver(transport_error("page stream does not fit the page"));
    return fail(c, "page stream of " + std::to_string(length) + " bytes at " +
                       std::to_string(resp.offset) + " does not fit the page");
  }
  auto p = std::make_shared<Page>();
  p->object_size = resp.object_size;
  p->etag = resp.etag;
  p->last_modified = resp.last_modified;
  p->bucket = resp.bucket;
  p->cached_at = resp.cached_at;
  p->body_offset = resp.offset;
  p->body = base::BufferPool::instance().take(length);
  p->fill = std::make_shared<PageFill>(length, length);
  Tail tail = std::move(pending.tail);
  tail.page = p;
  tail.req.offset = resp.offset;
  tail.req.length = length;
  add_stream(resp.request_id, std::move(tail), 0, c, pending.peer);
  r.page = std::move(p);
  deliver(std::move(r));
  receive(c, resp.request_id, n);
}

void ForwardClient::on_resume_head(const std::shared_ptr<Conn>& c, Pending pending,
                                   const peer::ForwardResponse& resp, std::uint32_t n) {
  Tail tail = std::move(pending.tail);
  const Page& p = *tail.page;
  const std::uint64_t from = tail.base;
  // The rest of the page, from the same object version, nothing else.
  const bool fits = resp.outcome == base::Outcome::kOk && resp.etag == p.etag &&
                    resp.object_size == p.object_size && resp.offset == tail.req.offset &&
                    resp.length == tail.req.length && n <= resp.length;
  if (!fits) {
    const std::string why = resp.outcome != base::Outcome::kOk
                                ? std::string(base::outcome_name(resp.outcome))
                                : "a head that does not continue the page";
    resume_from_next(std::move(tail), from, base::Outcome::kTransportError,
                     "resume from " + pending.peer + ": " + why);
    return read_payload(c, nullptr, n, nullptr);
  }
  add_stream(resp.request_id, std::move(tail), from, c, pending.peer);
  receive(c, resp.request_id, n);
}

void ForwardClient::add_stream(std::uint64_t id, Tail tail, std::uint64_t received,
                               const std::shared_ptr<Conn>& c, std::string peer) {
  Stream s{.tail = std::move(tail),
           .received = received,
           .conn = c,
           .timer = std::make_unique<net::steady_timer>(loop_),
           .peer = std::move(peer)};
  arm_stall(id, streams_.insert_or_assign(id, std::move(s)).first->second);
}

void ForwardClient::arm_stall(std::uint64_t id, Stream& s) {
  s.timer->expires_after(policy_.config().stall);
  s.timer->async_wait([this, id](boost::system::error_code ec) {
    if (!ec) resume(id, base::Outcome::kTimeout, "the page stream stalled");
  });
}

void ForwardClient::on_data(const std::shared_ptr<Conn>& c, const peer::ForwardData& data,
                            std::uint32_t n) {
  auto it = streams_.find(data.request_id);
  if (it == streams_.end()) return read_payload(c, nullptr, n, nullptr);  // given up on
  Stream& s = it->second;
  if (s.tail.base + data.at != s.received || n > s.tail.page->body.size - s.received) {
    metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    return fail(c, "page stream out of order or too long");
  }
  receive(c, data.request_id, n);
}

// Reads the frame's `n` bytes into stream `id`'s page where its received bytes end (checked by
// the caller), then advances the page's fill; the page is held until the read ends, whatever
// happens to the stream meanwhile.
void ForwardClient::receive(const std::shared_ptr<Conn>& c, std::uint64_t id, std::uint32_t n) {
  Stream& s = streams_.at(id);
  std::shared_ptr<Page> page = s.tail.page;
  s.reading = true;
  char* dest = page->body.data.get() + s.received;
  read_payload(c, dest, n, [this, id, page, n](bool ok) {
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second.tail.page != page) return;  // cancelled or resumed
    Stream& s = it->second;
    s.reading = false;
    if (!ok) return;  // the connection failed: fail() resumes the stream from s.received
    s.received += n;
    metrics_.peer_ingress_bytes.fetch_add(n, std::memory_order_relaxed);
    page->fill->advance(0, s.received);
    if (s.received == page->body.size) {
      s.timer->cancel();
      streams_.erase(it);
      page->fill->complete();
      return;
    }
    if (n > 0) arm_stall(id, s);
  });
}

void ForwardClient::resume(std::uint64_t id, base::Outcome why, const std::string& message) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  // Bytes of this stream are being read into its page: the connection stalled mid-frame, and
  // its read cannot be pointed elsewhere. Closing it aborts the read and resumes every stream
  // it carried (this one too).
  if (auto c = it->second.conn.lock(); it->second.reading && c && !c->broken) {
    return fail(c, message + " in the middle of a frame");
  }
  Stream s = std::move(it->second);
  streams_.erase(it);
  s.timer->cancel();
  SHOAL_LOG(kWarn, "page stream from " << s.peer << ": " << message << " after " << s.received
                                       << " of " << s.tail.page->body.size << " bytes");
  if (why == base::Outcome::kTimeout) policy_.count_timeout(s.peer);
  if (!s.tail.alternates.empty()) policy_.count_resume(s.peer);
  resume_from_next(std::move(s.tail), s.received, why, message);
}

// The rest of the page [received, end) from the next alternate, with If-Match on its ETag.
void ForwardClient::resume_from_next(Tail tail, std::uint64_t received, base::Outcome why,
                                     const std::string& message) {
  if (tail.alternates.empty() || closing_) {
    tail.page->fill->fail(why, "peer: " + message + "; no member left to resume from");
    return;
  }
  const Peer next = tail.alternates.front();
  tail.alternates.erase(tail.alternates.begin());
  const Page& p = *tail.page;
  tail.base = received;
  tail.req.offset = p.body_offset + received;
  tail.req.length = p.body.size - received;
  tail.req.if_match = p.etag;
  Pending pending;
  pending.tail = std::move(tail);
  peer::ForwardRequest req = pending.tail.req;
  send_request(next, std::move(req), policy_.config().ceiling + policy_.config().stall,
               std::move(pending));
}

void ForwardClient::on_end(const peer::ForwardEnd& end) {
  auto it = streams_.find(end.request_id);
  if (it == streams_.end()) return;
  auto page = std::move(it->second.tail.page);
  it->second.timer->cancel();
  streams_.erase(it);
  page->fill->fail(end.outcome, "owner: " + end.message);
}

void ForwardClient::cancel(std::uint64_t id) {
  if (auto it = pending_.find(id); it != pending_.end()) {
    if (it->second.timer) it->second.timer->cancel();
    pending_.erase(it);
  }
  if (auto it = streams_.find(id); it != streams_.end()) {
    auto page = std::move(it->second.tail.page);
    it->second.timer->cancel();
    streams_.erase(it);
    page->fill->fail(base::Outcome::kCancelled, "peer: the forward was cancelled");
  }
}

void ForwardClient::fail(const std::shared_ptr<Conn>& c, const std::string& why) {
  if (c->broken) return;
  c->broken = true;
  SHOAL_LOG(kWarn, "forwarding to " << c->peer_addr << " failed: " << why);
  if (c->stream) c->stream->close();
  auto it = conns_.find(c->peer_addr);
  if (it != conns_.end() && it->second == c) conns_.erase(it);
  for (std::uint64_t id : std::exchange(c->ids, {})) complete(id, transport_error(why));
  // Streams of this connection still filling are resumed elsewhere (or fail).
  std::vector<std::uint64_t> broken;
  for (auto& [id, s] : streams_) {
    if (s.conn.lock() == c) broken.push_back(id);
  }
  for (std::uint64_t id : broken) resume(id, base::Outcome::kTransportError, why);
  c->queued.clear();
}

// A request ends without a head: its handler gets `r`, or a resume hands over to the next
// alternate.
void ForwardClient::complete(std::uint64_t id, PageResult r) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (p.timer) p.timer->cancel();
  if (p.tail.page) {
    const std::uint64_t from = p.tail.base;
    return resume_from_next(std::move(p.tail), from, r.outcome,
                            "resume from " + p.peer + ": " + r.message);
  }
  net::post(p.ex, [done = std::move(p.done), r = std::move(r)]() mutable { done(std::move(r)); });
}

bool ForwardClient::heard_since(const std::string& peer_addr,
                                std::chrono::steady_clock::time_point since) const {
  auto it = last_heard_.find(peer_addr);
  return it != last_heard_.end() && it->second >= since;
}

void ForwardClient::close_all() {
  closing_ = true;
  auto conns = conns_;
  for (auto& [addr, c] : conns) fail(c, "shutting down");
  closing_ = false;
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
  if (!req->cache_only) metrics_.forwards_in.fetch_add(1, std::memory_order_relaxed);
  FetchOptions opts;
  opts.config_text = req->config;
  opts.hop = true;
  opts.if_match = req->if_match;
  opts.cache_only = req->cache_only;
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
               [this, s, resp, offset, length, peek = req->cache_only](PageResult r) mutable {
                 if (peek && r.outcome == base::Outcome::kOk) {
                   metrics_.handoffs_served.fetch_add(1, std::memory_order_relaxed);
                 }
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
