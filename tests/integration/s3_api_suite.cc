// The S3 port (--s3-api-listen) with real S3 clients in front of shoald in front of s3rver,
// through the fault proxy that counts every origin request: boto3 (tests/tools/s3_api_client.py)
// and the AWS CLI read exact bytes (ranged, suffix, open, whole, presigned), a second read
// reaches no origin, and each kind of bad caller gets S3's error with nothing sent upstream.
// Raw HTTP covers what the clients do not show: conditional requests, InvalidRange, 501s, the
// virtual-hosted style and anonymous reads. Clients that are not installed skip the test, naming
// the Debian package (cluster/deps.sh installs them).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "node/s3api/sigv4.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/s3_clients.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

const std::string kBucket = "data-1";
const std::string kOtherBucket = "other-1";  // exists at the origin; not the credential's
const std::string kKeyId = "CLIENT1";
const std::string kSecret = "client-secret-1";
constexpr const char* kAws = "/usr/bin/aws";

class S3Api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    s3_->create_bucket(kBucket);
    s3_->create_bucket(kOtherBucket);
    proxy_ = new FaultProxy(s3_->port());
    dir_ = new TempDir();
    const std::string creds = write_file(
        dir_->path() + "/creds.json",
        R"({"credentials": [{"access_key_id": "CLIENT1", "secret_access_key": "client-secret-1",
                             "buckets": ["data-*"]}]})");
    s3_port_ = free_port();
    node_ =
        new Shoald(proxy_->endpoint(),
                   {"--page-size", "64KiB", "--memory", "64MiB", "--s3-api-listen",
                    "127.0.0.1:" + std::to_string(s3_port_), "--s3-api-credentials-file", creds});
    ASSERT_TRUE(wait_for_port(s3_port_, 10s));
  }
  static void TearDownTestSuite() {
    delete node_;
    delete proxy_;
    delete s3_;
    delete dir_;
  }
  void SetUp() override { proxy_->reset(); }

  static std::string endpoint() { return "http://127.0.0.1:" + std::to_string(s3_port_); }

  // Runs tests/tools/s3_api_client.py; its JSON answer ({"skip": true} without boto3).
  static nlohmann::json boto(const std::vector<std::string>& args,
                             const std::string& key_id = kKeyId,
                             const std::string& secret = kSecret) {
    return boto_call(endpoint(), key_id, secret, args);
  }

  // An environment without the node's or the user's AWS settings.
  static std::map<std::string, std::string> clean_env(const std::string& home) {
    return s3_client_env(home, kKeyId, kSecret);
  }

  static std::string put(const std::string& key, std::size_t size, std::uint64_t seed) {
    std::string data = random_bytes(size, seed);
    s3_->put_object(kBucket, key, data);
    return data;
  }

  static std::string sha(const std::string& s) { return s3api::sha256_hex(s); }

  static S3Server* s3_;
  static FaultProxy* proxy_;
  static Shoald* node_;
  static TempDir* dir_;
  static std::uint16_t s3_port_;
};
S3Server* S3Api::s3_ = nullptr;
FaultProxy* S3Api::proxy_ = nullptr;
Shoald* S3Api::node_ = nullptr;
TempDir* S3Api::dir_ = nullptr;
std::uint16_t S3Api::s3_port_ = 0;

#define SKIP_WITHOUT_BOTO(j)                                 \
  if ((j).contains("skip"))                                  \
  GTEST_SKIP() << "boto3 is not installed (apt-get install " \
                  "python3-boto3)"

