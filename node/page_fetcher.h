// The read path below the HTTP layer: memory tier, then the disk tier (when attached), then the
// origin, with concurrent misses for a page coalesced into one fetch (singleflight).
//
// Disk tier (node/store/disk_tier.h, open_disk()): a memory miss for part of a page
// (FetchOptions' slice, not the whole page) with no flight running for the page reads from disk
// only the blocks covering that part (DiskTier::read_range: O_DIRECT-aligned, exactly those
// blocks verified) and is served as a page holding just those bytes (Page::body_offset,
// PageSource::kDisk), not promoted to memory; a bad block, a missing page or another ETag sends
// it to a flight instead (below), which never serves the bad block: the whole page is read (it
// fails at once on the block marked bad) or fetched. Other misses start a flight whose first
// step is a whole-page disk read, so concurrent misses read the disk once. A verified disk page is
// promoted to memory (marked as from disk: it is never written back) and served as
// PageSource::kDisk; the disk tier copies the payload into the page's body while verifying it (one
// pass). A disk page whose ETag differs from the request's If-Match, or from the object's ETag
// recorded in memory (a newer version was seen), is not served; the latter is dropped from disk. A
// checksum or I/O error is logged, counted by the disk tier, and the page is fetched as on a miss.
// Pages evicted from memory are written to disk when the disk does not hold them already and either
// it has a free slot or the admission rule (node/store/admission.h, kReaccessed) admits them; a
// refused or failed write leaves the page memory-only, never an error to a client. Disk I/O runs on
// the disk tier's threads; page copies out of disk buffers happen there too, never on an event
// loop.
//
// A miss starts one flight per page key; every get() for that key while it runs joins it. A
// page fetched from the origin (or forwarded whole by its owner) is published to every waiter as
// soon as its response head is validated: the PageResult then holds a filling page
// (Page::fill) whose bytes readers stream as they land; waiters that join later get the same
// page at once and read it from its start. A request deep in a page (slice_offset) splits the
// origin fetch at that offset (rounded down to kSplitAlign): the part holding it and the part
// before it are fetched in parallel (node/page_fill.h). The page is cached only once complete
// and validated; a failure after it was published fails its fill (readers abort their
// responses, never serve a wrong byte), and errors are not cached: the next get() after a failed
// fetch starts a new one. Clients that go away do not cancel a flight others wait for.
//
// Memory: a flight reserves its page's bytes in the memory tier before it starts
// (MemoryTier::reserve: pages in flight count inside --memory); when the tier cannot make room
// the miss is shed (503), except for pages of a response already under way.
//
// Bucket order: a miss is one PageOrigin::fetch_page() call over the request's buckets
// (C0-Bucket, else the kind): health order, fall-through, hedging and the hedge budget live
// behind it (node/page_origin.h over origin/page_fetch.h). head() tries the buckets in
// PageOrigin::head_order() (the same health order, duplicates dropped), one HeadObject at a time,
// unhedged: a bucket answering NoSuchKey or failing hands over to the next one; range errors and
// failed preconditions end it. HEAD outcomes do not feed the bucket health (only page fetches
// do).
//
// Purges (purge(): /admin/purge, writes through the S3 port, peers' Invalidate frames) and
// fetches in flight: every flight and head() takes the memory tier's invalidation epoch when it
// starts and caches its page or metadata only if its object was not purged since
// (MemoryTier::insert's `since`); a purge also takes the object's flights out of the map, so a
// get() after it starts a new fetch instead of joining one that may carry the old bytes. The
// old flight still serves the readers that were waiting on it. A page leaving memory is written
// to disk only if no purge of its object came after it left (checked under purge_mu_, which
// purge() holds while it clears the disk).
//
// Thread rules: get() and head() may be called from any thread; `done` is posted to the executor
// passed in (never invoked inline), exactly once.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "node/hot_copies.h"
#include "node/memory_tier.h"
#include "node/node_metrics.h"
#include "node/page.h"
#include "node/page_origin.h"
#include "node/part_reads.h"
#include "node/store/admission.h"
#include "node/store/disk_tier.h"
#include "origin/request_config.h"

