// The S3 port's listings (ListObjectsV2, ListObjects, ListBuckets) with real clients, and two more
// real clients for reads: the AWS CLI (`s3 ls` of buckets and prefixes, recursive;
// `s3api list-objects-v2` paged across continuation tokens), boto3's paginator, rclone (ls, ranged
// and whole cat, copy) and the current AWS SDK for JavaScript (ranged GetObject, HeadObject, the
// ListObjectsV2 paginator), all against shoald in front of s3rver through the fault proxy that
// counts every origin request. Raw HTTP (anonymous node) covers failover between a kind's buckets,
// the bucket renamed in the answer, errors and hostile parameters. The kind "photos" is read from
// the origin buckets photos-eu, then photos-us (bucket policy); photos-us alone holds
// p/only-us.jpg, so an answer shows which bucket gave it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "node/s3api/sigv4.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/s3_clients.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

const std::string kData = "data-1";
const std::string kKeyId = "CLIENT1";
const std::string kSecret = "client-secret-1";
const std::string kLimitedId = "LIMITED";  // may read "photos" only
const std::string kLimitedSecret = "limited-secret";
constexpr int kMany = 1050;  // objects under many/: more than one S3 page of 1000

std::string many_key(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "many/k%04d", i);
  return name;
}

std::string sha(const std::string& s) {
  return s3api::sha256_hex(s);
}

class S3List : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    for (const char* b : {"data-1", "photos-eu", "photos-us", "other-1"}) s3_->create_bucket(b);
    object_ = new std::string(random_bytes(200 * 1024 + 5, 11));
    s3_->put_object(kData, "dir/a.bin", *object_);
    s3_->put_object(kData, "dir/sub/b.bin", "b");
    s3_->put_object(kData, "top.bin", "t");
    s3_->put_object("photos-eu", "p/x.jpg", "eu");
    s3_->put_object("photos-us", "p/x.jpg", "us");
    s3_->put_object("photos-us", "p/only-us.jpg", "us");
    s3_->put_object("other-1", "o.bin", "o");
    proxy_ = new FaultProxy(s3_->port());
    dir_ = new TempDir();
    const std::string creds = write_file(dir_->path() + "/creds.json", R"({"credentials": [
        {"access_key_id": "CLIENT1", "secret_access_key": "client-secret-1",
         "buckets": ["data-*", "photos"]},
        {"access_key_id": "LIMITED", "secret_access_key": "limited-secret",
         "buckets": ["photos"]}]})");
    const std::string policy = write_file(dir_->path() + "/policy.json", R"({"kinds": {
        "data-1": "data-1", "photos": ["photos-eu", "photos-us"], "other-1": "other-1",
        "gone-1": "gone-1"}, "default": "refuse"})");
    s3_port_ = free_port();
    node_ = new Shoald(proxy_->endpoint(),
                       {"--page-size", "64KiB", "--memory", "64MiB", "--bucket-policy-file", policy,
                        "--s3-api-listen", "127.0.0.1:" + std::to_string(s3_port_),
                        "--s3-api-credentials-file", creds});
    anon_port_ = free_port();
    anon_ = new Shoald(
        proxy_->endpoint(),
        {"--page-size", "64KiB", "--memory", "64MiB", "--bucket-policy-file", policy,
         "--s3-api-listen", "127.0.0.1:" + std::to_string(anon_port_), "--s3-api-anonymous"});
    ASSERT_TRUE(wait_for_port(s3_port_, 10s));
    ASSERT_TRUE(wait_for_port(anon_port_, 10s));
  }
  static void TearDownTestSuite() {
    delete anon_;
    delete node_;
    delete proxy_;
    delete s3_;
    delete dir_;
    delete object_;
  }
  void SetUp() override {
    proxy_->clear_rules();
    proxy_->reset();
  }

  // Puts many/k0000.. (kMany objects) once per process, eight at a time: only the tests that page
  // through them pay for them.
  static void put_many() {
    static std::once_flag once;
    std::call_once(once, [] {
      std::vector<std::thread> threads;
      for (int t = 0; t < 8; ++t) {
        threads.emplace_back([t] {
          for (int i = t; i < kMany; i += 8) s3_->put_object(kData, many_key(i), "x");
        });
      }
      for (auto& th : threads) th.join();
    });
    proxy_->reset();
  }

  static std::string endpoint() { return "http://127.0.0.1:" + std::to_string(s3_port_); }

  static ToolRun aws(std::vector<std::string> args, const std::string& key_id = kKeyId,
                     const std::string& secret = kSecret) {
    args.insert(args.begin(), {kAwsCli, "--endpoint-url", endpoint()});
    TempDir home;
    return run_tool(args, s3_client_env(home.path(), key_id, secret), home.path());
  }

  static ToolRun rclone(std::vector<std::string> args, const std::string& home) {
    args.insert(args.begin(), kRclone);
    return run_tool(args, s3_client_env(home, kKeyId, kSecret), home);
  }

  static std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  // The keys many/k{from}..many/k{to - 1} joined by newlines, as the client scripts hash them.
  static std::string many_keys(int from, int to) {
    std::string out;
    for (int i = from; i < to; ++i) {
      if (i > from) out += '\n';
      out += many_key(i);
    }
    return out;
  }

  // Origin requests whose path (with its query) holds `part`.
  static int origin_requests(const std::string& part) {
    int n = 0;
    const nlohmann::json stats = proxy_->stats();
    for (const auto& r : stats["requests"]) {
      n += r["path"].get<std::string>().find(part) != std::string::npos;
    }
    return n;
  }

  static S3Server* s3_;
  static FaultProxy* proxy_;
  static Shoald* node_;
  static Shoald* anon_;
  static TempDir* dir_;
  static std::string* object_;
  static std::uint16_t s3_port_;
  static std::uint16_t anon_port_;
};
S3Server* S3List::s3_ = nullptr;
FaultProxy* S3List::proxy_ = nullptr;
Shoald* S3List::node_ = nullptr;
Shoald* S3List::anon_ = nullptr;
TempDir* S3List::dir_ = nullptr;
std::string* S3List::object_ = nullptr;
std::uint16_t S3List::s3_port_ = 0;
std::uint16_t S3List::anon_port_ = 0;

