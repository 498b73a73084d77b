#include "node/page_origin.h"

#include <chrono>

namespace shoal::node {

std::uint64_t PageFetchOrigin::fetch_page(std::vector<std::string> buckets, std::string key,
                                          std::uint64_t offset, std::uint64_t length,
                                          origin::RequestConfig config, std::string if_match,
                                          origin::PageSink sink, PageHandler done) {
  return fetch_.fetch_page(std::move(buckets), std::move(key), offset, length, std::move(config),
                           std::move(if_match), std::move(sink), std::move(done));
}

void PageFetchOrigin::cancel(std::uint64_t id) {
  fetch_.cancel(id);
}

std::vector<std::string> PageFetchOrigin::head_order(
    const std::vector<std::string>& buckets) const {
  return fetch_.health().order(buckets, std::chrono::steady_clock::now());
}

void PageFetchOrigin::head(std::string bucket, std::string key, origin::RequestConfig config,
                           HeadHandler done) {
  fetch_.client().head(std::move(bucket), std::move(key), std::move(config), std::move(done));
}

}  // namespace shoal::node
