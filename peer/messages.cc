#include "peer/messages.h"

#include <cmath>

#include "peer/address.h"
#include "ring/base/names.h"
#include "ring/rendezvous.h"

namespace shoal::peer {
namespace {

using Reason = std::optional<std::string>;

bool printable(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// `field`: between min and max bytes.
Reason check_length(std::string_view field, std::string_view value, std::size_t min,
                    std::size_t max) {
  if (value.size() < min || value.size() > max) {
    return std::string(field) + ": " + std::to_string(value.size()) + " bytes (want " +
           std::to_string(min) + ".." + std::to_string(max) + ")";
  }
  return std::nullopt;
}

Reason check_text(std::string_view field, std::string_view value, std::size_t min,
                  std::size_t max) {
  if (Reason r = check_length(field, value, min, max)) return r;
  if (!printable(value)) return std::string(field) + ": not printable ASCII";
  return std::nullopt;
}

Reason check_rate(std::string_view field, double v) {
  if (!std::isfinite(v) || v < 0) return std::string(field) + ": not a finite value >= 0";
  return std::nullopt;
}

Reason check_bucket_stats(const BucketStats& b) {
  if (Reason r = check_length("stats.bucket", b.bucket, 1, kMaxBucketNameBytes)) return r;
  if (Reason r = check_rate("stats.p50_ms", b.p50_ms)) return r;
  if (Reason r = check_rate("stats.p99_ms", b.p99_ms)) return r;
  if (Reason r = check_rate("stats.error_rate", b.error_rate)) return r;
  if (b.error_rate > 1) return std::string("stats.error_rate: above 1");
  if (Reason r = check_rate("stats.samples", b.samples)) return r;
  if (Reason r = check_rate("stats.evidence", b.evidence)) return r;
  if (b.samples > kMaxStatsWeight || b.evidence > kMaxStatsWeight) {
    return std::string("stats.samples/evidence: above 1e12");
  }
  return std::nullopt;
}

Reason check_weight(double w) {
  if (w == 0 || (w >= ring::kMinWeight && w <= ring::kMaxWeight)) return std::nullopt;
  return std::string("weight: not 0 and not in [1e-06, 1e+15]");
}

}  // namespace

std::string_view state_name(MemberState s) {
  switch (s) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
    case MemberState::kLeft:
      return "left";
  }
  return "unknown";
}

std::uint8_t outcome_to_wire(base::Outcome o) {
  using base::Outcome;
  switch (o) {
    case base::Outcome::kOk:
      return 0;
    case base::Outcome::kNotFound:
      return 1;
    case base::Outcome::kAccessDenied:
      return 2;
    case base::Outcome::kInvalidRange:
      return 3;
    case base::Outcome::kPreconditionFailed:
      return 4;
    case base::Outcome::kThrottled:
      return 5;
    case base::Outcome::kServerError:
      return 6;
    case base::Outcome::kTimeout:
      return 7;
    case base::Outcome::kMalformed:
      return 8;
    case base::Outcome::kTransportError:
      return 9;
    case base::Outcome::kCancelled:
      return 10;
  }
  return 8;  // unreachable for valid enum values
}

std::optional<base::Outcome> outcome_from_wire(std::uint64_t v) {
  using base::Outcome;
  static constexpr base::Outcome kByWire[] = {base::Outcome::kOk,
                                              base::Outcome::kNotFound,
                                              base::Outcome::kAccessDenied,
                                              base::Outcome::kInvalidRange,
                                              base::Outcome::kPreconditionFailed,
                                              base::Outcome::kThrottled,
                                              base::Outcome::kServerError,
                                              base::Outcome::kTimeout,
                                              base::Outcome::kMalformed,
                                              base::Outcome::kTransportError,
                                              base::Outcome::kCancelled};
  if (v >= std::size(kByWire)) return std::nullopt;
  return kByWire[v];
}

std::optional<std::string> check_node_id(std::string_view id) {
  return check_text("member id", id, 1, kMaxNodeIdBytes);
}

std::optional<std::string> check_stats(const StatsSummary& s) {
  if (Reason r = check_rate("stats.egress_bps", s.egress_bps)) return r;
  if (Reason r = check_rate("stats.ingress_bps", s.ingress_bps)) return r;
  if (s.buckets.size() > kMaxStatsBuckets) {
    return "stats.buckets: " + std::to_string(s.buckets.size()) + " entries (max " +
           std::to_string(kMaxStatsBuckets) + ")";
  }
  for (const BucketStats& b : s.buckets) {
    if (Reason r = check_bucket_stats(b)) return r;
  }
  return std::nullopt;
}

std::optional<std::string> check_meta(const MemberMeta& m) {
  if (Reason r = check_text("client_addr", m.client_addr, 0, kMaxAddrBytes)) return r;
  if (Reason r = check_text("peer_addr", m.peer_addr, 1, kMaxAddrBytes)) return r;
  if (!parse_peer_endpoint(m.peer_addr)) return std::string("peer_addr: not IP:port");
  if (Reason r = check_weight(m.weight)) return r;
  return check_stats(m.stats);
}

std::optional<std::string> check_record(const MemberRecord& r) {
  if (Reason e = check_node_id(r.id)) return e;
  if (r.state > MemberState::kLeft) return std::string("state: unknown value");
  return check_meta(r.meta);
}

std::optional<std::string> check_update(const Update& u) {
  if (Reason e = check_node_id(u.id)) return e;
  if (Reason e = check_text("update.from", u.from, 1, kMaxNodeIdBytes)) return e;
  if (u.state > MemberState::kLeft) return std::string("state: unknown value");
  if (u.state == MemberState::kAlive && !u.meta) return std::string("alive update without meta");
  if (u.meta) return check_meta(*u.meta);
  return std::nullopt;
}

std::optional<std::string> check_forward_request(const ForwardRequest& r) {
  // The names follow the rules of every input path (ring/base/names.h): a bucket that is not an
  // S3 bucket name could steer the origin request (a host in virtual-host addressing).
  if (Reason e = base::check_kind(r.kind)) return e;
  if (Reason e = base::check_object(r.object)) return e;
  if (r.buckets.size() > kMaxRequestBuckets) {
    return "buckets: " + std::to_string(r.buckets.size()) + " entries (max " +
           std::to_string(kMaxRequestBuckets) + ")";
  }
  for (const std::string& b : r.buckets) {
    if (Reason e = base::check_bucket(b)) return e;
  }
  if (r.offset > (1ull << 40) || r.length > (1ull << 40)) return "offset/length: out of range";
  if (Reason e = check_length("if_match", r.if_match, 0, kMaxEtagBytes)) return e;
  return check_length("config", r.config, 0, kMaxConfigBytes);
}

std::optional<std::string> check_invalidate(const Invalidate& r) {
  // The same rules as a forwarded request's names (and /fetch's): ring/base/names.h.
  if (Reason e = base::check_kind(r.kind)) return e;
  return base::check_object(r.object);
}

std::optional<std::string> check_forward_response(const ForwardResponse& r) {
  if (Reason e = check_length("message", r.message, 0, kMaxResponseTextBytes)) return e;
  if (Reason e = check_length("etag", r.etag, 0, kMaxEtagBytes)) return e;
  if (Reason e = check_length("last_modified", r.last_modified, 0, kMaxLastModifiedBytes)) {
    return e;
  }
  return check_length("bucket", r.bucket, 0, 255);
}

std::optional<std::string> check_forward_end(const ForwardEnd& e) {
  if (e.outcome == base::Outcome::kOk) return "outcome: ok does not end a stream early";
  return check_length("message", e.message, 0, kMaxResponseTextBytes);
}

}  // namespace shoal::peer
