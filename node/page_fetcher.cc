#include "node/page_fetcher.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <utility>

#include "node/page_fetcher_attempt.h"
#include "ring/base/buffer_pool.h"
#include "ring/base/log.h"

namespace shoal::node {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

store::PageMeta store_meta(const Page& p) {
  return store::PageMeta{p.object_size, p.etag, p.last_modified, p.bucket, p.cached_at};
}

void set_meta(Page& p, const store::PageMeta& m) {
  p.object_size = m.object_size;
  p.etag = m.etag;
  p.last_modified = m.last_modified;
  p.bucket = m.bucket;
  p.cached_at = m.cached_at;
}

// What a disk read hands over (on its I/O thread): the buffer its bytes were read into, kept as
// the page's body with no copy.
store::DiskTier::PayloadSink body_sink(const std::shared_ptr<Page>& page) {
  return [page](base::Bytes bytes) { page->body = std::move(bytes); };
}

// Whether a failure in one bucket should hand the page to the next listed bucket.
bool falls_through(base::Outcome o) {
  using base::Outcome;
  return o != base::Outcome::kInvalidRange && o != base::Outcome::kPreconditionFailed &&
         o != base::Outcome::kCancelled && o != base::Outcome::kOk;
}

}  // namespace

struct HeadAttempt {
  std::string kind, object;
  std::uint64_t epoch = 0;  // the memory tier's invalidation epoch when it started
  FetchOptions opts;
  std::size_t bucket = 0;
  boost::asio::any_io_executor ex;
  PageFetcher::HeadHandler done;
};

PageFetcher::PageFetcher(MemoryTier& memory, std::unique_ptr<PageOrigin> origin,
                         std::uint64_t page_size, NodeMetrics& metrics, FetchLimits limits)
    : memory_(memory),
      origin_(std::move(origin)),
      page_size_(page_size),
      metrics_(metrics),
      limits_(limits),
      part_reads_(page_size, memory.stats().capacity_bytes, kPartReadsPages) {}

std::uint64_t PageFetcher::inflight_bytes() const {
  return static_cast<std::uint64_t>(metrics_.origin_in_flight.load()) * page_size_;
}

