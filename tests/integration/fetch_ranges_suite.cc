// /fetch against a real s3rver through a real shoald: byte-exact ranges of every shape, object
// keys that need encoding, HEAD, C0-Status on miss and hit, trailers, and the client errors.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

constexpr std::uint64_t kPage = 64 * 1024;
const std::string kBucket = "ranges";

class FetchRanges : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    s3_->create_bucket(kBucket);
    // 5 full pages and a partial one.
    object_ = new std::string(random_bytes(5 * kPage + 12345, 7));
    s3_->put_object(kBucket, "dir/sub/object.bin", *object_);
    proxy_ = new FaultProxy(s3_->port());
    node_ = new Shoald(proxy_->endpoint(), {"--page-size", "64KiB", "--memory", "64MiB"});
  }
  static void TearDownTestSuite() {
    delete node_;
    delete proxy_;
    delete s3_;
    delete object_;
  }
  void SetUp() override { proxy_->reset(); }

  static std::string slice(std::uint64_t first, std::uint64_t last) {
    return object_->substr(first, last - first + 1);
  }
  static std::string range(std::uint64_t first, std::uint64_t last) {
    return "bytes=" + std::to_string(first) + "-" + std::to_string(last);
  }

  static S3Server* s3_;
  static FaultProxy* proxy_;
  static Shoald* node_;
  static std::string* object_;
};
S3Server* FetchRanges::s3_ = nullptr;
FaultProxy* FetchRanges::proxy_ = nullptr;
Shoald* FetchRanges::node_ = nullptr;
std::string* FetchRanges::object_ = nullptr;

const std::string kKey = "dir/sub/object.bin";

TEST_F(FetchRanges, RandomRangesAreByteExact) {
  std::mt19937_64 rng(42);
  const std::uint64_t size = object_->size();
  for (int i = 0; i < 40; ++i) {
    std::uint64_t a = rng() % size;
    std::uint64_t b = a + rng() % std::min<std::uint64_t>(size - a, 3 * kPage);
    auto r = node_->fetch(kBucket, kKey, range(a, b));
    ASSERT_EQ(r.status, 206) << r.body;
    ASSERT_TRUE(r.complete) << r.error;
    EXPECT_EQ(r.header("Content-Range"),
              "bytes " + std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(size));
    EXPECT_EQ(r.header("Content-Length"), std::to_string(b - a + 1));
    ASSERT_EQ(r.body.size(), b - a + 1);
    EXPECT_TRUE(r.body == slice(a, b)) << "bytes differ for " << range(a, b);
  }
}

TEST_F(FetchRanges, SinglePageMultiPageLastPartialPageAndWholeObject) {
  const std::uint64_t size = object_->size();
  struct Case {
    std::uint64_t a, b;
  } cases[] = {{0, 0},
               {10, 100},
               {kPage - 1, kPage},          // crosses one boundary
               {kPage / 2, 4 * kPage + 7},  // five pages
               {5 * kPage, size - 1},       // the last, partial page
               {5 * kPage + 100, size - 1},
               {0, size - 1}};  // whole object
  for (const auto& c : cases) {
    auto r = node_->fetch(kBucket, kKey, range(c.a, c.b));
    ASSERT_EQ(r.status, 206) << range(c.a, c.b) << " " << r.body;
    EXPECT_TRUE(r.body == slice(c.a, c.b)) << range(c.a, c.b);
  }
}

TEST_F(FetchRanges, EndPastTheObjectIsClamped) {
  const std::uint64_t size = object_->size();
  auto r = node_->fetch(kBucket, kKey, range(size - 10, size + 100000));
  ASSERT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Range"), "bytes " + std::to_string(size - 10) + "-" +
                                           std::to_string(size - 1) + "/" + std::to_string(size));
  EXPECT_TRUE(r.body == slice(size - 10, size - 1));
}

TEST_F(FetchRanges, OpenAndSuffixRanges) {
  const std::uint64_t size = object_->size();
  auto open = node_->fetch(kBucket, kKey, "bytes=" + std::to_string(size - kPage - 5) + "-");
  ASSERT_EQ(open.status, 206);
  EXPECT_TRUE(open.body == slice(size - kPage - 5, size - 1));
  auto suffix = node_->fetch(kBucket, kKey, "bytes=-70000");
  ASSERT_EQ(suffix.status, 206) << suffix.body;
  EXPECT_TRUE(suffix.body == slice(size - 70000, size - 1));
  auto longer = node_->fetch(kBucket, kKey, "bytes=-99999999");
  ASSERT_EQ(longer.status, 206);
  EXPECT_TRUE(longer.body == *object_);
}

