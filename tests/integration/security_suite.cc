// The node tried as a hostile client, a hostile peer and a careless operator would (issue 15):
// C0-Bucket cannot fill what others read from a bucket of its choosing, names cannot steer the
// origin request (a peer frame naming a host as its bucket), dot segments are refused, a
// client's C0-Config is capped, cannot open a bucket's breaker for everyone and travels with
// forwards, the admin API follows the same rules, and files someone else could have written (the
// cluster key, the admin token, the policy, the disk store) stop the node at start.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "peer/codec.h"
#include "peer/stream.h"
#include "ring/base/page_key.h"
#include "ring/rendezvous.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
namespace asio = boost::asio;

constexpr std::uint64_t kPage = 64 * 1024;
const std::string kPublic = "public-models";  // a kind that is its own bucket
const std::string kAttacker = "attacker-bucket";
const std::string kEu = "videos-eu";
const std::string kUs = "videos-us";
const std::string kToken = "0123456789abcdef-security-token";
const std::string kKey = "0123456789abcdef0123456789abcdef-security";

class Security : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    for (const auto& b : {kPublic, kAttacker, kEu, kUs}) s3_->create_bucket(b);
    model_ = new std::string(random_bytes(2 * kPage, 1));
    s3_->put_object(kPublic, "model.bin", *model_);
    s3_->put_object(kAttacker, "model.bin", random_bytes(2 * kPage, 666));
    s3_->put_object(kAttacker, "secret.txt", "the attacker's bucket");
    s3_->put_object(kEu, "v.bin", *model_);
    s3_->put_object(kUs, "v.bin", *model_);
    proxy_ = new FaultProxy(s3_->port());
  }
  static void TearDownTestSuite() {
    delete proxy_;
    delete s3_;
    delete model_;
  }
  void SetUp() override {
    proxy_->clear_rules();
    proxy_->reset();
  }

  std::unique_ptr<Shoald> start(std::vector<std::string> flags = {},
                                std::map<std::string, std::string> env = {}) {
    std::vector<std::string> all = {"--page-size", "64KiB", "--memory", "64MiB"};
    all.insert(all.end(), flags.begin(), flags.end());
    return std::make_unique<Shoald>(proxy_->endpoint(), all, env);
  }
  std::string policy(const std::string& json) {
    return write_file(dir_.path() + "/policy.json", json);
  }
  static int gets(const std::string& bucket, const std::string& key = "") {
    return proxy_->count("GET", "/" + bucket + "/" + key);
  }

  static S3Server* s3_;
  static FaultProxy* proxy_;
  static std::string* model_;
  TempDir dir_;
};
S3Server* Security::s3_ = nullptr;
FaultProxy* Security::proxy_ = nullptr;
std::string* Security::model_ = nullptr;

// ---- the client port ---------------------------------------------------------------------------

// `C0-Bucket: attacker` once filled the page every later plain request got. Without a policy a
// kind is its own bucket: naming another is a 403 and reaches no origin.
TEST_F(Security, C0BucketCannotFillWhatOthersReadFromAnotherBucket) {
  auto node = start();
  auto poisoned = node->fetch(kPublic, "model.bin", "bytes=0-100", {{"C0-Bucket", kAttacker}});
  EXPECT_EQ(poisoned.status, 403);
  EXPECT_NE(poisoned.body.find("may not be read for kind 'public-models'"), std::string::npos)
      << poisoned.body;
  EXPECT_EQ(poisoned.body.find('\n'), poisoned.body.size() - 1) << "one line";
  EXPECT_EQ(gets(kAttacker), 0);
  auto plain = node->fetch(kPublic, "model.bin", "bytes=0-100");
  ASSERT_EQ(plain.status, 206);
  EXPECT_TRUE(plain.body == model_->substr(0, 101));
  EXPECT_EQ(node->fetch(kPublic, "model.bin", "bytes=0-100", {{"C0-Bucket", kPublic}}).status, 206);
}

