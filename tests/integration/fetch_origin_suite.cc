// How shoald treats its origin, through the fault-injecting proxy in front of a real s3rver:
// coalescing (one origin GET for many clients), status mapping of origin failures, C0-Config
// overrides, bucket fall-through, a client leaving mid-body, and the memory budget.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

constexpr std::uint64_t kPage = 64 * 1024;
const std::string kBucket = "origin";
const std::string kOther = "backup";

class FetchOrigin : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    s3_->create_bucket(kBucket);
    s3_->create_bucket(kOther);
    proxy_ = new FaultProxy(s3_->port());
    // Kind "migrating" is read from origin, then backup; other kinds are their own bucket.
    dir_ = new TempDir();
    const std::string policy =
        write_file(dir_->path() + "/policy.json",
                   R"({"kinds": {"migrating": ["origin", "backup"]}, "default": "kind"})");
    node_ = new Shoald(proxy_->endpoint(), {"--page-size", "64KiB", "--memory", "64MiB",
                                            "--bucket-policy-file", policy});
  }
  static void TearDownTestSuite() {
    delete node_;
    delete proxy_;
    delete s3_;
    delete dir_;
  }
  void SetUp() override {
    proxy_->clear_rules();
    proxy_->reset();
  }
  static std::string put(const std::string& key, std::uint64_t size, std::uint64_t seed,
                         const std::string& bucket = kBucket) {
    std::string data = random_bytes(size, seed);
    s3_->put_object(bucket, key, data);
    return data;
  }
  static std::string path(const std::string& key, const std::string& bucket = kBucket) {
    return "/" + bucket + "/" + key;
  }
  static const std::vector<std::pair<std::string, std::string>> kFast;

  static S3Server* s3_;
  static FaultProxy* proxy_;
  static Shoald* node_;
  static TempDir* dir_;
};
S3Server* FetchOrigin::s3_ = nullptr;
FaultProxy* FetchOrigin::proxy_ = nullptr;
Shoald* FetchOrigin::node_ = nullptr;
TempDir* FetchOrigin::dir_ = nullptr;
const std::vector<std::pair<std::string, std::string>> FetchOrigin::kFast = {
    {"C0-Config", "ib=5 mb=20 ma=3"}};

TEST_F(FetchOrigin, ConcurrentClientsOnOneColdPageCauseOneOriginGet) {
  const std::string data = put("coalesce.bin", 2 * kPage, 1);
  // Slow the origin so that all clients arrive while the first fetch runs.
  proxy_->add_rule({{"match", {{"method", "GET"}}}, {"action", "delay_first_byte"}, {"ms", 700}});
  std::vector<HttpResponse> results(32);
  std::vector<std::thread> clients;
  for (int i = 0; i < 32; ++i) {
    clients.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          node_->fetch(kBucket, "coalesce.bin",
                       "bytes=" + std::to_string(i * 100) + "-" + std::to_string(i * 100 + 999));
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < 32; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    ASSERT_EQ(r.status, 206) << r.body;
    EXPECT_TRUE(r.body == data.substr(static_cast<std::size_t>(i) * 100, 1000));
  }
  EXPECT_EQ(proxy_->count("GET", path("coalesce.bin")), 1);
  const std::string m = metrics(node_->port());
  EXPECT_GE(metric_value(m, "shoal_pages_total{outcome=\"coalesced\"}"), 1);
}

TEST_F(FetchOrigin, ErrorsAreNotCached) {
  put("flaky.bin", kPage, 2);
  proxy_->add_rule({{"match", {{"path_contains", "flaky.bin"}}},
                    {"action", "status"},
                    {"status", 500},
                    {"times", 3}});
  auto failed = node_->fetch(kBucket, "flaky.bin", "bytes=0-9", kFast);
  EXPECT_EQ(failed.status, 503) << failed.body;
  auto ok = node_->fetch(kBucket, "flaky.bin", "bytes=0-9", kFast);
  EXPECT_EQ(ok.status, 206) << ok.body;
}

