#include "node/store/disk_tier.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <thread>

namespace shoal::store {
namespace {

constexpr std::uint64_t kMinPageSize = 64ull << 10;
constexpr std::uint64_t kRecoveryBatch = 256;  // slots per recovery work item
constexpr int kRecoveryThreads = 16;           // header reads in flight during recovery
constexpr auto kProgressEvery = std::chrono::milliseconds(200);

constexpr std::size_t kCopyChunk = 256 << 10;  // copied then hashed while still in cache

bool is_power_of_two(std::uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

// XXH3-64 of `n` bytes at `source`, copying them to `dest` on the way when it is not null: each
// chunk is hashed right after it is copied, from the cache, so the bytes cross memory once.
std::uint64_t checksum_copy(const char* source, char* dest, std::size_t n) {
  if (dest == nullptr) return checksum(std::string_view(source, n));
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (std::size_t off = 0; off < n; off += kCopyChunk) {
    const std::size_t len = std::min(kCopyChunk, n - off);
    std::memcpy(dest + off, source + off, len);
    XXH3_64bits_update(&state, dest + off, len);
  }
  return XXH3_64bits_digest(&state);
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::optional<std::string> check_fs_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISBLK(st.st_mode)) return "kind: file, but " + path + " is a block device";
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
      return "path: " + path + " is neither a directory nor a regular file";
    }
    return std::nullopt;
  }
  const std::string dir = parent_dir(path);
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return "path: " + path + " does not exist and its directory " + dir + " is missing";
  }
  return std::nullopt;
}

std::optional<std::string> check_block_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "path: " + path + ": " + std::strerror(errno);
  if (!S_ISBLK(st.st_mode)) {
    return "kind: block, but " + path + " is not a block device";
  }
  return std::nullopt;
}

// Free bytes for the store file `file`: free space in its file system plus the bytes the file
// already occupies. nullopt if statvfs fails.
std::optional<std::uint64_t> fs_room(const std::string& file) {
  struct statvfs vfs {};
  if (::statvfs(parent_dir(file).c_str(), &vfs) != 0) return std::nullopt;
  std::uint64_t room = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0) room += static_cast<std::uint64_t>(st.st_blocks) * 512;
  return room;
}

std::uint64_t default_share(std::uint64_t bytes) {
  return bytes / 10 * 8 + bytes % 10 * 8 / 10;
}

}  // namespace

std::string_view result_name(Result r) {
  switch (r) {
    case Result::kOk:
      return "ok";
    case Result::kNotFound:
      return "not_found";
    case Result::kChecksumError:
      return "checksum_error";
    case Result::kIoError:
      return "io_error";
    case Result::kRejected:
      return "rejected";
  }
  return "unknown";
}

std::optional<std::string> DiskConfig::validate() const {
  if (path.empty()) return "path: must not be empty";
  if (auto e = kind == DeviceKind::kFile ? check_fs_path(path) : check_block_path(path)) return e;
  if (page_size < kMinPageSize || !is_power_of_two(page_size)) {
    return "page_size: must be a power of two >= 64KiB, got " + std::to_string(page_size);
  }
  if (capacity_bytes != 0 && capacity_bytes < slot_bytes(page_size)) {
    return "capacity_bytes: must hold at least one slot (" + std::to_string(slot_bytes(page_size)) +
           " bytes with this page size)";
  }
  if (io_threads < 1 || io_threads > 64) return "io_threads: must be in [1, 64]";
  if (max_queued_reads == 0 || max_queued_writes == 0)
    return "max_queued_reads, max_queued_writes: must be >= 1";
  return std::nullopt;
}

struct DiskTier::WriteJob {
  std::uint32_t slot = 0;
  std::uint64_t sequence = 0;
  bool zero_header = false;
  SlotRecord record;
  std::string_view payload;
  std::shared_ptr<const void> keep_alive;
  WriteHandler done;
};

// ---- opening and recovery ----