#define SKIP_WITHOUT(path, package)   \
  if (!std::filesystem::exists(path)) \
  GTEST_SKIP() << "no " << (path) << " (apt-get install " package ")"
#define SKIP_IF_SKIPPED(j, what) \
  if ((j).contains("skip")) GTEST_SKIP() << what << " is not installed (cluster/deps.sh)"

TEST_F(S3List, AwsCliLsBucketsPrefixesAndRecursive) {
  put_many();
  SKIP_WITHOUT(kAwsCli, "awscli");
  // Buckets: the policy's kinds this credential may read (other-1 and gone-1 are not its).
  ToolRun r = aws({"s3", "ls"});
  ASSERT_EQ(r.code, 0) << r.out;
  std::istringstream lines(r.out);
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);)
    names.push_back(line.substr(line.rfind(' ') + 1));
  EXPECT_EQ(names, (std::vector<std::string>{"data-1", "photos"})) << r.out;
  EXPECT_EQ(proxy_->count("GET"), 0) << "ListBuckets is answered from the configuration";
  // One level, with the delimiter: prefixes and the top-level object.
  r = aws({"s3", "ls", "s3://data-1/"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("PRE dir/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PRE many/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 1 top.bin"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("a.bin"), std::string::npos) << r.out;
  // Recursive across S3's 1000-key pages: every key once.
  r = aws({"s3", "ls", "s3://data-1/many/", "--recursive"});
  ASSERT_EQ(r.code, 0) << r.out.substr(0, 2000);
  std::set<std::string> keys;
  std::istringstream all(r.out);
  for (std::string line; std::getline(all, line);) keys.insert(line.substr(line.rfind(' ') + 1));
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(kMany));
  EXPECT_TRUE(keys.count(many_key(0)) && keys.count(many_key(kMany - 1)));
  EXPECT_GE(origin_requests("continuation-token="), 1) << proxy_->stats().dump();
  // A kind read from another origin bucket: photos-eu's listing, under the kind's name.
  r = aws({"s3", "ls", "s3://photos/p/"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("x.jpg"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("only-us.jpg"), std::string::npos) << r.out;
  EXPECT_EQ(proxy_->count("GET", "/photos-eu?"), 1);
}

TEST_F(S3List, AwsCliListObjectsV2PagesAcrossContinuationTokens) {
  put_many();
  SKIP_WITHOUT(kAwsCli, "awscli");
  auto keys_of = [](const nlohmann::json& j) {
    std::vector<std::string> keys;
    for (const auto& c : j["Contents"]) keys.push_back(c["Key"]);
    return keys;
  };
  std::vector<std::string> seen;
  std::string token;
  for (int call = 0; call < 5; ++call) {
    std::vector<std::string> args = {
        "s3api", "list-objects-v2", "--bucket", kData,         "--prefix",
        "many/", "--page-size",     "100",      "--max-items", "250"};
    if (!token.empty()) args.insert(args.end(), {"--starting-token", token});
    ToolRun r = aws(args);
    ASSERT_EQ(r.code, 0) << r.out;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    for (const auto& k : keys_of(j)) seen.push_back(k);
    if (!j.contains("NextToken")) break;
    token = j["NextToken"];
    EXPECT_EQ(keys_of(j).size(), 250u);
  }
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kMany));
  for (int i = 0; i < kMany; ++i) ASSERT_EQ(seen[i], many_key(i));
  // Pages of 100 keys, each a request at the origin carrying the token of the one before.
  EXPECT_GE(origin_requests("continuation-token="), 10) << proxy_->stats().dump();
  EXPECT_GE(origin_requests("max-keys=100"), 11);
  // Without --max-items: every page at once, three origin requests of up to 400 keys.
  proxy_->reset();
  ToolRun r = aws(
      {"s3api", "list-objects-v2", "--bucket", kData, "--prefix", "many/", "--page-size", "400"});
  ASSERT_EQ(r.code, 0) << r.out.substr(0, 2000);
  EXPECT_EQ(keys_of(nlohmann::json::parse(r.out)).size(), static_cast<std::size_t>(kMany));
  EXPECT_EQ(proxy_->count("GET", "/data-1?"), 3) << proxy_->stats().dump();
}

