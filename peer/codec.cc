#include "peer/codec.h"

#include <bit>
#include <boost/endian/conversion.hpp>
#include <cmath>
#include <exception>
#include <limits>
#include <msgpack.hpp>
#include <new>

#include "peer/address.h"

namespace shoal::peer {
namespace {

// ---------------------------------------------------------------------------------------------
// Encoding

// A msgpack output buffer over std::string (what msgpack::packer needs: write(data, size)).
struct StringBuffer {
  std::string bytes;
  void write(const char* data, std::size_t size) { bytes.append(data, size); }
};
// A packer that also exposes its buffer, for the raw float64 below.
struct Packer : msgpack::packer<StringBuffer> {
  explicit Packer(StringBuffer& b) : msgpack::packer<StringBuffer>(b), out(b) {}
  StringBuffer& out;
};

void pack_string(Packer& pk, std::string_view s) {
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

// Always a float64 (0xcb): msgpack-c's pack_double writes integral values as integers, which
// the strict decoder (float fields must be floats) would refuse.
void pack_f64(Packer& pk, double d) {
  unsigned char buf[9];
  buf[0] = 0xcb;
  boost::endian::store_big_u64(buf + 1, std::bit_cast<std::uint64_t>(d));
  pk.out.write(reinterpret_cast<const char*>(buf), sizeof buf);
}

void pack_stats(Packer& pk, const StatsSummary& s) {
  pk.pack_array(4);
  pk.pack_uint64(s.in_flight);
  pack_f64(pk, s.egress_bps);
  pack_f64(pk, s.ingress_bps);
  pk.pack_array(static_cast<std::uint32_t>(s.buckets.size()));
  for (const BucketStats& b : s.buckets) {
    pk.pack_array(6);
    pack_string(pk, b.bucket);
    pack_f64(pk, b.p50_ms);
    pack_f64(pk, b.p99_ms);
    pack_f64(pk, b.error_rate);
    pack_f64(pk, b.samples);
    pack_f64(pk, b.evidence);
  }
}

void pack_meta(Packer& pk, const MemberMeta& m) {
  pk.pack_array(4);
  pack_string(pk, m.client_addr);
  pack_string(pk, m.peer_addr);
  pack_f64(pk, m.weight);
  pack_stats(pk, m.stats);
}

void pack_record(Packer& pk, const MemberRecord& r) {
  pk.pack_array(4);
  pack_string(pk, r.id);
  pk.pack_uint64(r.incarnation);
  pk.pack_uint8(static_cast<std::uint8_t>(r.state));
  pack_meta(pk, r.meta);
}

void pack_type(Packer& pk, MessageType t) {
  pk.pack_uint8(static_cast<std::uint8_t>(t));
}

struct MessagePacker {
  Packer& pk;
  void operator()(const Ping& m) {
    pk.pack_array(3);
    pack_type(pk, MessageType::kPing);
    pk.pack_uint32(m.seq);
    pack_string(pk, m.target);
  }
  void operator()(const PingReq& m) {
    pk.pack_array(4);
    pack_type(pk, MessageType::kPingReq);
    pk.pack_uint32(m.seq);
    pack_string(pk, m.target);
    pack_string(pk, m.target_addr);
  }
  void operator()(const Ack& m) {
    pk.pack_array(2);
    pack_type(pk, MessageType::kAck);
    pk.pack_uint32(m.seq);
  }
  void operator()(const Nack& m) {
    pk.pack_array(2);
    pack_type(pk, MessageType::kNack);
    pk.pack_uint32(m.seq);
  }
  void operator()(const Update& m) {
    pk.pack_array(6);
    pack_type(pk, MessageType::kUpdate);
    pack_string(pk, m.id);
    pk.pack_uint64(m.incarnation);
    pk.pack_uint8(static_cast<std::uint8_t>(m.state));
    pack_string(pk, m.from);
    if (m.meta) {
      pack_meta(pk, *m.meta);
    } else {
      pk.pack_nil();
    }
  }
  void operator()(const Leave& m) {
    pk.pack_array(3);
    pack_type(pk, MessageType::kLeave);
    pack_string(pk, m.id);
    pk.pack_uint64(m.incarnation);
  }
};

struct HeaderPacker {
  Packer& pk;
  void begin(std::uint32_t fields, MessageType t) {
    pk.pack_array(fields + 2);
    pk.pack_uint64(kProtocolVersion);
    pack_type(pk, t);
  }
  void operator()(const Join& h) {
    begin(1, MessageType::kJoin);
    pack_record(pk, h.member);
  }
  void operator()(const PushPull& h) {
    begin(1, MessageType::kPushPull);
    pk.pack(h.join_reply);
  }
  void operator()(const ForwardRequest& h) {
    // cache_only goes out only when set, so every other request encodes as before.
    begin(h.cache_only ? 12 : 11, MessageType::kForwardRequest);
    pk.pack_uint64(h.request_id);
    pack_string(pk, h.kind);
    pack_string(pk, h.object);
    pk.pack_uint64(h.page);
    pk.pack_array(static_cast<std::uint32_t>(h.buckets.size()));
    for (const std::string& b : h.buckets) pack_string(pk, b);
    pack_string(pk, h.config);
    pk.pack(h.hop);
    pk.pack_uint64(h.sender_epoch);
    pk.pack_uint64(h.offset);
    pk.pack_uint64(h.length);
    pack_string(pk, h.if_match);
    if (h.cache_only) pk.pack(true);
  }
  void operator()(const ForwardResponse& h) {
    begin(10, MessageType::kForwardResponse);
    pk.pack_uint64(h.request_id);
    pk.pack_uint8(outcome_to_wire(h.outcome));
    pack_string(pk, h.message);
    pk.pack_uint64(h.object_size);
    pack_string(pk, h.etag);
    pack_string(pk, h.last_modified);
    pack_string(pk, h.bucket);
    pk.pack_int64(h.cached_at);
    pk.pack_uint64(h.offset);
    pk.pack_uint64(h.length);
  }
  void operator()(const ForwardData& h) {
    begin(2, MessageType::kForwardData);
    pk.pack_uint64(h.request_id);
    pk.pack_uint64(h.at);
  }
  void operator()(const ForwardEnd& h) {
    begin(3, MessageType::kForwardEnd);
    pk.pack_uint64(h.request_id);
    pk.pack_uint8(outcome_to_wire(h.outcome));
    pack_string(pk, h.message);
  }
  void operator()(const Invalidate& h) {
    begin(3, MessageType::kInvalidate);
    pk.pack_uint64(h.request_id);
    pack_string(pk, h.kind);
    pack_string(pk, h.object);
  }
  void operator()(const InvalidateAck& h) {
    begin(2, MessageType::kInvalidateAck);
    pk.pack_uint64(h.request_id);
    pk.pack_uint64(h.pages_dropped);
  }
};

// ---------------------------------------------------------------------------------------------
// Decoding

// Unpack limits per context (see the header comment).
constexpr std::size_t kMaxDepth = 8;
const msgpack::unpack_limit kPacketLimit(kMaxMessagesPerPacket, 0, kMaxStringBytes, 0, 0,
                                         kMaxDepth);
const msgpack::unpack_limit kHeaderLimit(16, 0, kMaxStringBytes, 0, 0, kMaxDepth);
const msgpack::unpack_limit kMemberListLimit(kMaxMembers, 0, kMaxStringBytes, 0, 0, kMaxDepth);

// Parses exactly one msgpack object from `bytes` under `limit`. Never throws.
Status unpack_bounded(std::string_view bytes, const msgpack::unpack_limit& limit,
                      msgpack::object_handle* out) {
  if (bytes.empty()) return Status::failure(Error::kMalformed, "empty input");
  std::size_t offset = 0;
  try {
    *out = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limit);
  } catch (const msgpack::size_overflow& e) {
    return Status::failure(Error::kLimitExceeded, e.what());
  } catch (const msgpack::insufficient_bytes&) {
    return Status::failure(Error::kMalformed, "truncated msgpack");
  } catch (const std::bad_alloc&) {
    return Status::failure(Error::kLimitExceeded, "out of memory");
  } catch (const std::exception& e) {
    return Status::failure(Error::kMalformed, e.what());
  }
  if (offset != bytes.size()) {
    return Status::failure(Error::kMalformed,
                           std::to_string(bytes.size() - offset) + " bytes after the message");
  }
  return Status::success();
}

std::string_view type_name(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "bool";
    case msgpack::type::POSITIVE_INTEGER:
      return "uint";
    case msgpack::type::NEGATIVE_INTEGER:
      return "int";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "float";
    case msgpack::type::STR:
      return "str";
    case msgpack::type::BIN:
      return "bin";
    case msgpack::type::ARRAY:
      return "array";
    case msgpack::type::MAP:
      return "map";
    case msgpack::type::EXT:
      return "ext";
  }
  return "unknown";
}

// Reads the positional fields of one msgpack array. Every read names its field; the first
// failure is stored in the shared Status and every later read fails too.
class Fields {
 public:
  // Opens `o` as an array of at least `min` fields (`what` names it in errors).
  Fields(const msgpack::object& o, std::string_view what, std::size_t min, Status* st)
      : what_(what), st_(st) {
    if (!st_->ok()) return;
    if (o.type != msgpack::type::ARRAY) {
      fail(Error::kWrongType, "want array, got " + std::string(type_name(o.type)));
      return;
    }
    if (o.via.array.size < min) {
      fail(Error::kWrongType, std::to_string(o.via.array.size) + " fields (want at least " +
                                  std::to_string(min) + ")");
      return;
    }
    items_ = o.via.array.ptr;
    size_ = o.via.array.size;
  }