void PageFetcher::get(const base::PageKey& key, const FetchOptions& opts,
                      boost::asio::any_io_executor ex, PageHandler done) {
  if (PageRef page = memory_.find(key);
      page && (opts.if_match.empty() || page->etag == opts.if_match)) {
    boost::asio::post(ex, [done = std::move(done), page = std::move(page)]() mutable {
      done(PageResult{base::Outcome::kOk, std::move(page), PageSource::kMemory, {}});
    });
    return;
  }
  if (PageRef page = find_copy(key, opts)) {
    boost::asio::post(ex, [done = std::move(done), page = std::move(page)]() mutable {
      done(PageResult{base::Outcome::kOk, std::move(page), PageSource::kCopy, {}});
    });
    return;
  }
  if (opts.cache_only && !disk_) {  // nowhere else to look
    PageResult r;
    r.outcome = base::Outcome::kNotFound;
    r.message = "not cached";
    boost::asio::post(ex,
                      [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    return;
  }
  if (router_ != nullptr && !opts.hop && opts.slice_length > 0) {
    auto targets = router_->targets(key);
    if (!targets.empty() && !targets.front().self) {
      return forward_slice(std::move(targets), 0, key, opts, std::move(ex), std::move(done));
    }
  }
  get_local(key, opts, std::move(ex), std::move(done));
}

void PageFetcher::get_local(const base::PageKey& key, const FetchOptions& opts,
                            boost::asio::any_io_executor ex, PageHandler done) {
  if (reads_disk_slice(key, opts)) {
    auto page = std::make_shared<Page>();
    auto on_read = [this, key, opts, ex, done, page](const store::DiskTier::RangeRead& read) {
      on_disk_slice(key, opts, ex, done, page, read);
    };
    if (disk_->read_range(key, opts.slice_offset, opts.slice_length, std::move(on_read),
                          body_sink(page)) == store::Result::kOk) {
      return;
    }
  }
  get_flight(key, opts, std::move(ex), std::move(done));
}

bool PageFetcher::reads_disk_slice(const base::PageKey& key, const FetchOptions& opts) {
  if (!disk_ || opts.slice_length == 0) return false;
  if (opts.slice_offset == 0 && opts.slice_length >= page_size_) return false;  // the whole page
  const std::uint64_t hash = base::page_hash(key.kind, key.object, key.page);   // outside mu_
  std::lock_guard lock(mu_);
  if (flights_.contains(key)) return false;  // a page being fetched or read: join that
  return !part_reads_.record(hash, opts.slice_length);
}

// A ranged disk read ended (on a disk I/O thread); on kOk `page`'s body holds the verified bytes
// read.bytes. Served as a part of the page (Page::body_offset), never put in memory. Anything
// else (a bad block, the page gone, another ETag, bytes past the page's end) goes to a flight,
// which reads or fetches the whole page.
void PageFetcher::on_disk_slice(const base::PageKey& key, const FetchOptions& opts,
                                boost::asio::any_io_executor ex, PageHandler done,
                                std::shared_ptr<Page> page,
                                const store::DiskTier::RangeRead& read) {
  if (read.result == store::Result::kChecksumError || read.result == store::Result::kIoError) {
    SHOAL_LOG(kWarn, "disk: bytes " << opts.slice_offset << "+" << opts.slice_length << " of page "
                                    << key.page << " of " << key.kind << "/" << key.object << ": "
                                    << store::result_name(read.result)
                                    << "; fetching the page again");
  }
  if (read.result != store::Result::kOk || read.bytes.empty() ||
      !disk_copy_usable(key, opts, read.meta)) {
    return get_flight(key, opts, std::move(ex), std::move(done));
  }
  set_meta(*page, read.meta);
  page->body_offset = read.offset;
  PageResult result;
  result.page = std::move(page);
  result.source = PageSource::kDisk;
  boost::asio::post(ex, [done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

bool PageFetcher::disk_copy_usable(const base::PageKey& key, const FetchOptions& opts,
                                   const store::PageMeta& meta) {
  if (!opts.if_match.empty() && meta.etag != opts.if_match) return false;
  if (auto known = memory_.find_meta(key.kind, key.object); known && known->etag != meta.etag) {
    disk_->erase(key);  // an older version than the one last seen
    return false;
  }
  return true;
}

void PageFetcher::get_complete(const base::PageKey& key, const FetchOptions& opts,
                               boost::asio::any_io_executor ex, PageHandler done) {
  get(key, opts, ex, [ex, done = std::move(done)](PageResult r) mutable {
    if (r.outcome != base::Outcome::kOk || r.page->complete()) return done(std::move(r));
    auto fill = r.page->fill;
    // Ended, not merely all bytes there: a complete page is cached before its fill ends.
    fill->when_ended(ex, [r = std::move(r), done = std::move(done)]() mutable {
      if (r.page->failed()) {
        PageResult failed;
        failed.outcome = r.page->fill->failure();
        failed.message = r.page->fill->failure_message();
        return done(std::move(failed));
      }
      if (r.demand) r.demand->satisfy();
      done(std::move(r));
    });
  });
}

// A part of a page owned by another member: forwarded as is (the owner coalesces and caches
// the whole page), without a local flight. When no ranked member answers, the normal path
// takes over (which ends in an uncached origin fetch).
void PageFetcher::forward_slice(std::vector<PageRouter::Target> targets, std::size_t i,
                                base::PageKey key, FetchOptions opts,
                                boost::asio::any_io_executor ex, PageHandler done) {
  if (i >= targets.size() || targets[i].self) {
    return get_local(key, opts, std::move(ex), std::move(done));
  }
  const PageRouter::Target target = targets[i];
  router_->forward(target, key, opts,
                   [this, targets = std::move(targets), i, key, opts, ex,
                    done = std::move(done)](PageResult r) mutable {
                     if (r.outcome == base::Outcome::kTransportError) {
                       metrics_.forward_failovers.fetch_add(1, std::memory_order_relaxed);
                       return forward_slice(std::move(targets), i + 1, std::move(key),
                                            std::move(opts), std::move(ex), std::move(done));
                     }
                     note_forward(targets[i], key, opts, r);
                     boost::asio::post(ex, [done = std::move(done), r = std::move(r)]() mutable {
                       done(std::move(r));
                     });
                   });
}

void PageFetcher::get_flight(const base::PageKey& key, const FetchOptions& opts,
                             boost::asio::any_io_executor ex, PageHandler done) {
  std::shared_ptr<Flight> flight;
  {
    std::lock_guard lock(mu_);
    // A cache-only read never joins a flight (it might wait on the very member asking) and
    // runs its own, out of the map, so nobody joins it either.
    auto it = opts.cache_only ? flights_.end() : flights_.find(key);
    if (it != flights_.end()) {
      coalesced_.fetch_add(1, std::memory_order_relaxed);
      Flight& f = *it->second;
      if (!f.page) {
        f.waiters.push_back(Waiter{std::move(ex), std::move(done)});
        return;
      }
      const PageSource source =
          f.source == PageSource::kPeer ? PageSource::kPeer : PageSource::kCoalesced;
      PageResult r{base::Outcome::kOk, f.page, source, {}};
      if (!f.page->complete()) r.demand = make_demand_locked(it->second);
      boost::asio::post(
          ex, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
      return;
    }
    const std::uint64_t next_bytes = (flights_.size() + 1) * page_size_;
    if (opts.may_shed &&
        (flights_.size() >= limits_.max_fetches || next_bytes > limits_.max_inflight_bytes)) {
      return shed(std::move(ex), std::move(done),
                  "node busy: " + std::to_string(flights_.size()) + " page fetches in progress");
    }
    flight = std::make_shared<Flight>();
    flight->key = key;
    flight->epoch = memory_.epoch();
    flight->waiters.push_back(Waiter{std::move(ex), std::move(done)});
    if (!opts.cache_only) flights_.emplace(key, flight);
  }
  metrics_.origin_in_flight.fetch_add(1, std::memory_order_relaxed);
  // Pages in flight count inside --memory: make room for this one, or shed it.
  const std::uint64_t bytes = expected_length(key);
  if (!memory_.reserve(bytes, /*force=*/!opts.may_shed)) {
    PageResult r;
    r.outcome = base::Outcome::kThrottled;
    r.shed = true;
    r.message = "node busy: no memory left for another page in flight";
    shed_.fetch_add(1, std::memory_order_relaxed);
    return finish(flight, std::move(r));
  }
  {
    std::lock_guard lock(mu_);
    flight->reserved = bytes;
  }
  start_fetch(std::move(flight), opts);
}

void PageFetcher::shed(boost::asio::any_io_executor ex, PageHandler done, std::string message) {
  shed_.fetch_add(1, std::memory_order_relaxed);
  PageResult r;
  r.outcome = base::Outcome::kThrottled;
  r.shed = true;
  r.message = std::move(message);
  boost::asio::post(ex,
                    [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

std::uint64_t PageFetcher::expected_length(const base::PageKey& key) {
  if (auto meta = memory_.find_meta(key.kind, key.object)) {
    if (const std::uint64_t n = page_length(meta->size, page_size_, key.page)) return n;
  }
  return page_size_;
}

void PageFetcher::start_fetch(std::shared_ptr<Flight> flight, const FetchOptions& opts) {
  auto a = std::make_shared<Attempt>();
  const base::PageKey& key = flight->key;
  a->flight = std::move(flight);
  a->key = key;
  a->opts = opts;
  // A flight serves every waiter of the page, so it fetches the whole page: a slice would reach
  // other requests for the page cut short (e.g. after forward_slice() fell back to a flight).
  // The slice only says where to split the origin fetch, so its bytes come first.
  a->split = opts.slice_offset / kSplitAlign * kSplitAlign;
  if (a->split >= page_size_) a->split = 0;
  a->opts.slice_offset = 0;
  a->opts.slice_length = 0;
  if (disk_) {
    auto page = std::make_shared<Page>();
    auto done = [this, a, page](store::Result r, const store::PageMeta& m, std::string_view) {
      on_disk_read(a, page, r, m);
    };
    if (disk_->read(key, std::move(done), body_sink(page)) == store::Result::kOk) {
      return;
    }
  }
  start_miss(std::move(a));
}

// Not in memory nor on disk: the page's owner (in a cluster) or the origin.
void PageFetcher::start_miss(std::shared_ptr<Attempt> a) {
  if (a->opts.cache_only) {
    PageResult r;
    r.outcome = base::Outcome::kNotFound;
    r.message = "not cached";
    return finish(a->flight, std::move(r));
  }
  if (router_ != nullptr && !a->opts.hop) {
    a->targets = router_->targets(a->key);
    return route_next(std::move(a));
  }
  fetch_owned(std::move(a));
}

// A disk read ended (on a disk I/O thread); on kOk `page`'s body holds the verified payload.
void PageFetcher::on_disk_read(std::shared_ptr<Attempt> a, std::shared_ptr<Page> page,
                               store::Result r, const store::PageMeta& meta) {
  const base::PageKey& k = a->key;
  if (r == store::Result::kChecksumError || r == store::Result::kIoError) {
    SHOAL_LOG(kWarn, "disk: page " << k.page << " of " << k.kind << "/" << k.object << ": "
                                   << store::result_name(r) << "; fetching it again");
  }
  if (r != store::Result::kOk || !disk_copy_usable(k, a->opts, meta)) {
    return start_miss(std::move(a));
  }
  set_meta(*page, meta);
  memory_.insert(k, page, /*from_disk=*/true, a->flight->epoch);
  PageResult result;
  result.page = std::move(page);
  result.source = PageSource::kDisk;
  finish(a->flight, std::move(result));
}

// A page left memory for room: write it to disk if it is worth keeping and not there yet.
void PageFetcher::spill(EvictedPage e) {
  if (e.from_disk || disk_closing_.load(std::memory_order_acquire)) return;
  const base::PageKey& key = e.key;
  if (disk_->contains(key, e.page->etag)) return;
  // While the disk has free slots every page leaving memory is kept (the write queue still
  // bounds the bandwidth); the admission rule decides only when a write would evict.
  const store::DiskStats disk = disk_->stats();
  const bool free_slot = disk.slots_used < disk.slots;
  if (!free_slot && !admission_->admit(base::PageKeyHash{}(e.key), e.hit)) return;
  const Page& p = *e.page;
  std::lock_guard purge(purge_mu_);
  if (!memory_.current_since(key, e.epoch)) return;  // purged since it left memory
  disk_->write(key, store_meta(p), p.bytes(), e.page, [key](store::Result r) {
    if (r == store::Result::kIoError) {
      SHOAL_LOG(kWarn, "disk: writing page " << key.page << " of " << key.kind << "/" << key.object
                                             << " failed; it stays memory-only");
    }
  });
}

bool PageFetcher::open_disk(const store::DiskConfig& config, std::string* error,
                            const store::DiskTier::ProgressFn& progress) {
  disk_ = store::DiskTier::open(config, error, progress);
  if (!disk_) return false;
  const std::size_t slots = static_cast<std::size_t>(disk_->stats().slots);
  admission_ = std::make_unique<store::DiskAdmission>(
      store::AdmissionRule::kReaccessed, std::clamp<std::size_t>(slots, 1024, 1u << 20));
  memory_.set_eviction_handler([this](EvictedPage e) { spill(std::move(e)); });
  return true;
}

std::uint64_t PageFetcher::close_disk(std::chrono::steady_clock::time_point deadline) {
  if (!disk_) return 0;
  disk_closing_.store(true, std::memory_order_release);
  disk_->wait_idle();
  std::uint64_t written = 0;
  const std::size_t batch = disk_->config().max_queued_writes;
  std::size_t queued = 0;
  for (EvictedPage& e : memory_.resident_pages()) {
    if (std::chrono::steady_clock::now() >= deadline) break;
    const base::PageKey& key = e.key;
    if (disk_->contains(key, e.page->etag)) continue;
    const Page& p = *e.page;
    if (disk_->write(key, store_meta(p), p.bytes(), e.page) != store::Result::kOk) continue;
    ++written;
    if (++queued == batch) {  // keep the write queue from refusing the rest
      disk_->wait_idle();
      queued = 0;
    }
  }
  disk_->wait_idle();
  disk_.reset();
  return written;
}

void PageFetcher::enable_hot_copies(std::uint64_t capacity_bytes) {
  copies_ = capacity_bytes > 0 ? std::make_unique<HotCopies>(capacity_bytes, page_size_) : nullptr;
}

// Copies answer client requests only: a forwarded request is the owner's to serve, and a
// cache-only read asks for this node's own pages.
PageRef PageFetcher::find_copy(const base::PageKey& key, const FetchOptions& opts) {
  if (!copies_ || router_ == nullptr || opts.hop || opts.cache_only) return nullptr;
  return copies_->find(key, opts.if_match);
}

void PageFetcher::note_forward(const PageRouter::Target& target, const base::PageKey& key,
                               const FetchOptions& opts, const PageResult& r) {
  if (!copies_) return;
  if (r.outcome == base::Outcome::kPreconditionFailed) {
    copies_->invalidate(key.kind, key.object);  // the version asked for is gone
    return;
  }
  if (r.outcome != base::Outcome::kOk || !r.page) return;
  std::optional<HotCopies::Promotion> p = copies_->on_forward(key, opts.slice_length, *r.page);
  if (!p) return;
  if (r.page->body_offset == 0 && r.page->body.size == p->length) {
    return promote_when_complete(*p, r.page);  // the forward brought the whole page already
  }
  FetchOptions whole = opts;
  whole.slice_offset = 0;
  whole.slice_length = 0;
  whole.if_match = p->etag;
  whole.may_shed = true;
  router_->forward(target, key, whole, [this, p = *p](PageResult w) {
    if (w.outcome != base::Outcome::kOk) return copies_->promoted(p, nullptr);
    promote_when_complete(p, std::move(w.page));
  });
}

void PageFetcher::promote_when_complete(const HotCopies::Promotion& p, PageRef page) {
  if (!page->fill) return copies_->promoted(p, std::move(page));
  auto fill = page->fill;
  fill->on_end([this, p, page = std::move(page)](PageFill::State s) mutable {
    copies_->promoted(p, s == PageFill::State::kComplete ? std::move(page) : nullptr);
  });
}

std::uint64_t PageFetcher::part_promotions() const {
  std::lock_guard lock(mu_);
  return part_reads_.promotions();
}

PurgeCounts PageFetcher::purge(const std::string& kind, const std::string* object) {
  PurgeCounts n;
  std::lock_guard purge(purge_mu_);
  // Copies first: a copy being made is fenced before the owner's pages go, so none lands later.
  if (copies_) n.copies = object ? copies_->erase_object(kind, *object) : copies_->erase_kind(kind);
  n.memory = object ? memory_.invalidate_object(kind, *object) : memory_.invalidate_kind(kind);
  {
    std::lock_guard lock(mu_);
    std::erase_if(flights_, [&](const auto& kv) {
      const bool match = kv.first.kind == kind && (!object || kv.first.object == *object);
      n.flights += match ? 1 : 0;
      return match;
    });
  }
  if (disk_) n.disk = object ? disk_->erase_object(kind, *object) : disk_->erase_kind(kind);
  return n;
}

store::AdmissionStats PageFetcher::admission_stats() const {
  return admission_ ? admission_->stats() : store::AdmissionStats{};
}

// Cluster routing of a miss: the owner, else the next member in the page's ranking when one
// cannot be reached; this node's own rank is served (and cached) here. When no member can be
// reached the page is fetched from the origin without caching, so duplicates never linger.
void PageFetcher::route_next(std::shared_ptr<Attempt> a) {
  if (a->target >= a->targets.size()) {
    if (!a->targets.empty()) metrics_.forward_uncached.fetch_add(1, std::memory_order_relaxed);
    a->cache = a->targets.empty();
    return fetch_from_origin(std::move(a));
  }
  const PageRouter::Target& t = a->targets[a->target];
  if (t.self) return fetch_owned(std::move(a));
  router_->forward(t, a->key, a->opts, [this, a](PageResult r) {
    if (r.outcome == base::Outcome::kTransportError) {
      metrics_.forward_failovers.fetch_add(1, std::memory_order_relaxed);
      ++a->target;
      return route_next(a);
    }
    note_forward(a->targets[a->target], a->key, a->opts, r);
    deliver_forwarded(a->flight, std::move(r));
  });
}

void PageFetcher::fetch_owned(std::shared_ptr<Attempt> a) {
  std::optional<PageRouter::Target> prev;
  if (router_ != nullptr && a->cache) prev = router_->previous_owner(a->key);
  if (!prev) return fetch_from_origin(std::move(a));
  metrics_.handoffs_asked.fetch_add(1, std::memory_order_relaxed);
  FetchOptions peek = a->opts;
  peek.cache_only = true;
  router_->forward(*prev, a->key, peek, [this, a](PageResult r) { on_handoff(a, std::move(r)); });
}

// The whole page, and the object's version this node knows (if it knows one), or nothing: a
// page that fails to arrive goes to the origin before any reader saw a byte of it, so a
// previous owner leaving mid-stream fails no request.
void PageFetcher::on_handoff(std::shared_ptr<Attempt> a, PageResult r) {
  if (r.outcome != base::Outcome::kOk) return fetch_from_origin(std::move(a));
  const PageRef page = r.page;
  const base::PageKey& k = a->key;
  const bool whole = page->body_offset == 0 && page->body.size > 0 &&
                     page->body.size == page_length(page->object_size, page_size_, k.page);
  const auto known = memory_.find_meta(k.kind, k.object);
  if (!whole || (known && known->etag != page->etag) ||
      (!a->opts.if_match.empty() && page->etag != a->opts.if_match)) {
    return fetch_from_origin(std::move(a));
  }
  if (page->complete()) return take_handoff(a, page);
  page->fill->on_end([this, a, page](PageFill::State s) {
    if (s == PageFill::State::kComplete) return take_handoff(a, page);
    fetch_from_origin(a);
  });
}

void PageFetcher::take_handoff(const std::shared_ptr<Attempt>& a, PageRef page) {
  metrics_.handoffs_taken.fetch_add(1, std::memory_order_relaxed);
  take_reservation(a->flight);
  memory_.insert(a->key, page, false, a->flight->epoch);
  finish(a->flight, PageResult{base::Outcome::kOk, std::move(page), PageSource::kPeer, {}});
}

void PageFetcher::adjust_reservation(const std::shared_ptr<Flight>& flight, std::uint64_t bytes) {
  std::uint64_t give_back = 0;
  {
    std::lock_guard lock(mu_);
    if (flight->reserved <= bytes) return;
    give_back = flight->reserved - bytes;
    flight->reserved = bytes;
  }
  memory_.release(give_back);
}

void PageFetcher::take_reservation(const std::shared_ptr<Flight>& flight) {
  std::uint64_t bytes = 0;
  {
    std::lock_guard lock(mu_);
    bytes = std::exchange(flight->reserved, 0);
  }
  memory_.release(bytes);
}

void PageFetcher::publish(const std::shared_ptr<Flight>& flight, PageRef page, PageSource source) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mu_);
    if (flight->ended) return;
    flight->page = page;
    flight->source = source;
    waiters.swap(flight->waiters);
  }
  deliver(flight, std::move(waiters), PageResult{base::Outcome::kOk, std::move(page), source, {}});
}

void PageFetcher::finish(const std::shared_ptr<Flight>& flight, PageResult r) {
  std::vector<Waiter> waiters;
  std::uint64_t reserved = 0;
  {
    std::lock_guard lock(mu_);
    flight->ended = true;
    flight->cancel = nullptr;
    auto it = flights_.find(flight->key);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
    waiters.swap(flight->waiters);
    reserved = std::exchange(flight->reserved, 0);
  }
  metrics_.origin_in_flight.fetch_sub(1, std::memory_order_relaxed);
  memory_.release(reserved);
  deliver(nullptr, std::move(waiters), std::move(r));
}

// Posts `r` to each waiter: the first keeps its source, the others joined a flight (kCoalesced),
// except pages from a peer, which stay kPeer. A page still filling carries a claim per reader.
void PageFetcher::deliver(const std::shared_ptr<Flight>& flight, std::vector<Waiter> waiters,
                          PageResult r) {
  // Every reader's claim exists before the first is posted: a reader that is gone already (its
  // handler drops the result at once) must not find itself the only one and cancel the page.
  std::vector<std::shared_ptr<PageDemand>> claims(waiters.size());
  if (flight && r.outcome == base::Outcome::kOk && !r.page->complete()) {
    std::lock_guard lock(mu_);
    for (auto& c : claims) c = make_demand_locked(flight);
  }
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    PageResult copy = r;
    if (r.source != PageSource::kPeer && i > 0) copy.source = PageSource::kCoalesced;
    copy.demand = std::move(claims[i]);
    auto& w = waiters[i];
    boost::asio::post(w.ex, [done = std::move(w.done), copy = std::move(copy)]() mutable {
      done(std::move(copy));
    });
  }
}

std::shared_ptr<PageDemand> PageFetcher::make_demand_locked(const std::shared_ptr<Flight>& flight) {
  ++flight->readers;
  return std::make_shared<PageDemand>([this, weak = std::weak_ptr<Flight>(flight)](bool satisfied) {
    release_demand(weak, satisfied);
  });
}

// A reader dropped its claim. When every reader left before any was served, nobody wants the
// page: the flight is taken out of the map (a later get() starts afresh) and its fetch stopped.
void PageFetcher::release_demand(const std::weak_ptr<Flight>& weak, bool satisfied) {
  std::function<void()> cancel;
  {
    std::lock_guard lock(mu_);
    std::shared_ptr<Flight> flight = weak.lock();
    if (!flight) return;
    if (satisfied) flight->satisfied = true;
    if (--flight->readers > 0 || flight->satisfied || flight->ended) return;
    flight->ended = true;
    auto it = flights_.find(flight->key);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
    cancel = std::move(flight->cancel);
  }
  metrics_.fetches_abandoned.fetch_add(1, std::memory_order_relaxed);
  if (cancel) cancel();
}

void PageFetcher::set_cancel(const std::shared_ptr<Flight>& flight, std::function<void()> cancel) {
  {
    std::lock_guard lock(mu_);
    if (!flight->ended) {
      flight->cancel = std::move(cancel);
      return;
    }
  }
  cancel();  // abandoned while starting
}

void PageFetcher::deliver_forwarded(const std::shared_ptr<Flight>& flight, PageResult r) {
  if (r.outcome != base::Outcome::kOk || r.page->complete()) return finish(flight, std::move(r));
  publish(flight, r.page, PageSource::kPeer);
  r.page->fill->on_end([this, flight, page = r.page](PageFill::State s) {
    if (s == PageFill::State::kComplete) {
      return finish(flight, PageResult{base::Outcome::kOk, page, PageSource::kPeer, {}});
    }
    PageResult failed;
    failed.outcome = page->fill->failure();
    failed.message = page->fill->failure_message();
    finish(flight, std::move(failed));
  });
}

void PageFetcher::head(const std::string& kind, const std::string& object, const FetchOptions& opts,
                       boost::asio::any_io_executor ex, HeadHandler done) {
  if (auto meta = memory_.find_meta(kind, object)) {
    boost::asio::post(ex, [done = std::move(done), m = *meta]() mutable {
      done(HeadResult{base::Outcome::kOk, std::move(m), {}});
    });
    return;
  }
  auto a = std::make_shared<HeadAttempt>();
  a->kind = kind;
  a->object = object;
  a->epoch = memory_.epoch();
  a->opts = opts;
  // The same order a page fetch would use (breakers, error rates, latency, peers' figures).
  a->opts.buckets = origin_->head_order(opts.buckets);
  a->ex = std::move(ex);
  a->done = std::move(done);
  try_head(std::move(a));
}

void PageFetcher::try_head(std::shared_ptr<HeadAttempt> a) {
  const std::string bucket = a->opts.buckets[a->bucket];
  origin_->head(bucket, a->object, a->opts.config, [this, a, bucket](origin::HeadResult r) {
    metrics_.origin_requests.add({bucket, "head", std::string(base::outcome_name(r.outcome))});
    if (r.outcome != base::Outcome::kOk && falls_through(r.outcome) &&
        a->bucket + 1 < a->opts.buckets.size()) {
      ++a->bucket;
      try_head(a);
      return;
    }
    HeadResult out;
    out.outcome = r.outcome;
    out.message = r.message;
    if (r.outcome == base::Outcome::kOk) {
      out.meta = ObjectMeta{r.info.size, r.info.etag, r.info.last_modified, unix_now()};
      memory_.put_meta(a->kind, a->object, out.meta, a->epoch);
    }
    boost::asio::post(a->ex, [done = std::move(a->done), out = std::move(out)]() mutable {
      done(std::move(out));
    });
  });
}

}  // namespace shoal::node