TEST_F(S3List, Boto3PaginatorAndListBuckets) {
  put_many();
  auto j = boto_call(endpoint(), kKeyId, kSecret, {"list", kData, "many/", "300"});
  SKIP_IF_SKIPPED(j, "boto3");
  EXPECT_EQ(j["count"], kMany) << j;
  EXPECT_EQ(j["pages"], 4);
  EXPECT_EQ(j["first"], many_key(0));
  EXPECT_EQ(j["last"], many_key(kMany - 1));
  EXPECT_EQ(j["keys_sha256"], sha(many_keys(0, kMany)));
  EXPECT_EQ(j["names"], nlohmann::json::array({"data-1"}));
  j = boto_call(endpoint(), kKeyId, kSecret, {"list", "photos", "p/"});
  EXPECT_EQ(j["count"], 1) << j;
  EXPECT_EQ(j["names"], nlohmann::json::array({"photos"})) << "the origin's photos-eu renamed";
  j = boto_call(endpoint(), kKeyId, kSecret, {"presigned_list", kData, "dir/"});
  EXPECT_EQ(j["status"], 200) << j;
  EXPECT_EQ(j["keys"], 2) << j;  // dir/a.bin, dir/sub/b.bin
  j = boto_call(endpoint(), kKeyId, kSecret, {"buckets"});
  EXPECT_EQ(j["buckets"], nlohmann::json::array({"data-1", "photos"})) << j;
  EXPECT_EQ(j["owner"], kKeyId);
  j = boto_call(endpoint(), kLimitedId, kLimitedSecret, {"buckets"});
  EXPECT_EQ(j["buckets"], nlohmann::json::array({"photos"})) << j;
}

