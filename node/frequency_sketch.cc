#include "node/frequency_sketch.h"

#include <algorithm>
#include <bit>

namespace shoal::node {
namespace {

// splitmix64's finalizer: spreads any 64-bit hash over all bits, so the two halves used for
// double hashing are independent even for weak input hashes.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

FrequencySketch::FrequencySketch(std::size_t width, std::uint64_t window)
    : mask_(std::bit_ceil(std::max<std::size_t>(width, 16)) - 1),
      window_(std::max<std::uint64_t>(window, 1)),
      counters_(static_cast<std::size_t>(kRows) * (mask_ + 1), 0) {}

std::size_t FrequencySketch::index(std::uint64_t mixed, int row) const {
  const std::uint64_t h1 = mixed & 0xffffffffull;
  const std::uint64_t h2 = (mixed >> 32) | 1;  // odd: the rows' picks differ
  return static_cast<std::size_t>(row) * (mask_ + 1) +
         static_cast<std::size_t>((h1 + static_cast<std::uint64_t>(row) * h2) & mask_);
}

std::uint32_t FrequencySketch::estimate(std::uint64_t hash) const {
  const std::uint64_t m = mix(hash);
  std::uint32_t least = kMaxCount;
  for (int r = 0; r < kRows; ++r) least = std::min<std::uint32_t>(least, counters_[index(m, r)]);
  return least;
}

std::uint32_t FrequencySketch::add(std::uint64_t hash, std::uint32_t weight) {
  weight = std::min(weight, kMaxCount);
  const std::uint64_t m = mix(hash);
  const std::uint32_t target = std::min(estimate(hash) + weight, kMaxCount);
  for (int r = 0; r < kRows; ++r) {
    std::uint8_t& c = counters_[index(m, r)];
    if (c < target) c = static_cast<std::uint8_t>(target);  // conservative update
  }
  added_ += weight;
  if (added_ >= window_) halve();
  return estimate(hash);
}

void FrequencySketch::halve() {
  for (std::uint8_t& c : counters_) c = static_cast<std::uint8_t>(c >> 1);
  added_ /= 2;  // TinyLFU: the halved counters still hold about half the window's weight
  ++resets_;
}

void FrequencySketch::clear() {
  std::fill(counters_.begin(), counters_.end(), std::uint8_t{0});
  added_ = 0;
}

}  // namespace shoal::node