TEST_F(FetchRanges, HeadersOfASuccess) {
  auto r = node_->fetch(kBucket, kKey, range(1, 2));
  ASSERT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
  EXPECT_FALSE(r.header("ETag").empty());
  EXPECT_FALSE(r.header("Last-Modified").empty());
}

TEST_F(FetchRanges, C0StatusSaysMissThenHit) {
  s3_->put_object(kBucket, "c0status.bin", random_bytes(3 * kPage, 9));
  auto miss = node_->fetch(kBucket, "c0status.bin", range(100, 200));
  ASSERT_EQ(miss.status, 206);
  EXPECT_EQ(miss.header("C0-Status"), "100-200; " + kBucket + "; 0");
  auto hit = node_->fetch(kBucket, "c0status.bin", range(100, 200));
  ASSERT_EQ(hit.status, 206);
  const std::string s = hit.header("C0-Status");
  ASSERT_TRUE(s.starts_with("100-200; " + kBucket + "; ")) << s;
  const long cached_at = std::stol(s.substr(s.rfind(' ') + 1));
  const long now = static_cast<long>(time(nullptr));
  EXPECT_GT(cached_at, now - 120);
  EXPECT_LE(cached_at, now + 1);
  EXPECT_EQ(proxy_->count("GET", "/" + kBucket + "/c0status.bin"), 1);
}

TEST_F(FetchRanges, LaterPagesStatusComesAsTrailersWhenAsked) {
  s3_->put_object(kBucket, "trailers.bin", random_bytes(3 * kPage, 10));
  auto r = node_->fetch(kBucket, "trailers.bin", range(10, 2 * kPage + 5), {{"TE", "trailers"}});
  ASSERT_EQ(r.status, 206);
  ASSERT_TRUE(r.complete) << r.error;
  EXPECT_EQ(r.header("C0-Status"), "10-65535; " + kBucket + "; 0");
  ASSERT_EQ(r.trailers.size(), 2u);
  EXPECT_EQ(r.trailers[0].second, "65536-131071; " + kBucket + "; 0");
  EXPECT_EQ(r.trailers[1].second, "131072-131077; " + kBucket + "; 0");
  EXPECT_EQ(r.body.size(), 2 * kPage + 5 - 10 + 1);
  // Without TE: trailers the body has a Content-Length and no trailers.
  auto plain = node_->fetch(kBucket, "trailers.bin", range(10, 2 * kPage + 5));
  EXPECT_EQ(plain.header("Content-Length"), std::to_string(2 * kPage + 5 - 10 + 1));
  EXPECT_TRUE(plain.trailers.empty());
  EXPECT_EQ(plain.body, r.body);
}

// A HEAD gets the header a GET of the same range gets (RFC 9110 §9.3.2), framing included:
// with TE: trailers on a multi-page range both are chunked with Trailer: C0-Status, without it
// both carry Content-Length. Only C0-Status's cached_at may differ (the GET fetched the page).
TEST_F(FetchRanges, HeadAnswersWithTheHeaderOfAGet) {
  s3_->put_object(kBucket, "head-get.bin", random_bytes(3 * kPage, 12));
  auto fields = [](const HttpResponse& r) {
    std::map<std::string, std::string> out;
    for (auto [name, value] : r.headers) {
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name == "c0-status") value = value.substr(0, value.rfind(' '));
      out[name] = value;
    }
    return out;
  };
  for (const bool trailers : {true, false}) {
    std::vector<std::pair<std::string, std::string>> te;
    if (trailers) te = {{"TE", "trailers"}};
    auto get = node_->fetch(kBucket, "head-get.bin", range(10, 2 * kPage + 5), te);
    ASSERT_EQ(get.status, 206);
    ASSERT_TRUE(get.complete) << get.error;
    auto head = node_->fetch(kBucket, "head-get.bin", range(10, 2 * kPage + 5), te, "HEAD");
    ASSERT_EQ(head.status, 206);
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(fields(head), fields(get)) << "TE: trailers " << trailers;
    EXPECT_EQ(head.header("Trailer"), trailers ? "C0-Status" : "");
    EXPECT_EQ(head.header("Content-Length"),
              trailers ? "" : std::to_string(2 * kPage + 5 - 10 + 1));
  }
}

