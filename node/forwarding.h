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
// page's ranking; node/forward_race.h) and resumes its page streams elsewhere; it is reopened
// on the next request.
//
// Thread rules: both run on the peer loop (one thread); ForwardClient's handlers are posted to
// the executor passed in.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "node/bucket_policy.h"
#include "node/forward_policy.h"
#include "node/node_metrics.h"
#include "node/page.h"
#include "node/page_fetcher.h"
#include "peer/auth.h"
#include "peer/messages.h"
#include "peer/stream.h"

namespace shoal::node {

class ForwardClient {
 public:
  // A member to ask: its id (for the per-peer figures of ForwardPolicy) and peer address.
  struct Peer {
    std::string id;
    std::string addr;
  };

  // `policy` (first-byte latencies, stall deadline, per-peer counts) must outlive this object.
  ForwardClient(boost::asio::io_context& peer_loop, peer::ClusterKey key, std::uint64_t page_size,
                NodeMetrics& metrics, ForwardPolicy& policy);
  ~ForwardClient();

  // Asks `target` for page `key` (the slice in `opts`, or all of it). `epoch` is this node's
  // membership epoch when it chose that member. Returns the request's id (for cancel()). `done`
  // is posted to `ex` exactly once (unless cancelled) when the response head arrived: the
  // owner's outcome (kOk with the page, possibly still filling, or the origin's failure there),
  // or kTransportError when the member could not be reached, the connection broke, or no head
  // came within the request's operation timeout plus kForwardGrace. The time to the head is
  // recorded in the policy for `target`.
  //
  // A page stream that stalls (no ForwardData for the policy's stall deadline) or whose
  // connection breaks is resumed from `alternates` in order: the remaining bytes are asked with
  // If-Match on the page's ETag, and their head must carry the same ETag, object size, offset
  // and length; an alternate that fails, stalls or answers otherwise hands over to the next.
  // When none is left the page's fill fails (readers abort: never a byte of another version).
  // Peer loop only.
  std::uint64_t start(const Peer& target, const base::PageKey& key, const FetchOptions& opts,
                      std::uint64_t epoch, std::vector<Peer> alternates,
                      boost::asio::any_io_executor ex, PageFetcher::PageHandler done);

  // Gives up request `id`: its handler is not called; a stream of it still filling fails
  // (kCancelled). Frames still arriving for it are ignored. No-op for an unknown id. Peer loop.
  void cancel(std::uint64_t id);

  // Whether a frame came from the member at `peer_addr` at or after `since` (any request's): a
  // member that answers others is alive, only slow for this request. Peer loop only.
  bool heard_since(const std::string& peer_addr, std::chrono::steady_clock::time_point since) const;

  // Closes every connection; outstanding requests fail with kTransportError. Peer loop only.
  void close_all();

  static constexpr std::chrono::milliseconds kForwardGrace{5000};

 private:
  struct Conn;
  // A page stream being written into `page` from byte `base` of its body on: the original
  // request's stream (base 0) or a resume of it.
  struct Tail {
    std::shared_ptr<Page> page;
    std::uint64_t base = 0;
    peer::ForwardRequest req;      // as sent (offset/length: this stream's part of the page)
    std::vector<Peer> alternates;  // where to resume, in order
  };
  struct Pending {
    boost::asio::any_io_executor ex;
    PageFetcher::PageHandler done;  // empty for a resume
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::string peer;  // member id asked
    std::chrono::steady_clock::time_point sent;
    Tail tail;  // page set: a resume of that page's stream
  };
  // A page whose head arrived and whose bytes are still streaming in (node/page_fill.h); the
  // timer is the stall deadline, re-armed by every ForwardData frame.
  struct Stream {
    Tail tail;
    std::uint64_t received = 0;  // bytes of the body there (from 0)
    bool reading = false;        // a frame's payload is being read into the page
    std::weak_ptr<Conn> conn;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::string peer;
  };

  void send_request(const Peer& target, peer::ForwardRequest req, std::chrono::milliseconds timeout,
                    Pending pending);
  std::shared_ptr<Conn> connection(const std::string& peer_addr);
  void send(const std::shared_ptr<Conn>& c, const peer::ForwardRequest& req);
  // Frames are read in two phases (peer/stream.h): the header, then its `n` payload bytes into
  // the page they belong to (or dropped into the connection's discard buffer).
  void read_loop(const std::shared_ptr<Conn>& c);
  void on_header(const std::shared_ptr<Conn>& c, const std::string& bytes, std::uint32_t n);
  // Reads the current frame's `n` payload bytes into `dest` (null: dropped), calls `then(ok)`
  // (may be empty), and on success reads the next frame; a failed read fails the connection.
  void read_payload(const std::shared_ptr<Conn>& c, char* dest, std::uint32_t n,
                    std::function<void(bool)> then);
  void on_head(const std::shared_ptr<Conn>& c, const peer::ForwardResponse& resp, std::uint32_t n);
  // A resume's head: validated against the page, then its stream continues the page.
  void on_resume_head(const std::shared_ptr<Conn>& c, Pending pending,
                      const peer::ForwardResponse& resp, std::uint32_t n);
  void on_data(const std::shared_ptr<Conn>& c, const peer::ForwardData& data, std::uint32_t n);
  void receive(const std::shared_ptr<Conn>& c, std::uint64_t id, std::uint32_t n);
  void on_end(const peer::ForwardEnd& end);
  // Registers a stream of `tail` with `received` bytes there and arms its stall timer.
  void add_stream(std::uint64_t id, Tail tail, std::uint64_t received,
                  const std::shared_ptr<Conn>& c, std::string peer);
  void arm_stall(std::uint64_t id, Stream& s);
  // Stream `id` stalled or broke: resumed from its next alternate, or its page's fill fails.
  void resume(std::uint64_t id, base::Outcome why, const std::string& message);
  void resume_from_next(Tail tail, std::uint64_t received, base::Outcome why,
                        const std::string& message);
  void fail(const std::shared_ptr<Conn>& c, const std::string& why);
  void complete(std::uint64_t id, PageResult r);

  boost::asio::io_context& loop_;
  peer::ClusterKey key_;
  std::uint64_t page_size_;
  NodeMetrics& metrics_;
  ForwardPolicy& policy_;
  std::uint64_t next_id_ = 1;
  bool closing_ = false;  // close_all() ran: no resumes
  std::map<std::string, std::shared_ptr<Conn>> conns_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_heard_;  // by peer address
  std::unordered_map<std::uint64_t, Pending> pending_;
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
