#include "node/forward_race.h"

#include <boost/asio/post.hpp>

namespace shoal::node {
namespace net = boost::asio;

void ForwardRace::run(ForwardRaceDeps deps, Plan plan, const base::PageKey& key,
                      const FetchOptions& opts, std::uint64_t epoch,
                      PageFetcher::PageHandler done) {
  auto race =
      std::make_shared<ForwardRace>(deps, std::move(plan), key, opts, epoch, std::move(done));
  race->deadline_ = deps.policy.deadline(race->plan_.first.id);
  race->checked_ = std::chrono::steady_clock::now();
  race->launch(0);
  race->timer_.expires_after(race->deadline_);
  race->timer_.async_wait([weak = std::weak_ptr<ForwardRace>(race)](boost::system::error_code ec) {
    if (auto r = weak.lock(); r && !ec) r->on_deadline();
  });
}

ForwardRace::ForwardRace(ForwardRaceDeps deps, Plan plan, const base::PageKey& key,
                         const FetchOptions& opts, std::uint64_t epoch,
                         PageFetcher::PageHandler done)
    : deps_(deps),
      plan_(std::move(plan)),
      key_(key),
      opts_(opts),
      epoch_(epoch),
      done_(std::move(done)),
      timer_(deps.loop) {
  runners_[0].peer = plan_.first;
  if (plan_.hedge) runners_[1].peer = *plan_.hedge;
}

void ForwardRace::launch(std::size_t i) {
  Runner& r = runners_[i];
  r.started = true;
  // A hedge resumes a stalled stream from the members after it, the first from the hedge on.
  std::vector<ForwardClient::Peer> alternates;
  for (const auto& p : plan_.alternates) {
    if (p.id != r.peer.id) alternates.push_back(p);
  }
  if (i == 0) deps_.budget.record_request(std::chrono::steady_clock::now());
  // The race keeps itself alive through its runners' handlers.
  r.id = deps_.client.start(
      r.peer, key_, opts_, epoch_, std::move(alternates), deps_.loop.get_executor(),
      [self = shared_from_this(), i](PageResult res) { self->on_result(i, std::move(res)); });
}

void ForwardRace::on_deadline() {
  if (over_ || runners_[0].ended) return;
  deps_.policy.count_timeout(plan_.first.id);
  const auto ceiling = deps_.policy.config().ceiling;
  if (deadline_ >= ceiling) return on_ceiling();
  // A peer that answered others since is alive and busy (its origin, say): not hedged now (a
  // hedge would fetch the page from the origin twice); the ceiling judges it again. A silent
  // one is hedged now if the budget grants it; either way the ceiling judges it again.
  const auto now = std::chrono::steady_clock::now();
  if (deps_.client.heard_since(plan_.first.addr, checked_)) {
    checked_ = now;
  } else if (deps_.budget.try_acquire(now)) {
    escalate();
  }
  if (over_) return;
  arm_ceiling(ceiling - deadline_);
}

void ForwardRace::arm_ceiling(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto r = weak.lock(); r && !ec) r->on_ceiling();
  });
}

void ForwardRace::on_ceiling() {
  if (over_ || runners_[0].ended) return;
  const auto now = std::chrono::steady_clock::now();
  if (deps_.client.heard_since(plan_.first.addr, checked_)) {
    // Alive and answering others: slow for this page only. Judged again a ceiling later.
    checked_ = now;
    return arm_ceiling(deps_.policy.config().ceiling);
  }
  past_ceiling_ = true;
  deps_.policy.mark_slow(plan_.first.id);
  escalate();
}

void ForwardRace::escalate() {
  if (!plan_.hedge || (past_ceiling_ && runners_[1].ended)) {
    // This node (or nobody) ranks next: the caller serves the page itself.
    PageResult r;
    r.outcome = base::Outcome::kTransportError;
    r.message = "peer: " + plan_.first.id + " sent no head within " +
                std::to_string(deadline_.count()) + " ms";
    return finish(std::move(r));
  }
  if (runners_[1].started) return;
  deps_.policy.count_hedge(plan_.first.id);
  launch(1);
}

void ForwardRace::on_result(std::size_t i, PageResult r) {
  Runner& me = runners_[i];
  me.ended = true;
  if (over_) {
    deps_.client.cancel(me.id);  // a loser whose head came late: its stream is not wanted
    return;
  }
  if (r.outcome != base::Outcome::kTransportError) return finish(std::move(r));
  Runner& other = runners_[1 - i];
  if (i == 0 && plan_.hedge && !other.started) {
    launch(1);  // failover at once: the first cannot be reached
    return;
  }
  // The other may still answer, unless it is the first and has waited the ceiling already.
  if (other.started && !other.ended && !(i == 1 && past_ceiling_)) return;
  finish(std::move(r));
}

void ForwardRace::finish(PageResult r) {
  over_ = true;
  timer_.cancel();
  for (Runner& runner : runners_) {
    if (runner.started && !runner.ended) deps_.client.cancel(runner.id);
  }
  net::post(deps_.loop,
            [done = std::move(done_), r = std::move(r)]() mutable { done(std::move(r)); });
}

}  // namespace shoal::node