TEST_F(FetchRanges, KeysWithSlashesSpacesAndUtf8) {
  const std::vector<std::string> keys = {"a/b/c/d.bin", "with space/and+plus.bin",
                                         "utf8/\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.bin",
                                         "odd/chars!$&'()*,;=@.bin"};
  int seed = 100;
  for (const auto& key : keys) {
    std::string data = random_bytes(kPage + 17, static_cast<std::uint64_t>(seed++));
    s3_->put_object(kBucket, key, data);
    auto r = node_->fetch(kBucket, encode_path(key), range(5, kPage + 10));
    ASSERT_EQ(r.status, 206) << key << ": " << r.body;
    EXPECT_TRUE(r.body == data.substr(5, kPage + 6)) << key;
  }
}

TEST_F(FetchRanges, HeadCostsNoPageGet) {
  s3_->put_object(kBucket, "head.bin", random_bytes(2 * kPage + 3, 11));
  // Cold: one HeadObject, no GET.
  auto cold = node_->fetch(kBucket, "head.bin", range(0, 9), {}, "HEAD");
  ASSERT_EQ(cold.status, 206);
  EXPECT_EQ(cold.header("Content-Length"), "10");
  EXPECT_EQ(cold.header("Content-Range"), "bytes 0-9/" + std::to_string(2 * kPage + 3));
  EXPECT_TRUE(cold.body.empty());
  EXPECT_EQ(proxy_->count("GET", "/" + kBucket + "/head.bin"), 0);
  EXPECT_EQ(proxy_->count("HEAD", "/" + kBucket + "/head.bin"), 1);
  // Known size: no origin request at all.
  auto warm = node_->fetch(kBucket, "head.bin", "bytes=-5", {}, "HEAD");
  ASSERT_EQ(warm.status, 206);
  EXPECT_EQ(warm.header("Content-Range"), "bytes " + std::to_string(2 * kPage - 2) + "-" +
                                              std::to_string(2 * kPage + 2) + "/" +
                                              std::to_string(2 * kPage + 3));
  EXPECT_EQ(proxy_->count("HEAD", "/" + kBucket + "/head.bin"), 1);
  EXPECT_EQ(proxy_->count("GET", "/" + kBucket + "/head.bin"), 0);
}

TEST_F(FetchRanges, ClientErrors) {
  auto no_range = node_->fetch(kBucket, kKey, "");
  EXPECT_EQ(no_range.status, 400);
  EXPECT_NE(no_range.body.find("Range"), std::string::npos) << no_range.body;
  EXPECT_EQ(node_->fetch(kBucket, kKey, "bytes=0-1,5-6").status, 416);
  EXPECT_EQ(node_->fetch(kBucket, kKey, "bytes=abc").status, 416);
  EXPECT_EQ(node_->fetch(kBucket, kKey, "items=0-1").status, 416);
  EXPECT_EQ(node_->fetch(kBucket, kKey, "bytes=9-3").status, 416);
  auto past = node_->fetch(kBucket, kKey, range(object_->size(), object_->size() + 10));
  EXPECT_EQ(past.status, 416);
  EXPECT_EQ(past.header("Content-Range"), "bytes */" + std::to_string(object_->size()));
  EXPECT_EQ(
      http_request(node_->port(), "GET", "/fetch/" + kBucket, {{"Range", "bytes=0-1"}}).status,
      400);
  EXPECT_EQ(
      http_request(node_->port(), "GET", "/fetch/" + kBucket + "/a%00b", {{"Range", "bytes=0-1"}})
          .status,
      400);
  EXPECT_EQ(http_request(node_->port(), "GET", "/fetch/" + std::string(65, 'k') + "/x",
                         {{"Range", "bytes=0-1"}})
                .status,
            400);
  EXPECT_EQ(http_request(node_->port(), "DELETE", "/fetch/" + kBucket + "/" + kKey,
                         {{"Range", "bytes=0-1"}})
                .status,
            405);
  // Another method is 405 with Allow, with a body too (the body is not read).
  for (const char* target : {"/fetch/ranges/dir/sub/object.bin", "/stats", "/metrics"}) {
    auto put = http_request(node_->port(), "PUT", target, {{"Range", "bytes=0-1"}}, "some body");
    EXPECT_EQ(put.status, 405) << target << ": " << put.body;
    EXPECT_EQ(put.header("Allow"), "GET, HEAD") << target;
  }
  // A body on GET is a 400.
  EXPECT_EQ(http_request(node_->port(), "GET", "/fetch/" + kBucket + "/" + kKey,
                         {{"Range", "bytes=0-1"}}, "some body")
                .status,
            400);
  EXPECT_EQ(http_request(node_->port(), "GET", "/nope").status, 404);
  EXPECT_EQ(node_->fetch(kBucket, kKey, range(0, 1), {{"C0-Bucket", "bad/bucket"}}).status, 400);
  EXPECT_EQ(node_->fetch(kBucket, kKey, range(0, 1), {{"C0-Config", "ma=zero"}}).status, 400);
  // The node is still healthy afterwards.
  EXPECT_EQ(node_->fetch(kBucket, kKey, range(0, 1)).status, 206);
}

