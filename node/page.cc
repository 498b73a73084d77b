#include "node/page.h"

namespace shoal::node {

std::uint64_t memory_charge(const base::PageKey& k, const Page& p) {
  constexpr std::uint64_t kEntryOverhead = 256;  // map node, queue node, control block, Page
  return p.body.size + k.kind.size() + k.object.size() + p.etag.size() + p.last_modified.size() +
         p.bucket.size() + kEntryOverhead;
}

}  // namespace shoal::node
