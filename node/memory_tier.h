// The memory tier: pages (and small per-object metadata entries) held in RAM under a byte
// budget, evicted by S3-FIFO (node/s3fifo.h; Yang et al., SOSP 2023), which resists scans.
//
// Every byte is counted: what holding an entry really costs on the heap (charge()): the body,
// the key (held once), the Page and its strings, with the allocator's rounding, and the cache's
// own list and index nodes. Metadata entries (page index kMetaPage) record an object's size, ETag
// and Last-Modified so a HEAD or a suffix range costs no page GET once anything of it is known.
//
// ETag consistency: the tier holds pages of one ETag per object. Inserting a page whose ETag
// differs from the object's recorded ETag drops every cached page of that object with another
// ETag, so a response assembled from the tier never mixes versions.
//
// Eviction to disk: pages evicted for room (not those dropped for an ETag change, by
// erase_object() or by erase_kind()) are handed to the eviction handler, with whether they were
// hit while in memory and whether they came from the disk tier, so the disk tier can keep the
// ones worth keeping (node/page_fetcher.h, node/store/admission.h).
//
// Purges and fetches in flight (node/invalidation_epochs.h): invalidate_object() and
// invalidate_kind() drop the entries and start a new invalidation epoch for them under the same
// lock, and insert()/put_meta() given the epoch their fetch started at (epoch()) refuse to cache
// anything of an object purged since, so a fetch that spans a purge never leaves old bytes here.
//
// Thread-safe: one mutex; operations are O(1) except ETag changes, erase_object() and
// erase_kind(), which scan the tier (rare: an object overwritten, an operator purge). The
// eviction handler runs on the thread that inserted, after the tier's lock is released.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "node/invalidation_epochs.h"
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
  std::uint64_t reserved_bytes = 0;  // set aside for pages being fetched (reserve())
  std::uint64_t pages = 0;           // page entries (metadata entries not counted)
  std::uint64_t page_bytes = 0;      // sum of page body sizes
  std::uint64_t evictions = 0;       // entries evicted for room
  std::uint64_t rejected = 0;        // pages not admitted (larger than the whole budget)
  std::uint64_t invalidations = 0;   // pages dropped because their object's ETag changed
  std::uint64_t stale_refused = 0;   // inserts refused: their object was purged since their fetch
};

// A page leaving the memory tier for room.
struct EvictedPage {
  base::PageKey key;
  PageRef page;
  bool hit = false;         // find() returned it at least once while it was in memory
  bool from_disk = false;   // it was inserted from the disk tier (insert(..., true))
  std::uint64_t epoch = 0;  // the invalidation epoch when it left (it was current then)
};

class MemoryTier {
 public:
  using EvictionHandler = std::function<void(EvictedPage)>;
  // The `since` of an insert that is not a fetch's result (no purge check).
  static constexpr std::uint64_t kUnchecked = ~0ull;

  explicit MemoryTier(std::uint64_t capacity_bytes);

  // Bytes charged against the capacity for holding `page` under `key`: the heap blocks of the
  // body, of the key's and the page's strings (beyond the small-string buffer) and of the Page
  // itself (with its shared_ptr control block), as glibc's malloc sizes them, plus the cache's
  // per-entry structures. Pure; any thread.
  static std::uint64_t charge(const base::PageKey& key, const Page& page);

  // Makes large page buffers come from mmap(2) and go back to the kernel when freed (a fixed
  // mmap threshold instead of glibc's sliding one, under which freed 16 MiB buffers stay in the
  // heap), so the resident size follows what the tier holds. Call once at start.
  static void configure_allocator();

  // Installs the handler for pages evicted for room (before use; not thread-safe against
  // inserts).
  void set_eviction_handler(EvictionHandler handler) { on_evict_ = std::move(handler); }

  // The page under `key`, counting a hit for eviction purposes; nullptr on a miss.
  PageRef find(const base::PageKey& key);
  // Like find() without touching eviction state.
  PageRef peek(const base::PageKey& key) const;
  // Admits `page` under `key` (replacing any previous one), records its object's metadata and
  // drops pages of other ETags of that object. `from_disk` marks a page promoted from the disk
  // tier (it is never written back). Returns false when the page was not admitted (larger than
  // the budget). Pages evicted to make room go to the eviction handler. `since`: the
  // invalidation epoch the fetch that got the page started at (epoch()); when the object or its
  // kind was purged after it, nothing is cached and false is returned (counted in
  // stale_refused).
  bool insert(const base::PageKey& key, PageRef page, bool from_disk = false,
              std::uint64_t since = kUnchecked);
  // Sets aside `bytes` for a page being fetched (pages in flight count inside the capacity),
  // evicting pages for room (handed to the eviction handler). Returns false, reserving nothing,
  // when reservations would exceed the capacity, unless `force` (a page a response already
  // under way needs: reserved anyway). Give the bytes back with release() (before inserting the
  // page, or when the fetch failed).
  bool reserve(std::uint64_t bytes, bool force = false);
  void release(std::uint64_t bytes);

  // Object metadata recorded by a page insert or put_meta(); nullopt when unknown.
  std::optional<ObjectMeta> find_meta(const std::string& kind, const std::string& object);
  // Records metadata; with `since`, only when the object was not purged after it (as insert()).
  void put_meta(const std::string& kind, const std::string& object, const ObjectMeta& meta,
                std::uint64_t since = kUnchecked);
  // Drops every entry of the object (pages and metadata); returns pages dropped.
  std::size_t erase_object(const std::string& kind, const std::string& object);
  // Drops every entry of every object of `kind` (pages and metadata); returns pages dropped.
  std::size_t erase_kind(const std::string& kind);

  // The invalidation epoch now: what a fetch starting now passes to insert() as `since`.
  std::uint64_t epoch() const;
  // A purge (node/page_fetcher.h, PageFetcher::purge): erase_object() / erase_kind() and a new
  // invalidation epoch for the object / kind, atomically. Returns pages dropped.
  std::size_t invalidate_object(const std::string& kind, const std::string& object);
  std::size_t invalidate_kind(const std::string& kind);
  // Whether `key`'s object was not purged after epoch `since`.
  bool current_since(const base::PageKey& key, std::uint64_t since) const;

  // Every page held now (not metadata entries), for writing them to disk at shutdown.
  std::vector<EvictedPage> resident_pages();

  MemoryTierStats stats() const;

 private:
  // What the cache holds per key: the page and its disk-admission facts.
  struct Entry {
    PageRef page;
    bool hit = false;
    bool from_disk = false;
  };

  void insert_locked(const base::PageKey& key, Entry entry, std::uint64_t charge,
                     std::vector<EvictedPage>* evicted);
  void hand_over(std::vector<EvictedPage> evicted);
  // Counts entries the cache evicted and keeps the pages among them for the eviction handler.
  void collect_evicted_locked(std::vector<std::pair<base::PageKey, Entry>> evicted,
                              std::vector<EvictedPage>* out);
  void drop_other_etags_locked(const base::PageKey& key, const std::string& etag);
  std::size_t erase_matching_locked(const std::function<bool(const base::PageKey&)>& match);

  mutable std::mutex mu_;
  S3FifoCache<base::PageKey, Entry, base::PageKeyHash> cache_;
  EvictionHandler on_evict_;
  std::uint64_t pages_ = 0;
  std::uint64_t page_bytes_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t invalidations_ = 0;
  std::uint64_t stale_refused_ = 0;
  InvalidationEpochs epochs_;
};

}  // namespace shoal::node
