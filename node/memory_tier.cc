#include "node/memory_tier.h"

#include <malloc.h>

#include <algorithm>

#include "ring/base/buffer_pool.h"

namespace shoal::node {
namespace {

// Large allocations come from mmap(2) from this size on (configure_allocator()).
constexpr std::uint64_t kMmapThreshold = 256 * 1024;

// The bytes glibc's malloc takes for a request of n bytes: an 8-byte header, rounded up to 16,
// at least 32; from the mmap threshold on, whole pages.
std::uint64_t heap_block(std::uint64_t n) {
  if (n == 0) return 0;
  if (n >= kMmapThreshold) return (n + 16 + 4095) / 4096 * 4096;
  return std::max<std::uint64_t>(32, (n + 8 + 15) / 16 * 16);
}

// The heap bytes of a string beyond its in-object buffer (libstdc++ keeps up to 15 chars inline).
std::uint64_t heap_of(const std::string& s) {
  return s.capacity() > 15 ? heap_block(s.capacity() + 1) : 0;
}

// The bytes a body holds: what the slice pool allocated for it (a pooled buffer's whole size
// class, an aligned allocation), else a heap block.
std::uint64_t body_bytes(const base::Bytes& body) {
  if (auto held = base::BufferPool::held_bytes(body)) return held;
  return heap_block(body.data.get_deleter().offset + body.size);
}

base::PageKey meta_key(const std::string& kind, const std::string& object) {
  return base::PageKey{kind, object, kMetaPage};
}

}  // namespace

MemoryTier::MemoryTier(std::uint64_t capacity_bytes) : cache_(capacity_bytes) {}

std::uint64_t MemoryTier::charge(const base::PageKey& key, const Page& page) {
  constexpr std::uint64_t kControlBlock = 16;  // make_shared's counts beside the Page
  return decltype(cache_)::entry_overhead_bytes() + heap_of(key.kind) + heap_of(key.object) +
         heap_block(sizeof(Page) + kControlBlock) + heap_of(page.etag) +
         heap_of(page.last_modified) + heap_of(page.bucket) + body_bytes(page.body);
}

void MemoryTier::configure_allocator() {
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThreshold));
}

PageRef MemoryTier::find(const base::PageKey& key) {
  std::lock_guard lock(mu_);
  Entry* v = cache_.find(key);
  if (v == nullptr) return nullptr;
  v->hit = true;
  return v->page;
}

PageRef MemoryTier::peek(const base::PageKey& key) const {
  std::lock_guard lock(mu_);
  const Entry* v = cache_.peek(key);
  return v ? v->page : nullptr;
}

bool MemoryTier::insert(const base::PageKey& key, PageRef page, bool from_disk,
                        std::uint64_t since) {
  const std::uint64_t page_charge = charge(key, *page);
  auto meta = std::make_shared<Page>();
  meta->object_size = page->object_size;
  meta->etag = page->etag;
  meta->last_modified = page->last_modified;
  meta->cached_at = page->cached_at;
  base::PageKey mkey = meta_key(key.kind, key.object);
  const std::uint64_t meta_charge = charge(mkey, *meta);

  std::vector<EvictedPage> evicted;
  bool admitted = false;
  {
    std::lock_guard lock(mu_);
    if (since != kUnchecked && !epochs_.current_since(key.kind, key.object, since)) {
      ++stale_refused_;
      return false;
    }
    drop_other_etags_locked(key, page->etag);
    insert_locked(mkey, Entry{std::move(meta)}, meta_charge, &evicted);
    admitted = page_charge <= cache_.capacity_bytes();
    insert_locked(key, Entry{std::move(page), false, from_disk}, page_charge, &evicted);
  }
  hand_over(std::move(evicted));
  return admitted;
}

void MemoryTier::hand_over(std::vector<EvictedPage> evicted) {
  if (!on_evict_) return;
  for (EvictedPage& e : evicted) on_evict_(std::move(e));
}

void MemoryTier::insert_locked(const base::PageKey& key, Entry entry, std::uint64_t charge,
                               std::vector<EvictedPage>* evicted_pages) {
  const bool is_page = key.page != kMetaPage;
  if (Entry* old = cache_.peek(key)) {
    if (is_page) {
      --pages_;
      page_bytes_ -= old->page->body.size;
    }
  }
  const std::uint64_t body = entry.page->body.size;
  auto evicted = cache_.insert(key, std::move(entry), charge);
  bool self_rejected = false;
  if (charge > cache_.capacity_bytes()) {
    // The entry itself comes back: never admitted.
    auto self = std::find_if(evicted.begin(), evicted.end(),
                             [&key](const auto& kv) { return kv.first == key; });
    if (self != evicted.end()) {
      self_rejected = true;
      evicted.erase(self);
    }
  }
  collect_evicted_locked(std::move(evicted), evicted_pages);
  if (self_rejected) {
    if (is_page) ++rejected_;
    return;
  }
  if (is_page) {
    ++pages_;
    page_bytes_ += body;
  }
}

void MemoryTier::collect_evicted_locked(std::vector<std::pair<base::PageKey, Entry>> evicted,
                                        std::vector<EvictedPage>* out) {
  for (auto& [k, v] : evicted) {
    if (k.page != kMetaPage) {
      --pages_;
      page_bytes_ -= v.page->body.size;
      out->push_back(
          EvictedPage{std::move(k), std::move(v.page), v.hit, v.from_disk, epochs_.now()});
    }
    ++evictions_;
  }
}

