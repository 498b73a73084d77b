// Page keys: a page is named by (kind, object, page index); the same name is the cache key in
// memory and on disk, and its 64-bit hash places the page on the ring and indexes every table
// keyed by it (PageKeyHash). One key type, one hash, one set of limits for every layer. The hash is
// part of the cluster's wire contract: every node, the router and shoalctl must compute the same
// value for the same page, on any host, in any build. Changing the encoding or the hash function
// re-homes every cached page in the cluster.
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
// object_hash (the key of per-object tables: memory metadata, the disk tier's ETag map) is
// XXH3_64bits of the same encoding without the page index.
//
// Pure functions: no I/O, no allocation in page_hash or object_hash, safe to call from any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::base {

// Limits of a page's name, the same on every input path (client API, peer frames, admin API,
// disk slots): kind 1..kMaxKindBytes bytes, object 1..kMaxObjectBytes bytes.
inline constexpr std::size_t kMaxKindBytes = 64;
inline constexpr std::size_t kMaxObjectBytes = 1024;

// A page of an object: kind (the bucket set), object key and page index.
struct PageKey {
  std::string kind;
  std::string object;
  std::uint64_t page = 0;

  bool operator==(const PageKey&) const = default;
};

// An object: kind and object key (the pages of one object share it).
struct ObjectKey {
  std::string kind;
  std::string object;

  bool operator==(const ObjectKey&) const = default;
};

// The 64-bit placement hash of page `page` of `object` in `kind` (see the encoding above). Never
// fails; any byte strings (including empty ones) are accepted.
std::uint64_t page_hash(std::string_view kind, std::string_view object, std::uint64_t page);

// The exact bytes page_hash hashes (the reference encoding above); for tests and diagnostics
// (e.g. `shoalctl` printing why a page lives where it does). Allocates.
std::string page_key_bytes(std::string_view kind, std::string_view object, std::uint64_t page);

// XXH3_64bits of the encoding above without its last field (the page index).
std::uint64_t object_hash(std::string_view kind, std::string_view object);

// Hashers for unordered containers.
struct PageKeyHash {
  std::size_t operator()(const PageKey& k) const noexcept {
    return static_cast<std::size_t>(page_hash(k.kind, k.object, k.page));
  }
};
struct ObjectKeyHash {
  std::size_t operator()(const ObjectKey& k) const noexcept {
    return static_cast<std::size_t>(object_hash(k.kind, k.object));
  }
};

}  // namespace shoal::base
