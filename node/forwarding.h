// Single-hop forwarding of page requests between members over the peer port (peer/stream.h,
// docs/peer-protocol.md): ForwardClient sends a page request to the page's owner and turns the
// answer into a PageResult; ForwardServer answers requests that other members forward here.
//
// A forwarded request is never forwarded again: every request that arrives on the peer port is
// served from this node's tiers or the origin (PageFetcher with `hop` set), whatever this node
// thinks of the page's owner.
//
// Connections: one multiplexed FrameStream per peer address, opened on first use and reused;
// requests carry ids and answers may come back in any order. A broken connection fails its
// outstanding requests with kTransportError (the caller then tries the next member in the
// page's ranking) and is reopened on the next request.
//
// Thread rules: both run on the peer loop (one thread). ForwardClient::fetch() may be called
// from any thread (it posts to the peer loop); its handler is posted to the executor passed in.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "node/bucket_policy.h"
#include "node/node_metrics.h"
#include "node/page.h"
#include "node/page_fetcher.h"
#include "peer/auth.h"
#include "peer/messages.h"
#include "peer/stream.h"

namespace shoal::node {

class ForwardClient {
 public:
  ForwardClient(boost::asio::io_context& peer_loop, peer::ClusterKey key, std::uint64_t page_size,
                NodeMetrics& metrics);
  ~ForwardClient();

  // Asks the member at `peer_addr` ("host:port") for page `key`. `epoch` is this node's
  // membership epoch when it chose that member. The answer is bounded by the request's
  // operation timeout plus kForwardGrace. Outcomes: the owner's (kOk with the page, or the
  // origin's failure there), or kTransportError when the member could not be reached or the
  // connection broke (then the caller may try the next member).
  void fetch(const std::string& peer_addr, const base::PageKey& key, const FetchOptions& opts,
             std::uint64_t epoch, boost::asio::any_io_executor ex, PageFetcher::PageHandler done);

  // Closes every connection; outstanding requests fail with kTransportError. Peer loop only.
  void close_all();

  static constexpr std::chrono::milliseconds kForwardGrace{5000};

 private:
  struct Conn;
  struct Pending {
    boost::asio::any_io_executor ex;
    PageFetcher::PageHandler done;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::uint64_t page = 0;  // the page index asked for (its stream must fit that page)
  };
  // A page whose head arrived and whose bytes are still streaming in (node/page_fill.h). The
  // request's deadline still bounds it: a stream stalled past it fails (kTimeout).
  struct Stream {
    std::shared_ptr<Page> page;
    std::uint64_t received = 0;
    std::weak_ptr<Conn> conn;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  void start(const std::string& peer_addr, peer::ForwardRequest req,
             std::chrono::milliseconds timeout, Pending pending);
  std::shared_ptr<Conn> connection(const std::string& peer_addr);
  void send(const std::shared_ptr<Conn>& c, const peer::ForwardRequest& req);
  void read_loop(const std::shared_ptr<Conn>& c);
  void on_frame(const std::shared_ptr<Conn>& c, peer::Frame frame);
  void on_head(const std::shared_ptr<Conn>& c, const peer::ForwardResponse& resp,
               base::Bytes payload);
  void on_data(const std::shared_ptr<Conn>& c, const peer::ForwardData& data,
               std::string_view bytes);
  void on_end(const peer::ForwardEnd& end);
  void expire_stream(std::uint64_t id);
  void fail(const std::shared_ptr<Conn>& c, const std::string& why);
  void complete(std::uint64_t id, PageResult r);

  boost::asio::io_context& loop_;
  peer::ClusterKey key_;
  std::uint64_t page_size_;
  NodeMetrics& metrics_;
  std::uint64_t next_id_ = 1;
  std::map<std::string, std::shared_ptr<Conn>> conns_;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Conn>> pending_conn_;
  std::unordered_map<std::uint64_t, Stream> streams_;
};

class ForwardServer {
 public:
  // Forwarded requests are held to `rules` (this node's): the buckets they name must be allowed
  // by its bucket policy (else an answer kAccessDenied, counted in forwards_refused), their
  // C0-Config is applied to its defaults under its caps.
  ForwardServer(boost::asio::io_context& peer_loop, PageFetcher& fetcher, const FetchRules& rules,
                NodeMetrics& metrics);

  // Takes over an inbound authenticated stream whose first frame (`first`, decoded as
  // `header`) is a ForwardRequest (Membership's stream handler). Serves every request on it
  // until the peer closes or sends anything malformed (then the stream is closed and the error
  // counted).
  void serve(std::shared_ptr<peer::FrameStream> stream, peer::Frame first,
             peer::FrameHeader header);

 private:
  // Bytes of a page stream per ForwardData frame, at most; while the page fills, a frame goes
  // out once this many more bytes (or the rest) are there (as node/fetch_response.h does).
  static constexpr std::uint64_t kChunkBytes = 1 << 20;
  static constexpr std::uint64_t kWakeBytes = 64 << 10;
  // One answer being streamed to a peer: bytes [begin, begin + length) of `page`'s body.
  struct Outgoing {
    std::shared_ptr<peer::FrameStream> stream;
    PageRef page;
    std::shared_ptr<PageDemand> demand;  // the peer's claim while the page fills here
    std::uint64_t id = 0;
    std::uint64_t begin = 0, length = 0, sent = 0;
  };

  void handle(const std::shared_ptr<peer::FrameStream>& s, const peer::FrameHeader& header);
  void answer(const std::shared_ptr<peer::FrameStream>& s, peer::ForwardResponse resp,
              std::uint64_t offset, std::uint64_t length, PageResult r);
  void send_more(const std::shared_ptr<Outgoing>& out);
  void write(const std::shared_ptr<peer::FrameStream>& s, std::string header,
             std::string_view payload, std::shared_ptr<const void> keep_alive);
  void read_next(const std::shared_ptr<peer::FrameStream>& s);
  void refuse(const std::shared_ptr<peer::FrameStream>& s, const std::string& why);

  boost::asio::io_context& loop_;
  PageFetcher& fetcher_;
  FetchRules rules_;
  NodeMetrics& metrics_;
};

}  // namespace shoal::node
