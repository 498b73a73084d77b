// msgpack encoding of the peer messages (peer/messages.h). The layout of every message is in
// docs/peer-protocol.md; in short, every message is a msgpack array of positional fields:
//   UDP packet body   [version, from, [message, ...]]
//   message           [type, fields...]        types 1 ping .. 6 leave
//   TCP frame header  [version, type, fields...]   types 16 join .. 37 invalidate ack
//   push-pull payload [record, ...]
// Arrays may carry extra trailing fields (ignored), so a later minor revision can add fields
// without a version bump; a missing field, a wrong type or a broken value rule is an error.
//
// Decoding treats its input as hostile: msgpack::unpack runs with limits (arrays <= 64 elements
// in UDP packets, 16 in frame headers, kMaxMembers in a member list; strings <= kMaxStringBytes;
// no maps, bins or exts; nesting depth <= 8), every field's msgpack type is checked exactly
// (unsigned fields must be positive integers, floats must be float32/float64, strings must be
// str, not bin), values must pass the check_* rules of messages.h, and the whole input must be
// one msgpack object (trailing bytes are an error). Decoders never throw and never crash on any
// input; they return a Status with the Error and a reason naming the field, and leave `*out`
// unspecified on failure. Memory is bounded by about 24x the input size (msgpack-c objects).
//
// Pure functions: no I/O, safe from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "peer/messages.h"
#include "peer/status.h"

namespace shoal::peer {

// Message type numbers (wire values).
enum class MessageType : std::uint8_t {
  kPing = 1,
  kPingReq = 2,
  kAck = 3,
  kNack = 4,
  kUpdate = 5,
  kLeave = 6,
  kJoin = 16,
  kPushPull = 17,
  kForwardRequest = 32,
  kForwardResponse = 33,
  kForwardData = 34,
  kForwardEnd = 35,
  kInvalidate = 36,
  kInvalidateAck = 37,
};

// One UDP message as msgpack (the element of a packet's message array). Used to pre-encode
// gossip updates once and piggyback them on many packets.
std::string encode_message(const Message& m);

// A UDP packet body from the sender id and already encoded messages (encode_message output),
// copied verbatim into the message array. At most kMaxMessagesPerPacket parts.
std::string encode_packet(std::string_view from, std::span<const std::string> encoded_messages);
std::string encode_packet(const Packet& p);

// Decodes a UDP packet body. Errors: kMalformed, kLimitExceeded, kWrongType (also for an empty
// message list), kUnsupportedVersion, kUnknownType, kInvalidValue (e.g. a bad sender id).
Status decode_packet(std::string_view body, Packet* out);

// A TCP frame header as msgpack.
std::string encode_frame_header(const FrameHeader& h);

// Decodes a TCP frame header. Errors as decode_packet.
Status decode_frame_header(std::string_view header, FrameHeader* out);

// The push-pull payload: a msgpack array of full member records.
std::string encode_member_list(std::span<const MemberRecord> members);

// Decodes a push-pull payload: 0..kMaxMembers records, each passing check_record. Errors as
// decode_packet.
Status decode_member_list(std::string_view payload, std::vector<MemberRecord>* out);

}  // namespace shoal::peer