// The old behaviour is one explicit flag away, and the log says what it costs.
TEST_F(Security, TrustingClientBucketsIsExplicitAndWarnedAbout) {
  auto node = start({"--trust-client-buckets"});
  auto r = node->fetch("anykind", "model.bin", "bytes=0-9", {{"C0-Bucket", kAttacker}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(gets(kAttacker, "model.bin"), 1);
  EXPECT_NE(node->log().find("--trust-client-buckets: C0-Bucket may name ANY bucket"),
            std::string::npos)
      << node->log();
}

// A policy lists a kind's redundant buckets: C0-Bucket chooses among them and they share cache
// entries; anything else is refused.
TEST_F(Security, APolicysRedundantBucketsShareEntriesAndNothingElseIsRead) {
  auto node = start({"--bucket-policy-file", policy(R"({"kinds": {"videos": ["videos-eu",
                                                     "videos-us"]}})")});
  EXPECT_NE(node->log().find("bucket policy: 1 kinds, other kinds refused"), std::string::npos);
  auto us = node->fetch("videos", "v.bin", "bytes=0-99", {{"C0-Bucket", kUs}});
  ASSERT_EQ(us.status, 206);
  EXPECT_EQ(gets(kUs, "v.bin"), 1);
  auto eu = node->fetch("videos", "v.bin", "bytes=0-99", {{"C0-Bucket", kEu}});
  ASSERT_EQ(eu.status, 206);
  EXPECT_TRUE(eu.body == model_->substr(0, 100));
  EXPECT_EQ(gets(kEu), 0) << "the same kind, object and page: a hit";
  EXPECT_EQ(node->fetch("videos", "v.bin", "bytes=0-99", {{"C0-Bucket", kAttacker}}).status, 403);
  EXPECT_EQ(node->fetch(kPublic, "model.bin", "bytes=0-99").status, 403);  // not listed
  EXPECT_EQ(gets(kAttacker) + gets(kPublic), 0);
}

// "../" once read another bucket's object from an origin that normalises paths, and "./x" made a
// second cache entry for x.
TEST_F(Security, DotSegmentsAndHostileNamesAre400AndReachNoOrigin) {
  auto node = start({"--trust-client-buckets"});
  for (const char* path :
       {"../attacker-bucket/secret.txt", "./model.bin", "%2E%2E/x", "a/%2e/model.bin", "a/.."}) {
    auto r = node->fetch(kPublic, path, "bytes=0-9");
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_NE(r.body.find("segment"), std::string::npos) << r.body;
  }
  for (const char* bucket : {"127.0.0.1:1/#", "Attacker", "a..b", "192.168.0.1"}) {
    EXPECT_EQ(node->fetch(kPublic, "model.bin", "bytes=0-9", {{"C0-Bucket", bucket}}).status, 400)
        << bucket;
  }
  EXPECT_EQ(node->fetch("a%3A80", "model.bin", "bytes=0-9").status, 400);
  EXPECT_EQ(proxy_->count("GET"), 0);
}

// "rt=1 oat=1 ct=1 ma=100 ib=0 mb=0" once made 100 origin GETs for one request.
TEST_F(Security, C0ConfigIsCappedByTheOperator) {
  proxy_->add_rule(
      {{"match", {{"path_contains", "capped.bin"}}}, {"action", "status"}, {"status", 503}});
  auto node = start();
  EXPECT_EQ(
      node->fetch(kPublic, "capped.bin", "bytes=0-9", {{"C0-Config", "ma=100 ib=0 mb=0"}}).status,
      503);
  EXPECT_EQ(gets(kPublic, "capped.bin"), 5);  // --max-client-attempts' default
  proxy_->reset();
  auto strict = start({"--max-client-attempts", "3"});
  strict->fetch(kPublic, "capped.bin", "bytes=0-9", {{"C0-Config", "ma=100 ib=0 mb=0"}});
  EXPECT_EQ(gets(kPublic, "capped.bin"), 3);
}

// A client asking for short timeouts once opened the bucket's breaker for everyone.
TEST_F(Security, ClientChosenTimeoutsDoNotOpenTheBreakerForEveryone) {
  proxy_->add_rule(
      {{"match", {{"path_contains", "slow.bin"}}}, {"action", "delay_first_byte"}, {"ms", 400}});
  s3_->put_object(kPublic, "slow.bin", "slow");
  auto node = start();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(node->fetch(kPublic, "slow.bin", "bytes=0-3", {{"C0-Config", "rt=50 ma=1"}}).status,
              504);
  }
  const std::string m = metrics(node->port());
  EXPECT_EQ(metric_value(m, "shoal_origin_bucket_breaker_state{bucket=\"public-models\"}"), 0)
      << "the breaker opened on a client's timeouts";
  EXPECT_EQ(stats_json(node->port())["origin"]["buckets"][kPublic]["consecutive_failures"], 0);
}

