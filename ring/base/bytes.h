// An owned, fixed-size byte buffer: a page's body (origin/s3_client.h, node/page.h) and a
// received peer frame's payload (peer/stream.h), so a forwarded page adopts the frame's buffer
// instead of copying it. Header-only and dependency-free, so peer/ may include it.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace shoal::base {

// `size` bytes at `data` (null when size is 0). Allocate with
// std::make_unique_for_overwrite<char[]>(n): not zero-initialised, filled in place by whoever
// produces the bytes. Movable, not copyable; no thread rules of its own (treat like a string).
struct Bytes {
  std::unique_ptr<char[]> data;
  std::size_t size = 0;

  std::string_view view() const { return {data.get(), size}; }
  bool empty() const { return size == 0; }
};

}  // namespace shoal::base
