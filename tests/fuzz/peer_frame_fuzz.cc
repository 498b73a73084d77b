// libFuzzer target for the peer protocol's decoders of untrusted bytes: UDP packet bodies,
// UDP envelopes (open and keyed), TCP frames (prefix bounds, open-mode tags, keyed decryption of
// forged frames, headers, push-pull member lists). The first input byte picks the path, the rest is
// the input. Besides "no crash, no sanitizer report", it checks that whatever decodes re-encodes to
// something that decodes to the same value (codec symmetry), and that a forwarded request that
// decodes follows the name rules (ring/base/names.h).
//
// Build: -DSHOAL_FUZZ=ON with clang (tests/fuzz/CMakeLists.txt, target fuzz_peer_frame). Run:
//   build-fuzz/bin/fuzz_peer_frame -max_total_time=60 /tmp/work tests/fuzz/corpus/peer_frame
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "peer/auth.h"
#include "peer/codec.h"
#include "peer/frame.h"
#include "peer/frame_cipher.h"
#include "ring/base/names.h"

namespace {

using namespace shoal::peer;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void packet(std::string_view in) {
  Packet p;
  if (!decode_packet(in, &p).ok()) return;
  Packet again;
  check(decode_packet(encode_packet(p), &again).ok() && again == p);
}

void header(std::string_view in) {
  FrameHeader h;
  if (!decode_frame_header(in, &h).ok()) return;
  FrameHeader again;
  check(decode_frame_header(encode_frame_header(h), &again).ok() && again == h);
  // A forwarded request that decodes names nothing that could steer the origin request
  // (ring/base/names.h): the owner's origin client only ever sees valid names.
  if (const auto* req = std::get_if<ForwardRequest>(&h)) {
    check(!shoal::base::check_kind(req->kind) && !shoal::base::check_object(req->object));
    for (const std::string& b : req->buckets) check(!shoal::base::check_bucket(b));
  }
}

void member_list(std::string_view in) {
  std::vector<MemberRecord> list;
  if (!decode_member_list(in, &list).ok()) return;
  std::vector<MemberRecord> again;
  check(decode_member_list(encode_member_list(list), &again).ok() && again == list);
}

void frame(std::string_view in, bool open, const ClusterKey& keyed) {
  FrameView v;
  std::size_t used = 0;
  if (!split_frame(in, kMaxPushPullBytes, &v, &used).ok()) return;
  check(used <= in.size());
  Nonce nc{}, ns{};
  FramePrefix p;
  check(parse_frame_prefix(v.prefix, kMaxPushPullBytes, &p).ok());
  FrameOpener opener(open ? ClusterKey::open() : keyed, nc, ns, true);
  std::string header(v.header);
  if (!opener.open_header(v.prefix, header, p.payload_bytes, v.header_tag).ok()) return;
  check(open);  // keyed: a forged header tag verifies only by a 2^-128 chance
  FrameHeader h;
  if (!decode_frame_header(header, &h).ok()) return;
  std::string payload(v.payload);
  if (!payload.empty()) {
    opener.open_payload(payload.data(), payload.size());
    if (!opener.finish_payload(v.payload_tag).ok()) return;
  }
  if (std::holds_alternative<PushPull>(h)) member_list(payload);
}

// Envelope: "now" is taken from the datagram's own timestamp so the window check passes.
void datagram(std::string_view in, const ClusterKey& key) {
  std::int64_t now = 0;
  if (in.size() >= 12) {
    for (std::size_t i = 4; i < 12; ++i) now = (now << 8) | static_cast<unsigned char>(in[i]);
  }
  UdpAuth auth(key, "fuzz-node");
  std::string_view body;
  if (auth.open(in, now, &body).ok()) packet(body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const ClusterKey keyed = *ClusterKey::from_secret("fuzzing-cluster-key");
  switch (data[0] % 7) {
    case 0:
      packet(in);
      break;
    case 1:
      header(in);
      break;
    case 2:
      member_list(in);
      break;
    case 3:
      frame(in, true, keyed);
      break;
    case 4:
      datagram(in, ClusterKey::open());
      break;
    case 5:
      datagram(in, keyed);
      break;
    default:
      frame(in, false, keyed);
      break;
  }
  return 0;
}
