// Tests for peer/codec.h and peer/frame.h: round trips of every message, strict decoding of
// hostile input (types, versions, limits, value rules, trailing bytes), random garbage and
// mutated encodings that must never crash or throw, and frame bounds.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <msgpack.hpp>
#include <random>
#include <string>
#include <vector>

#include "peer/codec.h"
#include "peer/frame.h"

namespace shoal::test {
namespace {

using namespace shoal::peer;

MemberMeta sample_meta() {
  MemberMeta m;
  m.client_addr = "10.0.0.1:8080";
  m.peer_addr = "10.0.0.1:7947";
  m.weight = 2.5;
  m.stats.in_flight = 17;
  m.stats.egress_bps = 1.5e9;
  m.stats.ingress_bps = 2e8;
  m.stats.buckets = {{"bucket-a", 12.5, 80.25, 0.01, 41.5, 44.25}, {"bucket-b", 3, 9, 0}};
  return m;
}

Packet sample_packet() {
  Packet p;
  p.from = "node-1";
  p.messages.push_back(Ping{7, "node-2"});
  p.messages.push_back(Ping{8, ""});
  p.messages.push_back(PingReq{9, "node-3", "[::1]:7000"});
  p.messages.push_back(Ack{4294967295u});
  p.messages.push_back(Nack{0});
  p.messages.push_back(Update{"node-4", 42, MemberState::kAlive, "node-4", sample_meta()});
  p.messages.push_back(Update{"node-5", 3, MemberState::kSuspect, "node-1", std::nullopt});
  p.messages.push_back(Update{"node-6", 5, MemberState::kDead, "node-2", std::nullopt});
  p.messages.push_back(Update{"node-7", 6, MemberState::kLeft, "node-7", std::nullopt});
  p.messages.push_back(Leave{"node-1", 99});
  return p;
}

ForwardRequest sample_request() {
  ForwardRequest r;
  r.request_id = 123456789012345ull;
  r.kind = "images";
  r.object = "a/b/c.bin";
  r.page = 77;
  r.buckets = {"primary", "secondary"};
  r.config = "ct=100,rt=2000";
  r.hop = true;
  r.sender_epoch = 9;
  r.if_match = "\"v1\"";
  return r;
}

ForwardResponse sample_response() {
  ForwardResponse r;
  r.request_id = 5;
  r.outcome = base::Outcome::kThrottled;
  r.message = "slow down";
  r.object_size = 1ull << 40;
  r.etag = "\"abc\"";
  r.last_modified = "Tue, 21 Nov 2023 07:39:00 GMT";
  r.bucket = "primary";
  r.cached_at = -1;
  r.offset = 4096;
  r.length = 1 << 20;
  return r;
}

// A msgpack writer for hand-made (often invalid) inputs.
struct Writer {
  struct Buf {
    std::string bytes;
    void write(const char* d, std::size_t n) { bytes.append(d, n); }
  } buf;
  msgpack::packer<Buf> pk{buf};
  Writer& array(std::uint32_t n) { return pk.pack_array(n), *this; }
  Writer& u(std::uint64_t v) { return pk.pack_uint64(v), *this; }
  Writer& i(std::int64_t v) { return pk.pack_int64(v), *this; }
  // Always float64 (msgpack-c's pack_double writes integral values as integers).
  Writer& f(double v) {
    std::uint64_t bits = std::bit_cast<std::uint64_t>(v);
    buf.bytes += static_cast<char>(0xcb);
    for (int shift = 56; shift >= 0; shift -= 8) buf.bytes += static_cast<char>(bits >> shift);
    return *this;
  }
  Writer& s(std::string_view v) {
    pk.pack_str(static_cast<std::uint32_t>(v.size()));
    pk.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
    return *this;
  }
  Writer& bin(std::string_view v) {
    pk.pack_bin(static_cast<std::uint32_t>(v.size()));
    pk.pack_bin_body(v.data(), static_cast<std::uint32_t>(v.size()));
    return *this;
  }
  Writer& nil() { return pk.pack_nil(), *this; }
  Writer& raw(std::string_view v) { return buf.bytes.append(v), *this; }
  std::string str() const { return buf.bytes; }
};

// [version, from, [message]] around one raw message.
std::string packet_around(std::string_view message, std::uint64_t version = kProtocolVersion) {
  return Writer().array(3).u(version).s("n1").array(1).raw(message).str();
}

Error decode_error(std::string_view body) {
  Packet p;
  return decode_packet(body, &p).code;
}

Error header_error(std::string_view header) {
  FrameHeader h;
  return decode_frame_header(header, &h).code;
}

TEST(PeerCodec, RoundTripsEveryUdpMessage) {
  Packet in = sample_packet();
  Packet out;
  Status st = decode_packet(encode_packet(in), &out);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(out, in);
}

TEST(PeerCodec, PreEncodedMessagesMatchWholePacketEncoding) {
  Packet in = sample_packet();
  std::vector<std::string> parts;
  for (const Message& m : in.messages) parts.push_back(encode_message(m));
  EXPECT_EQ(encode_packet(in.from, parts), encode_packet(in));
}

TEST(PeerCodec, RoundTripsFrameHeaders) {
  MemberRecord rec{"node-9", 4, MemberState::kAlive, sample_meta()};
  std::vector<FrameHeader> headers = {Join{rec},
                                      PushPull{true},
                                      PushPull{false},
                                      sample_request(),
                                      sample_response(),
                                      ForwardData{7, 65536},
                                      ForwardEnd{7, base::Outcome::kPreconditionFailed, "changed"},
                                      Invalidate{9, "models", "dir/m 1.bin"},
                                      InvalidateAck{9, 3}};
  for (const FrameHeader& in : headers) {
    FrameHeader out;
    Status st = decode_frame_header(encode_frame_header(in), &out);
    ASSERT_TRUE(st.ok()) << st.to_string();
    EXPECT_EQ(out, in);
  }
}

TEST(PeerCodec, RoundTripsEveryOutcome) {
  for (std::uint64_t v = 0; v <= 10; ++v) {
    std::optional<base::Outcome> o = outcome_from_wire(v);
    ASSERT_TRUE(o.has_value());
    EXPECT_EQ(outcome_to_wire(*o), v);
    ForwardResponse in = sample_response();
    in.outcome = *o;
    FrameHeader out;
    ASSERT_TRUE(decode_frame_header(encode_frame_header(in), &out).ok());
    EXPECT_EQ(std::get<ForwardResponse>(out).outcome, *o);
  }
  EXPECT_FALSE(outcome_from_wire(11).has_value());
}

TEST(PeerCodec, RoundTripsMemberList) {
  std::vector<MemberRecord> in;
  for (int i = 0; i < 50; ++i) {
    in.push_back({"node-" + std::to_string(i), static_cast<std::uint64_t>(i),
                  static_cast<MemberState>(i % 4), sample_meta()});
  }
  std::vector<MemberRecord> out;
  Status st = decode_member_list(encode_member_list(in), &out);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(out, in);
  ASSERT_TRUE(decode_member_list(encode_member_list({}), &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(PeerCodec, RejectsOtherVersions) {
  std::string ack = Writer().array(2).u(3).u(1).str();
  EXPECT_EQ(decode_error(packet_around(ack)), Error::kOk);
  EXPECT_EQ(decode_error(packet_around(ack, 0)), Error::kUnsupportedVersion);
  EXPECT_EQ(decode_error(packet_around(ack, 2)), Error::kUnsupportedVersion);
}

TEST(PeerCodec, RejectsOtherVersionsInFrameHeaders) {
  Writer ok;
  ok.array(3).u(1).u(17);
  ok.pk.pack(false);
  EXPECT_EQ(header_error(ok.str()), Error::kOk);
  Writer v2;
  v2.array(3).u(2).u(17);
  v2.pk.pack(false);
  EXPECT_EQ(header_error(v2.str()), Error::kUnsupportedVersion);
}

TEST(PeerCodec, RejectsUnknownTypes) {
  EXPECT_EQ(decode_error(packet_around(Writer().array(2).u(99).u(1).str())), Error::kUnknownType);
  // 257 must not be read as 1 (ping) after truncation to 8 bits.
  EXPECT_EQ(decode_error(packet_around(Writer().array(3).u(257).u(1).s("").str())),
            Error::kUnknownType);
  EXPECT_EQ(header_error(Writer().array(2).u(1).u(99).str()), Error::kUnknownType);
  EXPECT_EQ(header_error(Writer().array(3).u(1).u(256 + 17).u(0).str()), Error::kUnknownType);
}

TEST(PeerCodec, RejectsWrongFieldTypes) {
  // seq as a string
  EXPECT_EQ(decode_error(packet_around(Writer().array(2).u(3).s("1").str())), Error::kWrongType);
  // seq negative
  EXPECT_EQ(decode_error(packet_around(Writer().array(2).u(3).i(-1).str())), Error::kWrongType);
  // target as (empty) bin instead of str
  EXPECT_EQ(decode_error(packet_around(Writer().array(3).u(1).u(1).bin("").str())),
            Error::kWrongType);
  // weight as an integer
  std::string meta =
      Writer().array(4).s("").s("127.0.0.1:1").u(1).array(4).u(0).f(0).f(0).array(0).str();
  std::string update = Writer().array(6).u(5).s("x").u(1).u(0).s("x").raw(meta).str();
  EXPECT_EQ(decode_error(packet_around(update)), Error::kWrongType);
  std::string good_meta =
      Writer().array(4).s("").s("127.0.0.1:1").f(1).array(4).u(0).f(0).f(0).array(0).str();
  std::string good = Writer().array(6).u(5).s("x").u(1).u(0).s("x").raw(good_meta).str();
  EXPECT_EQ(decode_error(packet_around(good)), Error::kOk);
  // message that is not an array
  EXPECT_EQ(decode_error(packet_around(Writer().u(3).str())), Error::kWrongType);
  // missing field
  EXPECT_EQ(decode_error(packet_around(Writer().array(1).u(3).str())), Error::kWrongType);
  // body that is a bare integer
  EXPECT_EQ(decode_error(Writer().u(1).str()), Error::kWrongType);
}

TEST(PeerCodec, RejectsSeqAbove32Bits) {
  EXPECT_EQ(decode_error(packet_around(Writer().array(2).u(3).u(1ull << 32).str())),
            Error::kInvalidValue);
}

TEST(PeerCodec, AcceptsExtraTrailingFields) {
  std::string ack = Writer().array(4).u(3).u(5).s("future").u(1).str();
  Packet p;
  ASSERT_TRUE(decode_packet(packet_around(ack), &p).ok());
  EXPECT_EQ(std::get<Ack>(p.messages.at(0)).seq, 5u);
}

// A bucket entry from an older sender has no samples and evidence: they decode as 0.
TEST(PeerCodec, DecodesBucketStatsWithoutSamplesAndEvidence) {
  auto update_with = [](const Writer& bucket) {
    Writer w;
    w.array(6).u(5).s("node-4").u(1).u(0).s("node-4");
    w.array(4).s("10.0.0.1:8080").s("10.0.0.1:7947").f(1.0);  // meta
    w.array(4).u(0).f(0).f(0).array(1).raw(bucket.str());     // stats
    return packet_around(w.str());
  };
  Packet p;
  ASSERT_TRUE(decode_packet(update_with(Writer().array(4).s("old").f(5).f(50).f(0.25)), &p).ok());
  const auto& meta = *std::get<Update>(p.messages.at(0)).meta;
  EXPECT_EQ(meta.stats.buckets.at(0), (BucketStats{"old", 5, 50, 0.25, 0, 0}));
  ASSERT_TRUE(
      decode_packet(update_with(Writer().array(6).s("new").f(5).f(50).f(0.25).f(30).f(31)), &p)
          .ok());
  EXPECT_EQ(std::get<Update>(p.messages.at(0)).meta->stats.buckets.at(0),
            (BucketStats{"new", 5, 50, 0.25, 30, 31}));
  // Samples without evidence (5 fields) is accepted too; a wrong type is not.
  ASSERT_TRUE(
      decode_packet(update_with(Writer().array(5).s("mid").f(5).f(50).f(0.25).f(30)), &p).ok());
  EXPECT_EQ(std::get<Update>(p.messages.at(0)).meta->stats.buckets.at(0).samples, 30);
  EXPECT_EQ(decode_error(update_with(Writer().array(6).s("b").f(5).f(50).f(0).u(3).f(1))),
            Error::kWrongType);
}

TEST(PeerCodec, RejectsTrailingBytesAndEmptyInput) {
  std::string body = encode_packet(sample_packet());
  EXPECT_EQ(decode_error(body + '\x01'), Error::kMalformed);
  EXPECT_EQ(decode_error(""), Error::kMalformed);
  EXPECT_EQ(header_error(""), Error::kMalformed);
  std::vector<MemberRecord> list;
  EXPECT_EQ(decode_member_list("", &list).code, Error::kMalformed);
}

TEST(PeerCodec, RejectsEveryTruncation) {
  std::string body = encode_packet(sample_packet());
  for (std::size_t n = 0; n < body.size(); ++n) {
    EXPECT_NE(decode_error(body.substr(0, n)), Error::kOk) << "prefix " << n;
  }
  std::string header = encode_frame_header(sample_request());
  for (std::size_t n = 0; n < header.size(); ++n) {
    EXPECT_NE(header_error(header.substr(0, n)), Error::kOk) << "prefix " << n;
  }
}

TEST(PeerCodec, EnforcesMessageCountLimit) {
  Packet p;
  p.from = "n";
  p.messages.assign(kMaxMessagesPerPacket, Ack{1});
  Packet out;
  EXPECT_TRUE(decode_packet(encode_packet(p), &out).ok());
  p.messages.push_back(Ack{2});
  EXPECT_EQ(decode_packet(encode_packet(p), &out).code, Error::kLimitExceeded);
  p.messages.clear();
  EXPECT_EQ(decode_packet(encode_packet(p), &out).code, Error::kWrongType);
}

TEST(PeerCodec, EnforcesStringMapBinExtAndDepthLimits) {
  std::string long_target(kMaxStringBytes + 1, 'a');
  EXPECT_EQ(decode_error(packet_around(Writer().array(3).u(1).u(1).s(long_target).str())),
            Error::kLimitExceeded);
  Writer map;
  map.pk.pack_map(1);
  map.u(1).u(2);
  EXPECT_EQ(decode_error(packet_around(map.str())), Error::kLimitExceeded);
  Writer ext;
  ext.pk.pack_ext(4, 1);
  ext.pk.pack_ext_body("abcd", 4);
  EXPECT_EQ(decode_error(packet_around(ext.str())), Error::kLimitExceeded);
  EXPECT_EQ(decode_error(packet_around(Writer().bin("xy").str())), Error::kLimitExceeded);
  Writer deep;
  for (int i = 0; i < 20; ++i) deep.array(1);
  deep.u(1);
  EXPECT_EQ(decode_error(packet_around(deep.str())), Error::kLimitExceeded);
  // A declared array far larger than the input fails without allocating for it.
  EXPECT_EQ(decode_error(Writer().array(4'000'000'000u).str()), Error::kLimitExceeded);
  std::vector<MemberRecord> list;
  EXPECT_EQ(decode_member_list(Writer().array(kMaxMembers + 1).str(), &list).code,
            Error::kLimitExceeded);
}

TEST(PeerCodec, EnforcesValueRules) {
  auto update_error = [](Update u) {
    Packet p{"n1", {u}};
    return decode_error(encode_packet(p));
  };
  Update good{"node", 1, MemberState::kAlive, "node", sample_meta()};
  EXPECT_EQ(update_error(good), Error::kOk);
  Update u = good;
  u.id = "";
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.id = "has space";
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.id = std::string(kMaxNodeIdBytes + 1, 'x');
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta.reset();
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->weight = std::nan("");
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->weight = -1;
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->weight = 0;
  EXPECT_EQ(update_error(u), Error::kOk);
  u = good;
  u.meta->peer_addr = "host.example:7947";
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->stats.buckets.assign(kMaxStatsBuckets + 1, BucketStats{"b", 1, 2, 0});
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->stats.buckets[0].error_rate = 1.5;
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->stats.buckets[0].bucket = std::string(kMaxBucketNameBytes + 1, 'b');
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->stats.buckets[0].samples = -1;
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->stats.buckets[0].evidence = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->stats.buckets[0].samples = kMaxStatsWeight * 2;
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  u = good;
  u.meta->stats.egress_bps = std::numeric_limits<double>::infinity();
  EXPECT_EQ(update_error(u), Error::kInvalidValue);
  // state 4 does not exist
  std::string bad_state = Writer().array(6).u(5).s("x").u(1).u(4).s("x").nil().str();
  EXPECT_EQ(decode_error(packet_around(bad_state)), Error::kInvalidValue);
  // ping-req target address must be IP:port
  EXPECT_EQ(decode_error(packet_around(Writer().array(4).u(2).u(1).s("t").s("nope").str())),
            Error::kInvalidValue);
}

TEST(PeerCodec, EnforcesForwardRequestRules) {
  auto error_of = [](const ForwardRequest& r) { return header_error(encode_frame_header(r)); };
  EXPECT_EQ(error_of(sample_request()), Error::kOk);
  ForwardRequest r = sample_request();
  r.kind = "";
  EXPECT_EQ(error_of(r), Error::kInvalidValue);
  r = sample_request();
  r.object = std::string(base::kMaxObjectBytes + 1, 'o');
  EXPECT_EQ(error_of(r), Error::kLimitExceeded);  // above the msgpack string limit
  r = sample_request();
  r.kind = std::string(base::kMaxKindBytes + 1, 'k');
  EXPECT_EQ(error_of(r), Error::kInvalidValue);
  r = sample_request();
  r.buckets.assign(kMaxRequestBuckets + 1, "bucket");
  EXPECT_EQ(error_of(r), Error::kInvalidValue);
}

// A forwarded request's names follow the rules of every input path (ring/base/names.h): a
// bucket that is not an S3 bucket name (a host, a port, a path) or a kind or object outside its
// rule never decodes, so it never reaches the origin client.
TEST(PeerCodec, ForwardRequestNamesFollowTheNameRules) {
  auto reason_of = [](const ForwardRequest& r) {
    FrameHeader h;
    return decode_frame_header(encode_frame_header(r), &h);
  };
  for (const char* bucket : {"127.0.0.1:28399/#", "evil.example.com:443", "Primary", "a/b", "ab",
                             "192.168.5.4", "my..bucket", "x y"}) {
    ForwardRequest r = sample_request();
    r.buckets = {"primary", bucket};
    Status st = reason_of(r);
    EXPECT_EQ(st.code, Error::kInvalidValue) << bucket;
    EXPECT_NE(st.reason.find("bucket name"), std::string::npos) << st.reason;
  }
  for (const char* kind : {"a/b", "a:80", "..", "k k", "-k"}) {
    ForwardRequest r = sample_request();
    r.kind = kind;
    EXPECT_EQ(reason_of(r).code, Error::kInvalidValue) << kind;
  }
  for (const char* object : {"../secret", "a/./b", "a\x01"}) {
    ForwardRequest r = sample_request();
    r.object = object;
    EXPECT_EQ(reason_of(r).code, Error::kInvalidValue) << object;
  }
}

TEST(PeerCodec, EnforcesForwardResponseRules) {
  ForwardResponse resp = sample_response();
  resp.etag = std::string(kMaxEtagBytes + 1, 'e');
  EXPECT_EQ(header_error(encode_frame_header(resp)), Error::kInvalidValue);
  // outcome 11 does not exist
  Writer w;
  w.array(10).u(1).u(33).u(5).u(11).s("").u(0).s("").s("").s("").i(0);
  EXPECT_EQ(header_error(w.str()), Error::kInvalidValue);
}

TEST(PeerCodec, AnOlderForwardResponseWithoutALengthDecodesWithLengthZero) {
  Writer w;  // version 1, type 33, nine fields: no offset, no length
  w.array(11).u(1).u(33).u(5).u(0).s("").u(100).s("\"e\"").s("").s("b").i(0).u(0);
  FrameHeader out;
  ASSERT_TRUE(decode_frame_header(w.str(), &out).ok());
  EXPECT_EQ(std::get<ForwardResponse>(out).length, 0u);
}

TEST(PeerCodec, ACacheOnlyRequestRoundTripsAndIsSentOnlyWhenSet) {
  ForwardRequest plain = sample_request();
  ForwardRequest peek = plain;
  peek.cache_only = true;
  FrameHeader out;
  ASSERT_TRUE(decode_frame_header(encode_frame_header(peek), &out).ok());
  EXPECT_TRUE(std::get<ForwardRequest>(out).cache_only);
  EXPECT_EQ(std::get<ForwardRequest>(out), peek);
  // Unset, the request encodes as before the field existed (13 array entries, if_match the
  // last), and one more entry is exactly the flag.
  const std::string a = encode_frame_header(plain), b = encode_frame_header(peek);
  EXPECT_EQ(static_cast<unsigned char>(a[0]), 0x90u + 13);
  EXPECT_EQ(static_cast<unsigned char>(b[0]), 0x90u + 14);
  EXPECT_EQ(b.substr(1), a.substr(1) + "\xc3");
  ASSERT_TRUE(decode_frame_header(a, &out).ok());
  EXPECT_FALSE(std::get<ForwardRequest>(out).cache_only);
  // The flag must be a bool.
  std::string bad = b;
  bad.back() = '\x01';
  EXPECT_EQ(header_error(bad), Error::kWrongType);
}

TEST(PeerCodec, AStreamIsNotEndedEarlyWithOk) {
  EXPECT_EQ(header_error(encode_frame_header(ForwardEnd{1, base::Outcome::kOk, ""})),
            Error::kInvalidValue);
  FrameHeader out;  // a message beyond its bound is refused (by the unpack limit first)
  EXPECT_FALSE(decode_frame_header(
                   encode_frame_header(ForwardEnd{1, base::Outcome::kTimeout,
                                                  std::string(kMaxResponseTextBytes + 1, 'x')}),
                   &out)
                   .ok());
}

// An Invalidate names its object by the rules of every input path (ring/base/names.h), so a
// peer cannot make a member purge, log or look up a name /fetch would refuse.
TEST(PeerCodec, AnInvalidateWithAnUnacceptableNameIsRefused) {
  const std::vector<Invalidate> bad = {
      {1, "", "o"},                                           // empty kind
      {1, "k/x", "o"},                                        // kind outside its alphabet
      {1, std::string(65, 'k'), "o"},                         // kind too long
      {1, "k", ""},                                           // empty object
      {1, "k", "a/../b"},                                     // a ".." segment
      {1, "k", "a\nb"},                                       // a control character
      {1, "k", std::string(base::kMaxObjectBytes + 1, 'o')},  // too long
  };
  for (const Invalidate& h : bad) {
    FrameHeader out;
    EXPECT_FALSE(decode_frame_header(encode_frame_header(h), &out).ok())
        << h.kind << " " << h.object;
  }
  Writer w;  // fields of the wrong type: a kind that is an integer
  w.array(5).u(1).u(36).u(1).u(7).s("o");
  EXPECT_EQ(header_error(w.str()), Error::kWrongType);
  Writer missing;  // no object
  missing.array(4).u(1).u(36).u(1).s("k");
  EXPECT_NE(header_error(missing.str()), Error::kOk);
  Writer ack;  // an ack without its count
  ack.array(3).u(1).u(37).u(1);
  EXPECT_NE(header_error(ack.str()), Error::kOk);
}

// Decoding arbitrary bytes must return (any status) without crashing or throwing.
TEST(PeerCodec, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> len(0, 300);
  for (int i = 0; i < 100'000; ++i) {
    std::string junk(len(rng), '\0');
    for (char& c : junk) c = static_cast<char>(byte(rng));
    Packet p;
    FrameHeader h;
    std::vector<MemberRecord> list;
    EXPECT_NO_THROW({
      (void)decode_packet(junk, &p);
      (void)decode_frame_header(junk, &h);
      (void)decode_member_list(junk, &list);
    });
  }
}

// Flipping bytes of valid encodings reaches deeper decoder paths than pure noise.
TEST(PeerCodec, MutatedEncodingsNeverCrash) {
  std::mt19937_64 rng(777);
  std::vector<std::string> seeds = {
      encode_packet(sample_packet()), encode_frame_header(sample_request()),
      encode_frame_header(sample_response()),
      encode_frame_header(Join{{"n", 1, MemberState::kAlive, sample_meta()}}),
      encode_member_list(std::vector<MemberRecord>{{"n", 1, MemberState::kAlive, sample_meta()}})};
  std::size_t accepted = 0;
  for (int i = 0; i < 50'000; ++i) {
    std::string s = seeds[static_cast<std::size_t>(i) % seeds.size()];
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      s[rng() % s.size()] = static_cast<char>(rng() & 0xff);
    }
    Packet p;
    FrameHeader h;
    std::vector<MemberRecord> list;
    EXPECT_NO_THROW({
      accepted += decode_packet(s, &p).ok();
      accepted += decode_frame_header(s, &h).ok();
      accepted += decode_member_list(s, &list).ok();
    });
  }
  EXPECT_GT(accepted, 0u);  // some mutations stay valid (e.g. changed string bytes)
}

TEST(PeerFrame, PrefixRoundTripsAndBoundsLengths) {
  FramePrefix p;
  auto prefix = [](std::uint32_t h, std::uint32_t pl) {
    auto a = encode_frame_prefix({h, pl});
    return std::string(a.data(), a.size());
  };
  ASSERT_TRUE(parse_frame_prefix(prefix(10, 20), 20, &p).ok());
  EXPECT_EQ(p.header_bytes, 10u);
  EXPECT_EQ(p.payload_bytes, 20u);
  EXPECT_EQ(parse_frame_prefix(prefix(0, 0), 0, &p).code, Error::kHeaderTooLarge);
  EXPECT_EQ(parse_frame_prefix(prefix(kMaxFrameHeaderBytes, 0), 0, &p).code, Error::kOk);
  EXPECT_EQ(parse_frame_prefix(prefix(kMaxFrameHeaderBytes + 1, 0), 0, &p).code,
            Error::kHeaderTooLarge);
  EXPECT_EQ(parse_frame_prefix(prefix(1, 21), 20, &p).code, Error::kPayloadTooLarge);
  EXPECT_EQ(parse_frame_prefix(prefix(1, 0xffffffffu), 16u << 20, &p).code,
            Error::kPayloadTooLarge);
  EXPECT_EQ(parse_frame_prefix("short", 0, &p).code, Error::kMalformed);
  // Big-endian on the wire.
  EXPECT_EQ(prefix(0x01020304, 0x05060708), std::string("\x01\x02\x03\x04\x05\x06\x07\x08"));
}

TEST(PeerFrame, SplitsCompleteFramesOnly) {
  std::string header = encode_frame_header(PushPull{false});
  std::string payload = "PAYLOAD";
  auto pre = encode_frame_prefix(
      {static_cast<std::uint32_t>(header.size()), static_cast<std::uint32_t>(payload.size())});
  std::string frame = std::string(pre.data(), pre.size()) + header +
                      std::string(kFrameTagBytes, 'h') + payload + std::string(kFrameTagBytes, 't');
  FrameView v;
  std::size_t used = 0;
  std::string two = frame + "next";
  ASSERT_TRUE(split_frame(two, 100, &v, &used).ok());
  EXPECT_EQ(used, frame.size());
  EXPECT_EQ(used, frame_wire_bytes({static_cast<std::uint32_t>(header.size()), 7}));
  EXPECT_EQ(v.header, header);
  EXPECT_EQ(v.header_tag, std::string(kFrameTagBytes, 'h'));
  EXPECT_EQ(v.payload, payload);
  EXPECT_EQ(v.payload_tag, std::string(kFrameTagBytes, 't'));
  // Without payload there is no payload part at all.
  auto bare = encode_frame_prefix({static_cast<std::uint32_t>(header.size()), 0});
  std::string short_frame =
      std::string(bare.data(), bare.size()) + header + std::string(kFrameTagBytes, 'h');
  ASSERT_TRUE(split_frame(short_frame + "next", 100, &v, &used).ok());
  EXPECT_EQ(used, short_frame.size());
  EXPECT_TRUE(v.payload.empty());
  EXPECT_TRUE(v.payload_tag.empty());
  for (std::size_t n = 0; n < frame.size(); ++n) {
    EXPECT_EQ(split_frame(frame.substr(0, n), 100, &v, &used).code, Error::kMalformed);
  }
  EXPECT_EQ(split_frame(frame, payload.size() - 1, &v, &used).code, Error::kPayloadTooLarge);
}

}  // namespace
}  // namespace shoal::test
