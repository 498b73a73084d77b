// One page from a list of redundant buckets: tried in health order, hedged at the tail, under a
// hedge budget. The node's page fetcher makes one fetch_page() call per miss; everything about
// buckets, breakers, latency and hedging lives here.
//
// fetch_page(buckets, key, offset, length, config, if_match, sink, done) streams bytes
// [offset, offset + length) of the object (clamped at its end) into the sink's buffer:
//   1. The distinct buckets are ordered by BucketHealth::order (preference order, demoted by an
//      open breaker, error rate and latency) and the first is tried: one S3Client::stream with
//      `config` (its own retries, which resume after the bytes delivered).
//   2. The first validated head fixes the object (size, ETag, Last-Modified) and how many bytes
//      the range holds; the sink's on_head() gives the buffer for them (or refuses: the fetch
//      ends with kPreconditionFailed). Every later head (hedge, fallback, resume) must carry the
//      same ETag and size, and every request after the first head carries If-Match on that
//      ETag; an attempt with another version is stopped and the fetch goes on without it.
//      Exactly one attempt at a time, the owner, writes: each byte once, in order, reported to
//      on_progress() as it lands, so readers may stream it before the page is complete.
//   3. Hedging (Dean and Barroso, "The Tail at Scale", CACM 2013), at most one hedge per fetch,
//      if the HedgeBudget grants it (else the refusal is counted), on the next bucket in the
//      order not yet tried whose breaker is closed, else on the same bucket:
//      - first byte: no head within the bucket's hedge delay -> a second attempt for the same
//        bytes; the first head to validate owns the page and the other is cancelled at once;
//      - stall: the owner's body has not moved for a hedge delay -> an attempt resuming after the
//        bytes written; when its head validates (and the owner has not moved meanwhile) it takes
//        over and the stalled one is cancelled.
//      The hedge delay is the bucket's hedge_quantile first-byte latency (LatencyTracker; only
//      once it has hedge_min_samples samples; hedge_quantile 0 disables), but at most
//      max_delay_over_median times its median: a quantile that far above the median sits inside
//      a stall mode (say 2% of requests stalled for seconds, with Q = 0.99), and waiting that
//      long would never cut the stalls it exists for; worse, the stalls would then keep being
//      recorded and hold the quantile there. Below the cap the delay is the plain quantile.
//   4. The owner's kOk with every byte written wins: every other attempt is cancelled
//      (S3Client::cancel: its transfer is removed and its connection closed) and `done` runs.
//   5. A failed attempt while another runs: wait for that one. Otherwise the next untried bucket
//      in the order is tried from the bytes written on (a fallback; it may be hedged if no hedge
//      was sent yet). The fetch ends with the failure when no bucket is left. At most two
//      attempts run at once.
//   Object answers: InvalidRange and PreconditionFailed end the fetch at once (other attempts
//   cancelled), and so does a request S3Client rejects before sending it (kMalformed with
//   attempts == 0: bad length or config; it does not count against the bucket). NoSuchKey
//   falls through to the next bucket only when several buckets are listed (a migration from an
//   old bucket to a new one); with one bucket it ends the fetch. When every bucket failed, the
//   reported failure is the last one that is not NoSuchKey (so "not found in A, 503 in B" is a
//   503, not a 404), or NoSuchKey when every bucket said so. A failure may come after bytes were
//   written and reported: the caller must then drop what it has (never serve a partial page).
//   Every finished attempt feeds BucketHealth (its verdict) and, when kOk and it started at the
//   range's start, the LatencyTracker (first_byte_latency and total_latency of that attempt).
//   An attempt this fetch stopped is not a latency sample nor a verdict (it is censored:
//   recording it would pull the hedge delay towards the stalls it cuts).
//
// The result names the bucket that served and how:
//   primary     the page came from the client's first-listed bucket, not through a hedge;
//   hedged_won  the hedge attempt delivered it (whatever its bucket);
//   fallback    another bucket delivered it, not through a hedge (the first was down, its
//               breaker open, it had no such key, ...).
// Hedge counters (sent, won, refused) are kept per bucket of the attempt that was slow.
//
// Thread rules: fetch_page() and report() may be called from any thread. fetch_page posts to the
// origin loop (the io_context the S3Client runs on) and all fetch work runs there; `done` is
// invoked exactly once, on the origin loop, never inside fetch_page. When the S3Client is
// destroyed first, outstanding fetches end with kCancelled. Destroy PageFetch on the origin loop's
// thread or after the loop has stopped.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "origin/bucket_health.h"
#include "origin/hedge_budget.h"
#include "origin/latency_tracker.h"
#include "origin/s3_client.h"

namespace shoal::origin {

enum class ServedAs { kPrimary, kHedgedWon, kFallback };

// "primary", "hedged_won", "fallback" (for /metrics labels).
std::string_view served_as_name(ServedAs s);

struct PageFetchOptions {
  double hedge_quantile = 0.99;                  // 0 disables, else in (0, 1)
  double hedge_budget = 0.05;                    // hedges per request, [0, 1]
  std::chrono::seconds budget_window{10};        // sliding window of the budget
  double hedge_min_samples = 20;                 // latency samples a bucket needs before hedging
  std::chrono::milliseconds min_hedge_delay{1};  // floor under the hedge delay
  double max_delay_over_median = 20;             // cap: hedge delay <= this x the median; 0: no cap
  LatencyOptions latency;
  HealthOptions health;