namespace shoal::node {

struct FetchOptions {
  std::vector<std::string> buckets;  // preference order; never empty
  origin::RequestConfig config;
  std::string if_match;     // ETag the page must have (empty: any)
  bool may_shed = true;     // false for pages of a response already under way
  std::string config_text;  // the C0-Config value(s) as sent, for forwarding
  bool hop = false;         // forwarded here by a peer: never forward again
  // The bytes of the page the caller needs (page-relative; length 0: all). When the page's
  // owner is another member, only these bytes are forwarded, and the result may be that part
  // of the page alone (Page::body_offset); so may a hit on this node's disk tier (only the
  // blocks covering the slice are read); fetches always yield the whole page.
  std::uint64_t slice_offset = 0;
  std::uint64_t slice_length = 0;
  // Answer from memory or disk only (a new owner's peer read, peer::ForwardRequest::cache_only):
  // never the origin, never a peer, never joining a fetch in progress (which could wait on the
  // asker: a cycle). A page not here fails kNotFound, message "not cached".
  bool cache_only = false;
};

enum class PageSource {
  kMemory,     // this node's memory tier
  kOrigin,     // fetched from the origin for this request
  kCoalesced,  // joined another request's fetch
  kPeer,       // forwarded to the page's owner, which answered
  kDisk,       // this node's disk tier
  kCopy,       // this node's hot copy of a page another member owns (node/hot_copies.h)
};

// Whether a page from `s` was cached before this request (its C0-Status carries cached_at).
inline bool cached_source(PageSource s) {
  return s == PageSource::kMemory || s == PageSource::kPeer || s == PageSource::kDisk ||
         s == PageSource::kCopy;
}

// What PageFetcher::purge() dropped.
struct PurgeCounts {
  std::size_t memory = 0;   // pages of the memory tier
  std::size_t disk = 0;     // pages of the disk tier
  std::size_t copies = 0;   // hot copies (node/hot_copies.h)
  std::size_t flights = 0;  // fetches in flight taken out of the map (they cache nothing)
};

// A reader's claim on a page still being fetched. A flight whose readers all dropped their claim
// before any of them was served (satisfy()) is cancelled: nobody is left to want the page (the
// clients went away). Readers that got what they needed call satisfy(): the fetch then goes on
// and caches the page. Thread-safe.
class PageDemand {
 public:
  explicit PageDemand(std::function<void(bool satisfied)> release) : release_(std::move(release)) {}
  ~PageDemand() { release_(satisfied_.load(std::memory_order_acquire)); }
  PageDemand(const PageDemand&) = delete;
  PageDemand& operator=(const PageDemand&) = delete;
  void satisfy() { satisfied_.store(true, std::memory_order_release); }

