// One forward with a first-byte deadline and a hedge (node/forward_policy.h): the member asked
// first, and the next member of the page's ranking when the first is slow.
//
// run() asks `first`. When its response head has not come by its first-byte deadline (the
// policy's, for that peer), that is a forward timeout (counted for the peer, which is
// marked slow, ForwardPolicy::slow(), if it still has no head at the ceiling). A member that sent
// a frame for any request since the race began is alive and busy (say, its origin is slow): it
// is not hedged at the deadline, a hedge would only fetch the page from the origin twice. Then:
//   - `hedge` is set (the next member of the ranking, another node): it is asked too, if the
//     hedge budget grants it, else once the first has waited the ceiling with not a frame from
//     that member (for any request) since the race began or the last check: a silent member is
//     treated as failing (the budget bounds only hedges below the ceiling); one that answers
//     others is only slow for this page (say, its origin is) and is checked again a ceiling
//     later. The first head of
//     either (any outcome but kTransportError) wins and the other is cancelled.
//   - no `hedge` (this node ranks next, or nobody does): the same rule decides when the first is
//     given up: it is cancelled and the race ends with kTransportError, so the caller serves the
//     page itself.
// A kTransportError of one leaves the other running (or asks the hedge at once, as a
// failover, when it was not asked yet); the race ends with kTransportError when both failed, or
// when the hedge failed and the first is past the ceiling (it is then cancelled: the caller
// goes on down the ranking rather than wait for a member that slow).
// Hedges are counted for the slow peer.
//
// Thread rules: peer loop only; `done` is posted to the peer loop exactly once.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>

#include "node/forward_policy.h"
#include "node/forwarding.h"
#include "origin/hedge_budget.h"

namespace shoal::node {

struct ForwardRaceDeps {
  boost::asio::io_context& loop;
  ForwardClient& client;
  ForwardPolicy& policy;
  origin::HedgeBudget& budget;
};

class ForwardRace : public std::enable_shared_from_this<ForwardRace> {
 public:
  // `alternates`: where a stalled page stream may resume (ForwardClient::start), after the
  // member asked.
  struct Plan {
    ForwardClient::Peer first;
    std::optional<ForwardClient::Peer> hedge;
    std::vector<ForwardClient::Peer> alternates;  // remote members ranked after `first`
  };

  static void run(ForwardRaceDeps deps, Plan plan, const base::PageKey& key,
                  const FetchOptions& opts, std::uint64_t epoch, PageFetcher::PageHandler done);

  ForwardRace(ForwardRaceDeps deps, Plan plan, const base::PageKey& key, const FetchOptions& opts,
              std::uint64_t epoch, PageFetcher::PageHandler done);

 private:
  struct Runner {
    ForwardClient::Peer peer;
    std::uint64_t id = 0;
    bool started = false;
    bool ended = false;
  };

  void launch(std::size_t i);
  void on_deadline();
  void on_ceiling();
  void arm_ceiling(std::chrono::milliseconds after);
  // The first is slow: hedge (or give it up when there is nothing to hedge to).
  void escalate();
  void on_result(std::size_t i, PageResult r);
  void finish(PageResult r);

  ForwardRaceDeps deps_;
  Plan plan_;
  base::PageKey key_;
  FetchOptions opts_;
  std::uint64_t epoch_;
  PageFetcher::PageHandler done_;
  Runner runners_[2];
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds deadline_{0};
  std::chrono::steady_clock::time_point checked_;  // silence is judged since then
  bool past_ceiling_ = false;  // the first has waited the ceiling without a head
  bool over_ = false;
};

}  // namespace shoal::node
