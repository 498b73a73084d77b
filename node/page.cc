#include "node/page.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

namespace shoal::node {

std::size_t PageKeyHash::operator()(const PageKey& k) const noexcept {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  std::uint64_t n = k.kind.size();
  XXH3_64bits_update(&st, &n, sizeof n);
  XXH3_64bits_update(&st, k.kind.data(), k.kind.size());
  XXH3_64bits_update(&st, k.object.data(), k.object.size());
  XXH3_64bits_update(&st, &k.page, sizeof k.page);
  return static_cast<std::size_t>(XXH3_64bits_digest(&st));
}

std::uint64_t memory_charge(const PageKey& k, const Page& p) {
  constexpr std::uint64_t kEntryOverhead = 256;  // map node, queue node, control block, Page
  return p.body.size + k.kind.size() + k.object.size() + p.etag.size() + p.last_modified.size() +
         p.bucket.size() + kEntryOverhead;
}

}  // namespace shoal::node
