#include "node/part_reads.h"

#include <algorithm>

namespace shoal::node {

PartReads::PartReads(std::uint64_t page_bytes, std::uint64_t window_bytes, std::size_t max_pages)
    : threshold_(kPromoteFactor * std::max<std::uint64_t>(page_bytes, 1)),
      window_(std::max<std::uint64_t>(window_bytes, 1)),
      generation_(std::max<std::size_t>(max_pages / 2, 1)) {}

bool PartReads::record(std::uint64_t page_hash, std::uint64_t bytes) {
  clock_ += bytes;
  Reads reads;
  if (auto it = current_.find(page_hash); it != current_.end()) {
    reads = it->second;
  } else if (auto old = old_.find(page_hash); old != old_.end()) {
    reads = old->second;
    old_.erase(old);
  } else {
    reads.since = clock_ - bytes;
  }
  if (clock_ - reads.since > window_) reads = Reads{0, clock_ - bytes};  // a new window
  reads.bytes += bytes;
  if (reads.bytes >= threshold_) {
    current_.erase(page_hash);
    ++promotions_;
    return true;
  }
  if (!current_.contains(page_hash) && current_.size() >= generation_) {
    old_.swap(current_);
    current_.clear();
  }
  current_[page_hash] = reads;
  return false;
}

}  // namespace shoal::node