TEST_F(S3List, BucketsOutsideTheCredentialAreDeniedAndNothingReachesTheOrigin) {
  auto j = boto_call(endpoint(), kLimitedId, kLimitedSecret, {"list", kData, ""});
  SKIP_IF_SKIPPED(j, "boto3");
  EXPECT_EQ(j["error_code"], "AccessDenied") << j;
  EXPECT_EQ(j["status"], 403);
  j = boto_call(endpoint(), kKeyId, kSecret, {"list", "other-1", ""});
  EXPECT_EQ(j["error_code"], "AccessDenied") << j;
  if (std::filesystem::exists(kAwsCli)) {
    ToolRun r = aws({"s3", "ls", "s3://data-1/"}, kLimitedId, kLimitedSecret);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("AccessDenied"), std::string::npos) << r.out;
    r = aws({"s3", "ls", "s3://data-1/"}, kKeyId, "wrong-secret");
    EXPECT_NE(r.out.find("SignatureDoesNotMatch"), std::string::npos) << r.out;
  }
  EXPECT_EQ(proxy_->count("GET"), 0) << proxy_->stats().dump();
}

TEST_F(S3List, RcloneListsAndReadsExactBytes) {
  SKIP_WITHOUT(kRclone, "rclone");
  TempDir home;
  const std::string remote = rclone_remote(endpoint(), kKeyId, kSecret);
  ToolRun r = rclone({"lsf", remote + "data-1/dir"}, home.path());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "a.bin\nsub/\n");
  r = rclone({"ls", remote + "data-1/dir"}, home.path());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(std::to_string(object_->size()) + " a.bin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 sub/b.bin"), std::string::npos) << r.out;
  r = rclone({"lsd", remote}, home.path());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(" photos\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("other-1"), std::string::npos) << r.out;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) proxy_->reset();
    r = rclone({"cat", "--offset", "70000", "--count", "100000", remote + "data-1/dir/a.bin"},
               home.path());
    ASSERT_EQ(r.code, 0);
    EXPECT_EQ(sha(r.out), sha(object_->substr(70000, 100000))) << "round " << round;
    r = rclone({"cat", remote + "data-1/dir/a.bin"}, home.path());
    ASSERT_EQ(r.code, 0);
    EXPECT_EQ(sha(r.out), sha(*object_)) << "round " << round;
    const std::string local = home.path() + "/copy-" + std::to_string(round) + ".bin";
    r = rclone({"copyto", remote + "data-1/dir/a.bin", local}, home.path());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(read_file(local), *object_);
  }
  // The second round was served from the cache: no origin GET of the object.
  EXPECT_EQ(proxy_->count("GET", "/data-1/dir/a.bin"), 0) << proxy_->stats().dump();
}

TEST_F(S3List, JsSdkRangedGetHeadAndListObjectsV2) {
  put_many();
  auto j = js_sdk_call(endpoint(), kKeyId, kSecret, {"get", kData, "dir/a.bin", "bytes=100-60099"});
  SKIP_IF_SKIPPED(j, "@aws-sdk/client-s3");
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      proxy_->reset();
      j = js_sdk_call(endpoint(), kKeyId, kSecret, {"get", kData, "dir/a.bin", "bytes=100-60099"});
    }
    EXPECT_EQ(j["status"], 206) << j;
    EXPECT_EQ(j["sha256"], sha(object_->substr(100, 60000)));
    EXPECT_EQ(j["content_range"], "bytes 100-60099/" + std::to_string(object_->size()));
    auto whole = js_sdk_call(endpoint(), kKeyId, kSecret, {"get", kData, "dir/a.bin"});
    EXPECT_EQ(whole["status"], 200) << whole;
    EXPECT_EQ(whole["sha256"], sha(*object_));
    auto head = js_sdk_call(endpoint(), kKeyId, kSecret, {"head", kData, "dir/a.bin"});
    EXPECT_EQ(head["length"], object_->size()) << head;
    EXPECT_EQ(head["etag"], whole["etag"]);
  }
  EXPECT_EQ(proxy_->count("GET", "/data-1/dir/a.bin"), 0) << proxy_->stats().dump();
  j = js_sdk_call(endpoint(), kKeyId, kSecret, {"list", kData, "many/", "500"});
  EXPECT_EQ(j["count"], kMany) << j;
  EXPECT_EQ(j["pages"], 3);
  EXPECT_EQ(j["keys_sha256"], sha(many_keys(0, kMany)));
  j = js_sdk_call(endpoint(), kKeyId, kSecret, {"get", kData, "dir/none"});
  EXPECT_EQ(j["error_code"], "NoSuchKey") << j;
}

