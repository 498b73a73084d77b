// Errors of the peer protocol: why a datagram, frame or message was refused. One enum covers
// decoding (codec, frame bounds) and authentication (HMAC, replay, handshake), so a counter or
// a log line can name any refusal. Also a boost::system error category, so the asynchronous
// stream (peer/stream.h) reports them as error_codes.
//
// Pure, safe from any thread.
#pragma once

#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>
#include <type_traits>

namespace shoal::peer {

enum class Error {
  kOk = 0,
  // Decoding
  kMalformed,           // not msgpack, truncated, or bytes after the message
  kLimitExceeded,       // a msgpack unpack limit (array, map, str, bin, ext, depth) was hit
  kWrongType,           // a field has the wrong msgpack type, or an array is too short
  kUnsupportedVersion,  // version field is not kProtocolVersion
  kUnknownType,         // unknown message type
  kInvalidValue,        // a value breaks a rule (messages.h check_*), e.g. empty id, NaN weight
  // Framing
  kHeaderTooLarge,   // frame header length is 0 or above kMaxFrameHeaderBytes
  kPayloadTooLarge,  // frame payload length is above the caller's maximum
  kPacketTooLarge,   // UDP packet above kMaxUdpPacketBytes
  // Authentication
  kBadEnvelope,        // datagram/hello too short or bad magic
  kModeMismatch,       // sender is open and we are keyed, or the other way round
  kBadTag,             // HMAC-SHA256 or AES-GCM tag does not verify
  kStale,              // timestamp outside the replay window
  kReplay,             // (timestamp, nonce) seen before, or older than the replay floor
  kBadProof,           // server hello proof does not verify
  kUnexpectedMessage,  // a valid message that is not allowed at this point
  kVersionMismatch,    // the peer speaks another UDP envelope or TCP hello version
  kSequenceExhausted,  // a connection direction used its last frame sequence number
};

// A stable lower_snake name ("bad_tag"), for counters and logs.
std::string_view error_name(Error e);

// The result of a decode or authentication step: a code and, on failure, a one-line reason.
struct Status {
  Error code = Error::kOk;
  std::string reason;

  bool ok() const { return code == Error::kOk; }
  static Status success() { return {}; }
  static Status failure(Error e, std::string why) { return {e, std::move(why)}; }
  // "name: reason", or "ok".
  std::string to_string() const;
};

// The error category "shoal.peer"; messages are error_name().
const boost::system::error_category& peer_category();
boost::system::error_code make_error_code(Error e);

}  // namespace shoal::peer

template <>
struct boost::system::is_error_code_enum<shoal::peer::Error> : std::true_type {};
