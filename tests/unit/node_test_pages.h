// Test pages for the memory tier and the disk tier's admission tests: a page of n bytes whose
// bytes identify it (store::test::page_bytes), and what the memory tier charges for one.
#pragma once

#include <memory>
#include <string>

#include "node/memory_tier.h"
#include "node/page.h"
#include "tests/unit/store_test_util.h"

namespace shoal::node::test {

// A page of `n` bytes under `k` with ETag `etag`, its bytes store::test::page_bytes(k, etag, n).
PageRef make_page(const base::PageKey& k, std::size_t n, const std::string& etag = "\"e\"");

// What the memory tier charges for a page of `body` bytes under a short key.
std::uint64_t charge_of(std::size_t body);

}  // namespace shoal::node::test
