#include "ring/base/buffer_pool.h"

#include <sys/mman.h>

#include <bit>
#include <cstdlib>
#include <new>

namespace shoal::base {

char* allocate_aligned(std::size_t n) {
  const std::size_t align =
      n >= BufferPool::kHugePageBytes ? BufferPool::kHugePageBytes : BufferPool::kAlignment;
  const std::size_t rounded = aligned_bytes(n);
  auto* p = static_cast<char*>(std::aligned_alloc(align, rounded));
  if (p == nullptr) throw std::bad_alloc();
  if (align == BufferPool::kHugePageBytes) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only
  return p;
}

std::size_t aligned_bytes(std::size_t n) {
  const std::size_t align =
      n >= BufferPool::kHugePageBytes ? BufferPool::kHugePageBytes : BufferPool::kAlignment;
  return (n + align - 1) / align * align;
}

std::uint64_t BufferPool::held_bytes(const Bytes& b) {
  const BufferDeleter& d = b.data.get_deleter();
  if (d.pooled()) return class_bytes(d.size_class);
  if (d.size_class == BufferDeleter::kAligned) return aligned_bytes(d.offset + b.size);
  return 0;
}

void BufferDeleter::operator()(char* p) const noexcept {
  p -= offset;
  if (size_class == kNoClass) {
    delete[] p;
  } else if (size_class == kAligned) {
    std::free(p);
  } else {
    BufferPool::instance().give_back(p, size_class);
  }
}

BufferPool& BufferPool::instance() {
  static auto* pool = new BufferPool();  // never destroyed: buffers may outlive main()
  return *pool;
}

std::uint8_t BufferPool::class_of(std::size_t n) {
  if (n < kMinClassBytes || n > kMaxClassBytes) return BufferDeleter::kNoClass;
  const std::size_t rounded = std::bit_ceil(n);
  return static_cast<std::uint8_t>(std::countr_zero(rounded / kMinClassBytes));
}

Bytes BufferPool::take(std::size_t n) {
  Bytes b;
  b.size = n;
  const std::uint8_t cls = class_of(n);
  if (cls == BufferDeleter::kNoClass) {
    b.data = BufferPtr(allocate_aligned(n), BufferDeleter(BufferDeleter::kAligned));
    return b;
  }
  char* p = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& list = idle_[cls];
    if (!list.empty()) {
      p = list.back();
      list.pop_back();
      idle_bytes_ -= class_bytes(cls);
      ++reused_;
    } else {
      ++allocated_;
    }
  }
  if (p == nullptr) p = allocate_aligned(class_bytes(cls));
  b.data = BufferPtr(p, BufferDeleter(cls));
  return b;
}

Bytes BufferPool::take_huge(std::size_t n) {
  if (n >= kHugePageBytes) return take(n);
  Bytes b = take(kHugePageBytes);
  b.size = n;
  return b;
}

void BufferPool::give_back(char* p, std::uint8_t cls) noexcept {
  {
    std::lock_guard lock(mu_);
    if (idle_bytes_ + class_bytes(cls) <= idle_limit_) {
      try {
        idle_[cls].push_back(p);
        idle_bytes_ += class_bytes(cls);
        return;
      } catch (...) {  // no room to remember it: free it below
      }
    }
  }
  std::free(p);
}

void BufferPool::set_idle_limit(std::uint64_t bytes) {
  std::vector<char*> to_free;
  {
    std::lock_guard lock(mu_);
    idle_limit_ = bytes;
    trim_locked(&to_free);
  }
  for (char* p : to_free) std::free(p);
}

void BufferPool::trim_locked(std::vector<char*>* to_free) {
  // Largest classes first: they hold the most bytes per buffer.
  for (std::size_t cls = kClasses; cls-- > 0 && idle_bytes_ > idle_limit_;) {
    auto& list = idle_[cls];
    while (!list.empty() && idle_bytes_ > idle_limit_) {
      to_free->push_back(list.back());
      list.pop_back();
      idle_bytes_ -= class_bytes(static_cast<std::uint8_t>(cls));
    }
  }
}

BufferPool::Stats BufferPool::stats() const {
  std::lock_guard lock(mu_);
  return Stats{reused_, allocated_, idle_bytes_};
}

}  // namespace shoal::base
