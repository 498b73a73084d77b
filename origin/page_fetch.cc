// PageFetch: bucket order, fall-through, hedging and the hedge budget; see page_fetch.h.
//
// Life of a fetch (all on the origin loop): fetch_page() posts start() -> start_attempt() (an
// S3Client::get, plus the hedge timer) -> on_hedge_timer() may start the one hedge ->
// on_done() per finished attempt -> win() or on_failure() -> end() (cancels what still runs
// and invokes the handler). Attempts cancelled by end() still come back through on_done() with
// kCancelled, which frees a half-open probe slot and is otherwise ignored.
#include "origin/page_fetch.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

namespace shoal::origin {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxCounterBuckets = 256;  // more buckets share the "_other" counters
const std::string kOtherBucket = "_other";

// Outcomes that are the object's answer and end the fetch at once.
bool ends_fetch(base::Outcome o, std::size_t listed) {
  return o == base::Outcome::kInvalidRange || o == base::Outcome::kPreconditionFailed ||
         (o == base::Outcome::kNotFound && listed == 1);
}

std::vector<std::string> distinct(std::vector<std::string> buckets) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (std::string& b : buckets) {
    if (seen.insert(b).second) out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

std::string_view served_as_name(ServedAs s) {
  switch (s) {
    case ServedAs::kPrimary:
      return "primary";
    case ServedAs::kHedgedWon:
      return "hedged_won";
    case ServedAs::kFallback:
      return "fallback";
  }
  return "unknown";
}

std::optional<std::string> PageFetchOptions::validate() const {
  if (!(hedge_quantile >= 0 && hedge_quantile < 1)) {
    return "hedge_quantile: must be 0 (off) or in (0, 1), got " + std::to_string(hedge_quantile);
  }
  if (auto e = HedgeBudget::validate(hedge_budget, budget_window)) return "hedge_budget " + *e;
  if (!(hedge_min_samples >= 1)) return std::string("hedge_min_samples: must be >= 1");
  if (min_hedge_delay.count() < 0) return std::string("min_hedge_delay: must be >= 0 ms");
  if (!(max_delay_over_median == 0 || max_delay_over_median >= 1)) {
    return std::string("max_delay_over_median: must be 0 (no cap) or >= 1");
  }
  if (auto e = latency.validate()) return e;
  return health.validate();
}

std::optional<std::chrono::microseconds> hedge_delay(const LatencyTracker& latency,
                                                     const std::string& bucket,
                                                     const PageFetchOptions& opts, SteadyTime now) {
  if (opts.hedge_quantile <= 0) return std::nullopt;
  auto est = latency.estimate(bucket, LatencyKind::kPage, opts.hedge_quantile, now);
  if (!est || est->samples < opts.hedge_min_samples) return std::nullopt;
  std::chrono::microseconds delay = est->value;
  if (opts.max_delay_over_median > 0) {
    if (auto median = latency.estimate(bucket, LatencyKind::kPage, 0.5, now)) {
      const double cap = opts.max_delay_over_median * static_cast<double>(median->value.count());
      delay = std::min(delay, std::chrono::microseconds(static_cast<std::int64_t>(cap)));
    }
  }
  return std::max<std::chrono::microseconds>(delay, opts.min_hedge_delay);
}

struct HedgeCounters {
  std::uint64_t sent = 0, won = 0, refused = 0;
};

struct PageFetch::Core {
  Core(boost::asio::io_context& l, S3Client& c, const PageFetchOptions& o)
      : loop(l),
        client(c),
        opts(o),
        latency(o.latency),
        health(o.health, &latency),
        budget(o.hedge_budget, o.budget_window) {}

  // Adds one to a hedge counter of `bucket` (or of "_other" past kMaxCounterBuckets buckets).
  void count(const std::string& bucket, std::uint64_t HedgeCounters::*field) {
    std::lock_guard lock(mu);
    auto it = counters.find(bucket);
    if (it == counters.end()) {
      const bool full = counters.size() >= kMaxCounterBuckets;
      it = counters.try_emplace(full ? kOtherBucket : bucket).first;
    }
    (it->second.*field)++;
  }

  HedgeCounters counters_of(const std::string& bucket) const {
    std::lock_guard lock(mu);
    auto it = counters.find(bucket);
    return it == counters.end() ? HedgeCounters{} : it->second;
  }

  std::optional<std::chrono::microseconds> hedge_delay(const std::string& bucket,
                                                       SteadyTime now) const {
    return origin::hedge_delay(latency, bucket, opts, now);
  }

  boost::asio::io_context& loop;
  S3Client& client;
  const PageFetchOptions opts;
  LatencyTracker latency;
  BucketHealth health;
  HedgeBudget budget;
  mutable std::mutex mu;  // guards counters
  std::map<std::string, HedgeCounters> counters;
};

struct PageFetch::Fetch : std::enable_shared_from_this<Fetch> {
  struct Running {
    std::uint64_t id;     // S3Client operation
    std::size_t index;    // into order
    std::size_t attempt;  // into result.attempts
    bool hedge;
    bool probe;  // the bucket's half-open probe
  };

  explicit Fetch(std::shared_ptr<Core> c) : core(std::move(c)), hedge_timer(core->loop) {}

  void start(std::vector<std::string> buckets) {
    listed = distinct(std::move(buckets));
    if (listed.empty()) {
      GetResult r;
      r.outcome = base::Outcome::kMalformed;
      r.message = "bad request: no bucket";
      return end(std::move(r), "", ServedAs::kPrimary);
    }
    order = core->health.order(listed, Clock::now());
    tried.assign(order.size(), false);
    start_attempt(0, /*hedge=*/false);
  }

  void start_attempt(std::size_t index, bool hedge) {
    const SteadyTime now = Clock::now();
    const std::string& bucket = order[index];
    tried[index] = true;
    const bool probe = core->health.begin_attempt(bucket, now);
    if (!hedge) core->budget.record_request(now);
    GetRequest req = base;
    req.bucket = bucket;
    const std::size_t attempt = result.attempts.size();
    result.attempts.push_back(AttemptRecord{bucket, base::Outcome::kCancelled, hedge});
    const std::uint64_t id =
        core->client.get(std::move(req), [self = shared_from_this(), attempt](GetResult r) {
          self->on_done(attempt, std::move(r));
        });
    running.push_back(Running{id, index, attempt, hedge, probe});
    if (!hedge) arm_hedge(bucket, now);
  }

  // (Re)arms the hedge timer for the attempt just started on `bucket`; a timer armed for an
  // earlier attempt is made stale either way.
  void arm_hedge(const std::string& bucket, SteadyTime now) {
    ++timer_generation;
    hedge_timer.cancel();
    if (hedged) return;
    auto delay = core->hedge_delay(bucket, now);
    if (!delay) return;
    hedge_timer.expires_after(*delay);
    hedge_timer.async_wait(
        [self = shared_from_this(), generation = timer_generation](boost::system::error_code ec) {
          if (!ec) self->on_hedge_timer(generation);
        });
  }

  void on_hedge_timer(std::uint64_t generation) {
    if (finished || hedged || generation != timer_generation || running.size() != 1) return;
    const Running slow = running.front();
    const std::string slow_bucket = order[slow.index];
    if (!core->budget.try_acquire(Clock::now())) {
      core->count(slow_bucket, &HedgeCounters::refused);
      return;
    }
    hedged = true;
    hedged_bucket = slow_bucket;
    core->count(slow_bucket, &HedgeCounters::sent);
    start_attempt(next_untried(/*healthy_only=*/true).value_or(slow.index), /*hedge=*/true);
  }

  std::optional<std::size_t> next_untried(bool healthy_only) const {
    const SteadyTime now = Clock::now();
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (tried[i]) continue;
      if (!healthy_only || core->health.state(order[i], now) == BreakerState::kClosed) return i;
    }
    return std::nullopt;
  }

  void on_done(std::size_t attempt, GetResult r) {
    auto it = std::find_if(running.begin(), running.end(),
                           [attempt](const Running& a) { return a.attempt == attempt; });
    if (it == running.end()) return;
    const Running a = *it;
    running.erase(it);
    const std::string bucket = order[a.index];
    const SteadyTime now = Clock::now();
    // A request S3Client refused to send (attempts == 0) says nothing about the bucket.
    const bool sent = r.attempts > 0 || r.outcome == base::Outcome::kOk;
    core->health.end_attempt(bucket, sent ? r.outcome : base::Outcome::kCancelled, a.probe, now);
    if (r.outcome == base::Outcome::kOk) {
      core->latency.record(bucket, r.first_byte_latency, r.total_latency, now);
    }
    if (finished) return;
    result.attempts[a.attempt].outcome = r.outcome;
    if (r.outcome == base::Outcome::kOk) return win(a, std::move(r));
    on_failure(a, std::move(r));
  }

  void win(const Running& a, GetResult r) {
    ServedAs served = order[a.index] == listed.front() ? ServedAs::kPrimary : ServedAs::kFallback;
    if (a.hedge) {
      served = ServedAs::kHedgedWon;
      core->count(hedged_bucket, &HedgeCounters::won);
    }
    end(std::move(r), order[a.index], served);
  }

  void on_failure(const Running& a, GetResult r) {
    const std::string& bucket = order[a.index];
    // A cancel we did not ask for (the client is shutting down), or a request that cannot be
    // sent to any bucket (S3Client rejected it before sending: attempts == 0).
    const bool unsendable = r.outcome == base::Outcome::kMalformed && r.attempts == 0;
    if (r.outcome == base::Outcome::kCancelled || unsendable ||
        ends_fetch(r.outcome, listed.size())) {
      return end(std::move(r), bucket, ServedAs::kPrimary);
    }
    if (!failure || r.outcome != base::Outcome::kNotFound ||
        failure->first.outcome == base::Outcome::kNotFound) {
      failure.emplace(std::move(r), bucket);
    }
    if (!running.empty()) return;  // the other attempt may still deliver
    if (auto next = next_untried(/*healthy_only=*/false)) return start_attempt(*next, false);
    end(std::move(failure->first), failure->second, ServedAs::kPrimary);
  }

  void end(GetResult r, std::string bucket, ServedAs served) {
    finished = true;
    hedge_timer.cancel();
    for (const Running& other : running) core->client.cancel(other.id);
    result.get = std::move(r);
    result.bucket = std::move(bucket);
    result.served_as = served;
    Handler handler = std::move(done);
    handler(std::move(result));
  }

  std::shared_ptr<Core> core;
  GetRequest base;  // everything but the bucket
  Handler done;
  std::vector<std::string> listed;  // distinct, client order
  std::vector<std::string> order;   // health order
  std::vector<bool> tried;          // by index into order
  boost::asio::steady_timer hedge_timer;
  std::uint64_t timer_generation = 0;
  std::vector<Running> running;
  bool hedged = false;
  bool finished = false;
  std::string hedged_bucket;
  std::optional<std::pair<GetResult, std::string>> failure;  // to report, with its bucket
  PageFetchResult result;
};

PageFetch::PageFetch(boost::asio::io_context& loop, S3Client& client, PageFetchOptions opts) {
  if (auto e = opts.validate()) throw std::invalid_argument(*e);
  core_ = std::make_shared<Core>(loop, client, opts);
}

PageFetch::~PageFetch() = default;

void PageFetch::fetch_page(std::vector<std::string> buckets, std::string key, std::uint64_t offset,
                           std::uint64_t length, RequestConfig config, std::string if_match,
                           Handler done) {
  auto f = std::make_shared<Fetch>(core_);
  f->base.key = std::move(key);
  f->base.offset = offset;
  f->base.length = length;
  f->base.if_match = std::move(if_match);
  f->base.config = config;
  f->done = std::move(done);
  boost::asio::post(core_->loop,
                    [f, buckets = std::move(buckets)]() mutable { f->start(std::move(buckets)); });
}

std::vector<BucketReport> PageFetch::report() const {
  const SteadyTime now = Clock::now();
  std::set<std::string> names;
  for (std::string& b : core_->latency.buckets()) names.insert(std::move(b));
  for (auto& h : core_->health.snapshot_all(now)) names.insert(std::move(h.bucket));
  for (std::string& b : core_->latency.peer_buckets()) names.insert(std::move(b));
  for (std::string& b : core_->health.peer_buckets()) names.insert(std::move(b));
  {
    std::lock_guard lock(core_->mu);
    for (const auto& [b, c] : core_->counters) names.insert(b);
  }
  std::vector<BucketReport> out;
  for (const std::string& name : names) {
    BucketReport r;
    r.bucket = name;
    r.latency_samples = core_->latency.local_samples(name, now);
    auto q = [&](LatencyKind kind, double quantile) -> std::optional<std::chrono::microseconds> {
      auto est = core_->latency.estimate(name, kind, quantile, now);
      if (!est) return std::nullopt;
      if (kind == LatencyKind::kPage && est->with_peers) r.latency_with_peers = true;
      return est->value;
    };
    r.first_byte_p50 = q(LatencyKind::kFirstByte, 0.5);
    r.first_byte_p99 = q(LatencyKind::kFirstByte, 0.99);
    r.page_p50 = q(LatencyKind::kPage, 0.5);
    r.page_p99 = q(LatencyKind::kPage, 0.99);
    r.hedge_delay = core_->hedge_delay(name, now);
    if (auto h = core_->health.snapshot(name, now)) {
      r.error_rate = h->error_rate;
      r.breaker = h->breaker;
      r.consecutive_failures = h->consecutive_failures;
    }
    r.effective_error_rate = core_->health.effective_error_rate(name, now);
    if (auto p50 = core_->latency.peer_estimate(name, LatencyKind::kPage, 0.5, now)) {
      r.peer_latency_samples = p50->samples;
      r.peer_page_p50 = p50->value;
      if (auto p99 = core_->latency.peer_estimate(name, LatencyKind::kPage, 0.99, now)) {
        r.peer_page_p99 = p99->value;
      }
    }
    if (auto p = core_->health.peer_rate(name, now)) {
      r.peer_count = p->peers;
      r.peer_error_rate = p->error_rate;
      r.peer_evidence = p->evidence;
      r.errors_with_peers = p->blended;
    }
    const HedgeCounters c = core_->counters_of(name);
    r.hedges_sent = c.sent;
    r.hedges_won = c.won;
    r.hedges_refused = c.refused;
    out.push_back(std::move(r));
  }
  return out;
}

std::uint64_t PageFetch::hedges_sent() const {
  return core_->budget.granted();
}
std::uint64_t PageFetch::hedges_refused() const {
  return core_->budget.refused();
}
S3Client& PageFetch::client() {
  return core_->client;
}
LatencyTracker& PageFetch::latency() {
  return core_->latency;
}
BucketHealth& PageFetch::health() {
  return core_->health;
}
const PageFetchOptions& PageFetch::options() const {
  return core_->opts;
}

}  // namespace shoal::origin
