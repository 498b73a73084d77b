#include "node/invalidation.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "peer/address.h"
#include "peer/codec.h"
#include "ring/base/log.h"

namespace shoal::node {
namespace net = boost::asio;
using tcp = net::ip::tcp;

// One invalidate() call: its targets, what each answered, the deadline.
struct InvalidationClient::Run {
  std::vector<Target> targets;
  peer::Invalidate frame;  // request_id: the run's; the same for every target
  std::vector<std::shared_ptr<peer::FrameStream>> streams;
  std::vector<bool> settled;
  std::size_t left = 0;
  InvalidateReport report;
  std::unique_ptr<net::steady_timer> timer;
  std::function<void(InvalidateReport)> done;
};

InvalidationClient::InvalidationClient(net::io_context& peer_loop, peer::ClusterKey key,
                                       NodeMetrics& metrics)
    : loop_(peer_loop), key_(std::move(key)), metrics_(metrics) {}

void InvalidationClient::invalidate(std::vector<Target> targets, const std::string& kind,
                                    const std::string& object, std::chrono::milliseconds timeout,
                                    std::function<void(InvalidateReport)> done) {
  auto run = std::make_shared<Run>();
  run->targets = std::move(targets);
  run->frame = peer::Invalidate{next_id_++, kind, object};
  run->streams.resize(run->targets.size());
  run->settled.assign(run->targets.size(), false);
  run->left = run->targets.size();
  run->done = std::move(done);
  if (run->left == 0) {
    net::post(loop_, [run] { run->done(std::move(run->report)); });
    return;
  }
  run->timer = std::make_unique<net::steady_timer>(loop_, timeout);
  run->timer->async_wait([this, run](boost::system::error_code ec) {
    if (ec) return;
    for (std::size_t i = 0; i < run->targets.size(); ++i) {
      settle(run, i, "no acknowledgement within the timeout");
    }
  });
  for (std::size_t i = 0; i < run->targets.size(); ++i) ask(run, i);
}

void InvalidationClient::ask(const std::shared_ptr<Run>& run, std::size_t i) {
  auto udp = peer::parse_peer_endpoint(run->targets[i].addr);
  if (!udp) {
    return net::post(loop_, [this, run, i] { settle(run, i, "bad peer address"); });
  }
  auto socket = std::make_shared<tcp::socket>(loop_);
  const tcp::endpoint endpoint(udp->address(), udp->port());
  socket->async_connect(endpoint, [this, run, i, socket](boost::system::error_code ec) {
    if (run->settled[i]) return;
    if (ec) return settle(run, i, "connect: " + ec.message());
    socket->set_option(tcp::no_delay(true), ec);
    auto s = peer::FrameStream::create(std::move(*socket), key_, peer::FrameStream::Role::kClient);
    run->streams[i] = s;
    s->async_handshake([this, run, i, s](boost::system::error_code hec) {
      if (run->settled[i]) return;
      if (hec) return settle(run, i, "handshake: " + hec.message());
      s->async_write_frame(peer::encode_frame_header(run->frame), {}, nullptr,
                           [this, run, i](boost::system::error_code wec) {
                             if (wec) settle(run, i, "write: " + wec.message());
                           });
      s->async_read_frame(0, [this, run, i](boost::system::error_code rec, peer::Frame f) {
        if (run->settled[i]) return;
        if (rec) return settle(run, i, "read: " + rec.message());
        peer::FrameHeader header;
        const auto st = peer::decode_frame_header(f.header, &header);
        const auto* ack = std::get_if<peer::InvalidateAck>(&header);
        if (!st.ok() || ack == nullptr || ack->request_id != run->frame.request_id) {
          metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
          return settle(run, i, "answered with something other than its acknowledgement");
        }
        settle(run, i, "");
      });
    });
  });
}

// Target `i` acked (empty `failure`) or failed; the run ends with the last one.
void InvalidationClient::settle(const std::shared_ptr<Run>& run, std::size_t i,
                                std::string failure) {
  if (run->settled[i]) return;
  run->settled[i] = true;
  if (run->streams[i]) run->streams[i]->close();
  const Target& t = run->targets[i];
  if (failure.empty()) {
    metrics_.invalidations_acked.fetch_add(1, std::memory_order_relaxed);
    run->report.acked.push_back(t.id);
  } else {
    metrics_.invalidations_failed.fetch_add(1, std::memory_order_relaxed);
    SHOAL_LOG(kWarn, "invalidation of " << run->frame.kind << "/" << run->frame.object << " on "
                                        << t.id << " (" << t.addr << ") failed: " << failure);
    run->report.failed.push_back(t.id + ": " + failure);
  }
  if (--run->left > 0) return;
  run->timer->cancel();
  run->done(std::move(run->report));
}

// ---- InvalidationServer ------------------------------------------------------------------------

void InvalidationServer::serve(std::shared_ptr<peer::FrameStream> stream,
                               const peer::FrameHeader& header) {
  handle(stream, header);
}

void InvalidationServer::handle(const std::shared_ptr<peer::FrameStream>& s,
                                const peer::FrameHeader& header) {
  const auto* inv = std::get_if<peer::Invalidate>(&header);
  if (inv == nullptr) {
    metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    SHOAL_LOG(kWarn, "refused peer frame: expected an invalidate");
    return s->close();
  }
  const PurgeCounts r = fetcher_.purge(inv->kind, &inv->object);
  metrics_.invalidations_served.fetch_add(1, std::memory_order_relaxed);
  SHOAL_LOG(kDebug, "peer invalidate " << inv->kind << "/" << inv->object << ": " << r.memory
                                       << " memory, " << r.disk << " disk pages dropped");
  const peer::InvalidateAck ack{inv->request_id, r.memory + r.disk};
  s->async_write_frame(peer::encode_frame_header(ack), {}, nullptr,
                       [this, s](boost::system::error_code ec) {
                         if (ec) return s->close();
                         read_next(s);
                       });
}

void InvalidationServer::read_next(const std::shared_ptr<peer::FrameStream>& s) {
  s->async_read_frame(0, [this, s](boost::system::error_code ec, peer::Frame frame) {
    if (ec) return s->close();  // the sender closes once acked: the usual end
    peer::FrameHeader header;
    const auto st = peer::decode_frame_header(frame.header, &header);
    if (!st.ok()) {
      metrics_.peer_errors.fetch_add(1, std::memory_order_relaxed);
      SHOAL_LOG(kWarn, "refused peer frame: bad frame header: " << st.reason);
      return s->close();
    }
    handle(s, header);
  });
}

}  // namespace shoal::node
