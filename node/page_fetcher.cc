#include "node/page_fetcher.h"

#include <boost/asio/post.hpp>
#include <chrono>

namespace shoal::node {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Whether a failure in one bucket should hand the page to the next listed bucket.
bool falls_through(origin::Outcome o) {
  using origin::Outcome;
  return o != Outcome::kInvalidRange && o != Outcome::kPreconditionFailed &&
         o != Outcome::kCancelled && o != Outcome::kOk;
}

}  // namespace

struct PageFetcher::Attempt {
  PageKey key;
  FetchOptions opts;
  std::size_t bucket = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

struct HeadAttempt {
  std::string kind, object;
  FetchOptions opts;
  std::size_t bucket = 0;
  boost::asio::any_io_executor ex;
  PageFetcher::HeadHandler done;
};

PageFetcher::PageFetcher(MemoryTier& memory, origin::S3Client& origin, std::uint64_t page_size,
                         NodeMetrics& metrics, FetchLimits limits)
    : memory_(memory),
      origin_(origin),
      page_size_(page_size),
      metrics_(metrics),
      limits_(limits) {}

std::uint64_t PageFetcher::inflight_bytes() const {
  return static_cast<std::uint64_t>(metrics_.origin_in_flight.load()) * page_size_;
}

void PageFetcher::get(const PageKey& key, const FetchOptions& opts,
                      boost::asio::any_io_executor ex, PageHandler done) {
  if (PageRef page = memory_.find(key);
      page && (opts.if_match.empty() || page->etag == opts.if_match)) {
    boost::asio::post(ex, [done = std::move(done), page = std::move(page)]() mutable {
      done(PageResult{origin::Outcome::kOk, std::move(page), PageSource::kMemory, {}});
    });
    return;
  }
  bool start = false;
  {
    std::lock_guard lock(mu_);
    auto it = flights_.find(key);
    if (it == flights_.end()) {
      const std::uint64_t next_bytes = (flights_.size() + 1) * page_size_;
      if (opts.may_shed && (flights_.size() >= limits_.max_fetches ||
                            next_bytes > limits_.max_inflight_bytes)) {
        shed_.fetch_add(1, std::memory_order_relaxed);
        PageResult r;
        r.outcome = origin::Outcome::kThrottled;
        r.shed = true;
        r.message = "node busy: " + std::to_string(flights_.size()) + " page fetches in progress";
        boost::asio::post(ex, [done = std::move(done), r = std::move(r)]() mutable {
          done(std::move(r));
        });
        return;
      }
      it = flights_.emplace(key, std::make_shared<Flight>()).first;
      start = true;
    } else {
      coalesced_.fetch_add(1, std::memory_order_relaxed);
    }
    it->second->waiters.push_back(Waiter{std::move(ex), std::move(done)});
  }
  if (start) start_fetch(key, opts);
}

void PageFetcher::start_fetch(const PageKey& key, const FetchOptions& opts) {
  metrics_.origin_in_flight.fetch_add(1, std::memory_order_relaxed);
  auto a = std::make_shared<Attempt>();
  a->key = key;
  a->opts = opts;
  try_bucket(std::move(a));
}

void PageFetcher::try_bucket(std::shared_ptr<Attempt> a) {
  origin::GetRequest req;
  req.bucket = a->opts.buckets[a->bucket];
  req.key = a->key.object;
  req.offset = a->key.page * page_size_;
  req.length = page_size_;
  req.if_match = a->opts.if_match;
  req.config = a->opts.config;
  origin_.get(std::move(req), [this, a](origin::GetResult r) {
    const std::string& bucket = a->opts.buckets[a->bucket];
    metrics_.origin_requests.add({bucket, "get", std::string(origin::outcome_name(r.outcome))});
    if (r.outcome != origin::Outcome::kOk && falls_through(r.outcome) &&
        a->bucket + 1 < a->opts.buckets.size()) {
      ++a->bucket;
      try_bucket(a);
      return;
    }
    PageResult result;
    result.outcome = r.outcome;
    result.message = r.message;
    if (r.outcome == origin::Outcome::kOk) {
      metrics_.origin_bytes.add({bucket}, r.body.size);
      metrics_.ingress.add(r.body.size);
      metrics_.origin_seconds.observe(
          {bucket}, std::chrono::duration<double>(std::chrono::steady_clock::now() - a->started)
                        .count());
      auto page = std::make_shared<Page>();
      page->body = std::move(r.body);
      page->object_size = r.info.size;
      page->etag = std::move(r.info.etag);
      page->last_modified = std::move(r.info.last_modified);
      page->bucket = bucket;
      page->cached_at = unix_now();
      memory_.insert(a->key, page);
      result.page = std::move(page);
    }
    finish(a->key, std::move(result));
  });
}

void PageFetcher::finish(const PageKey& key, PageResult r) {
  std::shared_ptr<Flight> flight;
  {
    std::lock_guard lock(mu_);
    auto it = flights_.find(key);
    if (it != flights_.end()) {
      flight = std::move(it->second);
      flights_.erase(it);
    }
  }
  metrics_.origin_in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (!flight) return;
  for (std::size_t i = 0; i < flight->waiters.size(); ++i) {
    PageResult copy = r;
    copy.source = i == 0 ? PageSource::kOrigin : PageSource::kCoalesced;
    auto& w = flight->waiters[i];
    boost::asio::post(w.ex, [done = std::move(w.done), copy = std::move(copy)]() mutable {
      done(std::move(copy));
    });
  }
}

void PageFetcher::head(const std::string& kind, const std::string& object,
                       const FetchOptions& opts, boost::asio::any_io_executor ex,
                       HeadHandler done) {
  if (auto meta = memory_.find_meta(kind, object)) {
    boost::asio::post(ex, [done = std::move(done), m = *meta]() mutable {
      done(HeadResult{origin::Outcome::kOk, std::move(m), {}});
    });
    return;
  }
  auto a = std::make_shared<HeadAttempt>();
  a->kind = kind;
  a->object = object;
  a->opts = opts;
  a->ex = std::move(ex);
  a->done = std::move(done);
  try_head(std::move(a));
}

void PageFetcher::try_head(std::shared_ptr<HeadAttempt> a) {
  const std::string bucket = a->opts.buckets[a->bucket];
  origin_.head(bucket, a->object, a->opts.config, [this, a, bucket](origin::HeadResult r) {
    metrics_.origin_requests.add({bucket, "head", std::string(origin::outcome_name(r.outcome))});
    if (r.outcome != origin::Outcome::kOk && falls_through(r.outcome) &&
        a->bucket + 1 < a->opts.buckets.size()) {
      ++a->bucket;
      try_head(a);
      return;
    }
    HeadResult out;
    out.outcome = r.outcome;
    out.message = r.message;
    if (r.outcome == origin::Outcome::kOk) {
      out.meta = ObjectMeta{r.info.size, r.info.etag, r.info.last_modified, unix_now()};
      memory_.put_meta(a->kind, a->object, out.meta);
    }
    boost::asio::post(a->ex, [done = std::move(a->done), out = std::move(out)]() mutable {
      done(std::move(out));
    });
  });
}

}  // namespace shoal::node