 private:
  std::function<void(bool)> release_;
  std::atomic<bool> satisfied_{false};
};

struct PageResult {
  base::Outcome outcome = base::Outcome::kOk;
  PageRef page;  // set when outcome == kOk
  PageSource source = PageSource::kOrigin;
  std::string message;  // one-line reason on failure
  bool shed = false;    // refused for load (outcome kThrottled): answer 503 + Retry-After
  // Set when `page` is still being fetched by a flight here: the reader's claim on it (hold it
  // while reading; satisfy() once served).
  std::shared_ptr<PageDemand> demand;
};

// Bounds on misses in progress, so a burst of misses queues nowhere without bound. A miss that
// would exceed either is shed at once (PageResult::shed); hits are never shed.
struct FetchLimits {
  std::size_t max_fetches = 256;                  // origin page fetches in progress
  std::uint64_t max_inflight_bytes = 1ull << 30;  // page buffers of fetches in progress
};

struct HeadResult {
  base::Outcome outcome = base::Outcome::kOk;
  ObjectMeta meta;
  std::string message;
};

// Where misses go in a cluster (implemented by node/cluster.h). Without a router every miss is
// fetched here from the origin and cached here.
class PageRouter {
 public:
  struct Target {
    std::string id;         // member id
    std::string peer_addr;  // its peer port
    bool self = false;      // this node
  };
  virtual ~PageRouter() = default;
  // The members that may serve `key`, best first: its owner, then the failover ranks, skipping
  // members that are suspect. Empty when the cluster view is empty.
  virtual std::vector<Target> targets(const base::PageKey& key) const = 0;
  // Forwards a miss to `target` (never self). `done` runs exactly once, on an executor of the
  // router's choosing; kTransportError means the member could not be reached.
  virtual void forward(const Target& target, const base::PageKey& key, const FetchOptions& opts,
                       std::function<void(PageResult)> done) = 0;
  // The member that owned `key` before the cluster's latest change of placement, when this node
  // owns it now but did not then, the change is recent and that member is still alive (a
  // drained one included). A miss here asks it first (cache_only) before the origin.
  virtual std::optional<Target> previous_owner(const base::PageKey& /*key*/) const {
    return std::nullopt;
  }
};

class PageFetcher {
 public:
  // A split of a page's origin fetch (at a request's offset) is rounded down to this.
  static constexpr std::uint64_t kSplitAlign = 64 * 1024;
  // Pages whose part reads are remembered (PartReads; about 100 bytes each).
  static constexpr std::size_t kPartReadsPages = 8192;

  using PageHandler = std::function<void(PageResult)>;
  using HeadHandler = std::function<void(HeadResult)>;

  // Misses go to `origin` (owned; whatever it wraps must outlive this object). `memory` and
  // `metrics` must outlive this object.
  PageFetcher(MemoryTier& memory, std::unique_ptr<PageOrigin> origin, std::uint64_t page_size,
              NodeMetrics& metrics, FetchLimits limits = {});

  // The page `key.page` of the object: from memory, by joining a running fetch, or by starting
  // one (GetObject of bytes [page*P, page*P+P)). Outcomes: kOk, or the origin's failure
  // (origin/outcome.h); kInvalidRange when the page starts past the object's end; kThrottled
  // with `shed` set when starting a fetch would exceed the FetchLimits.
  void get(const base::PageKey& key, const FetchOptions& opts, boost::asio::any_io_executor ex,
           PageHandler done);

  // get(), but `done` runs only once the page is all there (or with its fill's failure): for
  // callers that need the whole page rather than a stream (warming, whole-page answers).
  void get_complete(const base::PageKey& key, const FetchOptions& opts,
                    boost::asio::any_io_executor ex, PageHandler done);

  // Object metadata: from memory, else an origin HeadObject (no page GET).
  void head(const std::string& kind, const std::string& object, const FetchOptions& opts,
            boost::asio::any_io_executor ex, HeadHandler done);

  // Installs the cluster router (before serving; not thread-safe against get()).
  void set_router(PageRouter* router) { router_ = router; }

  // Opens the disk tier (recovering its index; `progress` as in DiskTier::open), makes it the
  // second lookup step and routes memory evictions to it. Before serving; not thread-safe
  // against get(). Returns false with *error (DiskTier::open's "field: reason") when it cannot be
  // opened.
  bool open_disk(const store::DiskConfig& config, std::string* error,
                 const store::DiskTier::ProgressFn& progress = {});
  // At shutdown, after the event loops stopped: writes the memory pages the disk does not hold
  // (until `deadline`), waits for all disk I/O, and closes the disk tier. Returns pages written.
  // Completions still arriving afterwards see no disk tier.
  std::uint64_t close_disk(std::chrono::steady_clock::time_point deadline);
  // The disk tier, or nullptr when memory-only.
  const store::DiskTier* disk() const { return disk_.get(); }
  // Disk admission figures (zero when memory-only).
  store::AdmissionStats admission_stats() const;
  // Pages read whole into memory because their parts were read often (node/part_reads.h).
  std::uint64_t part_promotions() const;