  bool ok() const { return st_->ok(); }
  // True when an optional trailing field follows (fields added by a later minor revision).
  bool has_more() const { return st_->ok() && index_ < size_; }

  // The next field as a raw object (nullptr after a failure).
  const msgpack::object* next(std::string_view field) {
    if (!st_->ok()) return nullptr;
    if (index_ >= size_) {
      fail(Error::kWrongType, std::string(field) + ": missing");
      return nullptr;
    }
    field_ = field;
    return &items_[index_++];
  }

  bool u64(std::string_view field, std::uint64_t* v) {
    const msgpack::object* o = typed(field, msgpack::type::POSITIVE_INTEGER);
    if (o) *v = o->via.u64;
    return o != nullptr;
  }

  bool u32(std::string_view field, std::uint32_t* v) {
    std::uint64_t x = 0;
    if (!u64(field, &x)) return false;
    if (x > std::numeric_limits<std::uint32_t>::max()) return invalid(field, "above 2^32-1");
    *v = static_cast<std::uint32_t>(x);
    return true;
  }

  bool i64(std::string_view field, std::int64_t* v) {
    const msgpack::object* o = next(field);
    if (!o) return false;
    if (o->type == msgpack::type::NEGATIVE_INTEGER) {
      *v = o->via.i64;
      return true;
    }
    if (o->type == msgpack::type::POSITIVE_INTEGER &&
        o->via.u64 <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      *v = static_cast<std::int64_t>(o->via.u64);
      return true;
    }
    return wrong(*o, "int64");
  }