TEST_F(S3Api, Boto3RangedGetsAreExactAndTheSecondReadReachesNoOrigin) {
  const std::string data = put("dir/ranged.bin", 300 * 1024 + 17, 1);
  struct Case {
    std::string range;
    std::uint64_t first, last;
  };
  const std::vector<Case> cases = {{"bytes=1000-200000", 1000, 200000},
                                   {"bytes=-5000", data.size() - 5000, data.size() - 1},
                                   {"bytes=250000-", 250000, data.size() - 1},
                                   {"bytes=0-0", 0, 0}};
  for (int round = 0; round < 2; ++round) {
    if (round == 1) proxy_->reset();
    for (const Case& c : cases) {
      auto j = boto({"get", kBucket, "dir/ranged.bin", c.range});
      SKIP_WITHOUT_BOTO(j);
      EXPECT_EQ(j["status"], 206) << c.range << ": " << j;
      EXPECT_EQ(j["sha256"], sha(data.substr(c.first, c.last - c.first + 1))) << c.range;
      EXPECT_EQ(j["content_range"], "bytes " + std::to_string(c.first) + "-" +
                                        std::to_string(c.last) + "/" + std::to_string(data.size()))
          << c.range;
      EXPECT_EQ(j["request_id"].get<std::string>().size(), 16u);
    }
    auto whole = boto({"get", kBucket, "dir/ranged.bin"});
    EXPECT_EQ(whole["status"], 200) << whole;
    EXPECT_EQ(whole["sha256"], sha(data));
    auto head = boto({"head", kBucket, "dir/ranged.bin"});
    EXPECT_EQ(head["status"], 200) << head;
    EXPECT_EQ(head["length"], data.size());
    EXPECT_EQ(head["etag"], whole["etag"]);
  }
  // The second round was served from the cache: no origin GET at all.
  EXPECT_EQ(proxy_->count("GET"), 0) << proxy_->stats().dump();
}

TEST_F(S3Api, Boto3PresignedUrlWithResponseOverrides) {
  const std::string data = put("presigned.bin", 100 * 1024, 2);
  auto j = boto({"presigned", kBucket, "presigned.bin"});
  SKIP_WITHOUT_BOTO(j);
  EXPECT_EQ(j["status"], 200) << j;
  EXPECT_EQ(j["sha256"], sha(data));
  EXPECT_EQ(j["content_type"], "text/x-test");
  EXPECT_EQ(j["content_disposition"], "attachment; filename=x.bin");
}

TEST_F(S3Api, Boto3NoSuchKeyIsItsException) {
  auto j = boto({"get", kBucket, "no/such/key"});
  SKIP_WITHOUT_BOTO(j);
  EXPECT_EQ(j["exception"], "NoSuchKey") << j;
  EXPECT_EQ(j["status"], 404);
}

TEST_F(S3Api, BadCallersGetS3ErrorsAndNothingReachesTheOrigin) {
  put("guarded.bin", 10 * 1024, 3);
  s3_->put_object(kOtherBucket, "x.bin", "other bytes");
  proxy_->reset();
  struct Case {
    const char* what;
    std::vector<std::string> args;
    std::string key_id, secret;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"wrong secret",
       {"get", kBucket, "guarded.bin"},
       kKeyId,
       "not-the-secret",
       "SignatureDoesNotMatch"},
      {"unknown key id", {"get", kBucket, "guarded.bin"}, "NOBODY", kSecret, "InvalidAccessKeyId"},
      {"expired presigned URL",
       {"presigned", kBucket, "guarded.bin", "1"},
       kKeyId,
       kSecret,
       "AccessDenied"},
      {"skewed clock",
       {"skewed", kBucket, "guarded.bin", "1200"},
       kKeyId,
       kSecret,
       "RequestTimeTooSkewed"},
      {"unsigned request", {"unsigned", kBucket, "guarded.bin"}, kKeyId, kSecret, "AccessDenied"},
      {"bucket outside the credential's list",
       {"get", kOtherBucket, "x.bin"},
       kKeyId,
       kSecret,
       "AccessDenied"},
  };
  for (const Case& c : cases) {
    auto j = boto(c.args, c.key_id, c.secret);
    SKIP_WITHOUT_BOTO(j);
    EXPECT_EQ(j["error_code"], c.code) << c.what << ": " << j;
    EXPECT_EQ(j["status"], c.code == "AccessDenied" || c.code == "SignatureDoesNotMatch" ||
                                   c.code == "InvalidAccessKeyId" ||
                                   c.code == "RequestTimeTooSkewed"
                               ? 403
                               : 400)
        << c.what;
  }
  EXPECT_EQ(proxy_->count("GET") + proxy_->count("HEAD"), 0) << proxy_->stats().dump();
}

