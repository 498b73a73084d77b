// DiskTier: the crash-safe page cache on a file or block device under the memory tier, in the
// manner of CacheLib's Navy block cache (one fixed-size slot per page, an in-memory index,
// checksummed self-describing slots, recovery by scanning them).
//
// Layout: node/store/disk_format.h and docs/disk-format.md. The device holds
// floor(capacity / slot_bytes(page_size)) slots; capacity defaults to 80% of the free space at
// --disk-path (for a file: free space plus what the store file already occupies, so restarts do
// not shrink it; for a block device: 80% of the device, the rest left to the SSD's own
// over-provisioning).
//
// Index: key -> slot, plus per object the ETag of its newest slot. All pages of an object on
// disk share one ETag: writing a page with another ETag first drops the object's other pages
// (the newest write is the newest version seen), and recovery applies the same rule (the ETag of
// the object's highest-sequence slot wins). About 200 bytes of RAM per indexed slot.
//
// Eviction: CLOCK by default (second-chance FIFO: slots queue in write order; a slot read since
// it was queued or last passed over goes back to the tail with its bit cleared, the first one
// without the bit is reused), or plain FIFO (EvictionPolicy::kFifo). Slots being read or written
// are never chosen. docs/benchmarks.md ("Disk tier") gives the measured hit-ratio effect.
//
// Write path (write()): the slot is chosen and the key indexed as "being written" (invisible to
// reads) at once; then on an I/O thread: (1) if the slot may hold a valid header, that header
// block is overwritten with zeros; (2) the payload is written; (3) only after (2) completed, the
// header. No fdatasync: a cache may lose its newest pages on power loss, and every torn or
// reordered write is caught by the header checksum (ignored at recovery) or by the payload
// checksum (a checksum error on read: the page is refetched). A process crash (kill -9) keeps
// every write that returned, in order, so only the pages being written at that moment (at most
// one per I/O thread) are lost, and none of them gets a valid header.
//
// Read path (read_range(), read()): only the payload blocks covering the asked bytes (read()
// covers the whole page), plus the slot's header block unless that header is in the header cache
// (below), the two in flight together (Device::read_all); a header read must have a matching
// checksum, key, sequence and length, else the slot is dropped, counted and the read returns
// kChecksumError. Then each payload block read is checked against its checksum in the header
// (read or cached); a block that fails is marked bad in memory (the slot stays: reads of its other
// blocks are still served), the failure counted and the read returns kChecksumError. Bytes are
// never handed out unverified. Reads touching a block marked bad fail at once (kChecksumError, no
// I/O), and contains() is false for a slot with bad blocks, so the page is written again (to a new
// slot, the old one dropped) when it next leaves memory. EIO marks the slot bad (never reused until
// restart). Dropped slots get their header zeroed so they stay dropped after a restart.
//
// Header cache: the decoded header (meta and block checksums, about 2.4 KiB for a 16 MiB page) of
// a slot whose header was verified (read back and checked, found at recovery, or written by this
// process) is kept in memory, up to DiskConfig::header_cache_bytes, oldest first out. A read of
// a slot with a cached header reads the payload blocks only: one device request per hit, as a raw
// read, where two (a 4 KiB header and the payload) cost the disk a deeper queue and more time per
// request (docs/benchmarks.md, "Ranged disk hits"). The payload is still verified block by block
// against the cached checksums, so no unverified byte is served; what a cached header no longer
// notices is damage to the header block itself while the process runs, which the next start's
// recovery scan finds (the slot is then dropped).
//
// Recovery (open()): every slot's header block is read (headers only, by 16 threads at once, so
// the device sees 16 reads in flight) and validated; per key the highest sequence wins, per object
// the newest ETag; losers, and slots of another format version (counted in old_format_slots), are
// invalidated in the background. Payload blocks are verified lazily, on read.
//
// Sources: disk_tier.cc (validation, open, recovery, stats), disk_tier_io.cc (read and write
// paths, buffers), disk_tier_index.cc (index, allocation and eviction, invalidation, erase).
//
// Thread rules: every method may be called from any thread. Handlers run on an I/O thread with
// no DiskTier lock held; they may call back into the DiskTier. The destructor waits for all
// queued I/O and must not run on an I/O thread.
#pragma once

#include <atomic>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node/store/device.h"
#include "node/store/disk_format.h"
#include "node/store/io_pool.h"
#include "ring/base/bytes.h"