// ---- raw HTTP on the anonymous node ------------------------------------------------------------

std::string xml_code(const HttpResponse& r) {
  auto a = r.body.find("<Code>"), b = r.body.find("</Code>");
  return a == std::string::npos || b == std::string::npos ? "" : r.body.substr(a + 6, b - a - 6);
}

TEST_F(S3List, FailoverBetweenAKindsBucketsAndTheNameTheClientUsed) {
  auto get = [](const std::string& target) { return http_request(anon_port_, "GET", target, {}); };
  HttpResponse r = get("/photos?list-type=2&prefix=p%2F");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/xml");
  EXPECT_EQ(r.header("x-amz-request-id").size(), 16u);
  EXPECT_NE(r.body.find("<Name>photos</Name>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<Key>p/x.jpg</Key>"), std::string::npos);
  EXPECT_EQ(r.body.find("only-us"), std::string::npos) << "photos-eu comes first";
  // photos-eu fails: photos-us answers, still under the name "photos".
  proxy_->add_rule({{"match", {{"method", "GET"}, {"path_contains", "/photos-eu?"}}},
                    {"action", "status"},
                    {"status", 503}});
  r = get("/photos?prefix=p%2F");  // ListObjects (version 1)
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<Name>photos</Name>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<Key>p/only-us.jpg</Key>"), std::string::npos) << r.body;
  EXPECT_EQ(proxy_->count("GET", "/photos-us?"), 1);
  // A parameter the origin refuses (400) is the request's fault: no failover.
  proxy_->clear_rules();
  proxy_->reset();
  proxy_->add_rule({{"match", {{"method", "GET"}, {"path_contains", "/photos-eu?"}}},
                    {"action", "status"},
                    {"status", 400},
                    {"code", "InvalidArgument"}});
  r = get("/photos?list-type=2&continuation-token=stale");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(xml_code(r), "InvalidArgument");
  EXPECT_EQ(proxy_->count("GET", "/photos-us"), 0);
  // Every bucket down: 503; a kind whose bucket does not exist: NoSuchBucket.
  proxy_->clear_rules();
  proxy_->add_rule({{"match", {{"method", "GET"}, {"path_contains", "/photos-"}}},
                    {"action", "status"},
                    {"status", 500}});
  r = get("/photos?list-type=2");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(xml_code(r), "ServiceUnavailable");
  proxy_->clear_rules();
  r = get("/gone-1?list-type=2");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(xml_code(r), "NoSuchBucket");
  EXPECT_NE(r.body.find("<Resource>/gone-1</Resource>"), std::string::npos) << r.body;
  // Anonymous ListBuckets: every kind the policy names.
  r = get("/");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const char* name : {"data-1", "gone-1", "other-1", "photos"}) {
    EXPECT_NE(r.body.find(std::string("<Name>") + name + "</Name>"), std::string::npos) << name;
  }
  EXPECT_NE(r.body.find("<ID>anonymous</ID>"), std::string::npos);
  r = get("/?max-buckets=1&prefix=o");
  EXPECT_NE(r.body.find("<Name>other-1</Name>"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("<Name>photos</Name>"), std::string::npos) << r.body;
}

