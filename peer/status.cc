#include "peer/status.h"

namespace shoal::peer {
namespace {

class PeerCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "shoal.peer"; }
  std::string message(int ev) const override {
    return std::string(error_name(static_cast<Error>(ev)));
  }
};

}  // namespace

std::string_view error_name(Error e) {
  switch (e) {
    case Error::kOk:
      return "ok";
    case Error::kMalformed:
      return "malformed";
    case Error::kLimitExceeded:
      return "limit_exceeded";
    case Error::kWrongType:
      return "wrong_type";
    case Error::kUnsupportedVersion:
      return "unsupported_version";
    case Error::kUnknownType:
      return "unknown_type";
    case Error::kInvalidValue:
      return "invalid_value";
    case Error::kHeaderTooLarge:
      return "header_too_large";
    case Error::kPayloadTooLarge:
      return "payload_too_large";
    case Error::kPacketTooLarge:
      return "packet_too_large";
    case Error::kBadEnvelope:
      return "bad_envelope";
    case Error::kModeMismatch:
      return "mode_mismatch";
    case Error::kBadTag:
      return "bad_tag";
    case Error::kStale:
      return "stale";
    case Error::kReplay:
      return "replay";
    case Error::kBadProof:
      return "bad_proof";
    case Error::kUnexpectedMessage:
      return "unexpected_message";
    case Error::kVersionMismatch:
      return "version_mismatch";
    case Error::kSequenceExhausted:
      return "sequence_exhausted";
  }
  return "unknown_error";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(error_name(code)) + ": " + reason;
}

const boost::system::error_category& peer_category() {
  static const PeerCategory category;
  return category;
}

boost::system::error_code make_error_code(Error e) {
  return {static_cast<int>(e), peer_category()};
}

}  // namespace shoal::peer
