// Pages: the unit of caching. An object is cut into fixed pages of P bytes (P = --page-size, a
// power of two >= 64 KiB, default 16 MiB); page p covers bytes [p*P, (p+1)*P) and the last page
// is stored at its real length.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "node/page_fill.h"
#include "ring/base/bytes.h"
#include "ring/base/page_key.h"

namespace shoal::node {

inline constexpr std::uint64_t kDefaultPageSize = 16ull << 20;
inline constexpr std::uint64_t kMinPageSize = 64ull << 10;
// Page index used for object-metadata entries in the memory tier (never a real page: the
// largest real page index is (2^64-1)/kMinPageSize).
inline constexpr std::uint64_t kMetaPage = ~0ull;

// A page (or, with an empty body, an object-metadata entry). Shared by reference count between
// the memory tier and every response streaming it, so eviction never frees bytes still being
// sent. Its metadata is fixed before it is shared; its bytes are all there from the start (a
// page from memory, disk or a whole forwarded page), or arrive while readers stream them (a page
// being fetched: `fill`). Only complete pages are cached.
struct Page {
  base::Bytes body;               // the page's bytes; size == page_length(object_size, page)
                                  // (allocated whole before any byte arrives)
  std::uint64_t object_size = 0;  // bytes in the whole object
  std::string etag;               // the object's ETag when this page was fetched
  std::string last_modified;      // the object's Last-Modified (HTTP-date)
  std::string bucket;             // the bucket that served it
  std::int64_t cached_at = 0;     // Unix seconds when it entered the cache
  // Page-relative offset of body[0]. 0 for every cached page; a part of a page forwarded by its
  // owner (FetchOptions::slice_*) starts here. Such parts are never cached.
  std::uint64_t body_offset = 0;
  // While the page is being filled: how much of `body` is final (node/page_fill.h). Null when
  // every byte was there before the page was shared.
  std::shared_ptr<PageFill> fill;

  // The whole body; only for a complete page (complete()).
  std::string_view bytes() const { return body.view(); }
  // Bytes of the body from offset `from` on that may be read now.
  std::uint64_t ready(std::uint64_t from) const {
    if (fill) return fill->ready(from);
    return from < body.size ? body.size - from : 0;
  }
  bool complete() const { return !fill || fill->state() == PageFill::State::kComplete; }
  bool failed() const { return fill && fill->state() == PageFill::State::kFailed; }
};
using PageRef = std::shared_ptr<const Page>;

// Bytes of page `page` of an object of `object_size` bytes with pages of `page_size` bytes
// (0 when the page starts at or past the end).
inline std::uint64_t page_length(std::uint64_t object_size, std::uint64_t page_size,
                                 std::uint64_t page) {
  std::uint64_t start = page * page_size;
  if (start >= object_size) return 0;
  return std::min(page_size, object_size - start);
}

}  // namespace shoal::node