namespace shoal::store {

// Outcomes of disk tier operations (CacheLib Navy's status names, reduced to what applies).
enum class Result {
  kOk,             // done, or (for read/write) queued: the handler will report the end
  kNotFound,       // no valid page under the key
  kChecksumError,  // verification failed: a bad header (the slot was dropped) or a bad block
  kIoError,        // the device reported an error; the slot was dropped (EIO: marked bad)
  kRejected,       // not accepted: invalid record, already stored, no free slot, queue full
};
std::string_view result_name(Result r);

enum class EvictionPolicy { kFifo, kClock };

struct DiskConfig {
  std::string path;                       // directory, file or block device
  DeviceKind kind = DeviceKind::kFile;    // what `path` must name
  std::uint64_t capacity_bytes = 0;       // 0: 80% of the free space
  std::uint64_t page_size = 16ull << 20;  // bytes; power of two >= 64 KiB
  int io_threads = 4;                     // 1..64
  std::size_t max_queued_reads = 256;     // reads waiting for a thread; more are rejected
  std::size_t max_queued_writes = 16;     // writes waiting; more are rejected
  EvictionPolicy eviction = EvictionPolicy::kClock;
  // RAM for verified headers kept in memory (the header cache above); 0 turns it off (every read
  // also reads its header block). Outside --memory, like the index. At most kMaxHeaderCacheBytes.
  static constexpr std::uint64_t kMaxHeaderCacheBytes = 4ull << 30;
  std::uint64_t header_cache_bytes = 16ull << 20;

  // Returns "field: reason" for the first invalid setting, naming the field of this struct
  // ("path: ...", "kind: ...", "capacity_bytes: ...", "page_size: ..."; the daemon puts its flag
  // names in their place), or nullopt. Checks that path names what kind expects: for fs an existing
  // directory, a regular file or a new file in an existing directory (not a block device), and
  // an existing store file that check_store (node/store/device.h) accepts (not a symbolic link,
  // ours alone); for block a block device. Capacity, when set, must hold at least one slot.
  std::optional<std::string> validate() const;
};

// Figures for /stats and /metrics. Counters are totals since open().
struct DiskStats {
  std::uint64_t capacity_bytes = 0;  // slots * slot size
  std::uint64_t used_bytes = 0;      // slot bytes (header + page size) of indexed pages
  std::uint64_t page_bytes = 0;      // payload bytes of indexed pages
  std::uint64_t slots = 0;
  std::uint64_t slots_used = 0;          // indexed pages (valid or being written)
  std::uint64_t slots_bad = 0;           // marked bad after EIO
  std::uint64_t hits = 0;                // reads that returned a verified page
  std::uint64_t misses = 0;              // reads of keys not on disk
  std::uint64_t writes = 0;              // pages written completely
  std::uint64_t bytes_written = 0;       // device bytes written (headers, payloads, invalidations)
  std::uint64_t writes_rejected = 0;     // write() calls refused (kRejected)
  std::uint64_t reads_rejected = 0;      // read() calls refused (read queue full)
  std::uint64_t evictions = 0;           // valid pages displaced to make room
  std::uint64_t bytes_read = 0;          // device bytes read by reads (headers and payload blocks)
  std::uint64_t checksum_failures = 0;   // reads that found a bad header or payload block
  std::uint64_t header_cache_hits = 0;   // reads that took their header from the header cache
  std::uint64_t headers_cached = 0;      // headers in the header cache (a gauge)
  std::uint64_t header_cache_bytes = 0;  // RAM they take (a gauge)
  std::uint64_t blocks_bad = 0;          // payload blocks marked bad in indexed slots (a gauge)
  std::uint64_t io_errors = 0;           // failed device reads and writes
  double recovery_seconds = 0;
  std::uint64_t pages_recovered = 0;
  std::uint64_t old_format_slots = 0;  // slots of another format version dropped at the last start
  bool direct_io = false;              // O_DIRECT in use
  std::uint64_t direct_fallbacks = 0;
};

class DiskTier {
 public:
  // result is kOk, kChecksumError or kIoError (kNotFound if the page was dropped while the read
  // was queued). meta and payload are set for kOk only; payload is valid during the call only
  // (unless it is in memory from a PayloadSink, which the caller owns).
  using ReadHandler =
      std::function<void(Result result, const PageMeta& meta, std::string_view payload)>;
  // What read_range() hands its handler.
  struct RangeRead {
    // kOk, kChecksumError, kIoError, or kNotFound when the page was dropped while the read was
    // queued. Everything below is set for kOk only.
    Result result = Result::kNotFound;
    PageMeta meta;
    // Page offset of bytes[0]: the offset asked for, or page_length when that was past the end.
    std::uint64_t offset = 0;
    std::uint64_t page_length = 0;  // the page's real length (its payload bytes)
    // The page's bytes [offset, offset + bytes.size()), bytes.size() ==
    // min(length, page_length - offset) (empty when offset >= page_length). Valid during the
    // handler call only, unless they are in memory from a PayloadSink, which the caller owns.
    std::string_view bytes;
  };
  using RangeHandler = std::function<void(const RangeRead& read)>;
  // Takes the bytes a read hands out, where they were read: a read goes with O_DIRECT into a
  // base::BufferPool buffer, and the sink gets that buffer narrowed to the bytes handed out
  // (base::subrange: no copy), so a caller keeps them as a page's body. Called on the I/O thread,
  // after every block was verified and right before the handler, on kOk only, at most once, and
  // not when no byte is handed out (an empty range).
  using PayloadSink = std::function<void(base::Bytes bytes)>;
  // kOk when the page is stored, kIoError when the device failed, kRejected when the page was
  // dropped while being written.
  using WriteHandler = std::function<void(Result result)>;
  // Recovery progress: slots scanned so far, of `total`; called on the thread running open().
  using ProgressFn = std::function<void(std::uint64_t scanned, std::uint64_t total)>;