TEST_F(FetchOrigin, ThrottlingAfterRetriesIs503AndRetriesFollowC0Config) {
  put("throttled.bin", kPage, 3);
  proxy_->add_rule({{"match", {{"path_contains", "throttled.bin"}}},
                    {"action", "status"},
                    {"status", 503},
                    {"code", "SlowDown"}});
  auto r = node_->fetch(kBucket, "throttled.bin", "bytes=0-9", {{"C0-Config", "ma=2 ib=5 mb=10"}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(proxy_->count("GET", path("throttled.bin")), 2);
  proxy_->reset();
  auto once = node_->fetch(kBucket, "throttled.bin", "bytes=0-9", {{"C0-Config", "ma=1"}});
  EXPECT_EQ(once.status, 503);
  EXPECT_EQ(proxy_->count("GET", path("throttled.bin")), 1);
}

TEST_F(FetchOrigin, AccessDeniedIs403) {
  put("denied.bin", kPage, 4);
  proxy_->add_rule({{"match", {{"path_contains", "denied.bin"}}},
                    {"action", "status"},
                    {"status", 403},
                    {"code", "AccessDenied"}});
  EXPECT_EQ(node_->fetch(kBucket, "denied.bin", "bytes=0-9", kFast).status, 403);
  EXPECT_EQ(proxy_->count("GET", path("denied.bin")), 1);  // not retried
}

TEST_F(FetchOrigin, SlowFirstByteIs504UnderReadTimeout) {
  put("slow.bin", kPage, 5);
  proxy_->add_rule(
      {{"match", {{"path_contains", "slow.bin"}}}, {"action", "delay_first_byte"}, {"ms", 3000}});
  auto r = node_->fetch(kBucket, "slow.bin", "bytes=0-9", {{"C0-Config", "rt=200 ma=1"}});
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_NE(r.body.find("rt=200 ms"), std::string::npos) << r.body;
}

// The 504's body names the limit that fired: an attempt timeout shorter than rt is oat, not rt.
TEST_F(FetchOrigin, TimeoutBodyNamesTheLimitThatFired) {
  put("slow-oat.bin", kPage, 15);
  proxy_->add_rule({{"match", {{"path_contains", "slow-oat.bin"}}},
                    {"action", "delay_first_byte"},
                    {"ms", 3000}});
  const auto started = std::chrono::steady_clock::now();
  auto r = node_->fetch(kBucket, "slow-oat.bin", "bytes=0-9", {{"C0-Config", "oat=400 ma=1"}});
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2500));
  EXPECT_NE(r.body.find("oat=400 ms"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("rt="), std::string::npos) << r.body;
}

// The origin cuts every answer after 1000 bytes (each retry resumes, and is cut again). Bytes
// before the cuts are exact and may be served as they arrive; a range reaching past them gets
// its head and then a cut connection (never a wrong byte), and the page is not cached.
TEST_F(FetchOrigin, TruncatedBodyIsCutNeverServedWrongAndNotCached) {
  const std::string data = put("truncated.bin", kPage, 6);
  proxy_->add_rule({{"match", {{"path_contains", "truncated.bin"}}},
                    {"action", "truncate"},
                    {"after_bytes", 1000}});
  auto head = node_->fetch(kBucket, "truncated.bin", "bytes=0-9", kFast);
  ASSERT_EQ(head.status, 206);
  EXPECT_EQ(head.body, data.substr(0, 10));
  auto cut = node_->fetch(kBucket, "truncated.bin", "bytes=0-4999", kFast);
  EXPECT_EQ(cut.status, 206);
  EXPECT_FALSE(cut.complete);
  EXPECT_LE(cut.body.size(), 3000u);  // three attempts (ma=3) of 1000 bytes each
  EXPECT_EQ(cut.body, data.substr(0, cut.body.size()));
  // The cut response's fetch may still be retrying (its client got its cut already): wait until
  // it ended, so the next read starts a fetch of its own instead of joining a failing one.
  ASSERT_TRUE(wait_for_origin_fetches_to_end(node_->port()));
  proxy_->clear_rules();
  proxy_->reset();
  auto r = node_->fetch(kBucket, "truncated.bin", "bytes=0-" + std::to_string(kPage - 1));
  ASSERT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == data);
  EXPECT_EQ(proxy_->count("GET", path("truncated.bin")), 1);  // it was not cached before
}