  bool f64(std::string_view field, double* v) {
    const msgpack::object* o = next(field);
    if (!o) return false;
    if (o->type != msgpack::type::FLOAT32 && o->type != msgpack::type::FLOAT64) {
      return wrong(*o, "float");
    }
    *v = o->via.f64;
    return true;
  }

  bool boolean(std::string_view field, bool* v) {
    const msgpack::object* o = typed(field, msgpack::type::BOOLEAN);
    if (o) *v = o->via.boolean;
    return o != nullptr;
  }

  bool str(std::string_view field, std::string* v) {
    const msgpack::object* o = typed(field, msgpack::type::STR);
    if (o) v->assign(o->via.str.ptr, o->via.str.size);
    return o != nullptr;
  }

  bool state(std::string_view field, MemberState* v) {
    std::uint64_t x = 0;
    if (!u64(field, &x)) return false;
    if (x > static_cast<std::uint64_t>(MemberState::kLeft)) return invalid(field, "unknown state");
    *v = static_cast<MemberState>(x);
    return true;
  }

  bool invalid(std::string_view field, std::string_view why) {
    fail(Error::kInvalidValue, std::string(field) + ": " + std::string(why));
    return false;
  }

 private:
  const msgpack::object* typed(std::string_view field, msgpack::type::object_type t) {
    const msgpack::object* o = next(field);
    if (!o) return nullptr;
    if (o->type != t) {
      wrong(*o, type_name(t));
      return nullptr;
    }
    return o;
  }

