// One PageFetch::fetch_page() call: its attempts across buckets, the hedge, resumes and the
// page's bytes. See page_fetch.h for the rules; this is how they run.
//
// Life of a fetch (all on the origin loop): fetch_page() posts start() -> start_attempt() (an
// S3Client::stream, plus the first-byte hedge timer) -> each attempt's head goes through
// on_head(): the first one fixes the object and gets the destination from the sink, later ones
// must match it -> the attempt that owns the page (the first head, or a resume that took over)
// copies its bytes in on_data() and re-arms the stall watch -> on_hedge_timer() / on_stall() may
// start the one hedge (from the start, or resuming after the bytes written) -> on_done() per
// finished attempt -> win() or on_failure() (a fallback resumes on the next bucket) -> end()
// cancels what still runs and invokes the handler. Attempts cancelled by end() or that lost
// ownership still come back through on_done() (kCancelled), which frees a half-open probe slot
// and is otherwise ignored.
//
// Never a mixed byte: only the owner writes, each byte once, in order; every head after the
// first must carry the first's ETag and size (and every attempt after a head asks with If-Match
// on that ETag), or that attempt is refused.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <set>

#include "origin/page_fetch.h"
#include "origin/page_fetch_core.h"

namespace shoal::origin {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kNone = ~std::size_t{0};

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

struct PageFetch::Fetch : std::enable_shared_from_this<Fetch> {
  enum class Kind { kFirst, kFallback, kHedge };
  struct Running {
    std::uint64_t id;     // S3Client operation
    std::size_t index;    // into order
    std::size_t attempt;  // into result.attempts
    Kind kind;
    bool probe;           // the bucket's half-open probe
    std::uint64_t start;  // bytes of the page written when it started (its resume point)
  };

  explicit Fetch(std::shared_ptr<Core> c)
      : core(std::move(c)), hedge_timer(core->loop), stall_timer(core->loop) {}

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
    start_attempt(0, Kind::kFirst);
  }

  // ---- attempts -------------------------------------------------------------------------------

  // Starts an attempt on order[index] for the bytes not written yet.
  void start_attempt(std::size_t index, Kind kind) {
    const SteadyTime now = Clock::now();
    const std::string& bucket = order[index];
    tried[index] = true;
    const bool probe = core->health.begin_attempt(bucket, now);
    if (kind != Kind::kHedge) core->budget.record_request(now);
    GetRequest req = base;
    req.bucket = bucket;
    req.offset = base.offset + written;
    req.length = (have_head ? length : base.length) - written;
    if (have_head) req.if_match = info.etag;
    const std::size_t attempt = result.attempts.size();
    result.attempts.push_back(
        AttemptRecord{bucket, base::Outcome::kCancelled, kind == Kind::kHedge});
    GetSink sink;
    sink.on_head = [this, attempt](const ObjectInfo& i, std::uint64_t first, std::uint64_t last) {
      return on_head(attempt, i, first, last);
    };
    sink.on_data = [this, attempt](std::uint64_t at, std::string_view bytes) {
      return on_data(attempt, at, bytes);
    };
    const std::uint64_t id = core->client.stream(std::move(req), std::move(sink),
                                                 [self = shared_from_this(), attempt](GetResult r) {
                                                   self->on_done(attempt, std::move(r));
                                                 });
    running.push_back(Running{id, index, attempt, kind, probe, written});
    if (kind != Kind::kHedge && !have_head) arm_hedge(bucket, now);
  }

  Running* find_running(std::size_t attempt) {
    auto it = std::find_if(running.begin(), running.end(),
                           [attempt](const Running& a) { return a.attempt == attempt; });
    return it == running.end() ? nullptr : &*it;
  }

  // An attempt's validated head (inside curl's callbacks; `this` is alive: the S3Client
  // operation holds a reference through its done handler).
  bool on_head(std::size_t attempt, const ObjectInfo& i, std::uint64_t first, std::uint64_t last) {
    if (finished || find_running(attempt) == nullptr) return stop(attempt);
    if (!have_head) {
      length = last - base.offset + 1;
      dest = sink.on_head(i, length, order[find_running(attempt)->index]);
      if (dest == nullptr) {
        refused = true;
        return false;
      }
      have_head = true;
      info = i;
    } else if (i.etag != info.etag || i.size != info.size || last != base.offset + length - 1 ||
               first > base.offset + written) {
      mismatched.insert(attempt);  // another version in this bucket, or a range that does not fit
      return stop(attempt);
    }
    if (owner != kNone && owner != attempt) {
      // Ownership moves only to the hedge of a stalled owner; a late duplicate loses.
      if (find_running(attempt)->kind != Kind::kHedge || !stalled) return stop(attempt);
    }
    owner = attempt;
    hedge_timer.cancel();
    for (const Running& other : running) {
      if (other.attempt != attempt) stop(other.attempt, other.id);
    }
    watch_stall();
    return true;
  }

  // Marks an attempt as stopped by this fetch (its failure is no verdict on its bucket and does
  // not end the fetch) and cancels it when `id` is given. Returns false (for the sink).
  bool stop(std::size_t attempt, std::optional<std::uint64_t> id = std::nullopt) {
    stopped.insert(attempt);
    if (id) core->client.cancel(*id);
    return false;
  }

