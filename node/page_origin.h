// Where PageFetcher's misses go below the cluster: the origin, seen as two operations and an
// order. PageFetcher (node/page_fetcher.h) depends on this interface only, so its rules
// (coalescing, shedding, disk promotion, forwarding order) can be driven by a scripted origin
// (tests/unit/node_page_fetcher_test.cc); PageFetchOrigin is the node's implementation over
// origin::PageFetch and its S3Client.
//
// Thread rules: every method may be called from any thread. Handlers are invoked exactly once,
// never inside the call that started them, on a thread of the implementation's choosing (the
// origin loop for PageFetchOrigin).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "origin/page_fetch.h"
#include "origin/request_config.h"
#include "origin/s3_client.h"

namespace shoal::node {

class PageOrigin {
 public:
  using PageHandler = std::function<void(origin::PageFetchResult)>;
  using HeadHandler = std::function<void(origin::HeadResult)>;

  virtual ~PageOrigin() = default;

  // Streams bytes [offset, offset + length) of `key` from `buckets` (preference order) into
  // `sink`: bucket order, hedging, resumes and fall-through as origin::PageFetch::fetch_page,
  // whose sink rules and outcomes it follows (ring/base/outcome.h).
  // Returns an id for cancel().
  virtual std::uint64_t fetch_page(std::vector<std::string> buckets, std::string key,
                                   std::uint64_t offset, std::uint64_t length,
                                   origin::RequestConfig config, std::string if_match,
                                   origin::PageSink sink, PageHandler done) = 0;
  // Stops a fetch_page(): `done` runs with kCancelled and the sink is not called again (as
  // origin::PageFetch::cancel). Unknown or finished ids are ignored.
  virtual void cancel(std::uint64_t id) = 0;

  // The order in which to try `buckets` for a HEAD now: the order a page fetch would use
  // (origin::BucketHealth::order: preference order demoted by breakers, error rates and
  // latency), duplicates dropped.
  virtual std::vector<std::string> head_order(const std::vector<std::string>& buckets) const = 0;

  // One HeadObject of `key` in `bucket` (with `config`'s retries and timeouts). Outcomes as
  // origin::S3Client::head's.
  virtual void head(std::string bucket, std::string key, origin::RequestConfig config,
                    HeadHandler done) = 0;
};

// The node's origin: origin::PageFetch for pages and its health order, its S3Client for HEADs.
class PageFetchOrigin final : public PageOrigin {
 public:
  // `fetch` (and the S3Client under it) must outlive this object.
  explicit PageFetchOrigin(origin::PageFetch& fetch) : fetch_(fetch) {}

  std::uint64_t fetch_page(std::vector<std::string> buckets, std::string key, std::uint64_t offset,
                           std::uint64_t length, origin::RequestConfig config, std::string if_match,
                           origin::PageSink sink, PageHandler done) override;
  void cancel(std::uint64_t id) override;
  std::vector<std::string> head_order(const std::vector<std::string>& buckets) const override;
  void head(std::string bucket, std::string key, origin::RequestConfig config,
            HeadHandler done) override;

 private:
  origin::PageFetch& fetch_;
};

}  // namespace shoal::node