  bool wrong(const msgpack::object& o, std::string_view want) {
    fail(Error::kWrongType, std::string(field_) + ": want " + std::string(want) + ", got " +
                                std::string(type_name(o.type)));
    return false;
  }

  void fail(Error e, std::string why) {
    if (st_->ok()) *st_ = Status::failure(e, std::string(what_) + ": " + why);
  }

  std::string_view what_;
  std::string_view field_;
  Status* st_;
  const msgpack::object* items_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t index_ = 0;
};

// Applies a check_* rule: a reason becomes kInvalidValue.
Status check(std::optional<std::string> reason) {
  if (reason) return Status::failure(Error::kInvalidValue, *reason);
  return Status::success();
}

void read_stats(const msgpack::object& o, StatsSummary* s, Status* st) {
  Fields f(o, "stats", 4, st);
  f.u64("in_flight", &s->in_flight);
  f.f64("egress_bps", &s->egress_bps);
  f.f64("ingress_bps", &s->ingress_bps);
  const msgpack::object* list = f.next("buckets");
  if (!list) return;
  Fields buckets(*list, "stats.buckets", 0, st);
  if (!buckets.ok()) return;
  if (list->via.array.size > kMaxStatsBuckets) {
    buckets.invalid("buckets", "more than kMaxStatsBuckets entries");
    return;
  }
  s->buckets.resize(list->via.array.size);
  for (BucketStats& b : s->buckets) {
    const msgpack::object* item = buckets.next("bucket");
    if (!item) return;
    Fields bf(*item, "bucket", 4, st);
    bf.str("name", &b.bucket);
    bf.f64("p50_ms", &b.p50_ms);
    bf.f64("p99_ms", &b.p99_ms);
    bf.f64("error_rate", &b.error_rate);
    if (bf.has_more()) bf.f64("samples", &b.samples);  // optional pair (older senders: 0, 0)
    if (bf.has_more()) bf.f64("evidence", &b.evidence);
  }
}

void read_meta(const msgpack::object& o, MemberMeta* m, Status* st) {
  Fields f(o, "meta", 4, st);
  f.str("client_addr", &m->client_addr);
  f.str("peer_addr", &m->peer_addr);
  f.f64("weight", &m->weight);
  if (const msgpack::object* stats = f.next("stats")) read_stats(*stats, &m->stats, st);
}

void read_record(const msgpack::object& o, MemberRecord* r, Status* st) {
  Fields f(o, "record", 4, st);
  f.str("id", &r->id);
  f.u64("incarnation", &r->incarnation);
  f.state("state", &r->state);
  if (const msgpack::object* meta = f.next("meta")) read_meta(*meta, &r->meta, st);
  if (st->ok()) *st = check(check_record(*r));
}

void read_ping(Fields& f, Message* out) {
  Ping m;
  f.u32("seq", &m.seq);
  f.str("target", &m.target);
  if (f.ok() && !m.target.empty() && check_node_id(m.target)) f.invalid("target", "bad node id");
  *out = std::move(m);
}

void read_ping_req(Fields& f, Message* out) {
  PingReq m;
  f.u32("seq", &m.seq);
  f.str("target", &m.target);
  f.str("target_addr", &m.target_addr);
  if (f.ok() && check_node_id(m.target)) f.invalid("target", "bad node id");
  if (f.ok() && !parse_peer_endpoint(m.target_addr)) f.invalid("target_addr", "not IP:port");
  *out = std::move(m);
}

void read_update(Fields& f, Message* out, Status* st) {
  Update m;
  f.str("id", &m.id);
  f.u64("incarnation", &m.incarnation);
  f.state("state", &m.state);
  f.str("from", &m.from);
  const msgpack::object* meta = f.next("meta");
  if (!meta) return;
  if (meta->type != msgpack::type::NIL) {
    m.meta.emplace();
    read_meta(*meta, &*m.meta, st);
  }
  if (st->ok()) *st = check(check_update(m));
  *out = std::move(m);
}

void read_leave(Fields& f, Message* out) {
  Leave m;
  f.str("id", &m.id);
  f.u64("incarnation", &m.incarnation);
  if (f.ok() && check_node_id(m.id)) f.invalid("id", "bad node id");
  *out = std::move(m);
}

// The MessageType for a wire value; values above 255 map to 0 (no type).
MessageType message_type(std::uint64_t v) {
  return static_cast<MessageType>(v > 255 ? 0 : v);
}

void read_message(const msgpack::object& o, Message* out, Status* st) {
  Fields f(o, "message", 2, st);
  std::uint64_t type = 0;
  if (!f.u64("type", &type)) return;
  switch (message_type(type)) {
    case MessageType::kPing:
      read_ping(f, out);
      return;
    case MessageType::kPingReq:
      read_ping_req(f, out);
      return;
    case MessageType::kAck: {
      Ack m;
      f.u32("seq", &m.seq);
      *out = m;
      return;
    }
    case MessageType::kNack: {
      Nack m;
      f.u32("seq", &m.seq);
      *out = m;
      return;
    }
    case MessageType::kUpdate:
      read_update(f, out, st);
      return;
    case MessageType::kLeave:
      read_leave(f, out);
      return;
    default:
      break;
  }
  *st = Status::failure(Error::kUnknownType, "message type " + std::to_string(type));
}

// Reads and checks the leading version field of a packet or frame header.
void read_version(Fields& f, Status* st) {
  std::uint64_t version = 0;
  if (!f.u64("version", &version)) return;
  if (version != kProtocolVersion) {
    *st = Status::failure(
        Error::kUnsupportedVersion,
        "version " + std::to_string(version) + " (want " + std::to_string(kProtocolVersion) + ")");
  }
}

void read_forward_request(Fields& f, FrameHeader* out, Status* st) {
  ForwardRequest h;
  f.u64("request_id", &h.request_id);
  f.str("kind", &h.kind);
  f.str("object", &h.object);
  f.u64("page", &h.page);
  if (const msgpack::object* list = f.next("buckets")) {
    Fields buckets(*list, "buckets", 0, st);
    if (buckets.ok() && list->via.array.size > kMaxRequestBuckets) {
      buckets.invalid("buckets", "more than kMaxRequestBuckets entries");
    }
    if (buckets.ok()) h.buckets.resize(list->via.array.size);
    for (std::string& b : h.buckets) buckets.str("bucket", &b);
  }
  f.str("config", &h.config);
  f.boolean("hop", &h.hop);
  f.u64("sender_epoch", &h.sender_epoch);
  if (f.has_more()) f.u64("offset", &h.offset);
  if (f.has_more()) f.u64("length", &h.length);
  if (f.has_more()) f.str("if_match", &h.if_match);
  if (f.has_more()) f.boolean("cache_only", &h.cache_only);
  if (st->ok()) *st = check(check_forward_request(h));
  *out = std::move(h);
}

// The outcome field shared by ForwardResponse and ForwardEnd.
void read_outcome(Fields& f, base::Outcome* out) {
  std::uint64_t outcome = 0;
  if (!f.u64("outcome", &outcome)) return;
  if (std::optional<base::Outcome> o = outcome_from_wire(outcome)) {
    *out = *o;
  } else {
    f.invalid("outcome", "unknown value");
  }
}

void read_forward_response(Fields& f, FrameHeader* out, Status* st) {
  ForwardResponse h;
  f.u64("request_id", &h.request_id);
  read_outcome(f, &h.outcome);
  f.str("message", &h.message);
  f.u64("object_size", &h.object_size);
  f.str("etag", &h.etag);
  f.str("last_modified", &h.last_modified);
  f.str("bucket", &h.bucket);
  f.i64("cached_at", &h.cached_at);
  if (f.has_more()) f.u64("offset", &h.offset);
  if (f.has_more()) f.u64("length", &h.length);
  if (st->ok()) *st = check(check_forward_response(h));
  *out = std::move(h);
}

void read_forward_end(Fields& f, FrameHeader* out, Status* st) {
  ForwardEnd h;
  f.u64("request_id", &h.request_id);
  read_outcome(f, &h.outcome);
  f.str("message", &h.message);
  if (st->ok()) *st = check(check_forward_end(h));
  *out = std::move(h);
}

}  // namespace

