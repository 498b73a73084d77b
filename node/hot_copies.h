// Hot copies: pages a member forwards often, kept on that member too, so a hot page is served
// where it is asked for instead of crossing to its owner on every read (docs/architecture.md,
// "Hot copies"; issue 12).
//
// Groupcache keeps a "hot cache" beside its main cache on non-owners, filled by a coin flip (one
// load in ten) and bounded in bytes (github.com/golang/groupcache, groupcache.go, populateCache).
// Here the choice is by measured demand instead:
//
//   - Heat: every forward this node makes for a page adds its weight, in eighths of a page
//     (ceil(8 * slice / page size), 1..8: a 1 MiB slice of a 16 MiB page adds 1, a whole page 8),
//     to a count-min sketch with TinyLFU aging (node/frequency_sketch.h). The sketch has 16
//     counters per row for each page the copies can hold (at least 256) and is halved each time
//     ten times as many pages' worth as the copies hold (at least 128 pages) was forwarded
//     (TinyLFU's window: ten times the cache's entries), so heat is recent heat.
//   - Admission: once a page's heat reaches kAdmitUnits (three pages' worth forwarded within the
//     window: 3 whole pages, or 24 slices of at most an eighth of a page each), the next
//     successful forward of it (its ETag known) returns a Promotion: the caller fetches the whole
//     page once from the member that answered, with If-Match on that ETag (or uses the forwarded
//     page itself when it was the whole page), and hands it to promoted(). A page forwarded less
//     stays with its one owner and one origin GET, as before.
//   - Bounded: the copies live in a MemoryTier of their own (node/memory_tier.h: S3-FIFO,
//     every byte charged) of `capacity_bytes`, which the node takes out of --memory (the main
//     tier gets the rest; NodeConfig::hot_copy_bytes()). Two budgets rather than groupcache's one
//     shared pool: a burst of hot pages must not push out pages this node owns, which every
//     member depends on (an owned page evicted is an origin GET for the cluster, a copy evicted
//     only a forward), and the bound an operator sets is exact. A promotion reserves the page's
//     bytes in the copies' tier before the fetch, so copies plus promotions in flight never
//     exceed it. At most kMaxPromotions run at once; more hot pages wait for a later forward.
//   - Only complete, verified pages become copies: whole (offset 0, exactly the page's length
//     for the object's size), fill complete, the promotion's ETag, and no purge or ETag change
//     since the promotion began (a generation number fences them).
//   - Versions: a forward answered with another ETag than the object's copies, or refused for
//     its If-Match (invalidate()), drops every copy of the object at once; find() serves a copy
//     only when it has the request's If-Match.
//   - Purges (erase_object(), erase_kind(), through PageFetcher::purge()) drop the copies and
//     fence the promotions in flight before they return.
//
// A forwarded request (on the peer port) never reads copies: the owner's logic serves it
// (PageFetcher::get()), so copies cannot make a forward loop or answer for an owner.
//
// Thread-safe: the sketch, the promotions and the generation share one mutex (taken once per
// forward and per promotion, never on a copy hit); the copies' tier has its own. find() may be
// called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "node/frequency_sketch.h"
#include "node/memory_tier.h"
#include "node/page.h"

namespace shoal::node {

struct HotCopyStats {
  std::uint64_t capacity_bytes = 0;     // the copies' share of --memory
  std::uint64_t used_bytes = 0;         // charged by copies held and promotions in flight
  std::uint64_t pages = 0;              // copies held
  std::uint64_t page_bytes = 0;         // their bodies
  std::uint64_t hits = 0;               // reads served from a copy
  std::uint64_t admissions = 0;         // copies made
  std::uint64_t evictions = 0;          // copies evicted for room
  std::uint64_t invalidations = 0;      // copies dropped because a forward showed another ETag
  std::uint64_t purged = 0;             // copies dropped by purges
  std::uint64_t promotions_failed = 0;  // whole-page fetches for a copy that failed or were fenced
  std::uint64_t promotions_in_flight = 0;
};

class HotCopies {
 public:
  static constexpr std::uint32_t kUnitsPerPage = 8;
  static constexpr std::uint32_t kAdmitUnits = 3 * kUnitsPerPage;
  static constexpr std::size_t kMaxPromotions = 4;

  // A page the caller should fetch whole and hand to promoted(): its key, the ETag it must
  // have, its length in bytes, and the generation it was decided under.
  struct Promotion {
    base::PageKey key;
    std::string etag;
    std::uint64_t length = 0;
    std::uint64_t generation = 0;
  };

  // Copies of at most `capacity_bytes` (> 0) for pages of `page_size` bytes.
  HotCopies(std::uint64_t capacity_bytes, std::uint64_t page_size);

  // The copy of `key`, when one is held with ETag `if_match` (any when empty); counts a hit.
  PageRef find(const base::PageKey& key, const std::string& if_match);

  // Records a successful forward of `slice_length` bytes of `key` (0: the whole page) that was
  // answered with `answer` (its head: ETag, object size). Drops the object's copies when the
  // answer's ETag differs from theirs. Returns a Promotion when the page is hot now, not held,
  // fits, and fewer than kMaxPromotions run: its bytes are then reserved and the caller must
  // call promoted() exactly once.
  std::optional<Promotion> on_forward(const base::PageKey& key, std::uint64_t slice_length,
                                      const Page& answer);

  // The whole-page fetch of `p` ended with `page` (nullptr: it failed). Gives the reservation
  // back and keeps the page as a copy when it is complete, whole, of p.etag, and nothing was
  // purged or invalidated since on_forward(); otherwise counts a failed promotion.
  void promoted(const Promotion& p, PageRef page);

  // A forward of a page of the object failed its If-Match (the cluster no longer serves the
  // version asked for): drops the object's copies, as a forward with another ETag does, so a
  // copy of the old version cannot keep starting responses that then fail. Returns copies
  // dropped.
  std::size_t invalidate(const std::string& kind, const std::string& object);

  // Drops the copies of the object (or of every object of `kind`), and fences the promotions in
  // flight; returns copies dropped.
  std::size_t erase_object(const std::string& kind, const std::string& object);
  std::size_t erase_kind(const std::string& kind);

  HotCopyStats stats() const;

 private:
  // Drops copies matching through `erase` and fences promotions; returns copies dropped.
  template <class Erase>
  std::size_t purge(Erase erase);
  // invalidate() with mu_ held.
  std::size_t invalidate_locked(const std::string& kind, const std::string& object);

  const std::uint64_t page_size_;
  MemoryTier copies_;
  mutable std::mutex mu_;
  FrequencySketch sketch_;                                          // guarded by mu_
  std::unordered_set<base::PageKey, base::PageKeyHash> promoting_;  // guarded by mu_
  std::uint64_t generation_ = 0;  // guarded by mu_: bumped by purges and ETag changes
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> admissions_{0};
  std::atomic<std::uint64_t> invalidations_{0};
  std::atomic<std::uint64_t> purged_{0};
  std::atomic<std::uint64_t> promotions_failed_{0};
};

}  // namespace shoal::node