// ---- the peer port -----------------------------------------------------------------------------

// A connection to a node's peer port, authenticated with the cluster key, that sends forwarded
// requests built by the test.
class PeerClient {
 public:
  PeerClient(const std::string& key_path, std::uint16_t port) : socket_(io_) {
    auto key = peer::ClusterKey::load_file(key_path);
    if (!key) throw std::runtime_error("cannot load the cluster key");
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    stream_ = peer::FrameStream::create(std::move(socket_), *key, peer::FrameStream::Role::kClient);
    boost::system::error_code hec = asio::error::would_block;
    stream_->async_handshake([&](boost::system::error_code ec) { hec = ec; });
    io_.run_for(std::chrono::seconds(5));
    if (hec) throw std::runtime_error("handshake: " + hec.message());
  }

  // Sends `req` and waits up to 5 s for the answer; nullopt when the node closed the stream.
  std::optional<peer::ForwardResponse> ask(const peer::ForwardRequest& req) {
    io_.restart();
    stream_->async_write_frame(peer::encode_frame_header(req), {}, nullptr,
                               [](boost::system::error_code) {});
    boost::system::error_code rec = asio::error::would_block;
    peer::Frame frame;
    stream_->async_read_frame(kPage, [&](boost::system::error_code ec, peer::Frame f) {
      rec = ec;
      frame = std::move(f);
    });
    io_.run_for(std::chrono::seconds(5));
    if (rec) return std::nullopt;
    peer::FrameHeader header;
    if (!peer::decode_frame_header(frame.header, &header).ok()) return std::nullopt;
    auto* resp = std::get_if<peer::ForwardResponse>(&header);
    if (resp == nullptr) return std::nullopt;
    return *resp;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::shared_ptr<peer::FrameStream> stream_;
};

peer::ForwardRequest forward_request(const std::string& kind, const std::string& object,
                                     std::vector<std::string> buckets) {
  peer::ForwardRequest req;
  req.request_id = 7;
  req.kind = kind;
  req.object = object;
  req.buckets = std::move(buckets);
  req.hop = true;
  req.sender_epoch = 1;
  return req;
}

// A frame naming bucket "127.0.0.1:PORT/#" once made a node send a signed GET, with its session
// token, to that address (virtual-host addressing pasted the bucket into the host). Now the frame
// does not decode: the stream is closed, the error counted, and nothing connects there.
TEST_F(Security, APeerFrameCannotSteerTheOriginRequest) {
  asio::io_context io;
  asio::ip::tcp::acceptor target(io, {asio::ip::make_address("127.0.0.1"), 0});
  target.non_blocking(true);
  const std::string key = write_file(dir_.path() + "/cluster.key", kKey);
  const std::uint16_t peer_port = free_port();
  auto node = start({"--peer-listen", "127.0.0.1:" + std::to_string(peer_port),
                     "--cluster-key-file", key, "--s3-addressing", "virtual", "--node-id", "n0"},
                    {{"AWS_SESSION_TOKEN", "session-token-that-must-not-leak"}});
  const std::uint64_t errors_before =
      stats_json(node->port())["cluster"]["peer_errors"].get<std::uint64_t>();
  PeerClient peer(key, peer_port);
  const std::string bucket = "127.0.0.1:" + std::to_string(target.local_endpoint().port()) + "/#";
  EXPECT_FALSE(peer.ask(forward_request(kPublic, "model.bin", {bucket})).has_value())
      << "the node answered a frame naming a host as its bucket";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  asio::ip::tcp::socket accepted(io);
  boost::system::error_code ec;
  target.accept(accepted, ec);
  EXPECT_EQ(ec, asio::error::would_block) << "the node connected to the bucket's host:port";
  EXPECT_GT(stats_json(node->port())["cluster"]["peer_errors"].get<std::uint64_t>(), errors_before);
}

// The owner judges a forwarded request's buckets by its own policy: a valid bucket the kind may
// not be read from gets an error answer (AccessDenied), counted, and no origin request.
TEST_F(Security, TheOwnerRefusesForwardedBucketsItsPolicyDoesNotAllow) {
  const std::string key = write_file(dir_.path() + "/cluster.key", kKey);
  const std::uint16_t peer_port = free_port();
  auto node = start({"--peer-listen", "127.0.0.1:" + std::to_string(peer_port),
                     "--cluster-key-file", key, "--node-id", "n0"});
  PeerClient peer(key, peer_port);
  auto refused = peer.ask(forward_request(kPublic, "model.bin", {kAttacker}));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->outcome, base::Outcome::kAccessDenied);
  EXPECT_NE(refused->message.find("may not be read for kind"), std::string::npos)
      << refused->message;
  EXPECT_EQ(gets(kAttacker), 0);
  EXPECT_EQ(stats_json(node->port())["cluster"]["forwards_refused"], 1);
  EXPECT_EQ(metric_value(metrics(node->port()), "shoal_forwards_refused_total"), 1);
  auto allowed = peer.ask(forward_request(kPublic, "model.bin", {}));
  ASSERT_TRUE(allowed.has_value());
  EXPECT_EQ(allowed->outcome, base::Outcome::kOk) << allowed->message;
}

