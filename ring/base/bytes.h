// An owned, fixed-size byte buffer: a page's body (origin/s3_client.h, node/page.h) and a
// received peer frame's payload (peer/stream.h), so a forwarded page adopts the frame's buffer
// instead of copying it. Header-only and dependency-free, so peer/ may include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace shoal::base {

// Frees a buffer: delete[], or back into the BufferPool size class it came from
// (ring/base/buffer_pool.h). Converts from std::default_delete, so a buffer made with
// std::make_unique_for_overwrite<char[]>(n) is assigned as before.
struct BufferDeleter {
  static constexpr std::uint8_t kNoClass = 0xff;
  std::uint8_t size_class = kNoClass;

  BufferDeleter() = default;
  explicit BufferDeleter(std::uint8_t cls) : size_class(cls) {}
  BufferDeleter(std::default_delete<char[]>) {}  // NOLINT: implicit on purpose (see above)
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

}  // namespace shoal::base
