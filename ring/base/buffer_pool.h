// BufferPool: reused buffers for short-lived page slices (a forwarded slice on the member that
// asked for it, every disk read: its payload lands there and becomes the page's body), so each one
// is not a fresh mmap(2) the kernel must fault in and zero page by page. shoald makes every
// allocation from 256 KiB on an mmap (node/memory_tier.h, configure_allocator) so that an evicted
// page's memory goes back to the system at once; a 1 MiB slice made and freed per request then cost
// about 10% of the forwarded path's CPU in page faults and clear_page (perf, docs/benchmarks.md).
//
// Size classes are powers of two from kMinClassBytes to kMaxClassBytes; take(n) hands out a
// buffer of the smallest class that holds n bytes (Bytes::size is n). Smaller and larger
// requests are plain allocations and are freed as such. Every buffer take() hands out starts on a
// kAlignment boundary, so the disk tier reads into it with O_DIRECT and hands it on as a page's
// body without a copy (node/store/disk_tier.h, PayloadSink). A freed pooled buffer is kept for
// reuse while the idle bytes of all classes stay within the limit (set_idle_limit, default
// kDefaultIdleBytes; shoald sets min(that, --memory / 8), node/server.cc); beyond it it is freed.
// Idle bytes are outside --memory and bounded by the limit; buffers in use are charged like any
// page body by whoever holds them (the memory tier charges a pooled body its whole class).
//
// Thread rules: take() and the deleter may run on any thread (one mutex). The pool is one per
// process and lives until exit (buffers may be freed by static destructors).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "ring/base/bytes.h"

namespace shoal::base {

class BufferPool {
 public:
  static constexpr std::size_t kMinClassBytes = 256 << 10;
  static constexpr std::size_t kMaxClassBytes = 16 << 20;  // the default page size
  static constexpr std::size_t kClasses = 7;               // 256 KiB, 512 KiB, ... 16 MiB
  static constexpr std::uint64_t kDefaultIdleBytes = 64 << 20;
  // Alignment of every buffer take() returns: O_DIRECT's (a device block, 4 KiB).
  static constexpr std::size_t kAlignment = 4096;
  // Buffers of this size or more (classes 2 MiB to 16 MiB, and larger plain ones) are aligned to
  // it and advised to be backed by transparent huge pages (madvise MADV_HUGEPAGE).
  static constexpr std::size_t kHugePageBytes = 2 << 20;

  struct Stats {
    std::uint64_t reused = 0;      // take() served from an idle buffer
    std::uint64_t allocated = 0;   // take() of a pooled class that had no idle buffer
    std::uint64_t idle_bytes = 0;  // held for reuse now
  };

  static BufferPool& instance();

  // A buffer of `n` bytes (n >= 1) aligned to kAlignment, contents undefined. Never fails but as
  // new[] does (std::bad_alloc).
  Bytes take(std::size_t n);

  // take(n) from a class of at least kHugePageBytes: memory a large O_DIRECT read pins as one
  // huge page rather than 4 KiB pages (for 1 MiB, 256 pages: more than a virtio disk's 254
  // segments per request, so the read would be split; measured 2.3x slower, docs/benchmarks.md).
  // Costs the whole class while held. Any thread, as take().
  Bytes take_huge(std::size_t n);

  // The bytes of memory behind `b` when it came from take() or take_huge(): its whole class, or
  // its aligned allocation (aligned_bytes of its offset and size: a buffer subrange() narrowed at
  // its end is counted only to the end of what it holds; disk reads narrow it at the start); 0 for
  // any other buffer (e.g. new[]), whose size its allocator knows.
  static std::uint64_t held_bytes(const Bytes& b);

  // Bytes kept idle at most (0: none kept). Frees idle buffers beyond it at once.
  void set_idle_limit(std::uint64_t bytes);

  Stats stats() const;

  // The class holding n bytes, or BufferDeleter::kNoClass when n is outside the pooled range.
  static std::uint8_t class_of(std::size_t n);
  static std::size_t class_bytes(std::uint8_t cls) { return kMinClassBytes << cls; }

 private:
  friend struct BufferDeleter;
  BufferPool() = default;
  void give_back(char* p, std::uint8_t cls) noexcept;
  void trim_locked(std::vector<char*>* to_free);

  mutable std::mutex mu_;
  std::array<std::vector<char*>, kClasses> idle_;
  std::uint64_t idle_bytes_ = 0;
  std::uint64_t idle_limit_ = kDefaultIdleBytes;
  std::uint64_t reused_ = 0;
  std::uint64_t allocated_ = 0;
};

// The one aligned allocator of the process's I/O buffers (the pool's, and the disk tier's write
// buffers, store::AlignedBuffer): `n` bytes (n >= 1) rounded up to aligned_bytes(n), aligned to
// BufferPool::kHugePageBytes and advised to be backed by transparent huge pages (madvise
// MADV_HUGEPAGE) from that size on, else to BufferPool::kAlignment. Free with std::free. Throws
// std::bad_alloc when out of memory. Any thread.
char* allocate_aligned(std::size_t n);
// The bytes allocate_aligned(n) takes: n rounded up to its alignment.
std::size_t aligned_bytes(std::size_t n);

}  // namespace shoal::base
