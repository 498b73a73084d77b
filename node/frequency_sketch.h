// FrequencySketch: how often a key was seen lately, in a fixed, small amount of memory. It is
// the count-min sketch (Cormode and Muthukrishnan, "An improved data stream summary: the
// count-min sketch and its applications", J. Algorithms 2005) with the aging ("reset") of
// TinyLFU (Einziger, Friedman and Manes, "TinyLFU: a highly efficient cache admission policy",
// ACM ToS 2017), as Caffeine's FrequencySketch uses it.
//
//   - kRows rows of `width` 8-bit counters (width a power of two). A key's hash picks one counter
//     per row (double hashing of a 64-bit mix of the hash).
//   - add(hash, w) raises the key's counters by w with the conservative update (Estan and
//     Varghese, SIGCOMM 2002): only counters below the new estimate are raised to it, which
//     keeps over-estimates from colliding keys small. Counters saturate at kMaxCount.
//   - estimate(hash) is the smallest of the key's counters: never below the true weight added
//     since the last reset (up to saturation), above it only by collisions.
//   - Aging: once the weights added since the last reset reach `window`, every counter is
//     halved, so the sketch reflects the recent window (a key must keep being seen to stay
//     frequent). The halving is O(kRows * width), once per window.
//
// Memory: kRows * width bytes (4 * 8192 = 32 KiB by default). Pure: no I/O, no locks; not
// thread-safe (the caller serializes every call).
#pragma once

#include <cstdint>
#include <vector>

namespace shoal::node {

class FrequencySketch {
 public:
  static constexpr int kRows = 4;
  static constexpr std::uint32_t kMaxCount = 255;

  // `width` counters per row, rounded up to a power of two (at least 16); the counters are
  // halved every `window` weight units added (at least 1).
  FrequencySketch(std::size_t width, std::uint64_t window);

  // Adds `weight` (clamped to kMaxCount) to the key `hash`; returns its new estimate.
  std::uint32_t add(std::uint64_t hash, std::uint32_t weight);
  // The key's estimated weight since the last resets (0 for a key never added).
  std::uint32_t estimate(std::uint64_t hash) const;
  // Zeroes every counter (an operator purge forgets the heat too).
  void clear();

  std::size_t width() const { return mask_ + 1; }
  std::uint64_t window() const { return window_; }
  // Times the counters were halved (aging) since construction.
  std::uint64_t resets() const { return resets_; }

 private:
  // The counter index of `hash` in row `row`.
  std::size_t index(std::uint64_t mixed, int row) const;
  void halve();

  std::size_t mask_;
  std::uint64_t window_;
  std::uint64_t added_ = 0;  // weight added since the last reset
  std::uint64_t resets_ = 0;
  std::vector<std::uint8_t> counters_;  // kRows rows of width_ counters
};

}  // namespace shoal::node
