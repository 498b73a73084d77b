// The on-disk format of the disk tier: a file or block device cut into fixed-size slots, each
// one page. docs/disk-format.md describes it byte by byte; this header is its definition.
//
//   slot i   starts at byte i * slot_bytes(page_size)
//            [0, 4096)                     SlotHeader (one 4 KiB block)
//            [4096, 4096 + page_size)      payload: the page's bytes, zero-padded to a 4 KiB
//                                          multiple on write; bytes past that are undefined
//
// The payload is cut into payload blocks of payload_block_bytes(page_size) bytes (64 KiB for
// pages up to 16 MiB, page_size / 256 above), the last one covering only the payload bytes left;
// the header holds one XXH3-64 per block, so a read of part of a page reads and verifies only
// the blocks covering it.
//
// There is no superblock: every slot describes itself, so recovery reads the header block of
// each slot and nothing else. A header is valid only when its magic, format version, header
// size, slot index, page size, field lengths and header checksum all check out; anything else
// (zeros from preallocation, a torn or stale write, another format) is an empty slot.
//
// Integers are little-endian (the host order; the static_assert below pins it), strings are
// raw bytes with explicit lengths, unused bytes are zero. Checksums are XXH3-64 (xxHash 0.8,
// seed 0): block checksum i covers exactly the payload bytes of block i; the header checksum
// covers the whole 4096-byte header (the block checksum table included) with its
// header_checksum field set to zero.
//
// Thread-safe: pure functions.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ring/base/page_key.h"

namespace shoal::store {

static_assert(std::endian::native == std::endian::little,
              "the disk format is little-endian and written in host order");

inline constexpr std::uint32_t kSlotMagic = 0x50'4C'48'53;  // "SHLP" in file byte order
inline constexpr std::uint16_t kFormatVersion = 2;
// Alignment of every offset, length and buffer in direct I/O, and the header block's size.
inline constexpr std::size_t kBlockBytes = 4096;
inline constexpr std::size_t kHeaderBytes = kBlockBytes;
// Payload blocks: the unit of payload verification (one checksum each in the header).
inline constexpr std::size_t kMaxPayloadBlocks = 256;
inline constexpr std::uint64_t kMinPayloadBlockBytes = 64 << 10;

// Field capacities (bytes); kind and object hold up to base::kMaxKindBytes and
// base::kMaxObjectBytes (ring/base/page_key.h).
inline constexpr std::size_t kMaxEtagBytes = 256;
inline constexpr std::size_t kMaxLastModifiedBytes = 64;
inline constexpr std::size_t kMaxBucketBytes = 64;

#pragma pack(push, 1)
// One slot header, exactly one 4 KiB block. Offsets are pinned by static_asserts below.
struct SlotHeader {
  std::uint32_t magic;                // kSlotMagic
  std::uint16_t format_version;       // kFormatVersion
  std::uint16_t header_bytes;         // kHeaderBytes
  std::uint64_t sequence;             // write order across the whole store; higher is newer
  std::uint64_t slot_index;           // which slot this header was written to
  std::uint64_t page_size;            // the store's page size (bytes) when it was written
  std::uint64_t page_index;           // page p covers object bytes [p*page_size, (p+1)*page_size)
  std::uint64_t object_size;          // bytes in the whole object
  std::uint64_t payload_length;       // bytes of payload (1..page_size)
  std::uint32_t block_bytes;          // payload_block_bytes(page_size)
  std::uint32_t block_count;          // payload_blocks(payload_length, page_size)
  std::int64_t cached_at;             // Unix seconds when the page entered the cache
  std::uint16_t kind_length;          // 1..kMaxKindBytes
  std::uint16_t object_length;        // 1..kMaxObjectBytes
  std::uint16_t etag_length;          // 0..kMaxEtagBytes
  std::uint8_t last_modified_length;  // 0..kMaxLastModifiedBytes
  std::uint8_t bucket_length;         // 0..kMaxBucketBytes
  char kind[base::kMaxKindBytes];
  char object[base::kMaxObjectBytes];
  char etag[kMaxEtagBytes];  // the object's ETag as the origin sent it (quotes kept)
  char last_modified[kMaxLastModifiedBytes];  // HTTP-date as the origin sent it
  char bucket[kMaxBucketBytes];               // the bucket that served the page
  // XXH3-64 of payload block i, for i < block_count; zero beyond.
  std::uint64_t block_checksums[kMaxPayloadBlocks];
  std::uint8_t reserved[488];     // zero
  std::uint64_t header_checksum;  // XXH3-64 of these 4096 bytes with this field zero
};
#pragma pack(pop)

static_assert(sizeof(SlotHeader) == kHeaderBytes);
static_assert(offsetof(SlotHeader, format_version) == 4);
static_assert(offsetof(SlotHeader, header_bytes) == 6);
static_assert(offsetof(SlotHeader, sequence) == 8);
static_assert(offsetof(SlotHeader, slot_index) == 16);
static_assert(offsetof(SlotHeader, page_size) == 24);
static_assert(offsetof(SlotHeader, page_index) == 32);
static_assert(offsetof(SlotHeader, object_size) == 40);
static_assert(offsetof(SlotHeader, payload_length) == 48);
static_assert(offsetof(SlotHeader, block_bytes) == 56);
static_assert(offsetof(SlotHeader, block_count) == 60);
static_assert(offsetof(SlotHeader, cached_at) == 64);
static_assert(offsetof(SlotHeader, kind_length) == 72);
static_assert(offsetof(SlotHeader, object_length) == 74);
static_assert(offsetof(SlotHeader, etag_length) == 76);
static_assert(offsetof(SlotHeader, last_modified_length) == 78);
static_assert(offsetof(SlotHeader, bucket_length) == 79);
static_assert(offsetof(SlotHeader, kind) == 80);
static_assert(offsetof(SlotHeader, object) == 144);
static_assert(offsetof(SlotHeader, etag) == 1168);
static_assert(offsetof(SlotHeader, last_modified) == 1424);
static_assert(offsetof(SlotHeader, bucket) == 1488);
static_assert(offsetof(SlotHeader, block_checksums) == 1552);
static_assert(offsetof(SlotHeader, reserved) == 3600);
static_assert(offsetof(SlotHeader, header_checksum) == kHeaderBytes - 8);

// What the cache knows about the page's object, stored next to the key.
struct PageMeta {
  std::uint64_t object_size = 0;  // bytes
  std::string etag;
  std::string last_modified;
  std::string bucket;
  std::int64_t cached_at = 0;  // Unix seconds