  // Body bytes of an attempt: copied by the owner only, each byte of the page once.
  bool on_data(std::size_t attempt, std::uint64_t at, std::string_view bytes) {
    if (finished || attempt != owner) return false;
    const std::uint64_t end = base.offset + written;
    if (at > end || at + bytes.size() > base.offset + length) return false;
    const std::uint64_t skip = std::min<std::uint64_t>(end - at, bytes.size());
    std::memcpy(dest + written, bytes.data() + skip, bytes.size() - skip);
    written += bytes.size() - skip;
    last_progress = Clock::now();
    stalled = false;
    if (skip < bytes.size()) sink.on_progress(written);
    return true;
  }

  // ---- hedging --------------------------------------------------------------------------------

  // Arms the first-byte hedge for the attempt just started on `bucket` (an earlier timer is
  // made stale either way).
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
    if (finished || hedged || have_head || generation != timer_generation || running.size() != 1) {
      return;
    }
    hedge(running.front());
  }

  // Watches the owner for a stall: a gap between body bytes longer than its bucket's hedge
  // delay. Re-armed lazily: the timer fires at most once per delay, not per write.
  void watch_stall() {
    if (hedged || owner == kNone) return;
    const Running* r = find_running(owner);
    if (r == nullptr) return;
    auto delay = core->hedge_delay(order[r->index], Clock::now());
    if (!delay) return;
    stall_delay = *delay;
    last_progress = Clock::now();
    arm_stall(stall_delay);
  }

  void arm_stall(Clock::duration after) {
    stall_timer.expires_after(after);
    stall_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->on_stall();
    });
  }

  void on_stall() {
    if (finished || hedged || owner == kNone || written == length) return;
    const Clock::time_point due = last_progress + stall_delay;
    if (Clock::now() < due) return arm_stall(due - Clock::now());
    const Running* slow = find_running(owner);
    if (slow == nullptr || running.size() != 1) return;
    stalled = true;
    hedge(*slow);
  }

  // The one hedge of this fetch, for `slow`: on the next untried healthy bucket, else the same
  // one; it resumes after the bytes written so far.
  void hedge(const Running& slow) {
    const std::string slow_bucket = order[slow.index];
    if (!core->budget.try_acquire(Clock::now())) {
      core->count(slow_bucket, &HedgeCounters::refused);
      return;
    }
    hedged = true;
    hedged_bucket = slow_bucket;
    core->count(slow_bucket, &HedgeCounters::sent);
    start_attempt(next_untried(/*healthy_only=*/true).value_or(slow.index), Kind::kHedge);
  }

  std::optional<std::size_t> next_untried(bool healthy_only) const {
    const SteadyTime now = Clock::now();
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (tried[i]) continue;
      if (!healthy_only || core->health.state(order[i], now) == BreakerState::kClosed) return i;
    }
    return std::nullopt;
  }

  // ---- endings --------------------------------------------------------------------------------

  void on_done(std::size_t attempt, GetResult r) {
    Running* found = find_running(attempt);
    if (found == nullptr) return;
    const Running a = *found;
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(found - running.data()));
    const std::string bucket = order[a.index];
    const SteadyTime now = Clock::now();
    gets += static_cast<std::uint64_t>(r.attempts);
    // Attempts this fetch stopped, and requests S3Client refused to send (attempts == 0), say
    // nothing about their bucket.
    const bool was_stopped = stopped.count(attempt) > 0 && r.outcome != base::Outcome::kOk;
    const bool unsent = r.attempts == 0 && r.outcome != base::Outcome::kOk;
    // Nor does a timeout under a C0-Config that shortened the node's timeouts (the client's
    // choice): otherwise one client could open the breaker for everyone.
    const bool client_timeout = r.outcome == base::Outcome::kTimeout && base.config.client_timeouts;
    core->health.end_attempt(
        bucket, was_stopped || unsent || client_timeout ? base::Outcome::kCancelled : r.outcome,
        a.probe, now);
    if (r.outcome == base::Outcome::kOk && a.start == 0) {
      core->latency.record(bucket, r.first_byte_latency, r.total_latency, now);
    }
    if (finished) return;
    result.attempts[a.attempt].outcome = r.outcome;
    if (attempt == owner) {
      owner = kNone;
      if (r.outcome == base::Outcome::kOk && written == length) return win(a, std::move(r));
    }
    if (refused) {
      r.outcome = base::Outcome::kPreconditionFailed;
      r.message = "the page was refused by its reader";
      return end(std::move(r), bucket, ServedAs::kPrimary);
    }
    if (was_stopped) {
      return go_on(mismatched.count(attempt) ? mismatch_failure(bucket) : std::nullopt);
    }
    on_failure(a, std::move(r));
  }

  // The failure to report for a bucket whose head described another version of the object.
  std::optional<std::pair<GetResult, std::string>> mismatch_failure(const std::string& bucket) {
    GetResult f;
    f.outcome = base::Outcome::kPreconditionFailed;
    f.message = "bucket " + bucket + " holds another version of the object";
    return std::make_pair(std::move(f), bucket);
  }

  void win(const Running& a, GetResult r) {
    ServedAs served = order[a.index] == listed.front() ? ServedAs::kPrimary : ServedAs::kFallback;
    if (a.kind == Kind::kHedge) {
      served = ServedAs::kHedgedWon;
      core->count(hedged_bucket, &HedgeCounters::won);
    }
    r.info = info;
    end(std::move(r), order[a.index], served);
  }

  void on_failure(const Running& a, GetResult r) {
    const std::string& bucket = order[a.index];
    const bool unsendable = r.outcome == base::Outcome::kMalformed && r.attempts == 0;
    if (unsendable || r.outcome == base::Outcome::kCancelled ||
        ends_fetch(r.outcome, listed.size())) {
      return end(std::move(r), bucket, ServedAs::kPrimary);
    }
    go_on(std::make_pair(std::move(r), bucket));
  }

  // After a failed or stopped attempt: keep `f` as the failure to report (a NoSuchKey does not
  // replace another failure), then wait for a running attempt, or fall back to the next untried
  // bucket (resuming after the bytes written), or end with the failure.
  void go_on(std::optional<std::pair<GetResult, std::string>> f) {
    if (f && (!failure || f->first.outcome != base::Outcome::kNotFound ||
              failure->first.outcome == base::Outcome::kNotFound)) {
      failure = std::move(f);
    }
    if (!running.empty()) return;
    if (auto next = next_untried(/*healthy_only=*/false)) {
      return start_attempt(*next, Kind::kFallback);
    }
    if (!failure) {
      GetResult r;
      r.outcome = base::Outcome::kCancelled;
      r.message = "every attempt was stopped";
      return end(std::move(r), "", ServedAs::kPrimary);
    }
    end(std::move(failure->first), failure->second, ServedAs::kPrimary);
  }

  void end(GetResult r, std::string bucket, ServedAs served) {
    finished = true;
    core->live.erase(id);
    hedge_timer.cancel();
    stall_timer.cancel();
    for (const Running& other : running) core->client.cancel(other.id);
    r.delivered = written;
    result.get = std::move(r);
    result.bucket = std::move(bucket);
    result.served_as = served;
    result.gets = gets;
    Handler handler = std::move(done);
    handler(std::move(result));
  }

  std::shared_ptr<Core> core;
  std::uint64_t id = 0;  // for PageFetch::cancel
  GetRequest base;       // everything but the bucket
  PageSink sink;
  Handler done;
  std::vector<std::string> listed;  // distinct, client order
  std::vector<std::string> order;   // health order
  std::vector<bool> tried;          // by index into order
  boost::asio::steady_timer hedge_timer;
  boost::asio::steady_timer stall_timer;
  std::uint64_t timer_generation = 0;
  std::vector<Running> running;
  // The page: fixed by the first validated head.
  bool have_head = false;
  ObjectInfo info;
  std::uint64_t length = 0;          // bytes of [offset, offset + length) the object holds
  char* dest = nullptr;              // where they go (the sink's)
  std::uint64_t written = 0;         // bytes of it written, in order
  std::size_t owner = kNone;         // the attempt whose bytes are written
  bool refused = false;              // the sink refused the head
  std::set<std::size_t> mismatched;  // attempts whose head described another version
  std::set<std::size_t> stopped;     // attempts this fetch stopped (cancelled or refused)
  bool stalled = false;              // the owner stalled and a hedge went out for it
  Clock::time_point last_progress;
  Clock::duration stall_delay{};
  bool hedged = false;
  bool finished = false;
  std::uint64_t gets = 0;  // origin GET requests sent (S3Client attempts)
  std::string hedged_bucket;
  std::optional<std::pair<GetResult, std::string>> failure;  // to report, with its bucket
  PageFetchResult result;
};

std::uint64_t PageFetch::fetch_page(std::vector<std::string> buckets, std::string key,
                                    std::uint64_t offset, std::uint64_t length,
                                    RequestConfig config, std::string if_match, PageSink sink,
                                    Handler done) {
  auto f = std::make_shared<Fetch>(core_);
  f->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  f->base.key = std::move(key);
  f->base.offset = offset;
  f->base.length = length;
  f->base.if_match = std::move(if_match);
  f->base.config = config;
  f->sink = std::move(sink);
  f->done = std::move(done);
  boost::asio::post(core_->loop, [f, buckets = std::move(buckets)]() mutable {
    f->core->live.emplace(f->id, f);
    f->start(std::move(buckets));
  });
  return f->id;
}

void PageFetch::cancel(std::uint64_t id) {
  boost::asio::post(core_->loop, [core = core_, id] {
    auto it = core->live.find(id);
    if (it == core->live.end()) return;
    if (auto f = it->second.lock(); f && !f->finished) {
      GetResult r;
      r.outcome = base::Outcome::kCancelled;
      r.message = "cancelled";
      f->end(std::move(r), "", ServedAs::kPrimary);
    }
  });
}

}  // namespace shoal::origin
