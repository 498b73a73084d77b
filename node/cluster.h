// The node's part in a cluster: membership (peer/membership.h, SWIM + Lifeguard), placement of
// pages by weighted rendezvous hashing over the live members (ring/), and single-hop forwarding
// of misses to their owners (node/forwarding.h). Implements PageRouter for the PageFetcher.
//
// Thread rules: the cluster runs on its own peer loop (one thread): membership, forwarding
// connections and peer-port sessions. targets(), forward(), view() and the stats accessors may
// be called from any thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "node/forwarding.h"
#include "node/metrics.h"
#include "node/page_fetcher.h"
#include "peer/membership.h"

namespace shoal::node {

struct ClusterConfig {
  peer::MembershipConfig membership;  // node id, addresses, weight, timings
  std::vector<std::string> seeds;     // --seed HOST:PORT, repeatable; self is skipped
};

class Cluster : public PageRouter {
 public:
  Cluster(boost::asio::io_context& peer_loop, ClusterConfig config, peer::ClusterKey key,
          PageFetcher& fetcher, const FetchRules& rules, NodeMetrics& metrics,
          std::uint64_t page_size);
  ~Cluster() override;

  // Binds the peer port and joins through the seeds. Throws boost::system::system_error when
  // the peer port cannot be bound. Peer loop thread.
  void start();
  // Graceful leave (state "left", distinct from a failure); `done` runs on the peer loop once
  // the others were told. Peer loop thread.
  void leave(std::function<void()> done);
  // Stops at once (sockets closed, forwards failed). Peer loop thread.
  void stop();
  // Gossips this node's load summary. Returns the check_stats reason and changes nothing when it
  // is invalid (peer/membership.h). Peer loop thread.
  std::optional<std::string> set_stats(peer::StatsSummary s) {
    return membership_->set_stats(std::move(s));
  }
  // Changes this node's ring weight (0 or ring::kMinWeight..kMaxWeight) and gossips it
  // (peer/membership.h). Returns the reason and changes nothing when the weight is invalid or the
  // membership is not running. Peer loop thread.
  std::optional<std::string> set_weight(double weight) { return membership_->set_weight(weight); }

  // PageRouter.
  std::vector<Target> targets(const base::PageKey& key) const override;
  void forward(const Target& target, const base::PageKey& key, const FetchOptions& opts,
               std::function<void(PageResult)> done) override;

  std::shared_ptr<const peer::MembershipView> view() const { return membership_->view(); }
  // "members", "epoch" and peer counters for /stats.
  nlohmann::json stats_json() const;
  // The membership and forwarding families of /metrics.
  void write_metrics(PrometheusWriter& out) const;
  const std::string& self_id() const { return self_id_; }

 private:
  boost::asio::io_context& loop_;
  ClusterConfig config_;
  std::string self_id_;
  NodeMetrics& metrics_;
  std::unique_ptr<peer::Membership> membership_;
  std::unique_ptr<ForwardClient> client_;
  std::unique_ptr<ForwardServer> server_;
};

}  // namespace shoal::node