void MemoryTier::drop_other_etags_locked(const base::PageKey& key, const std::string& etag) {
  Entry* meta = cache_.peek(meta_key(key.kind, key.object));
  if (meta == nullptr || meta->page->etag == etag) return;
  std::size_t dropped = cache_.erase_if([&](const base::PageKey& k, const Entry& v) {
    if (k.page == kMetaPage || k.kind != key.kind || k.object != key.object) return false;
    if (v.page->etag == etag) return false;
    --pages_;
    page_bytes_ -= v.page->body.size;
    return true;
  });
  invalidations_ += dropped;
}

bool MemoryTier::reserve(std::uint64_t bytes, bool force) {
  std::vector<EvictedPage> evicted;
  bool ok = false;
  {
    std::lock_guard lock(mu_);
    std::vector<std::pair<base::PageKey, Entry>> out;
    ok = cache_.reserve(bytes, force, &out);
    collect_evicted_locked(std::move(out), &evicted);
  }
  hand_over(std::move(evicted));
  return ok;
}

void MemoryTier::release(std::uint64_t bytes) {
  std::lock_guard lock(mu_);
  cache_.release(bytes);
}

std::optional<ObjectMeta> MemoryTier::find_meta(const std::string& kind,
                                                const std::string& object) {
  std::lock_guard lock(mu_);
  Entry* v = cache_.find(meta_key(kind, object));
  if (v == nullptr) return std::nullopt;
  const Page& m = *v->page;
  return ObjectMeta{m.object_size, m.etag, m.last_modified, m.cached_at};
}

void MemoryTier::put_meta(const std::string& kind, const std::string& object, const ObjectMeta& m,
                          std::uint64_t since) {
  auto meta = std::make_shared<Page>();
  meta->object_size = m.size;
  meta->etag = m.etag;
  meta->last_modified = m.last_modified;
  meta->cached_at = m.cached_at;
  base::PageKey mkey = meta_key(kind, object);
  const std::uint64_t meta_charge = charge(mkey, *meta);
  std::vector<EvictedPage> evicted;
  {
    std::lock_guard lock(mu_);
    if (since != kUnchecked && !epochs_.current_since(kind, object, since)) {
      ++stale_refused_;
      return;
    }
    drop_other_etags_locked(mkey, m.etag);
    insert_locked(mkey, Entry{std::move(meta)}, meta_charge, &evicted);
  }
  hand_over(std::move(evicted));
}

std::size_t MemoryTier::erase_object(const std::string& kind, const std::string& object) {
  std::lock_guard lock(mu_);
  return erase_matching_locked(
      [&](const base::PageKey& k) { return k.kind == kind && k.object == object; });
}

std::size_t MemoryTier::erase_kind(const std::string& kind) {
  std::lock_guard lock(mu_);
  return erase_matching_locked([&](const base::PageKey& k) { return k.kind == kind; });
}

std::uint64_t MemoryTier::epoch() const {
  std::lock_guard lock(mu_);
  return epochs_.now();
}

std::size_t MemoryTier::invalidate_object(const std::string& kind, const std::string& object) {
  std::lock_guard lock(mu_);
  epochs_.invalidate_object(kind, object);
  return erase_matching_locked(
      [&](const base::PageKey& k) { return k.kind == kind && k.object == object; });
}

std::size_t MemoryTier::invalidate_kind(const std::string& kind) {
  std::lock_guard lock(mu_);
  epochs_.invalidate_kind(kind);
  return erase_matching_locked([&](const base::PageKey& k) { return k.kind == kind; });
}

bool MemoryTier::current_since(const base::PageKey& key, std::uint64_t since) const {
  std::lock_guard lock(mu_);
  return epochs_.current_since(key.kind, key.object, since);
}

std::size_t MemoryTier::erase_matching_locked(
    const std::function<bool(const base::PageKey&)>& match) {
  std::size_t pages = 0;
  cache_.erase_if([&](const base::PageKey& k, const Entry& v) {
    if (!match(k)) return false;
    if (k.page != kMetaPage) {
      ++pages;
      --pages_;
      page_bytes_ -= v.page->body.size;
    }
    return true;
  });
  return pages;
}

std::vector<EvictedPage> MemoryTier::resident_pages() {
  std::vector<EvictedPage> out;
  std::lock_guard lock(mu_);
  out.reserve(pages_);
  // erase_if visits every entry once; the predicate only collects and never erases.
  cache_.erase_if([&](const base::PageKey& k, const Entry& v) {
    if (k.page != kMetaPage) {
      out.push_back(EvictedPage{k, v.page, v.hit, v.from_disk, epochs_.now()});
    }
    return false;
  });
  return out;
}

MemoryTierStats MemoryTier::stats() const {
  std::lock_guard lock(mu_);
  return MemoryTierStats{cache_.capacity_bytes(),
                         cache_.used_bytes(),
                         cache_.reserved_bytes(),
                         pages_,
                         page_bytes_,
                         evictions_,
                         rejected_,
                         invalidations_,
                         stale_refused_};
}

}  // namespace shoal::node