TEST_F(S3List, HostileParametersAreRefusedBeforeTheOrigin) {
  const std::string long_prefix(1025, 'a');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/data-1?list-type=2&max-keys=-1", "InvalidArgument"},
      {"/data-1?list-type=2&max-keys=2147483648", "InvalidArgument"},
      {"/data-1?list-type=2&max-keys=1e3", "InvalidArgument"},
      {"/data-1?max-keys=", "InvalidArgument"},
      {"/data-1?list-type=2&prefix=" + long_prefix, "InvalidArgument"},
      {"/data-1?list-type=2&prefix=a&prefix=b", "InvalidArgument"},
      {"/data-1?list-type=2&prefix=a%0D%0AHost:%20evil", "InvalidArgument"},
      {"/data-1?list-type=2&delimiter=%00", "InvalidArgument"},
      {"/data-1?list-type=2&continuation-token=" + std::string(4097, 't'), "InvalidArgument"},
      {"/data-1?list-type=2&encoding-type=base64", "InvalidArgument"},
      {"/data-1?list-type=2&fetch-owner=maybe", "InvalidArgument"},
      {"/data-1?list-type=2&marker=m", "InvalidArgument"},
      {"/data-1?start-after=a", "InvalidArgument"},
      {"/data-1?list-type=3", "InvalidArgument"},
      {"/data-1?list-type=2&prefix=%zz", "InvalidURI"},
      {"/?max-buckets=0", "InvalidArgument"},
      {"/?max-buckets=99999999999", "InvalidArgument"},
      {"/data-1?list-type=2&versions", "NotImplemented"},
  };
  for (const auto& [target, code] : cases) {
    HttpResponse r = http_request(anon_port_, "GET", target, {});
    EXPECT_EQ(xml_code(r), code) << target.substr(0, 120) << ": " << r.body;
    EXPECT_EQ(r.status, code == "NotImplemented" ? 501 : 400) << target.substr(0, 120);
  }
  EXPECT_EQ(proxy_->count("GET"), 0) << proxy_->stats().dump();
  // A max-keys above S3's cap is sent as 1000; a valid listing is counted by operation.
  HttpResponse r = http_request(anon_port_, "GET", "/data-1?list-type=2&max-keys=5000", {});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(origin_requests("max-keys=1000"), 1) << proxy_->stats().dump();
  const std::string m = metrics(anon_->port());
  EXPECT_GE(metric_value(m, R"(shoal_s3_requests_total{operation="ListObjectsV2",status="200"})"),
            1)
      << m;
  EXPECT_GE(metric_value(m, R"(shoal_s3_requests_total{operation="ListObjectsV2",status="400"})"),
            10);
  EXPECT_GE(metric_value(m, R"(shoal_s3_requests_total{operation="ListBuckets",status="400"})"), 2);
  const nlohmann::json st = stats_json(anon_->port());
  EXPECT_GE(st["s3_api"]["requests"]["ListObjects"]["400"].get<int>(), 1) << st.dump();
}

// Listings are bounded like misses (--max-origin-fetches): with one allowed and the origin slow,
// a second listing at the same time is SlowDown (503) and reaches no origin; the slot is given
// back when the first ends.
TEST_F(S3List, ListingsBeyondTheOriginFetchBoundAreSlowDown) {
  const std::uint16_t port = free_port();
  Shoald node(proxy_->endpoint(),
              {"--page-size", "64KiB", "--memory", "64MiB", "--bucket-policy-file",
               dir_->path() + "/policy.json", "--max-origin-fetches", "1", "--s3-api-listen",
               "127.0.0.1:" + std::to_string(port), "--s3-api-anonymous"});
  ASSERT_TRUE(wait_for_port(port, 10s));
  proxy_->add_rule({{"match", {{"method", "GET"}, {"path_contains", "/data-1?"}}},
                    {"action", "delay_first_byte"},
                    {"ms", 1500}});
  HttpResponse slow;
  std::thread first([&] { slow = http_request(port, "GET", "/data-1?list-type=2", {}); });
  for (int i = 0; i < 100 && proxy_->count("GET", "/data-1?") == 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(proxy_->count("GET", "/data-1?"), 1);
  HttpResponse r = http_request(port, "GET", "/data-1?list-type=2&prefix=dir", {});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(xml_code(r), "SlowDown") << r.body;
  first.join();
  EXPECT_EQ(slow.status, 200) << slow.body;
  EXPECT_EQ(proxy_->count("GET", "/data-1?"), 1) << "the refused listing reached no origin";
  proxy_->clear_rules();
  r = http_request(port, "GET", "/data-1?list-type=2&prefix=dir", {});
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace shoal::test
