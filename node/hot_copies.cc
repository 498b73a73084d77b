#include "node/hot_copies.h"

#include <algorithm>

namespace shoal::node {
namespace {

// Pages of `page_size` the copies can hold (at least one).
std::uint64_t copy_entries(std::uint64_t capacity_bytes, std::uint64_t page_size) {
  return std::max<std::uint64_t>(capacity_bytes / std::max<std::uint64_t>(page_size, 1), 1);
}

}  // namespace

HotCopies::HotCopies(std::uint64_t capacity_bytes, std::uint64_t page_size)
    : page_size_(page_size),
      copies_(capacity_bytes),
      sketch_(static_cast<std::size_t>(
                  std::max<std::uint64_t>(16 * copy_entries(capacity_bytes, page_size), 256)),
              std::max<std::uint64_t>(10 * kUnitsPerPage * copy_entries(capacity_bytes, page_size),
                                      128 * kUnitsPerPage)) {}

PageRef HotCopies::find(const base::PageKey& key, const std::string& if_match) {
  PageRef page = copies_.find(key);
  if (!page || (!if_match.empty() && page->etag != if_match)) return nullptr;
  hits_.fetch_add(1, std::memory_order_relaxed);
  return page;
}

std::optional<HotCopies::Promotion> HotCopies::on_forward(const base::PageKey& key,
                                                          std::uint64_t slice_length,
                                                          const Page& answer) {
  const std::uint64_t length = page_length(answer.object_size, page_size_, key.page);
  const std::uint64_t part = slice_length == 0 ? page_size_ : std::min(slice_length, page_size_);
  const auto units = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(
      (part * kUnitsPerPage + page_size_ - 1) / page_size_, 1, kUnitsPerPage));
  std::lock_guard lock(mu_);
  if (auto meta = copies_.find_meta(key.kind, key.object); meta && meta->etag != answer.etag) {
    invalidate_locked(key.kind, key.object);
  }
  const std::uint32_t heat = sketch_.add(base::PageKeyHash{}(key), units);
  if (heat < kAdmitUnits || length == 0 || answer.etag.empty()) return std::nullopt;
  if (promoting_.size() >= kMaxPromotions || promoting_.contains(key)) return std::nullopt;
  if (PageRef held = copies_.peek(key); held && held->etag == answer.etag) return std::nullopt;
  if (!copies_.reserve(length)) return std::nullopt;  // larger than the share, or all reserved
  promoting_.insert(key);
  return Promotion{key, answer.etag, length, generation_};
}

void HotCopies::promoted(const Promotion& p, PageRef page) {
  copies_.release(p.length);
  std::lock_guard lock(mu_);
  promoting_.erase(p.key);
  const bool whole = page && page->complete() && page->body_offset == 0 &&
                     page->body.size == p.length &&
                     page_length(page->object_size, page_size_, p.key.page) == p.length;
  auto meta = copies_.find_meta(p.key.kind, p.key.object);
  if (!whole || page->etag != p.etag || p.generation != generation_ ||
      (meta && meta->etag != p.etag) || !copies_.insert(p.key, std::move(page))) {
    promotions_failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  admissions_.fetch_add(1, std::memory_order_relaxed);
}

std::size_t HotCopies::invalidate_locked(const std::string& kind, const std::string& object) {
  ++generation_;  // a promotion of the old version must not land now
  const std::size_t n = copies_.erase_object(kind, object);
  invalidations_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

std::size_t HotCopies::invalidate(const std::string& kind, const std::string& object) {
  std::lock_guard lock(mu_);
  return invalidate_locked(kind, object);
}

template <class Erase>
std::size_t HotCopies::purge(Erase erase) {
  std::lock_guard lock(mu_);
  ++generation_;
  const std::size_t n = erase();
  purged_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

std::size_t HotCopies::erase_object(const std::string& kind, const std::string& object) {
  return purge([&] { return copies_.erase_object(kind, object); });
}

std::size_t HotCopies::erase_kind(const std::string& kind) {
  return purge([&] { return copies_.erase_kind(kind); });
}

HotCopyStats HotCopies::stats() const {
  const MemoryTierStats t = copies_.stats();
  HotCopyStats s;
  s.capacity_bytes = t.capacity_bytes;
  s.used_bytes = t.used_bytes + t.reserved_bytes;
  s.pages = t.pages;
  s.page_bytes = t.page_bytes;
  s.evictions = t.evictions;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.admissions = admissions_.load(std::memory_order_relaxed);
  s.invalidations = invalidations_.load(std::memory_order_relaxed);
  s.purged = purged_.load(std::memory_order_relaxed);
  s.promotions_failed = promotions_failed_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  s.promotions_in_flight = promoting_.size();
  return s;
}

}  // namespace shoal::node
