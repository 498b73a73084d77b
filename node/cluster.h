// The node's part in a cluster: membership (peer/membership.h, SWIM + Lifeguard), placement of
// pages by weighted rendezvous hashing over the live members (ring/), and single-hop forwarding
// of misses to their owners (node/forwarding.h). Implements PageRouter for the PageFetcher.
//
// Gray failures: targets() ranks alive members first and suspect or slow ones after them
// (node/forward_policy.h); forward() runs a ForwardRace (node/forward_race.h): a first-byte
// deadline per peer, a hedge to the next remote member of the page's ranking within the hedge
// budget, and page streams resumed from the members after it when they stall.
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

#include "node/forward_policy.h"
#include "node/forwarding.h"
#include "node/invalidation.h"
#include "node/metrics.h"
#include "node/page_fetcher.h"
#include "node/ring_history.h"
#include "peer/membership.h"

namespace shoal::node {

struct ClusterConfig {
  peer::MembershipConfig membership;   // node id, addresses, weight, timings
  std::vector<std::string> seeds;      // --seed HOST:PORT, repeatable; self is skipped
  ForwardDeadlineConfig forward;       // forward deadlines (node/forward_policy.h)
  double forward_hedge_budget = 0.05;  // hedges per forward over 10 s (--hedge-budget)
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
  // Ranked under the ring before the latest change (node/ring_history.h).
  std::optional<Target> previous_owner(const base::PageKey& key) const override;

  // Hands this node's pages to their new owners before it leaves (drain): for each page in
  // `pages` that this node owned under the previous ring but another alive member owns now,
  // asks that owner for the page's first byte, so the owner takes the whole page from here
  // (previous_owner, cache_only) and caches it. At most kHandoffWindow requests at a time; stops
  // starting new ones at `deadline`. `done` runs on the peer loop with the pages handed over
  // (the owner answered with the page) and the pages tried. Any thread.
  struct HandoffReport {
    std::size_t handed = 0;
    std::size_t tried = 0;
  };
  static constexpr std::size_t kHandoffWindow = 8;
  void hand_off(std::vector<EvictedPage> pages, std::chrono::steady_clock::time_point deadline,
                std::function<void(HandoffReport)> done);

  // Asks every other live member (alive or suspect) to purge `kind`/`object`
  // (node/invalidation.h); `done` runs on the peer loop with who acked and who did not within
  // `timeout`. Any thread.
  void invalidate_members(const std::string& kind, const std::string& object,
                          std::chrono::milliseconds timeout,
                          std::function<void(InvalidateReport)> done);

  std::shared_ptr<const peer::MembershipView> view() const { return membership_->view(); }
  // "members", "epoch" and peer counters for /stats.
  nlohmann::json stats_json() const;
  // The membership and forwarding families of /metrics.
  void write_metrics(PrometheusWriter& out) const;
  const std::string& self_id() const { return self_id_; }

 private:
  struct HandoffRun;
  void handoff_next(const std::shared_ptr<HandoffRun>& run);

  boost::asio::io_context& loop_;
  ClusterConfig config_;
  std::string self_id_;
  NodeMetrics& metrics_;
  std::unique_ptr<peer::Membership> membership_;
  // Forward deadlines, per-peer latencies and counts; the forward hedge budget (10 s window).
  ForwardPolicy policy_;
  origin::HedgeBudget budget_;
  std::unique_ptr<ForwardClient> client_;
  std::unique_ptr<ForwardServer> server_;
  std::unique_ptr<InvalidationClient> invalidation_client_;
  std::unique_ptr<InvalidationServer> invalidation_server_;
  mutable RingHistory history_;
};

}  // namespace shoal::node