  // Validates `config`, opens the device (resolving the default capacity), and recovers the
  // index, calling `progress` about every 200 ms and once at the end. Returns nullptr with
  // *error set ("field: reason", as validate()) on any failure.
  static std::unique_ptr<DiskTier> open(const DiskConfig& config, std::string* error,
                                        const ProgressFn& progress = {});

  ~DiskTier();
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  // Starts reading the whole page under `key`, verifying every payload block (for callers that
  // keep the page, e.g. promote it to memory). Returns kOk when queued (`done` will be called
  // exactly once, on an I/O thread), kNotFound when no valid page is indexed under `key` (also
  // while it is being written), kChecksumError when a block of the page is marked bad (no I/O;
  // fetch the page elsewhere), kRejected when the read queue is full; `done` is not called for
  // those. Every block that fails its checksum is marked bad and the read fails with
  // kChecksumError; a bad header drops the slot. With a `sink`, the verified payload handed to
  // `done` is the memory the sink took.
  Result read(const base::PageKey& key, ReadHandler done, PayloadSink sink = {});

  // Starts reading bytes [offset, offset + length) of the page under `key` (page offsets; any
  // offset and length, clamped to the page's real length, which the caller need not know):
  // the payload blocks covering those bytes are read (O_DIRECT-aligned: at most one partial
  // block's worth more than asked on each side), with the header block unless it is cached, and
  // the header and exactly those blocks verified. Returns as read(): kOk when queued (`done` called
  // exactly once, on an I/O thread, with a RangeRead), kNotFound, kChecksumError when a block the
  // range touches is marked bad (no I/O; reads of the page's other blocks are still served),
  // kRejected when the read queue is full. A failed block makes the read fail with kChecksumError
  // and is marked bad (counted in checksum_failures and blocks_bad); a bad header drops the slot. A
  // range past the page's end (or length 0) reads the header only (nothing when it is cached) and
  // hands out no byte, with meta. With a `sink`, the bytes handed out are in the memory the sink
  // took.
  Result read_range(const base::PageKey& key, std::uint64_t offset, std::uint64_t length,
                    RangeHandler done, PayloadSink sink = {});

  // Starts storing `payload` (the page's bytes, 1..page_size, equal to the page's real length
  // in an object of meta.object_size bytes) under `key`. `keep_alive` owns the payload's memory
  // until it has been copied. Returns kOk when queued (`done`, if set, will be called once on
  // an I/O thread), or kRejected (and `done` is not called) when: the record does not fit the
  // format (check_record), the key is already stored (without bad blocks) or being written with
  // the same ETag, the write queue is full, or every slot is busy. Pages of the object with
  // another ETag are dropped first, and so is the key's slot when it has bad blocks.
  Result write(const base::PageKey& key, const PageMeta& meta, std::string_view payload,
               std::shared_ptr<const void> keep_alive, WriteHandler done = {});

  // Whether `key` is stored (with no payload block marked bad) or being written with ETag `etag`.
  bool contains(const base::PageKey& key, std::string_view etag) const;
  // Drops the page under `key` (its header is zeroed in the background). False if absent.
  bool erase(const base::PageKey& key);
  // Drops every page of the object; returns how many.
  std::size_t erase_object(const std::string& kind, const std::string& object);
  // Drops every page of every object of `kind`; returns how many. Scans the object index.
  std::size_t erase_kind(const std::string& kind);

  // Blocks until no I/O is queued or running. Not on an I/O thread.
  void wait_idle();

  DiskStats stats() const;
  const DiskConfig& config() const { return config_; }
  const std::string& device_path() const { return device_->path(); }

