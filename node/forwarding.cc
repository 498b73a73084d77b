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
  Pending pending{std::move(ex), std::move(done), nullptr};
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
      if (hec) return fail(c, "handshake with " + c->peer_addr + ": " + hec.message());
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
  auto* resp = std::get_if<peer::ForwardResponse>(&header);
  if (!st.ok() || resp == nullptr) {
    metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    return fail(c, st.ok() ? "unexpected frame" : "bad frame: " + st.reason);
  }
  PageResult r;
  r.outcome = resp->outcome;
  r.message = resp->message;
  r.source = PageSource::kPeer;
  if (resp->outcome == base::Outcome::kOk) {
    if (frame.payload.empty() || resp->offset >= page_size_ ||
        frame.payload.size > page_size_ - resp->offset || frame.payload.size > resp->object_size) {
      metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
      return fail(c, "page payload of " + std::to_string(frame.payload.size) + " bytes");
    }
    auto page = std::make_shared<Page>();
    page->body = std::move(frame.payload);  // adopted, not copied
    page->object_size = resp->object_size;
    page->etag = resp->etag;
    page->last_modified = resp->last_modified;
    page->bucket = resp->bucket;
    page->cached_at = resp->cached_at;
    page->body_offset = resp->offset;
    metrics_.peer_ingress_bytes.fetch_add(page->body.size, std::memory_order_relaxed);
    r.page = std::move(page);
  } else if (r.message.empty()) {
    r.message = "owner answered " + std::string(base::outcome_name(resp->outcome));
  }
  complete(resp->request_id, std::move(r));
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
                             const origin::RequestConfig& defaults, NodeMetrics& metrics)
    : loop_(peer_loop), fetcher_(fetcher), defaults_(defaults), metrics_(metrics) {}

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
  opts.buckets = req->buckets.empty() ? std::vector<std::string>{req->kind} : req->buckets;
  opts.config_text = req->config;
  opts.hop = true;
  peer::ForwardResponse resp;
  resp.request_id = req->request_id;
  if (auto err = origin::apply_c0_config(req->config, defaults_, &opts.config)) {
    resp.outcome = base::Outcome::kMalformed;
    resp.message = *err;
    s->async_write_frame(peer::encode_frame_header(resp), {}, nullptr,
                         [s](boost::system::error_code ec) {
                           if (ec) s->close();
                         });
    return;
  }
  base::PageKey key{req->kind, req->object, req->page};
  const std::uint64_t offset = req->offset, length = req->length;
  fetcher_.get_complete(
      key, opts, loop_.get_executor(), [this, s, resp, offset, length](PageResult r) mutable {
        resp.outcome = r.outcome;
        resp.message = r.message.substr(0, 200);
        std::string_view payload;
        if (r.outcome == base::Outcome::kOk) {
          resp.object_size = r.page->object_size;
          resp.etag = r.page->etag;
          resp.last_modified = r.page->last_modified;
          resp.bucket = r.page->bucket;
          const bool cached = r.source == PageSource::kMemory || r.source == PageSource::kDisk;
          resp.cached_at = cached ? r.page->cached_at : 0;
          payload = r.page->bytes();
          if (length > 0) {
            if (offset >= payload.size()) {
              resp.outcome = base::Outcome::kInvalidRange;
              resp.message = "offset past the page's end";
              payload = {};
            } else {
              resp.offset = offset;
              payload = payload.substr(offset, length);
            }
          }
          metrics_.peer_egress_bytes.fetch_add(payload.size(), std::memory_order_relaxed);
        }
        s->async_write_frame(peer::encode_frame_header(resp), payload, r.page,
                             [s](boost::system::error_code ec) {
                               if (ec) s->close();
                             });
      });
}

}  // namespace shoal::node
