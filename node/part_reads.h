// PartReads: which pages on disk are read in parts (ranged disk hits, node/page_fetcher.h) often
// enough that reading them whole into memory is cheaper than reading their parts again.
//
// A ranged disk hit reads only the blocks it needs and is not promoted to memory, so a working
// set larger than memory is served at the disk's speed without 16x read amplification. A page
// whose parts are read again and again (a hot page read in small ranges) should still end up in
// memory. The rule: a page is promoted once the bytes read from it in parts reach kPromoteFactor
// times the page size within one window, the window being the last `window_bytes` of part reads
// of all pages (the memory tier's capacity is a good value: a page re-read that fast would stay
// in memory long enough to pay for its whole read). One sequential pass over a page in parts
// (1x) is not promoted; a second pass in the same window is. A uniform random load over a working
// set larger than memory reads each page far less than 2x within the window and stays ranged.
//
// Bounded: at most `max_pages` pages are remembered, in two generations of max_pages / 2 (as
// store::DiskAdmission's doorkeeper): when the current one is full the old one is forgotten.
// Thread rules: none (the caller holds its lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace shoal::node {

class PartReads {
 public:
  static constexpr std::uint64_t kPromoteFactor = 2;

  // page_bytes, window_bytes >= 1; max_pages >= 2.
  PartReads(std::uint64_t page_bytes, std::uint64_t window_bytes, std::size_t max_pages);

  // Records a ranged disk read of `bytes` of the page with hash `page_hash`. Returns true when
  // this read brings the page's part reads within the window to the promotion threshold: the
  // caller should read the page whole (and promote it) instead. The page is then forgotten.
  bool record(std::uint64_t page_hash, std::uint64_t bytes);

  std::uint64_t promotions() const { return promotions_; }

 private:
  struct Reads {
    std::uint64_t bytes = 0;
    std::uint64_t since = 0;  // clock_ at the first read counted
  };

  const std::uint64_t threshold_;
  const std::uint64_t window_;
  const std::size_t generation_;
  std::uint64_t clock_ = 0;  // part-read bytes of all pages so far
  std::uint64_t promotions_ = 0;
  std::unordered_map<std::uint64_t, Reads> current_;
  std::unordered_map<std::uint64_t, Reads> old_;
};

}  // namespace shoal::node
