#include "node/origin_listing.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>

namespace shoal::node {

struct OriginLister::Listing {
  std::vector<std::string> order;
  std::size_t next = 0;
  origin::QueryParams query;
  origin::RequestConfig config;
  boost::asio::any_io_executor ex;
  Handler done;
  OriginListing reported;  // the failure to report if no bucket answers
  bool answered = false;
};

namespace {

// A failure that would be the same at every bucket, or the end of the listing.
bool final_failure(const origin::ListResult& r) {
  return r.outcome == base::Outcome::kCancelled || r.http_status == 400;
}

}  // namespace

void OriginLister::list(std::vector<std::string> buckets, origin::QueryParams query,
                        origin::RequestConfig config, boost::asio::any_io_executor ex,
                        Handler done) {
  if (in_flight_.fetch_add(1) >= max_in_flight_) {
    in_flight_.fetch_sub(1);
    OriginListing out;
    out.result.outcome = base::Outcome::kThrottled;
    out.result.message = "too many listings in progress";
    return boost::asio::post(
        ex, [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
  }
  auto l = std::make_shared<Listing>();
  l->order = fetch_.health().order(buckets, std::chrono::steady_clock::now());
  l->query = std::move(query);
  l->config = std::move(config);
  l->ex = std::move(ex);
  l->done = std::move(done);
  attempt(std::move(l));
}

void OriginLister::attempt(std::shared_ptr<Listing> l) {
  if (l->next == l->order.size()) {
    in_flight_.fetch_sub(1);
    OriginListing out = std::move(l->reported);
    if (!l->answered) {  // no bucket at all
      out.result.outcome = base::Outcome::kMalformed;
      out.result.message = "no bucket to list";
    }
    return boost::asio::post(l->ex, [done = std::move(l->done), out = std::move(out)]() mutable {
      done(std::move(out));
    });
  }
  const std::string bucket = l->order[l->next++];
  origin::ListRequest req{bucket, l->query, l->config};
  fetch_.client().list(std::move(req), [this, l, bucket](origin::ListResult r) {
    const bool ok = r.outcome == base::Outcome::kOk;
    const bool keep = ok || final_failure(r) || !l->answered ||
                      r.outcome != base::Outcome::kNotFound ||
                      l->reported.result.outcome == base::Outcome::kNotFound;
    if (keep) {
      l->reported.result = std::move(r);
      l->reported.bucket = bucket;
      l->answered = true;
    }
    l->reported.buckets_tried = static_cast<int>(l->next);
    if (ok || final_failure(l->reported.result)) l->next = l->order.size();
    attempt(l);
  });
}

}  // namespace shoal::node
