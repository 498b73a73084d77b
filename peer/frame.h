// TCP frame layout of the peer protocol (docs/peer-protocol.md, "Frames"):
//
//   u32 big-endian  header_bytes    1..kMaxFrameHeaderBytes
//   u32 big-endian  payload_bytes   0..max_payload (a bound the reader chooses per context:
//                                   the page size for forwarded pages, kMaxPushPullBytes for
//                                   push-pull, 0 for requests)
//   header_bytes    the msgpack frame header (peer/codec.h), encrypted
//   16 bytes        header tag
//   -- only when payload_bytes > 0:
//   payload_bytes   the raw payload (page bytes, or the push-pull member list; not
//                   msgpack-wrapped), encrypted
//   16 bytes        payload tag
//
// Header and payload are sealed separately with AES-256-GCM under the connection's direction
// key and frame sequence number (peer/frame_cipher.h); on open (insecure) connections they are
// plaintext and the tags all zero. Both lengths come first so the reader can check them before
// reading anything else, and the header tag is verified before the header is parsed:
// unauthenticated bytes never reach msgpack.
//
// Pure functions: no I/O, safe from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "peer/status.h"

namespace shoal::peer {

inline constexpr std::size_t kFramePrefixBytes = 8;
inline constexpr std::size_t kMaxFrameHeaderBytes = 64 << 10;
inline constexpr std::size_t kFrameTagBytes = 16;
// Payload bound for push-pull frames (the member list).
inline constexpr std::size_t kMaxPushPullBytes = 1 << 20;

struct FramePrefix {
  std::uint32_t header_bytes = 0;
  std::uint32_t payload_bytes = 0;
};

// The 8 prefix bytes for `p`.
std::array<char, kFramePrefixBytes> encode_frame_prefix(FramePrefix p);

// Parses and bounds-checks a prefix. Errors: kMalformed (not exactly 8 bytes), kHeaderTooLarge
// (header_bytes 0 or above kMaxFrameHeaderBytes), kPayloadTooLarge (above `max_payload`).
Status parse_frame_prefix(std::string_view prefix, std::size_t max_payload, FramePrefix* out);

// The bytes a frame with this prefix has on the wire, the prefix included.
std::size_t frame_wire_bytes(FramePrefix p);

// The parts of one complete frame inside a buffer (views into it; payload and payload_tag are
// empty when the frame has no payload).
struct FrameView {
  std::string_view prefix;
  std::string_view header;
  std::string_view header_tag;
  std::string_view payload;
  std::string_view payload_tag;
};

// Splits the frame at the start of `buffer`; `*consumed` gets its total size. Errors: those of
// parse_frame_prefix, and kMalformed when the buffer ends before the frame does. Nothing is
// decrypted or verified here (FrameOpener does that).
Status split_frame(std::string_view buffer, std::size_t max_payload, FrameView* out,
                   std::size_t* consumed);

}  // namespace shoal::peer