  // Keeps hot copies of pages this node forwards often in `capacity_bytes` (node/hot_copies.h).
  // Before serving; not thread-safe against get(). Only meaningful with a router.
  void enable_hot_copies(std::uint64_t capacity_bytes);
  // The hot copies, or nullptr when off.
  const HotCopies* hot_copies() const { return copies_.get(); }

  // The node-local purge every invalidation goes through (/admin/purge, which shoalctl purge
  // calls on each member, the S3 port's writes, a peer's Invalidate): drops this node's hot
  // copies (fencing copies being made), pages and metadata of the object, or of every object
  // of `kind` when `object` is nullptr, from memory and disk, and makes every fetch of them in
  // flight now unable to cache what it gets (see above). When it returns, a get() of the object
  // fetches it anew. Any thread; blocks briefly on the tiers' locks.
  PurgeCounts purge(const std::string& kind, const std::string* object);

  std::uint64_t page_size() const { return page_size_; }
  MemoryTier& memory() { return memory_; }
  const MemoryTier& memory() const { return memory_; }
  std::uint64_t coalesced() const { return coalesced_.load(); }
  std::uint64_t shed() const { return shed_.load(); }
  std::uint64_t inflight_bytes() const;

 private:
  struct Waiter {
    boost::asio::any_io_executor ex;
    PageHandler done;
  };
  // One page being fetched. Guarded by mu_ (but `key`, fixed at creation).
  struct Flight {
    base::PageKey key;
    std::vector<Waiter> waiters;  // until a page is published
    PageRef page;                 // published (filling or complete); later joiners get it
    PageSource source = PageSource::kOrigin;
    std::uint64_t reserved = 0;    // bytes reserved in the memory tier for it
    int readers = 0;               // PageDemands alive
    bool satisfied = false;        // a reader was served: finish and cache the page
    bool ended = false;            // finished, or abandoned by every reader
    std::uint64_t epoch = 0;       // the memory tier's invalidation epoch when it started
    std::function<void()> cancel;  // stops the fetch (set while an origin fill runs)
  };
  struct Attempt;
  struct OriginFill;