  // "field: reason" naming the first invalid field of this struct (or of latency / health),
  // else nullopt.
  std::optional<std::string> validate() const;
};

// The delay after which an attempt on `bucket` is hedged, as of `now` (see step 3 above): the
// hedge_quantile first-byte latency capped at max_delay_over_median times the median, at least
// min_hedge_delay; also the longest gap between body bytes before a stall is hedged. nullopt when
// hedging is off (hedge_quantile 0) or the bucket has fewer than hedge_min_samples samples.
std::optional<std::chrono::microseconds> hedge_delay(const LatencyTracker& latency,
                                                     const std::string& bucket,
                                                     const PageFetchOptions& opts, SteadyTime now);

// One attempt of a fetch, for per-attempt metrics.
struct AttemptRecord {
  std::string bucket;
  base::Outcome outcome =
      base::Outcome::kCancelled;  // kCancelled also for losers cancelled at the end
  bool hedge = false;
};

// Where fetch_page() puts the bytes. Both run on the origin loop, inside curl's callbacks: they
// must not block or call PageFetch or S3Client.
struct PageSink {
  // The first validated head: the object, `length`, the bytes of the asked range it holds
  // (clamped at its end), and the bucket that answered. Return where those `length` bytes go
  // (valid until `done` ran), or nullptr to refuse the page (the fetch ends with
  // kPreconditionFailed).
  std::function<char*(const ObjectInfo& info, std::uint64_t length, const std::string& bucket)>
      on_head;
  // Bytes [0, written) of the destination are final (written grows; at most `length`).
  std::function<void(std::uint64_t written)> on_progress;
};

struct PageFetchResult {
  GetResult get;       // the winner's outcome and info (kOk; get.delivered == length), or the
                       // reported failure (get.delivered: bytes written before it)
  std::string bucket;  // the bucket that served, or whose failure is reported ("" if none tried)
  ServedAs served_as = ServedAs::kPrimary;  // meaningful when get.outcome == kOk
  std::vector<AttemptRecord> attempts;      // in start order
  std::uint64_t gets = 0;                   // origin GET requests sent, retries included
};

// One bucket's figures for /stats and /metrics. The quantiles, hedge delay and
// effective_error_rate are the figures in use (ordering, hedging): this node's own, blended with
// peers' while it has too few samples of its own (LatencyTracker, BucketHealth).
struct BucketReport {
  std::string bucket;
  double latency_samples = 0;  // decayed page-fetch samples (local)
  std::optional<std::chrono::microseconds> first_byte_p50, first_byte_p99, page_p50, page_p99;
  std::optional<std::chrono::microseconds> hedge_delay;  // when hedging would fire now
  double error_rate = 0;                                 // this node's own error-rate EWMA
  double effective_error_rate = 0;  // the rate bucket order uses (maybe blended with peers')
  bool latency_with_peers = false;  // page_p50 / page_p99 include peers' figures
  bool errors_with_peers = false;   // effective_error_rate includes peers' figures
  // Peers' figures alone (all peers merged), for comparison; zero / nullopt when none.
  std::size_t peer_count = 0;  // peers that reported the bucket (error-rate figures)
  double peer_latency_samples = 0;
  std::optional<std::chrono::microseconds> peer_page_p50, peer_page_p99;
  double peer_error_rate = 0;
  double peer_evidence = 0;
  BreakerState breaker = BreakerState::kClosed;
  int consecutive_failures = 0;
  std::uint64_t hedges_sent = 0, hedges_won = 0, hedges_refused = 0;
};

class PageFetch {
 public:
  using Handler = std::function<void(PageFetchResult)>;

  // `loop` is the io_context `client` runs on; both must outlive this object. opts must be valid
  // (validate()); an invalid one throws std::invalid_argument with the reason.
  PageFetch(boost::asio::io_context& loop, S3Client& client, PageFetchOptions opts = {});
  ~PageFetch();
  PageFetch(const PageFetch&) = delete;
  PageFetch& operator=(const PageFetch&) = delete;

  // Streams bytes [offset, offset + length) of `key` from `buckets` (preference order; empty
  // ends at once with kMalformed) into `sink`, as above. `if_match` (may be empty) is the ETag the
  // object must have. Outcomes as S3Client::stream's (ring/base/outcome.h).
  // Returns an id for cancel().
  std::uint64_t fetch_page(std::vector<std::string> buckets, std::string key, std::uint64_t offset,
                           std::uint64_t length, RequestConfig config, std::string if_match,
                           PageSink sink, Handler done);

  // Stops a fetch: its attempts are cancelled and `done` runs with kCancelled (the sink is not
  // called again). Unknown or finished ids are ignored. Any thread (posts to the origin loop).
  void cancel(std::uint64_t id);

  // Every bucket with any local figure or any peer's figures, in name order.
  std::vector<BucketReport> report() const;
  // Hedges granted and refused by the budget, in total.
  std::uint64_t hedges_sent() const;
  std::uint64_t hedges_refused() const;

  S3Client& client();
  LatencyTracker& latency();
  BucketHealth& health();
  const PageFetchOptions& options() const;

 private:
  struct Core;
  struct Fetch;
  std::shared_ptr<Core> core_;
  std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace shoal::origin