std::string encode_message(const Message& m) {
  StringBuffer buf;
  Packer pk(buf);
  std::visit(MessagePacker{pk}, m);
  return std::move(buf.bytes);
}

std::string encode_packet(std::string_view from, std::span<const std::string> encoded_messages) {
  StringBuffer buf;
  Packer pk(buf);
  pk.pack_array(3);
  pk.pack_uint64(kProtocolVersion);
  pack_string(pk, from);
  pk.pack_array(static_cast<std::uint32_t>(encoded_messages.size()));
  for (const std::string& m : encoded_messages) buf.bytes += m;
  return std::move(buf.bytes);
}

std::string encode_packet(const Packet& p) {
  std::vector<std::string> parts;
  parts.reserve(p.messages.size());
  for (const Message& m : p.messages) parts.push_back(encode_message(m));
  return encode_packet(p.from, parts);
}

Status decode_packet(std::string_view body, Packet* out) {
  msgpack::object_handle handle;
  Status st = unpack_bounded(body, kPacketLimit, &handle);
  if (!st.ok()) return st;
  Fields f(handle.get(), "packet", 3, &st);
  read_version(f, &st);
  f.str("from", &out->from);
  if (st.ok() && check_node_id(out->from)) f.invalid("from", "bad node id");
  const msgpack::object* list = f.next("messages");
  if (!list) return st;
  Fields messages(*list, "messages", 1, &st);
  if (!st.ok()) return st;
  out->messages.resize(list->via.array.size);
  for (Message& m : out->messages) {
    const msgpack::object* item = messages.next("message");
    if (!item) break;
    read_message(*item, &m, &st);
  }
  return st;
}