TEST_F(S3Api, AwsCliGetObjectRangeHeadObjectCopyAndNoSuchKey) {
  if (!std::filesystem::exists(kAws)) GTEST_SKIP() << "no /usr/bin/aws (apt-get install awscli)";
  const std::string data = put("cli/object.bin", 200 * 1024 + 3, 4);
  TempDir home;
  auto aws = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {kAws, "--endpoint-url", endpoint()});
    Process p = Process::spawn(args, clean_env(home.path()), home.path() + "/aws.log");
    auto code = p.wait(120s);
    std::string log = p.log();
    std::filesystem::remove(home.path() + "/aws.log");
    return std::make_pair(code.value_or(-1), log);
  };
  auto read = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  auto [rc, out] = aws({"s3api", "get-object", "--bucket", kBucket, "--key", "cli/object.bin",
                        "--range", "bytes=70000-140000", home.path() + "/range.bin"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(read(home.path() + "/range.bin"), data.substr(70000, 70001));
  EXPECT_NE(out.find("\"ContentRange\": \"bytes 70000-140000/" + std::to_string(data.size())),
            std::string::npos)
      << out;
  std::tie(rc, out) = aws({"s3api", "head-object", "--bucket", kBucket, "--key", "cli/object.bin"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"ContentLength\": " + std::to_string(data.size())), std::string::npos)
      << out;
  std::tie(rc, out) =
      aws({"s3", "cp", "s3://" + kBucket + "/cli/object.bin", home.path() + "/whole.bin"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(read(home.path() + "/whole.bin"), data);
  std::tie(rc, out) = aws({"s3api", "get-object", "--bucket", kBucket, "--key", "cli/missing",
                           home.path() + "/missing.bin"});
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("NoSuchKey"), std::string::npos) << out;
}

// ---- raw HTTP, on a node that also accepts anonymous reads -----------------------------------

class S3ApiAnonymous : public S3Api {
 protected:
  static void SetUpTestSuite() {
    S3Api::SetUpTestSuite();
    anon_port_ = free_port();
    anon_ = new Shoald(proxy_->endpoint(),
                       {"--page-size", "64KiB", "--memory", "64MiB", "--s3-api-listen",
                        "127.0.0.1:" + std::to_string(anon_port_), "--s3-api-anonymous",
                        "--s3-api-domain", "s3.test"});
    ASSERT_TRUE(wait_for_port(anon_port_, 10s));
  }
  static void TearDownTestSuite() {
    delete anon_;
    S3Api::TearDownTestSuite();
  }
  static HttpResponse get(const std::string& target,
                          std::vector<std::pair<std::string, std::string>> headers = {},
                          const std::string& method = "GET") {
    return http_request(anon_port_, method, target, std::move(headers));
  }
  static std::string code(const HttpResponse& r) {
    auto a = r.body.find("<Code>"), b = r.body.find("</Code>");
    return a == std::string::npos || b == std::string::npos ? "" : r.body.substr(a + 6, b - a - 6);
  }
  static Shoald* anon_;
  static std::uint16_t anon_port_;
};
Shoald* S3ApiAnonymous::anon_ = nullptr;
std::uint16_t S3ApiAnonymous::anon_port_ = 0;

TEST_F(S3ApiAnonymous, ReadsPathStyleAndVirtualHosted) {
  const std::string data = put("anon/a.bin", 70 * 1024, 5);
  HttpResponse r = get("/" + kBucket + "/anon/a.bin");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, data);
  EXPECT_EQ(r.header("Content-Length"), std::to_string(data.size()));
  EXPECT_EQ(r.header("Content-Range"), "");
  EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
  EXPECT_FALSE(r.header("ETag").empty());
  EXPECT_FALSE(r.header("Last-Modified").empty());
  EXPECT_EQ(r.header("x-amz-request-id").size(), 16u);
  r = get("/anon/a.bin",
          {{"Host", kBucket + ".s3.test:" + std::to_string(anon_port_)}, {"Range", "bytes=10-19"}});
  ASSERT_EQ(r.status, 206) << r.body;
  EXPECT_EQ(r.body, data.substr(10, 10));
  EXPECT_EQ(r.header("Content-Range"), "bytes 10-19/" + std::to_string(data.size()));
  // Signed-only features are refused to anonymous callers: overrides are ignored.
  r = get("/" + kBucket + "/anon/a.bin?response-content-type=text%2Fhtml");
  EXPECT_EQ(r.header("Content-Type"), "application/octet-stream");
  // An empty object: S3 answers a page's Range GET with 416 InvalidRange (s3rver stalls, so
  // the proxy answers as S3 does), the node learns the size 0 from a HEAD and sends 200 with
  // no bytes and the object's ETag.
  s3_->put_object(kBucket, "anon/empty", "");
  proxy_->add_rule({{"match", {{"method", "GET"}, {"path_contains", "/anon/empty"}}},
                    {"action", "status"},
                    {"status", 416},
                    {"code", "InvalidRange"}});
  r = get("/" + kBucket + "/anon/empty");
  proxy_->clear_rules();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("Content-Length"), "0");
  EXPECT_FALSE(r.header("ETag").empty());
  EXPECT_EQ(proxy_->count("HEAD", "/" + kBucket + "/anon/empty"), 1);
}

