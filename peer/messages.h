// The peer protocol's messages as C++ values: what the UDP membership packets (SWIM ping,
// ping-req, ack, nack, gossip updates, leave) and the TCP frames (join, push-pull, forwarded page
// requests and responses) carry. peer/codec.h turns them into msgpack and back; the wire layout
// of every message is written up in docs/peer-protocol.md.
//
// Every field has a bound (the constants below). check_* functions state the value rules a
// decoder enforces on untrusted input and a sender should apply before encoding; the encoders
// themselves do not check (they trust their caller), so a value that breaks a rule is refused by
// the receiver, never silently changed.
//
// Pure data and pure functions: no I/O, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ring/base/outcome.h"
#include "ring/base/page_key.h"

namespace shoal::peer {

// The protocol version every message carries. A receiver refuses any other version.
inline constexpr std::uint64_t kProtocolVersion = 1;

// Bounds (bytes unless noted). Node ids and addresses are printable ASCII (0x21..0x7e).
inline constexpr std::size_t kMaxNodeIdBytes = 128;         // node id: 1..128
inline constexpr std::size_t kMaxAddrBytes = 255;           // client/peer address: 0..255
inline constexpr std::size_t kMaxStatsBuckets = 8;          // per-bucket entries in a summary
inline constexpr std::size_t kMaxBucketNameBytes = 63;      // bucket name in stats: 1..63
inline constexpr double kMaxStatsWeight = 1e12;             // stats samples and evidence
inline constexpr std::size_t kMaxMessagesPerPacket = 64;    // messages in one UDP packet
inline constexpr std::size_t kMaxMembers = 4096;            // records in one push-pull
inline constexpr std::size_t kMaxRequestBuckets = 8;        // C0-Bucket entries: 0..8
inline constexpr std::size_t kMaxConfigBytes = 1024;        // C0-Config string: 0..1024
inline constexpr std::size_t kMaxResponseTextBytes = 1024;  // response message: 0..1024
inline constexpr std::size_t kMaxEtagBytes = 256;           // ETag: 0..256
inline constexpr std::size_t kMaxLastModifiedBytes = 64;    // Last-Modified: 0..64

// Largest string any message holds; the msgpack unpack limit for strings.
inline constexpr std::size_t kMaxStringBytes = 1024;

// A member's state as SWIM sees it. Numeric values are wire values. Precedence at equal
// incarnation: alive < suspect < dead < left (peer/member_state.h).
enum class MemberState : std::uint8_t {
  kAlive = 0,    // answering probes
  kSuspect = 1,  // missed a probe; dead unless it refutes before its suspicion timeout
  kDead = 2,     // declared failed (tombstone until reaped)
  kLeft = 3,     // left gracefully (tombstone until reaped)
};

// "alive", "suspect", "dead" or "left" (the /stats spelling); "unknown" for other values.
std::string_view state_name(MemberState s);

// One bucket's origin health as its member measured it from its own fetches alone (never
// figures it learnt from peers, so nothing echoes around the cluster).
struct BucketStats {
  std::string bucket;     // bucket name, 1..kMaxBucketNameBytes (S3 names are 3..63)
  double p50_ms = 0;      // whole-page origin latency median, ms, finite, >= 0
  double p99_ms = 0;      // whole-page origin latency 99th percentile, ms, finite, >= 0
  double error_rate = 0;  // error-rate EWMA, in [0, 1]
  // Optional trailing fields (an older sender omits them: both 0, so its figures carry no
  // weight). Decayed counts, finite, 0..kMaxStatsWeight.
  double samples = 0;   // latency samples behind p50_ms and p99_ms (0: no latency figures)
  double evidence = 0;  // fetch attempts behind error_rate (0: no error-rate figures)

  bool operator==(const BucketStats&) const = default;
};

// The bounded stats summary each member gossips about itself (its app state).
struct StatsSummary {
  std::uint64_t in_flight = 0;       // client requests being served now (count)
  double egress_bps = 0;             // bytes/s sent to clients, 10 s average, finite, >= 0
  double ingress_bps = 0;            // bytes/s received from origins and peers, finite, >= 0
  std::vector<BucketStats> buckets;  // at most kMaxStatsBuckets

  bool operator==(const StatsSummary&) const = default;
};

// What a member says about itself besides its id and incarnation.
struct MemberMeta {
  std::string client_addr;  // where clients reach its HTTP API (host:port), 0..kMaxAddrBytes
  std::string peer_addr;    // its UDP+TCP peer port, "IPv4:port" or "[IPv6]:port"
  double weight = 1.0;      // ring weight: 0 or ring::kMinWeight..ring::kMaxWeight
  StatsSummary stats;