TEST_F(FetchRanges, MissingObjectAndBucketAre404) {
  EXPECT_EQ(node_->fetch(kBucket, "no/such/key", range(0, 1)).status, 404);
  EXPECT_EQ(node_->fetch("no-such-bucket", "key", range(0, 1)).status, 404);
  EXPECT_EQ(node_->fetch(kBucket, "no/such/key", range(0, 1), {}, "HEAD").status, 404);
}

TEST_F(FetchRanges, KeepAliveServesManyRequestsOnOneConnection) {
  HttpConnection conn(node_->port());
  for (int i = 0; i < 20; ++i) {
    auto r = conn.request("GET", "/fetch/" + kBucket + "/" + kKey,
                          {{"Range", range(i * 1000, i * 1000 + 99)}});
    ASSERT_EQ(r.status, 206);
    EXPECT_TRUE(r.body == slice(i * 1000, i * 1000 + 99));
  }
  EXPECT_TRUE(conn.is_open());
}

TEST_F(FetchRanges, AnOverwrittenObjectIsNeverServedAsAMix) {
  const std::string key = "overwritten.bin";
  const std::string v1 = random_bytes(3 * kPage, 21);
  const std::string v2 = random_bytes(3 * kPage, 22);
  s3_->put_object(kBucket, key, v1);
  ASSERT_EQ(node_->fetch(kBucket, key, range(0, 10)).status, 206);  // page 0 of v1 cached
  s3_->put_object(kBucket, key, v2);
  // Pages 1-2 now come from v2 while page 0 is v1: the response must not mix them.
  auto mixed = node_->fetch(kBucket, key, range(0, 3 * kPage - 1));
  if (mixed.status == 206 && mixed.complete) {
    EXPECT_TRUE(mixed.body == v1 || mixed.body == v2) << "a response mixed two versions";
  } else {
    EXPECT_TRUE(mixed.status == 409 || (mixed.status == 206 && !mixed.complete)) << mixed.status;
  }
  // The stale page was dropped: the next read is all v2.
  auto fresh = node_->fetch(kBucket, key, range(0, 3 * kPage - 1));
  ASSERT_EQ(fresh.status, 206);
  ASSERT_TRUE(fresh.complete);
  EXPECT_TRUE(fresh.body == v2);
}

TEST_F(FetchRanges, MetricsPassPromtool) {
  // ctest runs each test in its own process: make the counters move here, not in another test.
  ASSERT_EQ(node_->fetch(kBucket, kKey, range(3 * kPage, 3 * kPage + 9)).status, 206);
  const std::string text = metrics(node_->port());
  EXPECT_GT(metric_value(text, "shoal_pages_total{outcome=\"miss\"}"), 0);
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  TempDir dir;
  {
    FILE* f = fopen((dir.path() + "/m.txt").c_str(), "w");
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
  }
  Process p = Process::spawn({"/bin/sh", "-c", "promtool check metrics < " + dir.path() + "/m.txt"},
                             {}, dir.path() + "/promtool.log");
  auto code = p.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << p.log();
}

TEST_F(FetchRanges, StatsReportThroughputAndMemory) {
  // A miss then a hit on the same page, in this process (ctest runs each test on its own).
  ASSERT_EQ(node_->fetch(kBucket, kKey, range(2 * kPage, 2 * kPage + 99)).status, 206);
  ASSERT_EQ(node_->fetch(kBucket, kKey, range(2 * kPage, 2 * kPage + 99)).status, 206);
  auto s = stats_json(node_->port());
  EXPECT_TRUE(s.contains("egress_throughput_10s_bps"));
  EXPECT_TRUE(s.contains("ingress_throughput_10s_bps"));
  EXPECT_GT(s["egress_throughput_10s_bps"].get<double>(), 0);
  EXPECT_FALSE(s["node_id"].get<std::string>().empty());
  EXPECT_GT(s["memory"]["used_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_LE(s["memory"]["used_bytes"].get<std::uint64_t>(),
            s["memory"]["capacity_bytes"].get<std::uint64_t>());
  EXPECT_GT(s["pages"]["hit_memory"].get<std::uint64_t>(), 0u);
}

}  // namespace
}  // namespace shoal::test