 private:
  enum class SlotState : std::uint8_t { kFree, kWriting, kValid, kInvalidating, kBad };
  struct ObjectEntry {
    std::string etag;
    std::uint64_t newest_sequence = 0;
    std::vector<std::uint32_t> slots;
  };
  struct Slot {
    SlotState state = SlotState::kFree;
    bool header_on_disk = false;  // a valid header may be on the device: zero it before reuse
    bool referenced = false;      // CLOCK bit
    bool doomed = false;          // dropped while in use: invalidate when the use ends
    bool bad_blocks = false;      // some payload block failed its checksum (bad_blocks_)
    std::uint32_t readers = 0;
    std::uint32_t object_pos = 0;  // index in object->slots
    std::uint64_t sequence = 0;
    std::uint64_t payload_length = 0;
    const base::PageKey* key = nullptr;  // the index's key while indexed
    ObjectEntry* object = nullptr;       // while indexed
  };
  struct WriteJob;
  struct ReadJob;
  struct ReadCheck;
  struct CachedHeader {
    std::uint64_t bytes = 0;  // charged to stats_.header_cache_bytes
    std::shared_ptr<const SlotRecord> record;
  };

  DiskTier(const DiskConfig& config, std::unique_ptr<Device> device, std::uint64_t slots);

  std::uint64_t slot_offset(std::uint32_t slot) const { return slot * slot_bytes_; }

  // Recovery.
  void recover(const ProgressFn& progress);
  void scan_batches(std::atomic<std::uint64_t>* next_batch, std::atomic<std::uint64_t>* scanned);
  void merge_recovered_locked(std::uint32_t slot, SlotRecord rec);
  void finish_recovery_locked();

  // Index maintenance (mu_ held).
  void index_locked(std::uint32_t slot, const base::PageKey& key, const std::string& etag,
                    std::uint64_t sequence);
  void unindex_locked(std::uint32_t slot);
  void drop_locked(std::uint32_t slot);
  void drop_object_locked(const base::ObjectKey& key);
  void lose_locked(std::uint32_t slot);
  std::optional<std::uint32_t> allocate_locked();
  void release_reader_locked(std::uint32_t slot);
  void mark_bad_blocks_locked(std::uint32_t slot, const std::vector<std::uint32_t>& blocks);
  bool touches_bad_block_locked(std::uint32_t slot, std::uint64_t first_block,
                                std::uint64_t end_block) const;
  void start_invalidation_locked(std::uint32_t slot);
  void compact_order_locked();
  // Header cache (mu_ held): keeps `record` (slot's verified header) within the bound, dropping
  // the oldest entries first; forget drops the slot's entry; find gives it for `sequence` or null.
  void cache_header_locked(std::uint32_t slot, std::shared_ptr<const SlotRecord> record);
  void forget_header_locked(std::uint32_t slot);
  std::shared_ptr<const SlotRecord> cached_header_locked(std::uint32_t slot,
                                                         std::uint64_t sequence) const;

  // I/O thread work.
  void run_write(const std::shared_ptr<WriteJob>& job);
  void finish_write(const WriteJob& job, int err, std::uint64_t device_bytes);
  Result start_read(const base::PageKey& key, std::uint64_t offset, std::uint64_t length,
                    bool whole_page, RangeHandler done, PayloadSink sink);
  void run_read(ReadJob& job);
  int read_blocks(const ReadJob& job, base::Bytes* payload, std::uint64_t* device_bytes) const;
  ReadCheck verify_read(const ReadJob& job, const char* data) const;
  void finish_read(const ReadJob& job, const ReadCheck& check, int err, std::uint64_t device_bytes);
  void run_invalidation(std::uint32_t slot);

  AlignedBuffer take_buffer();
  void give_buffer(AlignedBuffer b);

  const DiskConfig config_;
  const std::uint64_t slot_bytes_;
  std::unique_ptr<Device> device_;

  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  std::unordered_map<base::PageKey, std::uint32_t, base::PageKeyHash> index_;
  std::unordered_map<base::ObjectKey, ObjectEntry, base::ObjectKeyHash> objects_;
  std::vector<std::uint32_t> free_;  // clean free slots; back() is used first
  std::deque<std::pair<std::uint32_t, std::uint64_t>> order_;  // (slot, sequence), oldest first
  std::vector<std::uint32_t> losers_;  // recovery losers awaiting invalidation
  // Payload blocks that failed their checksum, per indexed slot (only slots with bad blocks).
  std::unordered_map<std::uint32_t, std::bitset<kMaxPayloadBlocks>> bad_blocks_;
  // The header cache: entries by slot, and (slot, sequence) in insertion order, oldest first
  // (entries forgotten since are skipped when met).
  std::unordered_map<std::uint32_t, CachedHeader> headers_;
  std::deque<std::pair<std::uint32_t, std::uint64_t>> header_order_;
  std::uint64_t next_sequence_ = 1;
  std::size_t pending_writes_ = 0;
  DiskStats stats_;

  // Slot-sized aligned buffers for writes (take_buffer/give_buffer); reads use base::BufferPool.
  std::mutex buffers_mu_;
  std::vector<AlignedBuffer> buffers_;

  std::unique_ptr<IoPool> pool_;  // last: destroyed (joined) first
};

}  // namespace shoal::store