TEST_F(S3ApiAnonymous, ConditionalRequests) {
  put("anon/c.bin", 1000, 6);
  const HttpResponse first = get("/" + kBucket + "/anon/c.bin");
  ASSERT_EQ(first.status, 200);
  const std::string etag = first.header("ETag");
  const std::string lm = first.header("Last-Modified");
  EXPECT_EQ(get("/" + kBucket + "/anon/c.bin", {{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(get("/" + kBucket + "/anon/c.bin", {{"If-None-Match", "\"other\""}}).status, 200);
  EXPECT_EQ(get("/" + kBucket + "/anon/c.bin", {{"If-Match", etag}}).status, 200);
  HttpResponse r = get("/" + kBucket + "/anon/c.bin", {{"If-Match", "\"other\""}});
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(code(r), "PreconditionFailed");
  EXPECT_EQ(get("/" + kBucket + "/anon/c.bin", {{"If-Modified-Since", lm}}).status, 304);
  EXPECT_EQ(
      get("/" + kBucket + "/anon/c.bin", {{"If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"}})
          .status,
      412);
  EXPECT_EQ(get("/" + kBucket + "/anon/c.bin", {{"If-None-Match", etag}}, "HEAD").status, 304);
}

TEST_F(S3ApiAnonymous, ErrorsAreS3Xml) {
  put("anon/e.bin", 1000, 7);
  HttpResponse r = get("/" + kBucket + "/anon/e.bin", {{"Range", "bytes=5000-"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(code(r), "InvalidRange");
  EXPECT_EQ(r.header("Content-Range"), "bytes */1000");
  r = get("/" + kBucket + "/anon/none");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(code(r), "NoSuchKey");
  EXPECT_NE(r.body.find("<Resource>/" + kBucket + "/anon/none</Resource>"), std::string::npos);
  EXPECT_NE(r.body.find("<RequestId>" + r.header("x-amz-request-id") + "</RequestId>"),
            std::string::npos);
  EXPECT_EQ(r.header("Content-Type"), "application/xml");
  proxy_->reset();
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/?acl"},
           {"GET", "/" + kBucket + "?list-type=2&tagging"},
           {"GET", "/" + kBucket + "/anon/e.bin?acl"}}) {
    r = get(target, {}, method);
    EXPECT_EQ(r.status, 501) << method << " " << target;
    EXPECT_EQ(code(r), "NotImplemented") << method << " " << target;
  }
  // Anonymous callers only read (writes: tests/integration/s3_write_suite.cc).
  for (const std::string method : {"DELETE", "PUT"}) {
    r = get("/" + kBucket + "/anon/e.bin", {}, method);
    EXPECT_EQ(r.status, 403) << method;
    EXPECT_EQ(code(r), "AccessDenied") << method;
  }
  r = http_request(anon_port_, "PUT", "/" + kBucket + "/anon/e.bin", {}, std::string(1000, 'x'));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code(r), "AccessDenied");
  r = get("/Bad_Bucket/k");
  EXPECT_EQ(code(r), "InvalidBucketName");
  EXPECT_EQ(proxy_->count("GET") + proxy_->count("PUT") + proxy_->count("DELETE"), 0);
  // The S3 port counts its requests by operation and status.
  const std::string m = metrics(anon_->port());
  EXPECT_EQ(metric_value(m, R"(shoal_s3_requests_total{operation="PutObject",status="403"})"), 2)
      << m;
  EXPECT_EQ(metric_value(m, R"(shoal_s3_requests_total{operation="Other",status="501"})"), 3);
  EXPECT_EQ(metric_value(m, R"(shoal_s3_requests_total{operation="Other",status="400"})"), 1);
  EXPECT_GE(metric_value(m, R"(shoal_s3_requests_total{operation="GetObject",status="416"})"), 1);
  const nlohmann::json st = stats_json(anon_->port());
  EXPECT_EQ(st["s3_api"]["enabled"], true) << st.dump();
  EXPECT_EQ(st["s3_api"]["requests"]["Other"]["501"], 3) << st.dump();
  EXPECT_EQ(st["s3_api"]["requests"]["DeleteObject"]["403"], 1) << st.dump();
}

}  // namespace
}  // namespace shoal::test