  bool operator==(const PageMeta&) const = default;
};

// A header's contents in decoded form.
struct SlotRecord {
  base::PageKey key;
  PageMeta meta;
  std::uint64_t sequence = 0;
  std::uint64_t slot_index = 0;
  std::uint64_t page_size = 0;
  std::uint64_t payload_length = 0;
  // XXH3-64 of each payload block: payload_blocks(payload_length, page_size) entries.
  std::vector<std::uint64_t> block_checksums;
};

// Bytes one slot occupies: the header block plus page_size (a multiple of kBlockBytes).
inline constexpr std::uint64_t slot_bytes(std::uint64_t page_size) {
  return kHeaderBytes + page_size;
}

// `n` rounded up to a multiple of kBlockBytes.
inline constexpr std::uint64_t round_up_block(std::uint64_t n) {
  return (n + kBlockBytes - 1) / kBlockBytes * kBlockBytes;
}

// Bytes per payload block for pages of `page_size` bytes (a multiple of kBlockBytes):
// max(64 KiB, page_size / 256) rounded up to a multiple of kBlockBytes, so a page has at most
// kMaxPayloadBlocks blocks and every block starts at a kBlockBytes-aligned offset.
inline constexpr std::uint64_t payload_block_bytes(std::uint64_t page_size) {
  const std::uint64_t share =
      round_up_block((page_size + kMaxPayloadBlocks - 1) / kMaxPayloadBlocks);
  return share > kMinPayloadBlockBytes ? share : kMinPayloadBlockBytes;
}

// Payload blocks covering `payload_length` bytes of a page of `page_size` bytes.
inline constexpr std::uint64_t payload_blocks(std::uint64_t payload_length,
                                              std::uint64_t page_size) {
  const std::uint64_t b = payload_block_bytes(page_size);
  return (payload_length + b - 1) / b;
}

static_assert(payload_block_bytes(64 << 10) == 64 << 10);
static_assert(payload_block_bytes(16 << 20) == 64 << 10);
static_assert(payload_block_bytes(64ull << 20) == 256 << 10);
static_assert(payload_blocks(16 << 20, 16 << 20) == kMaxPayloadBlocks);
static_assert(payload_blocks((16 << 20) - 1, 1ull << 30) == 4);

// XXH3-64 of `bytes` (seed 0).
std::uint64_t checksum(std::string_view bytes);

// The block checksums of `payload` (a page's bytes in a store of `page_size`-byte pages): one
// XXH3-64 per payload block, the last block covering only the bytes left. With `copy_to`, the
// payload is also copied there (payload.size() bytes), block by block, each block hashed from
// the copy right after it was made (while it is in the cache).
std::vector<std::uint64_t> block_checksums(std::string_view payload, std::uint64_t page_size,
                                           char* copy_to = nullptr);

// Why a record cannot be stored, or nullopt when it can: a kind or object that is empty or
// longer than its field, an ETag, Last-Modified or bucket longer than its field, a page size
// that is not a positive multiple of kBlockBytes, a payload length of 0 or above page_size, or
// one that differs from the page's real length in an object of meta.object_size bytes.
std::optional<std::string> check_record(const SlotRecord& r);

// Fills the kHeaderBytes at `out` with the header for `r` (checksum included; every unused byte
// zero). Requires check_record(r) == nullopt and r.block_checksums to hold
// payload_blocks(r.payload_length, r.page_size) entries.
void encode_header(const SlotRecord& r, void* out);

// Decodes the kHeaderBytes at `in`, expecting slot `slot_index` of a store with pages of
// `page_size` bytes. Returns nullopt unless the header is valid: magic, format version and header
// size match, the header checksum matches, slot_index and page_size match the expected ones,
// every length is within its field, the payload length is 1..page_size, the payload length
// equals the page's real length (min(page_size, object_size - page_index*page_size)), and
// block_bytes and block_count are the ones page_size and the payload length give.
std::optional<SlotRecord> decode_header(const void* in, std::uint64_t slot_index,
                                        std::uint64_t page_size);

// Whether the kHeaderBytes at `in` look like a slot header of another format version: the magic
// matches and format_version is not kFormatVersion (nothing else is checked: another version's
// layout is unknown). Such slots are dropped at recovery and counted.
bool is_other_format(const void* in);

}  // namespace shoal::store
