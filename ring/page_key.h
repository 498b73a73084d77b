// Page keys as the ring sees them: a page is named by (kind, object, page index) and placed by a
// 64-bit hash of that name. The hash is part of the cluster's wire contract: every node, the
// router and shoalctl must compute the same value for the same page, on any host, in any build.
// Changing the encoding or the hash function re-homes every cached page in the cluster.
//
// Encoding (version 1), byte by byte:
//   u64 little-endian  byte length of kind
//   kind bytes         as given (no normalisation, no terminator)
//   u64 little-endian  byte length of object
//   object bytes       as given
//   u64 little-endian  page index
// The length prefixes make the encoding unambiguous: ("a", "bc", 0) and ("ab", "c", 0) differ.
// page_hash is XXH3_64bits (xxHash 0.8, seed 0, default secret) of exactly these bytes.
// tests/unit/ring_rendezvous_test.cc pins a golden value so the contract cannot drift.
//
// Pure functions: no I/O, no allocation in page_hash, safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::ring {

// The 64-bit placement hash of page `page` of `object` in `kind` (see the encoding above). Never
// fails; any byte strings (including empty ones) are accepted.
std::uint64_t page_hash(std::string_view kind, std::string_view object, std::uint64_t page);

// The exact bytes page_hash hashes (the reference encoding above); for tests and diagnostics
// (e.g. `shoalctl` printing why a page lives where it does). Allocates.
std::string page_key_bytes(std::string_view kind, std::string_view object, std::uint64_t page);

}  // namespace shoal::ring
