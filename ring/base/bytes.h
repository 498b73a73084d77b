// An owned, fixed-size byte buffer: a page's body (origin/s3_client.h, node/page.h) and a
// received peer frame's payload (peer/stream.h), so a forwarded page adopts the frame's buffer
// instead of copying it. Header-only and dependency-free, so peer/ may include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace shoal::base {

// Frees a buffer: delete[] (kNoClass), an over-aligned delete (kAligned: BufferPool::take()
// outside its classes), or back into the BufferPool size class it came from
// (ring/base/buffer_pool.h). `offset` is how far into its allocation the held pointer is (a
// buffer narrowed by subrange()). Converts from std::default_delete, so a buffer made with
// std::make_unique_for_overwrite<char[]>(n) is assigned as before.
struct BufferDeleter {
  static constexpr std::uint8_t kNoClass = 0xff;
  static constexpr std::uint8_t kAligned = 0xfe;
  std::uint8_t size_class = kNoClass;
  std::size_t offset = 0;

  BufferDeleter() = default;
  explicit BufferDeleter(std::uint8_t cls) : size_class(cls) {}
  BufferDeleter(std::default_delete<char[]>) {}  // NOLINT: implicit on purpose (see above)
  // Whether the memory goes back to a BufferPool class (size_class names it).
  bool pooled() const { return size_class < kAligned; }
  void operator()(char* p) const noexcept;
};

using BufferPtr = std::unique_ptr<char[], BufferDeleter>;

// `size` bytes at `data` (null when size is 0). Allocate with BufferPool::take(n) for
// short-lived slices, or std::make_unique_for_overwrite<char[]>(n): neither zero-initialises,
// the producer fills the bytes in place. Movable, not copyable; no thread rules of its own
// (treat like a string).
struct Bytes {
  BufferPtr data;
  std::size_t size = 0;

  std::string_view view() const { return {data.get(), size}; }
  bool empty() const { return size == 0; }
};

// Bytes [offset, offset + size) of `whole` (offset + size <= whole.size), keeping its memory: the
// result frees the whole allocation when it goes. No copy; `whole` is consumed.
inline Bytes subrange(Bytes whole, std::size_t offset, std::size_t size) {
  BufferDeleter d = whole.data.get_deleter();
  d.offset += offset;
  Bytes out;
  out.data = BufferPtr(whole.data.release() + offset, d);
  out.size = size;
  return out;
}

}  // namespace shoal::base
