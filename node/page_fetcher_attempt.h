// PageFetcher's private types (node/page_fetcher.h), shared by page_fetcher.cc (flights, disk,
// cluster) and page_fetcher_origin.cc (filling a page from the origin). Include nowhere else.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "node/page_fetcher.h"

namespace shoal::node {

// Seconds since the Unix epoch, for Page::cached_at.
std::int64_t unix_now();

// One flight's way to its page: disk, the members of the page's ranking, the origin.
struct PageFetcher::Attempt {
  std::shared_ptr<Flight> flight;
  base::PageKey key;
  FetchOptions opts;                        // slice cleared: a flight fetches the whole page
  std::uint64_t split = 0;                  // where the origin fetch splits (page-relative; 0: no)
  std::vector<PageRouter::Target> targets;  // cluster ranking for this page (empty: local)
  std::size_t target = 0;                   // the one being tried
  bool cache = true;                        // keep the page here (owner or failover owner)
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// A page being filled from the origin, as one or two parts (node/page_fill.h). Everything here
// runs on the origin loop (PageOrigin's sink and handlers).
struct PageFetcher::OriginFill {
  struct Part {
    std::uint64_t id = 0;  // PageOrigin fetch, for cancel()
    bool started = false;
    bool done = false;
    base::Outcome outcome = base::Outcome::kOk;
    std::string message;
  };
  std::shared_ptr<Attempt> a;
  std::shared_ptr<Page> page;  // made at the first validated head, then published
  std::array<Part, PageFill::kParts> parts;
  bool ended = false;
};

}  // namespace shoal::node
