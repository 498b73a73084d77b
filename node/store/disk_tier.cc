// DiskTier's configuration check, opening and recovery (node/store/disk_tier.h: "Recovery"),
// and its figures. The read and write paths are in disk_tier_io.cc, the index and eviction in
// disk_tier_index.cc.
#include "node/store/disk_tier.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

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

bool is_power_of_two(std::uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
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
    // An existing store file must be one the node may trust (Device::open_file checks again on
    // the descriptor; this makes a bad one a configuration error at start).
    const std::string file = store_file_path(path);
    if (::lstat(file.c_str(), &st) == 0) {
      if (auto e = check_store(file, st, DeviceKind::kFile)) return "path: " + *e;
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
  if (header_cache_bytes > kMaxHeaderCacheBytes) {
    return "header_cache_bytes: must be at most 4GiB, got " + std::to_string(header_cache_bytes);
  }
  if (max_queued_reads == 0 || max_queued_writes == 0)
    return "max_queued_reads, max_queued_writes: must be >= 1";
  return std::nullopt;
}

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
  std::vector<std::uint32_t> other_format;
  for (std::uint64_t b = next_batch->fetch_add(1); b < batches; b = next_batch->fetch_add(1)) {
    const std::uint64_t end = std::min(total, (b + 1) * kRecoveryBatch);
    for (std::uint64_t i = b * kRecoveryBatch; i < end; ++i) {
      const auto slot = static_cast<std::uint32_t>(i);
      if (int err = device_->read(block.data(), kHeaderBytes, slot_offset(slot))) {
        failed.emplace_back(slot, err);
      } else if (auto rec = decode_header(block.data(), slot, config_.page_size)) {
        found.emplace_back(slot, std::move(*rec));
      } else if (is_other_format(block.data())) {
        other_format.push_back(slot);
      }
    }
    {
      std::lock_guard lock(mu_);
      for (auto& [slot, rec] : found) merge_recovered_locked(slot, std::move(rec));
      for (std::uint32_t slot : other_format) {  // it is a cache: dropped, zeroed, counted
        ++stats_.old_format_slots;
        lose_locked(slot);
      }
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
    other_format.clear();
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
  if (config_.header_cache_bytes > 0) {
    cache_header_locked(slot, std::make_shared<const SlotRecord>(std::move(rec)));
  }
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
  s.headers_cached = headers_.size();
  s.direct_io = device_->direct_io();
  s.direct_fallbacks = device_->direct_fallbacks();
  return s;
}

}  // namespace shoal::store