std::unique_ptr<DiskTier> DiskTier::open(const DiskConfig& config, std::string* error,
                                         const ProgressFn& progress) {
  if (auto e = config.validate()) {
    *error = *e;
    return nullptr;
  }
  const std::uint64_t slot = slot_bytes(config.page_size);
  std::uint64_t capacity = config.capacity_bytes;
  std::unique_ptr<Device> device;
  if (config.kind == DeviceKind::kBlock) {
    device = Device::open_block(config.path, error);
    if (!device) {
      *error = "path: " + *error;
      return nullptr;
    }
    if (capacity == 0) capacity = default_share(device->size());
    if (capacity > device->size()) {
      *error = "capacity_bytes: " + std::to_string(capacity) + " bytes is more than the " +
               std::to_string(device->size()) + " bytes of " + config.path;
      return nullptr;
    }
  } else {
    const std::string file = store_file_path(config.path);
    if (capacity == 0) {
      auto room = fs_room(file);
      if (!room) {
        *error = "path: statvfs " + parent_dir(file) + ": " + std::strerror(errno);
        return nullptr;
      }
      capacity = default_share(*room);
    }
  }
  const std::uint64_t slots =
      std::min<std::uint64_t>(capacity / slot, std::numeric_limits<std::uint32_t>::max());
  if (slots == 0) {
    *error = "capacity_bytes: " + std::to_string(capacity) + " bytes hold no slot of " +
             std::to_string(slot) + " bytes";
    return nullptr;
  }
  if (config.kind == DeviceKind::kFile) {
    device = Device::open_file(store_file_path(config.path), slots * slot, error);
    if (!device) {
      *error = "path: " + *error;
      return nullptr;
    }
  }
  std::unique_ptr<DiskTier> tier(new DiskTier(config, std::move(device), slots));
  tier->recover(progress);
  return tier;
}

DiskTier::DiskTier(const DiskConfig& config, std::unique_ptr<Device> device, std::uint64_t slots)
    : config_(config),
      slot_bytes_(slot_bytes(config.page_size)),
      device_(std::move(device)),
      slots_(slots),
      pool_(std::make_unique<IoPool>(config.io_threads, config.max_queued_reads,
                                     config.max_queued_writes + slots)) {}

DiskTier::~DiskTier() {
  pool_->wait_idle();
  pool_.reset();
}

