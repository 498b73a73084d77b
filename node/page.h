// Pages: the unit of caching. An object is cut into fixed pages of P bytes (P = --page-size, a
// power of two >= 64 KiB, default 16 MiB); page p covers bytes [p*P, (p+1)*P) and the last page
// is stored at its real length.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ring/base/bytes.h"
#include "ring/base/page_key.h"

namespace shoal::node {

inline constexpr std::uint64_t kDefaultPageSize = 16ull << 20;
inline constexpr std::uint64_t kMinPageSize = 64ull << 10;
// Page index used for object-metadata entries in the memory tier (never a real page: the
// largest real page index is (2^64-1)/kMinPageSize).
inline constexpr std::uint64_t kMetaPage = ~0ull;

// An immutable cached page (or, with an empty body, an object-metadata entry). Shared by
// reference count between the memory tier and every response streaming it, so eviction never
// frees bytes still being sent.
struct Page {
  base::Bytes body;               // the page's bytes; size == page_length(object_size, page)
  std::uint64_t object_size = 0;  // bytes in the whole object
  std::string etag;               // the object's ETag when this page was fetched
  std::string last_modified;      // the object's Last-Modified (HTTP-date)
  std::string bucket;             // the bucket that served it
  std::int64_t cached_at = 0;     // Unix seconds when it entered the cache
  // Page-relative offset of body[0]. 0 for every cached page; a part of a page forwarded by its
  // owner (FetchOptions::slice_*) starts here. Such parts are never cached.
  std::uint64_t body_offset = 0;

  std::string_view bytes() const { return body.view(); }
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
