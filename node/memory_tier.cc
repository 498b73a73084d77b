#include "node/memory_tier.h"

namespace shoal::node {
namespace {

PageKey meta_key(const std::string& kind, const std::string& object) {
  return PageKey{kind, object, kMetaPage};
}

}  // namespace

MemoryTier::MemoryTier(std::uint64_t capacity_bytes) : cache_(capacity_bytes) {}

PageRef MemoryTier::find(const PageKey& key) {
  std::lock_guard lock(mu_);
  PageRef* v = cache_.find(key);
  return v ? *v : nullptr;
}

PageRef MemoryTier::peek(const PageKey& key) const {
  std::lock_guard lock(mu_);
  const PageRef* v = cache_.peek(key);
  return v ? *v : nullptr;
}

bool MemoryTier::insert(const PageKey& key, PageRef page) {
  const std::uint64_t charge = memory_charge(key, *page);
  auto meta = std::make_shared<Page>();
  meta->object_size = page->object_size;
  meta->etag = page->etag;
  meta->last_modified = page->last_modified;
  meta->cached_at = page->cached_at;
  PageKey mkey = meta_key(key.kind, key.object);
  const std::uint64_t meta_charge = memory_charge(mkey, *meta);

  std::lock_guard lock(mu_);
  drop_other_etags_locked(key, page->etag);
  insert_locked(mkey, std::move(meta), meta_charge);
  const bool admitted = charge <= cache_.capacity_bytes();
  insert_locked(key, std::move(page), charge);
  return admitted;
}

void MemoryTier::insert_locked(const PageKey& key, PageRef page, std::uint64_t charge) {
  const bool is_page = key.page != kMetaPage;
  if (PageRef* old = cache_.peek(key)) {
    if (is_page) {
      --pages_;
      page_bytes_ -= (*old)->body.size;
    }
  }
  const std::uint64_t body = page->body.size;
  auto evicted = cache_.insert(key, std::move(page), charge);
  bool self_rejected = false;
  for (auto& [k, v] : evicted) {
    if (k == key && charge > cache_.capacity_bytes()) {
      self_rejected = true;
      continue;
    }
    if (k.page != kMetaPage) {
      --pages_;
      page_bytes_ -= v->body.size;
    }
    ++evictions_;
  }
  if (self_rejected) {
    if (is_page) ++rejected_;
    return;
  }
  if (is_page) {
    ++pages_;
    page_bytes_ += body;
  }
}

void MemoryTier::drop_other_etags_locked(const PageKey& key, const std::string& etag) {
  PageRef* meta = cache_.peek(meta_key(key.kind, key.object));
  if (meta == nullptr || (*meta)->etag == etag) return;
  std::size_t dropped = cache_.erase_if([&](const PageKey& k, const PageRef& v) {
    if (k.page == kMetaPage || k.kind != key.kind || k.object != key.object) return false;
    if (v->etag == etag) return false;
    --pages_;
    page_bytes_ -= v->body.size;
    return true;
  });
  invalidations_ += dropped;
}

std::optional<ObjectMeta> MemoryTier::find_meta(const std::string& kind,
                                                const std::string& object) {
  std::lock_guard lock(mu_);
  PageRef* v = cache_.find(meta_key(kind, object));
  if (v == nullptr) return std::nullopt;
  return ObjectMeta{(*v)->object_size, (*v)->etag, (*v)->last_modified, (*v)->cached_at};
}

void MemoryTier::put_meta(const std::string& kind, const std::string& object,
                          const ObjectMeta& m) {
  auto meta = std::make_shared<Page>();
  meta->object_size = m.size;
  meta->etag = m.etag;
  meta->last_modified = m.last_modified;
  meta->cached_at = m.cached_at;
  PageKey mkey = meta_key(kind, object);
  const std::uint64_t charge = memory_charge(mkey, *meta);
  std::lock_guard lock(mu_);
  drop_other_etags_locked(mkey, m.etag);
  insert_locked(mkey, std::move(meta), charge);
}

std::size_t MemoryTier::erase_object(const std::string& kind, const std::string& object) {
  return erase_matching(
      [&](const PageKey& k) { return k.kind == kind && k.object == object; });
}

std::size_t MemoryTier::erase_kind(const std::string& kind) {
  return erase_matching([&](const PageKey& k) { return k.kind == kind; });
}

std::size_t MemoryTier::erase_matching(const std::function<bool(const PageKey&)>& match) {
  std::lock_guard lock(mu_);
  std::size_t pages = 0;
  cache_.erase_if([&](const PageKey& k, const PageRef& v) {
    if (!match(k)) return false;
    if (k.page != kMetaPage) {
      ++pages;
      --pages_;
      page_bytes_ -= v->body.size;
    }
    return true;
  });
  return pages;
}

MemoryTierStats MemoryTier::stats() const {
  std::lock_guard lock(mu_);
  return MemoryTierStats{cache_.capacity_bytes(), cache_.used_bytes(), pages_, page_bytes_,
                         evictions_, rejected_, invalidations_};
}

}  // namespace shoal::node
