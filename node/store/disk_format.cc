#include "node/store/disk_format.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace shoal::store {
namespace {

// Header checksum: XXH3-64 of the block with its checksum field zeroed.
std::uint64_t header_checksum_of(const SlotHeader& h) {
  SlotHeader copy;
  std::memcpy(&copy, &h, sizeof copy);
  copy.header_checksum = 0;
  return XXH3_64bits(&copy, sizeof copy);
}

void put_field(char* dst, const std::string& s) {
  std::memcpy(dst, s.data(), s.size());
}

// The real length of page `page` of an object of `object_size` bytes (0 past the end).
std::uint64_t real_page_length(std::uint64_t object_size, std::uint64_t page_size,
                               std::uint64_t page) {
  if (page > object_size / page_size) return 0;
  const std::uint64_t start = page * page_size;
  return std::min(page_size, object_size - start);
}

}  // namespace

std::uint64_t checksum(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::vector<std::uint64_t> block_checksums(std::string_view payload, std::uint64_t page_size,
                                           char* copy_to) {
  const std::uint64_t block = payload_block_bytes(page_size);
  std::vector<std::uint64_t> out;
  out.reserve(payload_blocks(payload.size(), page_size));
  for (std::uint64_t off = 0; off < payload.size(); off += block) {
    std::string_view part = payload.substr(off, block);
    if (copy_to != nullptr) {
      std::memcpy(copy_to + off, part.data(), part.size());
      part = std::string_view(copy_to + off, part.size());  // hashed from the cache
    }
    out.push_back(checksum(part));
  }
  return out;
}

std::optional<std::string> check_record(const SlotRecord& r) {
  if (r.key.kind.empty() || r.key.kind.size() > base::kMaxKindBytes)
    return "kind length out of range";
  if (r.key.object.empty() || r.key.object.size() > base::kMaxObjectBytes) {
    return "object length out of range";
  }
  if (r.meta.etag.size() > kMaxEtagBytes) return "ETag too long";
  if (r.meta.last_modified.size() > kMaxLastModifiedBytes) return "Last-Modified too long";
  if (r.meta.bucket.size() > kMaxBucketBytes) return "bucket too long";
  if (r.page_size == 0 || r.page_size % kBlockBytes != 0) return "page size not a block multiple";
  if (r.payload_length == 0 || r.payload_length > r.page_size) {
    return "payload length out of range";
  }
  if (r.payload_length != real_page_length(r.meta.object_size, r.page_size, r.key.page)) {
    return "payload length is not the page's length in an object of that size";
  }
  return std::nullopt;
}

void encode_header(const SlotRecord& r, void* out) {
  SlotHeader h;
  std::memset(&h, 0, sizeof h);
  h.magic = kSlotMagic;
  h.format_version = kFormatVersion;
  h.header_bytes = kHeaderBytes;
  h.sequence = r.sequence;
  h.slot_index = r.slot_index;
  h.page_size = r.page_size;
  h.page_index = r.key.page;
  h.object_size = r.meta.object_size;
  h.payload_length = r.payload_length;
  h.block_bytes = static_cast<std::uint32_t>(payload_block_bytes(r.page_size));
  h.block_count = static_cast<std::uint32_t>(payload_blocks(r.payload_length, r.page_size));
  std::copy_n(r.block_checksums.begin(),
              std::min<std::size_t>(h.block_count, r.block_checksums.size()), h.block_checksums);
  h.cached_at = r.meta.cached_at;
  h.kind_length = static_cast<std::uint16_t>(r.key.kind.size());
  h.object_length = static_cast<std::uint16_t>(r.key.object.size());
  h.etag_length = static_cast<std::uint16_t>(r.meta.etag.size());
  h.last_modified_length = static_cast<std::uint8_t>(r.meta.last_modified.size());
  h.bucket_length = static_cast<std::uint8_t>(r.meta.bucket.size());
  put_field(h.kind, r.key.kind);
  put_field(h.object, r.key.object);
  put_field(h.etag, r.meta.etag);
  put_field(h.last_modified, r.meta.last_modified);
  put_field(h.bucket, r.meta.bucket);
  h.header_checksum = header_checksum_of(h);
  std::memcpy(out, &h, sizeof h);
}

std::optional<SlotRecord> decode_header(const void* in, std::uint64_t slot_index,
                                        std::uint64_t page_size) {
  SlotHeader h;
  std::memcpy(&h, in, sizeof h);
  if (h.magic != kSlotMagic || h.format_version != kFormatVersion ||
      h.header_bytes != kHeaderBytes) {
    return std::nullopt;
  }
  if (h.header_checksum != header_checksum_of(h)) return std::nullopt;
  if (h.slot_index != slot_index || h.page_size != page_size) return std::nullopt;
  if (h.kind_length == 0 || h.kind_length > base::kMaxKindBytes || h.object_length == 0 ||
      h.object_length > base::kMaxObjectBytes || h.etag_length > kMaxEtagBytes ||
      h.last_modified_length > kMaxLastModifiedBytes || h.bucket_length > kMaxBucketBytes) {
    return std::nullopt;
  }
  if (h.payload_length == 0 || h.payload_length > page_size ||
      h.payload_length != real_page_length(h.object_size, page_size, h.page_index)) {
    return std::nullopt;
  }
  if (h.block_bytes != payload_block_bytes(page_size) ||
      h.block_count != payload_blocks(h.payload_length, page_size)) {
    return std::nullopt;
  }
  SlotRecord r;
  r.key.kind.assign(h.kind, h.kind_length);
  r.key.object.assign(h.object, h.object_length);
  r.key.page = h.page_index;
  r.meta.object_size = h.object_size;
  r.meta.etag.assign(h.etag, h.etag_length);
  r.meta.last_modified.assign(h.last_modified, h.last_modified_length);
  r.meta.bucket.assign(h.bucket, h.bucket_length);
  r.meta.cached_at = h.cached_at;
  r.sequence = h.sequence;
  r.slot_index = h.slot_index;
  r.page_size = h.page_size;
  r.payload_length = h.payload_length;
  r.block_checksums.assign(h.block_checksums, h.block_checksums + h.block_count);
  return r;
}

bool is_other_format(const void* in) {
  const char* bytes = static_cast<const char*>(in);
  std::uint32_t magic = 0;
  std::uint16_t version = 0;
  std::memcpy(&magic, bytes + offsetof(SlotHeader, magic), sizeof magic);
  std::memcpy(&version, bytes + offsetof(SlotHeader, format_version), sizeof version);
  return magic == kSlotMagic && version != kFormatVersion;
}

}  // namespace shoal::store