  // Not in memory, not forwarded: a ranged disk read for a slice (reads_disk_slice), else a
  // flight.
  void get_local(const base::PageKey& key, const FetchOptions& opts,
                 boost::asio::any_io_executor ex, PageHandler done);
  // Whether a get() for `opts`' slice reads just that part from disk: a disk tier, a slice that
  // is not the whole page, and no flight for the page already (joining it is cheaper).
  // A page whose parts are read often is read whole instead (PartReads), and promoted.
  bool reads_disk_slice(const base::PageKey& key, const FetchOptions& opts);
  void on_disk_slice(const base::PageKey& key, const FetchOptions& opts,
                     boost::asio::any_io_executor ex, PageHandler done, std::shared_ptr<Page> page,
                     const store::DiskTier::RangeRead& read);
  // Whether a verified disk copy with `meta` may be served for `opts` (its If-Match, and the
  // object's ETag last seen here); a copy older than the ETag last seen is dropped from disk.
  bool disk_copy_usable(const base::PageKey& key, const FetchOptions& opts,
                        const store::PageMeta& meta);
  void start_fetch(std::shared_ptr<Flight> flight, const FetchOptions& opts);
  void start_miss(std::shared_ptr<Attempt> a);
  void on_disk_read(std::shared_ptr<Attempt> a, std::shared_ptr<Page> page, store::Result r,
                    const store::PageMeta& meta);
  void spill(EvictedPage e);
  void route_next(std::shared_ptr<Attempt> a);
  // This node fetches the page for the cluster: from its previous owner (when it moved here
  // lately), else the origin.
  void fetch_owned(std::shared_ptr<Attempt> a);
  // The previous owner's answer: cached and served when it is the whole page, else the origin.
  void on_handoff(std::shared_ptr<Attempt> a, PageResult r);
  void take_handoff(const std::shared_ptr<Attempt>& a, PageRef page);
  void get_flight(const base::PageKey& key, const FetchOptions& opts,
                  boost::asio::any_io_executor ex, PageHandler done);
  void forward_slice(std::vector<PageRouter::Target> targets, std::size_t i, base::PageKey key,
                     FetchOptions opts, boost::asio::any_io_executor ex, PageHandler done);
  // Hot copies: a copy of `key` for this client request, when one is held.
  PageRef find_copy(const base::PageKey& key, const FetchOptions& opts);
  // Hot copies: `target` answered a forward of `key` with `r`; counts its heat and, when the
  // page became hot, makes a copy (from `r` when it is the whole page, else by asking `target`
  // for the whole page once).
  void note_forward(const PageRouter::Target& target, const base::PageKey& key,
                    const FetchOptions& opts, const PageResult& r);
  // Hands `page` (once its fill ended) to the copies as promotion `p`.
  void promote_when_complete(const HotCopies::Promotion& p, PageRef page);
  void fetch_from_origin(std::shared_ptr<Attempt> a);
  void start_part(std::shared_ptr<OriginFill> f, std::size_t part);
  char* on_part_head(OriginFill& f, std::size_t part, const origin::ObjectInfo& info,
                     std::uint64_t length, const std::string& bucket);
  void on_part_done(std::shared_ptr<OriginFill> f, std::size_t part, origin::PageFetchResult r);
  void drop_stale(const base::PageKey& key, const std::string& etag);
  void complete_origin_fill(OriginFill& f);
  void fail_origin_fill(OriginFill& f, base::Outcome o, std::string message);
  // The flight's memory reservation: down to `bytes` once the page's length is known; handed
  // over (zeroed, the caller releases it) just before the page is inserted.
  void adjust_reservation(const std::shared_ptr<Flight>& flight, std::uint64_t bytes);
  void take_reservation(const std::shared_ptr<Flight>& flight);
  // Answers `done` with a shed result (503 + Retry-After).
  void shed(boost::asio::any_io_executor ex, PageHandler done, std::string message);
  // The bytes a flight for `key` reserves: the page's length when its object's size is known.
  std::uint64_t expected_length(const base::PageKey& key);
  void deliver(const std::shared_ptr<Flight>& flight, std::vector<Waiter> waiters, PageResult r);
  // A reader's claim on `flight`'s page (counted; see PageDemand).
  std::shared_ptr<PageDemand> make_demand_locked(const std::shared_ptr<Flight>& flight);
  void release_demand(const std::weak_ptr<Flight>& weak, bool satisfied);
  // How to stop `flight`'s fetch, once it runs; called at once when every reader left already.
  void set_cancel(const std::shared_ptr<Flight>& flight, std::function<void()> cancel);
  // A page for the flight's waiters, at once; the flight goes on until its fill ends.
  void publish(const std::shared_ptr<Flight>& flight, PageRef page, PageSource source);
  // Delivers a forwarded page: published while it fills, the flight finished when it ends.
  void deliver_forwarded(const std::shared_ptr<Flight>& flight, PageResult r);
  // The flight ends: out of the map (unless a newer flight replaced it), its reservation given
  // back, waiters not served yet get `r`.
  void finish(const std::shared_ptr<Flight>& flight, PageResult r);
  void try_head(std::shared_ptr<struct HeadAttempt> a);

  MemoryTier& memory_;
  std::unique_ptr<PageOrigin> origin_;
  const std::uint64_t page_size_;
  NodeMetrics& metrics_;
  const FetchLimits limits_;
  PageRouter* router_ = nullptr;
  std::unique_ptr<store::DiskTier> disk_;
  std::unique_ptr<store::DiskAdmission> admission_;
  std::unique_ptr<HotCopies> copies_;
  std::atomic<bool> disk_closing_{false};  // close_disk() began: no more spills
  PartReads part_reads_;                   // guarded by mu_
  std::mutex purge_mu_;                    // purge() against spill(): see the header comment
  mutable std::mutex mu_;
  std::unordered_map<base::PageKey, std::shared_ptr<Flight>, base::PageKeyHash> flights_;
  std::atomic<std::uint64_t> coalesced_{0};
  std::atomic<std::uint64_t> shed_{0};
};

}  // namespace shoal::node
