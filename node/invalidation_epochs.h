// Invalidation epochs: what closes the race between a purge (an operator's /admin/purge, a
// write through the S3 port, a peer's Invalidate) and a page fetch that was already running
// when it happened. A fetch takes the current epoch when it starts (now()); a purge of an
// object or of a kind records a new epoch for it (invalidate_object(), invalidate_kind()); the
// fetch may put what it got into a cache only while current_since(its epoch) still holds for
// its object, so bytes read before the purge reach only the readers that were already waiting
// for them, never a cache.
//
// Memory is fixed: epochs are kept per hash slot (kObjectSlots for objects, kKindSlots for
// kinds), not per name, so a purge may also refuse the caching of an unrelated object whose hash
// shares its slot while a fetch of it spans the purge: a page fetched again later, never a stale
// one served.
//
// Not thread-safe: the owner (node/memory_tier.h) guards it with its lock.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace shoal::node {

class InvalidationEpochs {
 public:
  static constexpr std::size_t kObjectSlots = 4096;
  static constexpr std::size_t kKindSlots = 256;

  // The epoch a fetch starting now takes (1 before any purge).
  std::uint64_t now() const { return epoch_; }
  // A purge of one object, and of every object of a kind: a new epoch, recorded for its slot.
  void invalidate_object(std::string_view kind, std::string_view object);
  void invalidate_kind(std::string_view kind);
  // True when neither the object nor its kind was purged after a fetch that took `since`
  // started (or a colliding slot was: see above).
  bool current_since(std::string_view kind, std::string_view object, std::uint64_t since) const;

 private:
  static std::size_t object_slot(std::string_view kind, std::string_view object);
  static std::size_t kind_slot(std::string_view kind);

  std::uint64_t epoch_ = 1;
  std::array<std::uint64_t, kObjectSlots> objects_{};  // epoch of the slot's latest purge
  std::array<std::uint64_t, kKindSlots> kinds_{};
};

}  // namespace shoal::node
