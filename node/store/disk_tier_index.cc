// DiskTier's index (key -> slot, object -> slots), slot allocation and eviction (CLOCK or FIFO),
// invalidation of dropped slots, and the erase calls (node/store/disk_tier.h: "Index",
// "Eviction"). Every *_locked function runs with mu_ held.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "node/store/disk_tier.h"

namespace shoal::store {

void DiskTier::index_locked(std::uint32_t slot, const base::PageKey& key, const std::string& etag,
                            std::uint64_t sequence) {
  auto [it, inserted] = index_.emplace(key, slot);
  Slot& s = slots_[slot];
  s.key = &it->first;
  s.sequence = sequence;
  ObjectEntry& object = objects_[base::ObjectKey{key.kind, key.object}];
  if (object.slots.empty()) object.etag = etag;
  object.newest_sequence = std::max(object.newest_sequence, sequence);
  s.object = &object;
  s.object_pos = static_cast<std::uint32_t>(object.slots.size());
  object.slots.push_back(slot);
  stats_.page_bytes += s.payload_length;
}

void DiskTier::unindex_locked(std::uint32_t slot) {
  Slot& s = slots_[slot];
  if (s.key == nullptr) return;
  ObjectEntry* object = s.object;
  const std::uint32_t last = object->slots.back();
  object->slots[s.object_pos] = last;
  slots_[last].object_pos = s.object_pos;
  object->slots.pop_back();
  if (object->slots.empty()) objects_.erase(base::ObjectKey{s.key->kind, s.key->object});
  index_.erase(index_.find(*s.key));
  stats_.page_bytes -= s.payload_length;
  s.key = nullptr;
  s.object = nullptr;
  forget_header_locked(slot);
  if (s.bad_blocks) {
    auto bad = bad_blocks_.find(slot);
    stats_.blocks_bad -= bad->second.count();
    bad_blocks_.erase(bad);
    s.bad_blocks = false;
  }
}

void DiskTier::drop_locked(std::uint32_t slot) {
  unindex_locked(slot);
  Slot& s = slots_[slot];
  if (s.state == SlotState::kWriting || s.readers > 0) {
    s.doomed = true;
    return;
  }
  if (s.state == SlotState::kValid) start_invalidation_locked(slot);
}

void DiskTier::drop_object_locked(const base::ObjectKey& key) {
  auto object = objects_.find(key);
  if (object == objects_.end()) return;
  const std::vector<std::uint32_t> victims = object->second.slots;
  for (std::uint32_t v : victims) drop_locked(v);
}

std::optional<std::uint32_t> DiskTier::allocate_locked() {
  if (!free_.empty()) {
    const std::uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  compact_order_locked();
  const bool clock = config_.eviction == EvictionPolicy::kClock;
  for (std::size_t budget = 2 * order_.size() + 1; budget > 0 && !order_.empty(); --budget) {
    auto [slot, sequence] = order_.front();
    order_.pop_front();
    Slot& s = slots_[slot];
    if (s.state != SlotState::kValid || s.sequence != sequence || s.key == nullptr) continue;
    if (s.readers > 0 || (clock && s.referenced)) {
      if (s.readers == 0) s.referenced = false;
      order_.emplace_back(slot, sequence);
      continue;
    }
    unindex_locked(slot);
    ++stats_.evictions;
    return slot;
  }
  return std::nullopt;
}

void DiskTier::compact_order_locked() {
  if (order_.size() <= 2 * slots_.size() + 16) return;
  std::deque<std::pair<std::uint32_t, std::uint64_t>> kept;
  for (auto [slot, sequence] : order_) {
    const Slot& s = slots_[slot];
    if (s.state == SlotState::kValid && s.sequence == sequence && s.key != nullptr) {
      kept.emplace_back(slot, sequence);
    }
  }
  order_.swap(kept);
}

// ---- header cache ----

namespace {

// RAM one cached header takes: the record, its strings and checksums, and the map and queue
// entries that hold it (an estimate from above, not an allocator's exact figure).
std::uint64_t cached_header_bytes(const SlotRecord& r) {
  constexpr std::uint64_t kOverhead = 128;  // map node, queue entry, shared_ptr control block
  return sizeof(SlotRecord) + kOverhead + r.key.kind.size() + r.key.object.size() +
         r.meta.etag.size() + r.meta.last_modified.size() + r.meta.bucket.size() +
         r.block_checksums.size() * sizeof(std::uint64_t);
}

}  // namespace

void DiskTier::cache_header_locked(std::uint32_t slot, std::shared_ptr<const SlotRecord> record) {
  const std::uint64_t bytes = cached_header_bytes(*record);
  if (bytes > config_.header_cache_bytes) return;
  forget_header_locked(slot);
  // Every cached header has its (slot, sequence) in header_order_, so the queue runs out only
  // once nothing is charged.
  while (!header_order_.empty() && stats_.header_cache_bytes + bytes > config_.header_cache_bytes) {
    auto [oldest, sequence] = header_order_.front();
    header_order_.pop_front();
    if (cached_header_locked(oldest, sequence)) forget_header_locked(oldest);
  }
  const std::uint64_t sequence = record->sequence;
  headers_[slot] = CachedHeader{bytes, std::move(record)};
  header_order_.emplace_back(slot, sequence);
  stats_.header_cache_bytes += bytes;
  if (header_order_.size() > 2 * headers_.size() + 64) {  // drop the entries forgotten since
    std::erase_if(header_order_, [this](const std::pair<std::uint32_t, std::uint64_t>& e) {
      return cached_header_locked(e.first, e.second) == nullptr;
    });
  }
}

void DiskTier::forget_header_locked(std::uint32_t slot) {
  auto it = headers_.find(slot);
  if (it == headers_.end()) return;
  stats_.header_cache_bytes -= it->second.bytes;
  headers_.erase(it);
}

std::shared_ptr<const SlotRecord> DiskTier::cached_header_locked(std::uint32_t slot,
                                                                 std::uint64_t sequence) const {
  auto it = headers_.find(slot);
  if (it == headers_.end() || it->second.record->sequence != sequence) return nullptr;
  return it->second.record;
}

void DiskTier::release_reader_locked(std::uint32_t slot) {
  Slot& s = slots_[slot];
  --s.readers;
  if (s.readers == 0 && s.doomed && s.state == SlotState::kValid) {
    s.doomed = false;
    start_invalidation_locked(slot);
  }
}

void DiskTier::mark_bad_blocks_locked(std::uint32_t slot,
                                      const std::vector<std::uint32_t>& blocks) {
  std::bitset<kMaxPayloadBlocks>& bad = bad_blocks_[slot];
  for (std::uint32_t b : blocks) {
    if (!bad.test(b)) ++stats_.blocks_bad;
    bad.set(b);
  }
  slots_[slot].bad_blocks = true;
}

bool DiskTier::touches_bad_block_locked(std::uint32_t slot, std::uint64_t first_block,
                                        std::uint64_t end_block) const {
  if (!slots_[slot].bad_blocks) return false;
  const std::bitset<kMaxPayloadBlocks>& bad = bad_blocks_.at(slot);
  for (std::uint64_t b = first_block; b < end_block; ++b) {
    if (bad.test(b)) return true;
  }
  return false;
}

void DiskTier::start_invalidation_locked(std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.state = SlotState::kInvalidating;
  if (!pool_->submit(IoPool::Lane::kBackground, [this, slot] { run_invalidation(slot); })) {
    // Shutting down: the header stays; the slot is free for nothing more in this process.
    s.state = SlotState::kFree;
  }
}

void DiskTier::run_invalidation(std::uint32_t slot) {
  AlignedBuffer block(kHeaderBytes);
  std::memset(block.data(), 0, kHeaderBytes);
  const int err = device_->write(block.data(), kHeaderBytes, slot_offset(slot));
  std::lock_guard lock(mu_);
  Slot& s = slots_[slot];
  if (err == 0) {
    stats_.bytes_written += kHeaderBytes;
    s.header_on_disk = false;
  } else {
    ++stats_.io_errors;
  }
  if (err == EIO) {
    s.state = SlotState::kBad;
    ++stats_.slots_bad;
    return;
  }
  s.state = SlotState::kFree;
  free_.push_back(slot);
}

// ---- lookups and erasure ----

bool DiskTier::contains(const base::PageKey& key, std::string_view etag) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  const Slot& s = slots_[it->second];
  return !s.bad_blocks && s.object->etag == etag;
}

bool DiskTier::erase(const base::PageKey& key) {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  drop_locked(it->second);
  return true;
}

std::size_t DiskTier::erase_object(const std::string& kind, const std::string& object) {
  std::lock_guard lock(mu_);
  const base::ObjectKey key{kind, object};
  auto it = objects_.find(key);
  const std::size_t n = it == objects_.end() ? 0 : it->second.slots.size();
  drop_object_locked(key);
  return n;
}

std::size_t DiskTier::erase_kind(const std::string& kind) {
  std::lock_guard lock(mu_);
  std::vector<base::ObjectKey> objects;
  for (const auto& [key, entry] : objects_) {
    if (key.kind == kind) objects.push_back(key);
  }
  std::size_t n = 0;
  for (const base::ObjectKey& key : objects) {
    n += objects_.at(key).slots.size();
    drop_object_locked(key);
  }
  return n;
}

}  // namespace shoal::store