  bool operator==(const MemberMeta&) const = default;
};

// A full member record, as push-pull and join carry it.
struct MemberRecord {
  std::string id;  // stable node id, 1..kMaxNodeIdBytes printable ASCII
  std::uint64_t incarnation = 0;
  MemberState state = MemberState::kAlive;
  MemberMeta meta;

  bool operator==(const MemberRecord&) const = default;
};

// --- UDP messages (SWIM, Das et al. 2002; Lifeguard nack, Dadgar et al. 2017) ---

// Direct probe. `target` is the id the sender believes it is probing (empty when unknown); a
// member whose id differs drops the ping, so a reused address is not mistaken for the old member.
struct Ping {
  std::uint32_t seq = 0;
  std::string target;
  bool operator==(const Ping&) const = default;
};
// Indirect probe request: "ping `target` at `target_addr` for me and relay its ack with `seq`".
struct PingReq {
  std::uint32_t seq = 0;
  std::string target;
  std::string target_addr;  // the target's peer_addr
  bool operator==(const PingReq&) const = default;
};
// Answer to a Ping (or a relayed answer to a PingReq) with the probe's `seq`.
struct Ack {
  std::uint32_t seq = 0;
  bool operator==(const Ack&) const = default;
};
// Lifeguard: sent by a PingReq helper that got no ack from the target within the probe timeout,
// telling the requester that the helper itself is alive.
struct Nack {
  std::uint32_t seq = 0;
  bool operator==(const Nack&) const = default;
};
// A gossip update: member `id` is in `state` at `incarnation`, according to `from`. `meta` is
// required for alive updates and absent for the other states.
struct Update {
  std::string id;
  std::uint64_t incarnation = 0;
  MemberState state = MemberState::kAlive;
  std::string from;  // who asserts it (the suspicion's accuser for suspect/dead)
  std::optional<MemberMeta> meta;
  bool operator==(const Update&) const = default;
};
// Graceful leave announcement, sent by the leaving member itself (the packet's `from` must
// equal `id`) at its new `incarnation`.
struct Leave {
  std::string id;
  std::uint64_t incarnation = 0;
  bool operator==(const Leave&) const = default;
};

using Message = std::variant<Ping, PingReq, Ack, Nack, Update, Leave>;

// One UDP datagram's body: the sender's node id and 1..kMaxMessagesPerPacket messages.
struct Packet {
  std::string from;
  std::vector<Message> messages;
  bool operator==(const Packet&) const = default;
};

// --- TCP frame headers (peer/frame.h) ---

// Join request: the joiner's own record (state alive). Answered with a PushPull.
struct Join {
  MemberRecord member;
  bool operator==(const Join&) const = default;
};
// Full state exchange; the frame's payload holds the member list (encode_member_list).
// `join_reply` is true when it answers a Join.
struct PushPull {
  bool join_reply = false;
  bool operator==(const PushPull&) const = default;
};
// A page request forwarded to the page's owner. No payload.
struct ForwardRequest {
  std::uint64_t request_id = 0;      // sender-chosen, echoed in the response (multiplexing)
  std::string kind;                  // 1..base::kMaxKindBytes
  std::string object;                // 1..base::kMaxObjectBytes
  std::uint64_t page = 0;            // page index
  std::vector<std::string> buckets;  // 0..kMaxRequestBuckets, each an S3 bucket name
  std::string config;                // C0-Config header value, 0..kMaxConfigBytes
  bool hop = true;                   // already forwarded once: the receiver must not forward it
  std::uint64_t sender_epoch = 0;    // the sender's membership epoch when it chose the owner
  // The part of the page wanted, in bytes from the page's start (length 0: the whole page).
  // Optional trailing fields: an older sender omits them (whole page).
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  // The ETag the page must have (0..kMaxEtagBytes; empty: any version). Optional trailing field:
  // a resume from another member (node/forwarding.h) sets it, so the rest of a page stream
  // comes from the same object version as its start.
  std::string if_match;
  // Answer only from the receiver's memory or disk: never from the origin, never by joining a
  // fetch in progress. A page that is not there is answered kNotFound ("not cached"). A new
  // owner asks a page's previous owner this way (docs/peer-protocol.md, "Ownership changes").
  // Optional trailing field, sent only when true (an older receiver ignores it).
  bool cache_only = false;
  bool operator==(const ForwardRequest&) const = default;
};
// The answer to a ForwardRequest: its head. On kOk the asked bytes follow as a stream: the
// frame's payload holds the first of them (possibly all, possibly none), ForwardData frames the
// rest in order, until `length` bytes arrived (the stream's end); a ForwardEnd ends it early
// with a failure (the owner's page failed after its head). Other outcomes carry no payload.
struct ForwardResponse {
  std::uint64_t request_id = 0;
  base::Outcome outcome = base::Outcome::kOk;
  std::string message;            // error detail, 0..kMaxResponseTextBytes
  std::uint64_t object_size = 0;  // bytes in the whole object
  std::string etag;               // 0..kMaxEtagBytes
  std::string last_modified;      // HTTP-date, 0..kMaxLastModifiedBytes
  std::string bucket;             // bucket that served the page, 0..255
  std::int64_t cached_at = 0;     // Unix seconds the page entered a cache (0 = fetched now)
  std::uint64_t offset = 0;       // page-relative offset of the payload's first byte
  // Bytes of the page from `offset` the stream carries (the head's payload and every
  // ForwardData). Optional trailing field: an older sender omits it (0: the payload is all).
  std::uint64_t length = 0;
  bool operator==(const ForwardResponse&) const = default;
};
// More bytes of a ForwardResponse's stream; the payload holds them. `at` counts from the
// stream's first byte (the head's `offset`): each ForwardData continues where the stream is.
struct ForwardData {
  std::uint64_t request_id = 0;
  std::uint64_t at = 0;
  bool operator==(const ForwardData&) const = default;
};
// A stream that cannot be completed: the page failed at the owner after its head went out. The
// receiver must drop what it got of it (never serve it beyond what it already sent). No payload.
struct ForwardEnd {
  std::uint64_t request_id = 0;
  base::Outcome outcome = base::Outcome::kServerError;  // never kOk
  std::string message;                                  // 0..kMaxResponseTextBytes
  bool operator==(const ForwardEnd&) const = default;
};

// Drop every cached page, copy and metadata entry of one object now (a write through the S3
// port changed it), so that no read through the receiver returns its old bytes afterwards.
// Answered with an InvalidateAck once the receiver's purge is done (node/invalidation.h). No
// payload.
struct Invalidate {
  std::uint64_t request_id = 0;  // sender-chosen, echoed in the ack
  std::string kind;              // 1..base::kMaxKindBytes, the kind rule
  std::string object;            // 1..base::kMaxObjectBytes, the object rule
  bool operator==(const Invalidate&) const = default;
};
// The receiver purged the object: nothing it caches (or fetches from now on) has the old bytes.
struct InvalidateAck {
  std::uint64_t request_id = 0;
  std::uint64_t pages_dropped = 0;  // memory and disk pages dropped (diagnostics)
  bool operator==(const InvalidateAck&) const = default;
};

using FrameHeader = std::variant<Join, PushPull, ForwardRequest, ForwardResponse, ForwardData,
                                 ForwardEnd, Invalidate, InvalidateAck>;

// Wire values of base::Outcome in a ForwardResponse (fixed here, independent of the enum's
// declaration order): ok 0, not_found 1, access_denied 2, invalid_range 3,
// precondition_failed 4, throttled 5, server_error 6, timeout 7, malformed 8,
// transport_error 9, cancelled 10.
std::uint8_t outcome_to_wire(base::Outcome o);
// The outcome for a wire value, or nullopt for values above 10.
std::optional<base::Outcome> outcome_from_wire(std::uint64_t v);

// Value rules. Each returns nullopt when the value is acceptable, else a one-line reason naming
// the field ("member id: empty", "stats.buckets: 9 entries (max 8)", ...).
std::optional<std::string> check_node_id(std::string_view id);
std::optional<std::string> check_stats(const StatsSummary& s);
std::optional<std::string> check_meta(const MemberMeta& m);
std::optional<std::string> check_record(const MemberRecord& r);
std::optional<std::string> check_update(const Update& u);
std::optional<std::string> check_forward_request(const ForwardRequest& r);
std::optional<std::string> check_forward_response(const ForwardResponse& r);
std::optional<std::string> check_invalidate(const Invalidate& r);
std::optional<std::string> check_forward_end(const ForwardEnd& e);

}  // namespace shoal::peer
