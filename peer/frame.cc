#include "peer/frame.h"

#include <boost/endian/conversion.hpp>
#include <string>

namespace shoal::peer {

std::array<char, kFramePrefixBytes> encode_frame_prefix(FramePrefix p) {
  std::array<char, kFramePrefixBytes> out;
  boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(out.data()), p.header_bytes);
  boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(out.data()) + 4, p.payload_bytes);
  return out;
}

Status parse_frame_prefix(std::string_view prefix, std::size_t max_payload, FramePrefix* out) {
  if (prefix.size() != kFramePrefixBytes) {
    return Status::failure(Error::kMalformed, "frame prefix is not 8 bytes");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(prefix.data());
  FramePrefix p{boost::endian::load_big_u32(bytes), boost::endian::load_big_u32(bytes + 4)};
  if (p.header_bytes == 0 || p.header_bytes > kMaxFrameHeaderBytes) {
    return Status::failure(Error::kHeaderTooLarge, "header of " + std::to_string(p.header_bytes) +
                                                       " bytes (want 1.." +
                                                       std::to_string(kMaxFrameHeaderBytes) + ")");
  }
  if (p.payload_bytes > max_payload) {
    return Status::failure(Error::kPayloadTooLarge,
                           "payload of " + std::to_string(p.payload_bytes) + " bytes (max " +
                               std::to_string(max_payload) + ")");
  }
  *out = p;
  return Status::success();
}

std::size_t frame_wire_bytes(FramePrefix p) {
  std::size_t n = kFramePrefixBytes + std::size_t{p.header_bytes} + kFrameTagBytes;
  if (p.payload_bytes > 0) n += std::size_t{p.payload_bytes} + kFrameTagBytes;
  return n;
}

Status split_frame(std::string_view buffer, std::size_t max_payload, FrameView* out,
                   std::size_t* consumed) {
  if (buffer.size() < kFramePrefixBytes) {
    return Status::failure(Error::kMalformed, "incomplete frame prefix");
  }
  FramePrefix p;
  Status st = parse_frame_prefix(buffer.substr(0, kFramePrefixBytes), max_payload, &p);
  if (!st.ok()) return st;
  const std::size_t total = frame_wire_bytes(p);
  if (buffer.size() < total) return Status::failure(Error::kMalformed, "incomplete frame");
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    std::string_view part = buffer.substr(at, n);
    at += n;
    return part;
  };
  *out = FrameView{};
  out->prefix = take(kFramePrefixBytes);
  out->header = take(p.header_bytes);
  out->header_tag = take(kFrameTagBytes);
  if (p.payload_bytes > 0) {
    out->payload = take(p.payload_bytes);
    out->payload_tag = take(kFrameTagBytes);
  }
  *consumed = total;
  return Status::success();
}

}  // namespace shoal::peer
