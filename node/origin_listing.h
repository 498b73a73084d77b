// The S3 port's ListObjects and ListObjectsV2 at the origin: one listing of a kind's buckets,
// never cached. The buckets are tried in the order a page fetch would use
// (origin::BucketHealth::order: preference order, demoted by open breakers, error rates and
// latency); a failure goes on to the next bucket, except an answer that is the request's own
// fault (HTTP 400: a bad parameter or continuation token is bad at every bucket) or a
// cancellation. Listings do not feed bucket health or latency (they are not page reads and
// cost the origin differently).
//
// Bounded: at most `max_in_flight` listings run at once (shoald: --max-origin-fetches, the same
// bound misses have); one more is answered kThrottled at once (SlowDown on the S3 port), so a
// signed caller cannot send the origin listings without limit.
//
// Thread rules: list() may be called from any thread; `done` is posted to the caller's
// executor, exactly once, never inside list(). The PageFetch (and its S3Client) must outlive
// every listing; when the client is destroyed first, `done` gets kCancelled.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string>
#include <vector>

#include "origin/page_fetch.h"
#include "origin/request_config.h"
#include "origin/s3_client.h"
#include "origin/s3_config.h"

namespace shoal::node {

struct OriginListing {
  origin::ListResult result;  // the answer used: the first success, else the failure reported
  std::string bucket;         // the bucket that answered (the last one tried)
  int buckets_tried = 0;
};

class OriginLister {
 public:
  using Handler = std::function<void(OriginListing)>;

  // max_in_flight >= 1.
  OriginLister(origin::PageFetch& fetch, std::size_t max_in_flight)
      : fetch_(fetch), max_in_flight_(max_in_flight) {}

  // Lists `buckets` (preference order, at least one) with `query` (already checked:
  // node/s3api/listing.h) and `config`'s retries and timeouts per bucket. When every bucket
  // failed, the failure reported is the last one that is not NoSuchBucket, else NoSuchBucket.
  // kThrottled (nothing sent) when max_in_flight listings are running.
  void list(std::vector<std::string> buckets, origin::QueryParams query,
            origin::RequestConfig config, boost::asio::any_io_executor ex, Handler done);

 private:
  struct Listing;
  void attempt(std::shared_ptr<Listing> l);

  origin::PageFetch& fetch_;
  const std::size_t max_in_flight_;
  std::atomic<std::size_t> in_flight_{0};
};

}  // namespace shoal::node
