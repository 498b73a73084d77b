// The memory tier: pages (and small per-object metadata entries) held in RAM under a byte
// budget, evicted by S3-FIFO (node/s3fifo.h; Yang et al., SOSP 2023), which resists scans.
//
// Every byte is counted: page bodies, keys, strings and a fixed per-entry overhead
// (memory_charge()). Metadata entries (page index kMetaPage) record an object's size, ETag and
// Last-Modified so a HEAD or a suffix range costs no page GET once anything of it is known.
//
// ETag consistency: the tier holds pages of one ETag per object. Inserting a page whose ETag
// differs from the object's recorded ETag drops every cached page of that object with another
// ETag, so a response assembled from the tier never mixes versions.
//
// Thread-safe: one mutex; operations are O(1) except ETag changes, erase_object() and
// erase_kind(), which scan the tier (rare: an object overwritten, an operator purge).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "node/page.h"
#include "node/s3fifo.h"

namespace shoal::node {

struct ObjectMeta {
  std::uint64_t size = 0;
  std::string etag;
  std::string last_modified;
  std::int64_t cached_at = 0;
};

struct MemoryTierStats {
  std::uint64_t capacity_bytes = 0;
  std::uint64_t used_bytes = 0;
  std::uint64_t pages = 0;        // page entries (metadata entries not counted)
  std::uint64_t page_bytes = 0;   // sum of page body sizes
  std::uint64_t evictions = 0;    // entries evicted for room
  std::uint64_t rejected = 0;     // pages not admitted (larger than the whole budget)
  std::uint64_t invalidations = 0;  // pages dropped because their object's ETag changed
};

class MemoryTier {
 public:
  explicit MemoryTier(std::uint64_t capacity_bytes);

  // The page under `key`, counting a hit for eviction purposes; nullptr on a miss.
  PageRef find(const PageKey& key);
  // Like find() without touching eviction state.
  PageRef peek(const PageKey& key) const;
  // Admits `page` under `key` (replacing any previous one), records its object's metadata and
  // drops pages of other ETags of that object. Returns false when the page was not admitted
  // (larger than the budget).
  bool insert(const PageKey& key, PageRef page);
  // Object metadata recorded by a page insert or put_meta(); nullopt when unknown.
  std::optional<ObjectMeta> find_meta(const std::string& kind, const std::string& object);
  void put_meta(const std::string& kind, const std::string& object, const ObjectMeta& meta);
  // Drops every entry of the object (pages and metadata); returns pages dropped.
  std::size_t erase_object(const std::string& kind, const std::string& object);
  // Drops every entry of every object of `kind` (pages and metadata); returns pages dropped.
  std::size_t erase_kind(const std::string& kind);

  MemoryTierStats stats() const;

 private:
  void insert_locked(const PageKey& key, PageRef page, std::uint64_t charge);
  void drop_other_etags_locked(const PageKey& key, const std::string& etag);
  std::size_t erase_matching(const std::function<bool(const PageKey&)>& match);

  mutable std::mutex mu_;
  S3FifoCache<PageKey, PageRef, PageKeyHash> cache_;
  std::uint64_t pages_ = 0;
  std::uint64_t page_bytes_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t invalidations_ = 0;
};

}  // namespace shoal::node
