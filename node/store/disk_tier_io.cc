// DiskTier's read and write paths (node/store/disk_tier.h: "Write path", "Read path"): the
// calls that queue I/O, the work on the I/O threads, the verification of what is read and the
// pool of aligned buffers. Opening and recovery are in disk_tier.cc, the index and eviction in
// disk_tier_index.cc.
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "node/store/disk_tier.h"
#include "ring/base/buffer_pool.h"

namespace shoal::store {
namespace {

static_assert(base::BufferPool::kAlignment % kBlockBytes == 0,
              "reads go straight into BufferPool buffers with O_DIRECT");

// Payload reads from this size on go into huge-page-backed buffers (BufferPool::take_huge).
constexpr std::uint64_t kHugeReadBytes = 1 << 20;

// This I/O thread's buffer for a slot's header block (O_DIRECT-aligned).
char* header_buffer() {
  static thread_local AlignedBuffer header(kHeaderBytes);
  return header.data();
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

// A queued read of payload bytes [offset, end) of a slot (end <= payload_length), and the payload
// blocks [first_block, end_block) that cover them (none when offset == end).
struct DiskTier::ReadJob {
  std::uint32_t slot = 0;
  std::uint64_t sequence = 0;
  std::uint64_t payload_length = 0;
  base::PageKey key;
  std::uint64_t offset = 0;
  std::uint64_t end = 0;
  std::uint64_t block_bytes = 0;
  std::uint64_t first_block = 0;
  std::uint64_t end_block = 0;
  RangeHandler done;
  PayloadSink sink;
  // The slot's header from the header cache (then the header block is not read), or null.
  std::shared_ptr<const SlotRecord> header;

  // Payload offset of the first byte read, and payload bytes read (to the last block's end).
  std::uint64_t data_offset() const { return first_block * block_bytes; }
  std::uint64_t data_bytes() const {
    return std::min(end_block * block_bytes, payload_length) - data_offset();
  }
};

// What verifying a read found.
struct DiskTier::ReadCheck {
  Result result = Result::kChecksumError;
  bool header_ok = false;
  std::shared_ptr<const SlotRecord> record;  // the header (read or cached), when header_ok
  std::string_view bytes;                    // kOk: the bytes handed out
  std::vector<std::uint32_t> bad;            // payload blocks that failed their checksum
};

// ---- reads ----

Result DiskTier::read(const base::PageKey& key, ReadHandler done, PayloadSink sink) {
  auto adapt = [done = std::move(done)](const RangeRead& r) { done(r.result, r.meta, r.bytes); };
  return start_read(key, 0, config_.page_size, true, std::move(adapt), std::move(sink));
}

Result DiskTier::read_range(const base::PageKey& key, std::uint64_t offset, std::uint64_t length,
                            RangeHandler done, PayloadSink sink) {
  return start_read(key, offset, length, false, std::move(done), std::move(sink));
}

Result DiskTier::start_read(const base::PageKey& key, std::uint64_t offset, std::uint64_t length,
                            bool whole_page, RangeHandler done, PayloadSink sink) {
  auto job = std::make_shared<ReadJob>();
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end() || slots_[it->second].state != SlotState::kValid) {
      ++stats_.misses;
      return Result::kNotFound;
    }
    Slot& s = slots_[it->second];
    job->slot = it->second;
    job->sequence = s.sequence;
    job->payload_length = s.payload_length;
    job->offset = std::min(offset, s.payload_length);
    job->end = job->offset + std::min(length, s.payload_length - job->offset);
    if (whole_page) job->end = s.payload_length;
    job->block_bytes = payload_block_bytes(config_.page_size);
    if (job->end > job->offset) {
      job->first_block = job->offset / job->block_bytes;
      job->end_block = (job->end - 1) / job->block_bytes + 1;
    }
    if (touches_bad_block_locked(job->slot, job->first_block, job->end_block)) {
      return Result::kChecksumError;
    }
    ++s.readers;
    s.referenced = true;
    job->header = cached_header_locked(job->slot, job->sequence);
  }
  job->key = key;
  job->done = std::move(done);
  job->sink = std::move(sink);
  if (!pool_->submit(IoPool::Lane::kForeground, [this, job] { run_read(*job); })) {
    std::lock_guard lock(mu_);
    release_reader_locked(job->slot);
    ++stats_.reads_rejected;
    return Result::kRejected;
  }
  return Result::kOk;
}

void DiskTier::run_read(ReadJob& job) {
  {
    std::lock_guard lock(mu_);
    const Slot& s = slots_[job.slot];
    if (s.key == nullptr || s.sequence != job.sequence) {  // dropped while queued
      release_reader_locked(job.slot);
      ++stats_.misses;
      job.done(RangeRead{});
      return;
    }
  }
  base::Bytes payload;  // the payload blocks read
  std::uint64_t device_bytes = 0;
  const int err = read_blocks(job, &payload, &device_bytes);
  ReadCheck check;
  if (err != 0) {
    check.result = Result::kIoError;
  } else {
    check = verify_read(job, payload.data.get());
  }
  finish_read(job, check, err, device_bytes);
  RangeRead out;
  out.result = check.result;
  if (check.result == Result::kOk) {
    out.meta = check.record->meta;
    out.offset = job.offset;
    out.page_length = job.payload_length;
    out.bytes = check.bytes;
    // The bytes handed out stay where they were read: the sink takes that part of the buffer.
    if (job.sink && !out.bytes.empty()) {
      const auto skip = static_cast<std::size_t>(out.bytes.data() - payload.data.get());
      job.sink(base::subrange(std::move(payload), skip, out.bytes.size()));
    }
  }
  job.done(out);
}

// Reads the payload blocks of `job` into a new BufferPool buffer, *payload (none when the job
// reads no block), and, unless the job has a cached header, the slot's header block into this
// thread's header buffer, in one submission (Device::read_all). Returns 0 or the device's errno;
// *device_bytes is what was read.
int DiskTier::read_blocks(const ReadJob& job, base::Bytes* payload,
                          std::uint64_t* device_bytes) const {
  const std::uint64_t at = slot_offset(job.slot);
  const std::uint64_t data = job.end_block > job.first_block ? round_up_block(job.data_bytes()) : 0;
  const std::uint64_t header = job.header ? 0 : kHeaderBytes;
  *device_bytes = header + data;
  if (data == 0) return header == 0 ? 0 : device_->read(header_buffer(), kHeaderBytes, at);
  // Reads of a huge page's worth or more pin one huge page, not hundreds of small ones.
  auto& pool = base::BufferPool::instance();
  *payload = data >= kHugeReadBytes ? pool.take_huge(data) : pool.take(data);
  const Device::ReadOp data_op{payload->data.get(), data, at + kHeaderBytes + job.data_offset()};
  if (header == 0) return device_->read(data_op.buf, data_op.n, data_op.offset);
  const Device::ReadOp ops[] = {{header_buffer(), kHeaderBytes, at}, data_op};
  return device_->read_all(ops);
}

// Checks the header read for `job` (this thread's header buffer; none with a cached header) and
// every payload block read (`data`: payload byte job.data_offset() on).
DiskTier::ReadCheck DiskTier::verify_read(const ReadJob& job, const char* data) const {
  ReadCheck check;
  if (job.header) {
    check.record = job.header;
  } else {
    auto decoded = decode_header(header_buffer(), job.slot, config_.page_size);
    if (!decoded || decoded->key != job.key || decoded->sequence != job.sequence ||
        decoded->payload_length != job.payload_length) {
      return check;
    }
    check.record = std::make_shared<const SlotRecord>(std::move(*decoded));
  }
  check.header_ok = true;
  for (std::uint64_t b = job.first_block; b < job.end_block; ++b) {
    const std::uint64_t start = b * job.block_bytes;
    const std::uint64_t n = std::min(job.block_bytes, job.payload_length - start);
    const char* block = data + (start - job.data_offset());
    if (XXH3_64bits(block, n) != check.record->block_checksums[b]) {
      check.bad.push_back(static_cast<std::uint32_t>(b));
    }
  }
  if (!check.bad.empty()) return check;
  check.result = Result::kOk;
  const std::uint64_t length = job.end - job.offset;
  check.bytes = length == 0 ? std::string_view()
                            : std::string_view(data + (job.offset - job.data_offset()), length);
  return check;
}

// Counts the read's outcome and applies it to the slot, if the slot still holds the page read:
// a bad header drops it, bad blocks are marked, EIO marks the slot bad.
void DiskTier::finish_read(const ReadJob& job, const ReadCheck& check, int err,
                           std::uint64_t device_bytes) {
  std::lock_guard lock(mu_);
  Slot& s = slots_[job.slot];
  const bool current = s.key != nullptr && s.sequence == job.sequence;
  if (err == 0) stats_.bytes_read += device_bytes;
  if (check.result == Result::kOk) ++stats_.hits;
  if (job.header) ++stats_.header_cache_hits;
  if (current && check.header_ok && !job.header) cache_header_locked(job.slot, check.record);
  if (check.result == Result::kChecksumError) {
    ++stats_.checksum_failures;
    if (current && !check.header_ok) drop_locked(job.slot);
    if (current && check.header_ok) mark_bad_blocks_locked(job.slot, check.bad);
  }
  if (check.result == Result::kIoError) {
    ++stats_.io_errors;
    if (err == EIO && s.state != SlotState::kBad) {
      unindex_locked(job.slot);
      s.state = SlotState::kBad;
      s.doomed = false;
      ++stats_.slots_bad;
    }
  }
  release_reader_locked(job.slot);
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
    if (!slots_[it->second].bad_blocks) {
      ++stats_.writes_rejected;
      return Result::kRejected;
    }
    drop_locked(it->second);  // a copy with bad blocks: replaced by this write
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
  job->record.block_checksums = block_checksums(job->payload, config_.page_size, payload);
  std::memset(payload + length, 0, padded - length);
  job->keep_alive.reset();
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
  // The header just written, for the header cache (copied outside the lock).
  auto header = err == 0 && config_.header_cache_bytes > 0
                    ? std::make_shared<const SlotRecord>(job.record)
                    : nullptr;
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
      if (header) cache_header_locked(job.slot, std::move(header));
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