TEST_F(FetchOrigin, WrongContentRangeIs502) {
  put("shifted.bin", 2 * kPage, 7);
  proxy_->add_rule(
      {{"match", {{"path_contains", "shifted.bin"}}}, {"action", "wrong_content_range"}});
  EXPECT_EQ(node_->fetch(kBucket, "shifted.bin", "bytes=0-9", kFast).status, 502);
}

TEST_F(FetchOrigin, NoSuchKeyInTheFirstBucketFallsThroughToTheSecond) {
  const std::string data = put("migrated.bin", kPage, 8, kOther);
  auto r = node_->fetch("migrating", "migrated.bin", "bytes=0-99",
                        {{"C0-Bucket", kBucket}, {"C0-Bucket", kOther}});
  ASSERT_EQ(r.status, 206) << r.body;
  EXPECT_TRUE(r.body == data.substr(0, 100));
  EXPECT_EQ(r.header("C0-Status"), "0-99; " + kOther + "; 0");
  EXPECT_EQ(proxy_->count("GET", path("migrated.bin")), 1);
  EXPECT_EQ(proxy_->count("GET", path("migrated.bin", kOther)), 1);
}

TEST_F(FetchOrigin, AClientLeavingMidBodyDoesNotCancelTheFetch) {
  const std::string data = put("leaver.bin", 4 * kPage, 9);
  proxy_->add_rule(
      {{"match", {{"path_contains", "leaver.bin"}}}, {"action", "delay_first_byte"}, {"ms", 500}});
  {
    RawSocket s = raw_socket(node_->port());
    std::string req = "GET /fetch/" + kBucket +
                      "/leaver.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-" +
                      std::to_string(4 * kPage - 1) + "\r\n\r\n";
    boost::asio::write(s.socket, boost::asio::buffer(req));
    // Leave before the first byte arrives.
  }
  // A second client, arriving while the fetches run, gets every byte.
  auto r = node_->fetch(kBucket, "leaver.bin", "bytes=0-" + std::to_string(4 * kPage - 1));
  ASSERT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == data);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The fetch the first client started went on and was cached: each page fetched once.
  EXPECT_LE(proxy_->count("GET", path("leaver.bin")), 4);
  proxy_->reset();
  proxy_->clear_rules();
  auto again = node_->fetch(kBucket, "leaver.bin", "bytes=0-" + std::to_string(4 * kPage - 1));
  EXPECT_TRUE(again.body == data);
  EXPECT_EQ(proxy_->count("GET", path("leaver.bin")), 0);
}

TEST_F(FetchOrigin, AClientDisconnectingMidBodyLeavesTheNodeHealthy) {
  const std::string data = put("midbody.bin", 8 * kPage, 10);
  for (int i = 0; i < 5; ++i) {
    RawSocket s = raw_socket(node_->port());
    std::string req = "GET /fetch/" + kBucket +
                      "/midbody.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-" +
                      std::to_string(8 * kPage - 1) + "\r\n\r\n";
    boost::asio::write(s.socket, boost::asio::buffer(req));
    std::string some(4096, '\0');
    boost::system::error_code ec;
    boost::asio::read(s.socket, boost::asio::buffer(some), ec);
    EXPECT_FALSE(ec);
    s.socket.close();
  }
  auto r = node_->fetch(kBucket, "midbody.bin", "bytes=0-" + std::to_string(8 * kPage - 1));
  ASSERT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == data);
}

TEST(FetchMemory, MemoryStaysUnderTheBudget) {
  S3Server s3;
  s3.create_bucket("mem");
  const std::string data = random_bytes(64 * kPage, 77);  // 4 MiB object
  s3.put_object("mem", "big.bin", data);
  Shoald node(s3.endpoint(), {"--page-size", "64KiB", "--memory", "1MiB"});
  for (int round = 0; round < 2; ++round) {
    auto r = node.fetch("mem", "big.bin", "bytes=0-" + std::to_string(data.size() - 1));
    ASSERT_EQ(r.status, 206);
    ASSERT_TRUE(r.body == data);
    auto s = stats_json(node.port());
    EXPECT_LE(s["memory"]["used_bytes"].get<std::uint64_t>(), 1u << 20);
    EXPECT_GT(s["memory"]["pages"].get<std::uint64_t>(), 0u);
    EXPECT_GT(s["memory"]["evictions"].get<std::uint64_t>(), 0u);
  }
}

}  // namespace
}  // namespace shoal::test
