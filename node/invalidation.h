// Cluster-wide invalidation of one object (issue 14: a write through the S3 port is confirmed
// only once every live member dropped the object, so a read through any member afterwards
// returns the new bytes). InvalidationClient sends a peer::Invalidate frame to each member and
// waits for its peer::InvalidateAck; InvalidationServer answers them by purging the object here
// (PageFetcher::purge, the same purge as /admin/purge) before acking. Protocol:
// docs/peer-protocol.md, "Invalidation".
//
// Connections: one fresh authenticated FrameStream per member and invalidation (writes are rare
// next to reads; a connection of their own never queues behind a page stream), closed once the
// ack arrived. A member that does not ack within the timeout (unreachable, frozen, or running a
// revision without Invalidate: it refuses the frame type and closes) is reported as failed.
//
// Thread rules: both run on the peer loop (one thread); invalidate() must be called there and
// `done` runs there.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/node_metrics.h"
#include "node/page_fetcher.h"
#include "peer/auth.h"
#include "peer/messages.h"
#include "peer/stream.h"

namespace shoal::node {

// How a cluster-wide invalidation went.
struct InvalidateReport {
  std::vector<std::string> acked;   // member ids that confirmed
  std::vector<std::string> failed;  // "ID: why" for each member that did not
  bool ok() const { return failed.empty(); }
};

class InvalidationClient {
 public:
  struct Target {
    std::string id;
    std::string addr;  // peer port
  };
  InvalidationClient(boost::asio::io_context& peer_loop, peer::ClusterKey key,
                     NodeMetrics& metrics);

  // Asks every target, in parallel, to purge `kind`/`object`; `done` gets the report once each
  // has acked or failed, at the latest `timeout` after the call. Peer loop only.
  void invalidate(std::vector<Target> targets, const std::string& kind, const std::string& object,
                  std::chrono::milliseconds timeout, std::function<void(InvalidateReport)> done);

 private:
  struct Run;
  void ask(const std::shared_ptr<Run>& run, std::size_t i);
  void settle(const std::shared_ptr<Run>& run, std::size_t i, std::string failure);

  boost::asio::io_context& loop_;
  peer::ClusterKey key_;
  NodeMetrics& metrics_;
  std::uint64_t next_id_ = 1;
};

class InvalidationServer {
 public:
  InvalidationServer(PageFetcher& fetcher, NodeMetrics& metrics)
      : fetcher_(fetcher), metrics_(metrics) {}

  // Takes over an inbound authenticated stream whose first frame decoded as `header`, an
  // Invalidate (Membership's stream handler): purges, acks, and serves further Invalidate frames
  // on the stream until the peer closes; anything else closes it (counted as a peer error).
  void serve(std::shared_ptr<peer::FrameStream> stream, const peer::FrameHeader& header);

 private:
  void handle(const std::shared_ptr<peer::FrameStream>& s, const peer::FrameHeader& header);
  void read_next(const std::shared_ptr<peer::FrameStream>& s);

  PageFetcher& fetcher_;
  NodeMetrics& metrics_;
};

}  // namespace shoal::node