std::string encode_frame_header(const FrameHeader& h) {
  StringBuffer buf;
  Packer pk(buf);
  std::visit(HeaderPacker{pk}, h);
  return std::move(buf.bytes);
}

Status decode_frame_header(std::string_view header, FrameHeader* out) {
  msgpack::object_handle handle;
  Status st = unpack_bounded(header, kHeaderLimit, &handle);
  if (!st.ok()) return st;
  Fields f(handle.get(), "frame header", 2, &st);
  read_version(f, &st);
  std::uint64_t type = 0;
  if (!f.u64("type", &type)) return st;
  switch (message_type(type)) {
    case MessageType::kJoin: {
      Join h;
      if (const msgpack::object* r = f.next("member")) read_record(*r, &h.member, &st);
      *out = std::move(h);
      return st;
    }
    case MessageType::kPushPull: {
      PushPull h;
      f.boolean("join_reply", &h.join_reply);
      *out = h;
      return st;
    }
    case MessageType::kForwardRequest:
      read_forward_request(f, out, &st);
      return st;
    case MessageType::kForwardResponse:
      read_forward_response(f, out, &st);
      return st;
    case MessageType::kForwardData: {
      ForwardData h;
      f.u64("request_id", &h.request_id);
      f.u64("at", &h.at);
      *out = h;
      return st;
    }
    case MessageType::kForwardEnd:
      read_forward_end(f, out, &st);
      return st;
    case MessageType::kInvalidate: {
      Invalidate h;
      f.u64("request_id", &h.request_id);
      f.str("kind", &h.kind);
      f.str("object", &h.object);
      if (st.ok()) st = check(check_invalidate(h));
      *out = std::move(h);
      return st;
    }
    case MessageType::kInvalidateAck: {
      InvalidateAck h;
      f.u64("request_id", &h.request_id);
      f.u64("pages_dropped", &h.pages_dropped);
      *out = h;
      return st;
    }
    default:
      break;
  }
  return Status::failure(Error::kUnknownType, "frame type " + std::to_string(type));
}

std::string encode_member_list(std::span<const MemberRecord> members) {
  StringBuffer buf;
  Packer pk(buf);
  pk.pack_array(static_cast<std::uint32_t>(members.size()));
  for (const MemberRecord& r : members) pack_record(pk, r);
  return std::move(buf.bytes);
}

Status decode_member_list(std::string_view payload, std::vector<MemberRecord>* out) {
  msgpack::object_handle handle;
  Status st = unpack_bounded(payload, kMemberListLimit, &handle);
  if (!st.ok()) return st;
  const msgpack::object& list = handle.get();
  Fields records(list, "member list", 0, &st);
  if (!st.ok()) return st;
  out->resize(list.via.array.size);
  for (MemberRecord& r : *out) {
    const msgpack::object* item = records.next("record");
    if (!item) break;
    read_record(*item, &r, &st);
  }
  return st;
}

}  // namespace shoal::peer
