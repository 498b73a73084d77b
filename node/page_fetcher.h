// The read path below the HTTP layer: memory tier, then the origin, with concurrent misses for a
// page coalesced into one origin GET (singleflight).
//
// A miss starts one origin fetch per page key; every get() for that key while it runs joins it
// and gets the same page (or the same error). Fetches are never cancelled by their callers: a
// client that goes away does not cancel a fetch others wait for, and the page is still cached.
// Errors are not cached: the next get() after a failed fetch starts a new one.
//
// Bucket order: the request's buckets (C0-Bucket, else the kind) are tried in order; a bucket
// answering NoSuchKey hands over to the next one listed, so a migration from an old bucket to a
// new one works; a transport/5xx/timeout failure falls back to the next bucket too. Range errors
// and failed preconditions are the object's answer and end the fetch.
//
// Thread rules: get() and head() may be called from any thread; `done` is posted to the executor
// passed in (never invoked inline), exactly once.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "node/memory_tier.h"
#include "node/node_metrics.h"
#include "node/page.h"
#include "origin/s3_client.h"

namespace shoal::node {

struct FetchOptions {
  std::vector<std::string> buckets;  // preference order; never empty
  origin::RequestConfig config;
  std::string if_match;              // ETag the page must have (empty: any)
  bool may_shed = true;              // false for pages of a response already under way
};

enum class PageSource { kMemory, kOrigin, kCoalesced };

struct PageResult {
  origin::Outcome outcome = origin::Outcome::kOk;
  PageRef page;             // set when outcome == kOk
  PageSource source = PageSource::kOrigin;
  std::string message;      // one-line reason on failure
  bool shed = false;        // refused for load (outcome kThrottled): answer 503 + Retry-After
};

// Bounds on misses in progress, so a burst of misses queues nowhere without bound. A miss that
// would exceed either is shed at once (PageResult::shed); hits are never shed.
struct FetchLimits {
  std::size_t max_fetches = 256;              // origin page fetches in progress
  std::uint64_t max_inflight_bytes = 1ull << 30;  // page buffers of fetches in progress
};

struct HeadResult {
  origin::Outcome outcome = origin::Outcome::kOk;
  ObjectMeta meta;
  std::string message;
};

class PageFetcher {
 public:
  using PageHandler = std::function<void(PageResult)>;
  using HeadHandler = std::function<void(HeadResult)>;

  PageFetcher(MemoryTier& memory, origin::S3Client& origin, std::uint64_t page_size,
              NodeMetrics& metrics, FetchLimits limits = {});

  // The page `key.page` of the object: from memory, by joining a running fetch, or by starting
  // one (GetObject of bytes [page*P, page*P+P)). Outcomes: kOk, or the origin's failure
  // (origin/outcome.h); kInvalidRange when the page starts past the object's end; kThrottled
  // with `shed` set when starting a fetch would exceed the FetchLimits.
  void get(const PageKey& key, const FetchOptions& opts, boost::asio::any_io_executor ex,
           PageHandler done);

  // Object metadata: from memory, else an origin HeadObject (no page GET).
  void head(const std::string& kind, const std::string& object, const FetchOptions& opts,
            boost::asio::any_io_executor ex, HeadHandler done);

  std::uint64_t page_size() const { return page_size_; }
  MemoryTier& memory() { return memory_; }
  std::uint64_t coalesced() const { return coalesced_.load(); }
  std::uint64_t shed() const { return shed_.load(); }
  std::uint64_t inflight_bytes() const;

 private:
  struct Waiter {
    boost::asio::any_io_executor ex;
    PageHandler done;
  };
  struct Flight {
    std::vector<Waiter> waiters;
  };
  struct Attempt;

  void start_fetch(const PageKey& key, const FetchOptions& opts);
  void try_bucket(std::shared_ptr<Attempt> a);
  void finish(const PageKey& key, PageResult r);
  void try_head(std::shared_ptr<struct HeadAttempt> a);

  MemoryTier& memory_;
  origin::S3Client& origin_;
  const std::uint64_t page_size_;
  NodeMetrics& metrics_;
  const FetchLimits limits_;
  std::mutex mu_;
  std::unordered_map<PageKey, std::shared_ptr<Flight>, PageKeyHash> flights_;
  std::atomic<std::uint64_t> coalesced_{0};
  std::atomic<std::uint64_t> shed_{0};
};

}  // namespace shoal::node
