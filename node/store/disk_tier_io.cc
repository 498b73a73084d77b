// DiskTier's read and write paths (node/store/disk_tier.h: "Write path", "Read path"): the
// calls that queue I/O, the work on the I/O threads, the verification of what is read and the
// pool of aligned buffers. Opening and recovery are in disk_tier.cc, the index and eviction in
// disk_tier_index.cc.
#include "node/store/disk_tier.h"
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace shoal::store {
namespace {

constexpr std::size_t kCopyChunk = 256 << 10;  // copied then hashed while still in cache

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

}  // namespace

struct DiskTier::WriteJob {
  std::uint32_t slot = 0;
  std::uint64_t sequence = 0;
  bool zero_header = false;
  SlotRecord record;
  std::string_view payload;
  std::shared_ptr<const void> keep_alive;
  WriteHandler done;
};

// ---- reads ----

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

// ---- writes ----

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
