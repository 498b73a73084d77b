#include "tests/unit/node_test_pages.h"

#include <cstring>

namespace shoal::node::test {

PageRef make_page(const base::PageKey& k, std::size_t n, const std::string& etag) {
  auto p = std::make_shared<Page>();
  p->body.data = std::make_unique<char[]>(n);
  p->body.size = n;
  std::string bytes = store::test::page_bytes(base::PageKey{k.kind, k.object, k.page}, etag, n);
  std::memcpy(p->body.data.get(), bytes.data(), n);
  p->object_size = 1ull << 40;
  p->etag = etag;
  p->last_modified = "Sat, 01 Jan 2000 00:00:00 GMT";
  p->bucket.assign(1, 'b');  // not = "b": GCC 12 -Wrestrict false positive
  return p;
}

std::uint64_t charge_of(std::size_t body) {
  return MemoryTier::charge(base::PageKey{"k", "o", 0},
                            *make_page(base::PageKey{"k", "o", 0}, body));
}

}  // namespace shoal::node::test