// C0-Config was silently dropped for pages fetched through another member: the owner used its
// defaults (3 attempts). It travels with the forward and the owner applies it under its caps.
TEST_F(Security, C0ConfigTravelsWithForwards) {
  const std::string key = write_file(dir_.path() + "/cluster.key", kKey);
  const std::uint16_t port0 = free_port(), port1 = free_port();
  auto peer_flags = [&](const std::string& id, std::uint16_t own, std::uint16_t seed) {
    return std::vector<std::string>{
        "--node-id",          id,  "--peer-listen", "127.0.0.1:" + std::to_string(own),
        "--cluster-key-file", key, "--seed",        "127.0.0.1:" + std::to_string(seed)};
  };
  auto n0 = start(peer_flags("n0", port0, port1));
  auto n1 = start(peer_flags("n1", port1, port0));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (stats_json(n0->port())["members"].size() < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(stats_json(n0->port())["members"].size(), 2u);
  // An object whose page 0 n1 owns, asked of n0.
  const ring::Ring ring = *ring::Ring::make({{"n0", 1}, {"n1", 1}});
  std::string object;
  for (int i = 0; object.empty(); ++i) {
    const std::string o = "fwd" + std::to_string(i) + ".bin";
    if (ring.owner(base::page_hash(kPublic, o, 0))->id == "n1") object = o;
  }
  proxy_->add_rule({{"match", {{"path_contains", "fwd"}}}, {"action", "status"}, {"status", 503}});
  EXPECT_EQ(n0->fetch(kPublic, object, "bytes=0-9", {{"C0-Config", "ma=1"}}).status, 503);
  EXPECT_EQ(stats_json(n0->port())["cluster"]["forwarded_out"], 1);
  EXPECT_EQ(gets(kPublic, object), 1) << "the owner ignored the forwarded C0-Config";
}

// ---- the admin API -----------------------------------------------------------------------------

TEST_F(Security, TheAdminApiFollowsThePolicyAndTheNameRules) {
  const std::string token = write_file(dir_.path() + "/admin.token", kToken + "\n");
  auto node = start({"--admin-token-file", token, "--bucket-policy-file",
                     policy(R"({"kinds": {"videos": ["videos-eu", "videos-us"]}})")});
  const Headers auth = {{"Authorization", "Bearer " + kToken}};
  auto warm = [&](const std::string& body) {
    return http_request(node->port(), "POST", "/admin/warm", auth, body);
  };
  auto refused = warm(R"({"kind": "public-models", "object": "model.bin"})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("not in the bucket policy"), std::string::npos) << refused.body;
  EXPECT_EQ(
      http_request(node->port(), "GET", "/admin/locate?kind=public-models&object=model.bin", auth)
          .status,
      403);
  EXPECT_EQ(warm(R"({"kind": "videos", "object": "../public-models/model.bin"})").status, 400);
  EXPECT_EQ(warm(R"({"kind": "a:80", "object": "v.bin"})").status, 400);
  EXPECT_EQ(
      http_request(node->port(), "POST", "/admin/purge", auth, R"({"kind": "..", "object": "x"})")
          .status,
      400);
  EXPECT_EQ(gets(kPublic), 0);
  auto ok = warm(R"({"kind": "videos", "object": "v.bin"})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(gets(kEu, "v.bin"), 2);  // the kind's first bucket, both pages
  EXPECT_EQ(gets(kUs), 0);
}

// ---- files the node trusts ---------------------------------------------------------------------

// shoald with `flags` must stop at start with exit code 2 and a message naming `flag` and
// holding `why`.
void expect_refused_at_start(std::vector<std::string> flags, const std::string& flag,
                             const std::string& why) {
  const std::uint16_t port = free_port();
  flags.insert(flags.begin(), {"--listen", "127.0.0.1:" + std::to_string(port)});
  auto [code, out] = run_shoald_to_exit(flags);
  EXPECT_EQ(code, 2) << out;
  EXPECT_EQ(out.rfind("shoald: " + flag + ": ", 0), 0u) << out;
  EXPECT_NE(out.find(why), std::string::npos) << out;
  EXPECT_FALSE(wait_for_port(port, std::chrono::milliseconds(100)));
}

uid_t nobody() {
  const struct passwd* pw = ::getpwnam("nobody");
  return pw ? pw->pw_uid : 65534;
}

TEST_F(Security, SecretAndPolicyFilesOthersCouldWriteStopTheNode) {
  const std::string key = write_file(dir_.path() + "/cluster.key", kKey, 0666);
  const std::string peer = "127.0.0.1:" + std::to_string(free_port());
  expect_refused_at_start({"--peer-listen", peer, "--cluster-key-file", key}, "--cluster-key-file",
                          "is writable by its group or others (mode 0666)");
  const std::string token = write_file(dir_.path() + "/admin.token", kToken, 0600);
  ASSERT_EQ(::chown(token.c_str(), nobody(), nobody()), 0) << "the tests run as root";
  expect_refused_at_start({"--admin-token-file", token}, "--admin-token-file",
                          "is owned by uid " + std::to_string(nobody()));
  const std::string p = write_file(dir_.path() + "/policy.json", R"({"default": "kind"})", 0620);
  expect_refused_at_start({"--bucket-policy-file", p}, "--bucket-policy-file",
                          "is writable by its group or others");
  write_file(p, R"({"kinds": {"k": "127.0.0.1:1/#"}})");
  expect_refused_at_start({"--bucket-policy-file", p}, "--bucket-policy-file",
                          "kinds.k: bucket name may hold only");
  expect_refused_at_start({"--bucket-policy-file", p, "--trust-client-buckets"},
                          "--bucket-policy-file", "kinds.k");
  write_file(p, R"({"default": "kind"})");
  expect_refused_at_start({"--bucket-policy-file", p, "--trust-client-buckets"},
                          "--trust-client-buckets", "cannot be combined");
  expect_refused_at_start({"--max-client-attempts", "2"}, "--max-client-attempts",
                          "must be in [3, 100]");
}

TEST_F(Security, ADiskStoreTheNodeCannotTrustStopsItAndIsLeftAlone) {
  const std::string victim = write_file(dir_.path() + "/victim.db", "precious", 0644);
  TempDir disk;
  const std::string store = disk.path() + "/shoal.slots";
  ASSERT_EQ(::symlink(victim.c_str(), store.c_str()), 0);
  const std::vector<std::string> flags = {"--disk-path", disk.path(),   "--disk-capacity",
                                          "8MiB",        "--page-size", "64KiB"};
  expect_refused_at_start(flags, "--disk-path", "shoal.slots is a symbolic link");
  EXPECT_EQ(std::filesystem::file_size(victim), 8u) << "the link's target was truncated";
  ASSERT_EQ(::unlink(store.c_str()), 0);
  write_file(store, "x", 0666);
  expect_refused_at_start(flags, "--disk-path", "is writable by its group or others");
  ASSERT_EQ(::chmod(store.c_str(), 0600), 0);
  ASSERT_EQ(::chown(store.c_str(), nobody(), nobody()), 0);
  expect_refused_at_start(flags, "--disk-path", "is owned by uid " + std::to_string(nobody()));
  EXPECT_EQ(std::filesystem::file_size(store), 1u);
}

}  // namespace
}  // namespace shoal::test