void DiskTier::recover(const ProgressFn& progress) {
  const auto started = std::chrono::steady_clock::now();
  const std::uint64_t total = slots_.size();
  std::atomic<std::uint64_t> next_batch{0};
  std::atomic<std::uint64_t> scanned{0};
  std::mutex m;
  std::condition_variable cv;
  int running = kRecoveryThreads;
  std::vector<std::thread> scanners;
  for (int i = 0; i < kRecoveryThreads; ++i) {
    scanners.emplace_back([&] {
      scan_batches(&next_batch, &scanned);
      std::lock_guard lock(m);
      --running;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(m);
    while (!cv.wait_for(lock, kProgressEvery, [&] { return running == 0; })) {
      if (progress) progress(scanned.load(), total);
    }
  }
  for (auto& t : scanners) t.join();
  std::lock_guard lock(mu_);
  finish_recovery_locked();
  stats_.recovery_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (progress) progress(total, total);
}

void DiskTier::scan_batches(std::atomic<std::uint64_t>* next_batch,
                            std::atomic<std::uint64_t>* scanned) {
  const std::uint64_t total = slots_.size();
  const std::uint64_t batches = (total + kRecoveryBatch - 1) / kRecoveryBatch;
  AlignedBuffer block(kHeaderBytes);
  std::vector<std::pair<std::uint32_t, SlotRecord>> found;
  std::vector<std::pair<std::uint32_t, int>> failed;
  for (std::uint64_t b = next_batch->fetch_add(1); b < batches; b = next_batch->fetch_add(1)) {
    const std::uint64_t end = std::min(total, (b + 1) * kRecoveryBatch);
    for (std::uint64_t i = b * kRecoveryBatch; i < end; ++i) {
      const auto slot = static_cast<std::uint32_t>(i);
      if (int err = device_->read(block.data(), kHeaderBytes, slot_offset(slot))) {
        failed.emplace_back(slot, err);
      } else if (auto rec = decode_header(block.data(), slot, config_.page_size)) {
        found.emplace_back(slot, std::move(*rec));
      }
    }
    {
      std::lock_guard lock(mu_);
      for (auto& [slot, rec] : found) merge_recovered_locked(slot, std::move(rec));
      for (auto [slot, err] : failed) {
        ++stats_.io_errors;
        slots_[slot].header_on_disk = true;  // unknown
        if (err == EIO) {
          slots_[slot].state = SlotState::kBad;
          ++stats_.slots_bad;
        }
      }
    }
    scanned->fetch_add(end - b * kRecoveryBatch);
    found.clear();
    failed.clear();
  }
}

void DiskTier::merge_recovered_locked(std::uint32_t slot, SlotRecord rec) {
  slots_[slot].header_on_disk = true;
  next_sequence_ = std::max(next_sequence_, rec.sequence + 1);
  auto object = objects_.find(base::ObjectKey{rec.key.kind, rec.key.object});
  if (object != objects_.end() && object->second.etag != rec.meta.etag) {
    if (rec.sequence < object->second.newest_sequence) return lose_locked(slot);
    const std::vector<std::uint32_t> older = object->second.slots;
    for (std::uint32_t v : older) {
      unindex_locked(v);
      lose_locked(v);
    }
  }
  if (auto it = index_.find(rec.key); it != index_.end()) {
    const std::uint32_t other = it->second;
    if (slots_[other].sequence > rec.sequence) return lose_locked(slot);
    unindex_locked(other);
    lose_locked(other);
  }
  Slot& s = slots_[slot];
  s.state = SlotState::kValid;
  s.payload_length = rec.payload_length;
  index_locked(slot, rec.key, rec.meta.etag, rec.sequence);
}

void DiskTier::lose_locked(std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.state = SlotState::kFree;
  s.header_on_disk = true;
  losers_.push_back(slot);
}

void DiskTier::finish_recovery_locked() {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> valid;
  valid.reserve(index_.size());
  for (const auto& [key, slot] : index_) valid.emplace_back(slots_[slot].sequence, slot);
  std::sort(valid.begin(), valid.end());
  for (auto [sequence, slot] : valid) order_.emplace_back(slot, sequence);
  for (std::uint32_t slot : losers_) start_invalidation_locked(slot);
  losers_.clear();
  for (std::size_t i = slots_.size(); i-- > 0;) {
    if (slots_[i].state == SlotState::kFree) free_.push_back(static_cast<std::uint32_t>(i));
  }
  stats_.pages_recovered = index_.size();
}

// ---- index maintenance ----

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

void DiskTier::release_reader_locked(std::uint32_t slot) {
  Slot& s = slots_[slot];
  --s.readers;
  if (s.readers == 0 && s.doomed && s.state == SlotState::kValid) {
    s.doomed = false;
    start_invalidation_locked(slot);
  }
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

// ---- public operations ----

Result DiskTier::read(const base::PageKey& key, ReadHandler done, PayloadSink sink) {
  std::uint32_t slot = 0;
  std::uint64_t sequence = 0, length = 0;
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end() || slots_[it->second].state != SlotState::kValid) {
      ++stats_.misses;
      return Result::kNotFound;
    }
    slot = it->second;
    Slot& s = slots_[slot];
    ++s.readers;
    s.referenced = true;
    sequence = s.sequence;
    length = s.payload_length;
  }
  auto job = [this, slot, sequence, length, key, done = std::move(done), sink = std::move(sink)] {
    run_read(slot, sequence, length, key, done, sink);
  };
  if (!pool_->submit(IoPool::Lane::kForeground, std::move(job))) {
    std::lock_guard lock(mu_);
    release_reader_locked(slot);
    ++stats_.reads_rejected;
    return Result::kRejected;
  }
  return Result::kOk;
}

void DiskTier::run_read(std::uint32_t slot, std::uint64_t sequence, std::uint64_t length,
                        const base::PageKey& key, const ReadHandler& done,
                        const PayloadSink& sink) {
  {
    std::lock_guard lock(mu_);
    const Slot& s = slots_[slot];
    if (s.key == nullptr || s.sequence != sequence) {  // dropped while queued
      release_reader_locked(slot);
      ++stats_.misses;
      done(Result::kNotFound, PageMeta{}, {});
      return;
    }
  }
  AlignedBuffer buffer = take_buffer();
  const int err =
      device_->read(buffer.data(), kHeaderBytes + round_up_block(length), slot_offset(slot));
  SlotRecord rec;
  const char* payload = nullptr;
  const Result result =
      err != 0 ? Result::kIoError
               : verify_read(slot, sequence, length, key, buffer.data(), sink, &rec, &payload);
  {
    std::lock_guard lock(mu_);
    Slot& s = slots_[slot];
    const bool current = s.key != nullptr && s.sequence == sequence;
    if (result == Result::kOk) ++stats_.hits;
    if (result == Result::kChecksumError) {
      ++stats_.checksum_failures;
      if (current) drop_locked(slot);
    }
    if (result == Result::kIoError) {
      ++stats_.io_errors;
      if (err == EIO && s.state != SlotState::kBad) {
        unindex_locked(slot);
        s.state = SlotState::kBad;
        s.doomed = false;
        ++stats_.slots_bad;
      }
    }
    release_reader_locked(slot);
  }
  if (result == Result::kOk) {
    done(result, rec.meta, std::string_view(payload, length));
  } else {
    done(result, PageMeta{}, {});
  }
  give_buffer(std::move(buffer));
}

Result DiskTier::verify_read(std::uint32_t slot, std::uint64_t sequence, std::uint64_t length,
                             const base::PageKey& key, const char* block, const PayloadSink& sink,
                             SlotRecord* rec, const char** payload) {
  auto decoded = decode_header(block, slot, config_.page_size);
  if (!decoded || decoded->key != key || decoded->sequence != sequence ||
      decoded->payload_length != length) {
    return Result::kChecksumError;
  }
  const char* source = block + kHeaderBytes;
  char* copy = sink ? sink(length) : nullptr;
  *payload = copy ? copy : source;
  if (checksum_copy(source, copy, length) != decoded->payload_checksum) {
    return Result::kChecksumError;
  }
  *rec = std::move(*decoded);
  return Result::kOk;
}

Result DiskTier::write(const base::PageKey& key, const PageMeta& meta, std::string_view payload,
                       std::shared_ptr<const void> keep_alive, WriteHandler done) {
  auto job = std::make_shared<WriteJob>();
  job->record.key = key;
  job->record.meta = meta;
  job->record.page_size = config_.page_size;
  job->record.payload_length = payload.size();
  job->payload = payload;
  job->keep_alive = std::move(keep_alive);
  job->done = std::move(done);
  std::lock_guard lock(mu_);
  if (check_record(job->record)) {
    ++stats_.writes_rejected;
    return Result::kRejected;
  }
  if (auto it = index_.find(key);
      it != index_.end() && slots_[it->second].object->etag == meta.etag) {
    ++stats_.writes_rejected;
    return Result::kRejected;
  }
  const base::ObjectKey object{key.kind, key.object};
  if (auto o = objects_.find(object); o != objects_.end() && o->second.etag != meta.etag) {
    drop_object_locked(object);
  }
  std::optional<std::uint32_t> slot;
  if (pending_writes_ < config_.max_queued_writes) slot = allocate_locked();
  if (!slot) {
    ++stats_.writes_rejected;
    return Result::kRejected;
  }
  Slot& s = slots_[*slot];
  job->slot = *slot;
  job->sequence = next_sequence_++;
  job->zero_header = s.header_on_disk;
  job->record.sequence = job->sequence;
  job->record.slot_index = *slot;
  s.state = SlotState::kWriting;
  s.referenced = false;
  s.doomed = false;
  s.payload_length = payload.size();
  index_locked(*slot, key, meta.etag, job->sequence);
  ++pending_writes_;
  if (!pool_->submit(IoPool::Lane::kBackground, [this, job] { run_write(job); })) {
    --pending_writes_;
    unindex_locked(*slot);
    s.state = SlotState::kFree;
    free_.push_back(*slot);
    ++stats_.writes_rejected;
    return Result::kRejected;
  }
  return Result::kOk;
}

void DiskTier::run_write(const std::shared_ptr<WriteJob>& job) {
  AlignedBuffer buffer = take_buffer();
  const std::uint64_t offset = slot_offset(job->slot);
  const std::uint64_t length = job->payload.size();
  const std::uint64_t padded = round_up_block(length);
  std::uint64_t written = 0;
  int err = 0;
  if (job->zero_header) {  // (1) invalidate the old header before the slot is reused
    std::memset(buffer.data(), 0, kHeaderBytes);
    err = device_->write(buffer.data(), kHeaderBytes, offset);
    if (err == 0) written += kHeaderBytes;
  }
  char* payload = buffer.data() + kHeaderBytes;
  std::memcpy(payload, job->payload.data(), length);
  std::memset(payload + length, 0, padded - length);
  job->keep_alive.reset();
  job->record.payload_checksum = checksum(std::string_view(payload, length));
  if (err == 0) {  // (2) the payload
    err = device_->write(payload, padded, offset + kHeaderBytes);
    if (err == 0) written += padded;
  }
  if (err == 0) {  // (3) the header, only after the payload write completed
    encode_header(job->record, buffer.data());
    err = device_->write(buffer.data(), kHeaderBytes, offset);
    if (err == 0) written += kHeaderBytes;
  }
  give_buffer(std::move(buffer));
  finish_write(*job, err, written);
}

void DiskTier::finish_write(const WriteJob& job, int err, std::uint64_t device_bytes) {
  Result result = Result::kOk;
  {
    std::lock_guard lock(mu_);
    --pending_writes_;
    stats_.bytes_written += device_bytes;
    Slot& s = slots_[job.slot];
    s.header_on_disk = true;
    if (err != 0) {
      ++stats_.io_errors;
      unindex_locked(job.slot);
      s.doomed = false;
      if (err == EIO) {
        s.state = SlotState::kBad;
        ++stats_.slots_bad;
      } else {
        s.state = SlotState::kFree;
        free_.push_back(job.slot);
      }
      result = Result::kIoError;
    } else if (s.doomed) {
      s.doomed = false;
      start_invalidation_locked(job.slot);
      result = Result::kRejected;
    } else {
      s.state = SlotState::kValid;
      order_.emplace_back(job.slot, job.sequence);
      ++stats_.writes;
    }
  }
  if (job.done) job.done(result);
}

bool DiskTier::contains(const base::PageKey& key, std::string_view etag) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  return it != index_.end() && slots_[it->second].object->etag == etag;
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

void DiskTier::wait_idle() {
  pool_->wait_idle();
}

DiskStats DiskTier::stats() const {
  std::lock_guard lock(mu_);
  DiskStats s = stats_;
  s.slots = slots_.size();
  s.capacity_bytes = s.slots * slot_bytes_;
  s.slots_used = index_.size();
  s.used_bytes = s.slots_used * slot_bytes_;
  s.direct_io = device_->direct_io();
  s.direct_fallbacks = device_->direct_fallbacks();
  return s;
}

// ---- buffers ----

AlignedBuffer DiskTier::take_buffer() {
  {
    std::lock_guard lock(buffers_mu_);
    if (!buffers_.empty()) {
      AlignedBuffer b = std::move(buffers_.back());
      buffers_.pop_back();
      return b;
    }
  }
  return AlignedBuffer(slot_bytes_);
}

void DiskTier::give_buffer(AlignedBuffer b) {
  std::lock_guard lock(buffers_mu_);
  if (buffers_.size() < static_cast<std::size_t>(config_.io_threads) + 2) {
    buffers_.push_back(std::move(b));
  }
}

}  // namespace shoal::store
