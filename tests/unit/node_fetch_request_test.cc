// parse_fetch_request (node/fetch_request.h) under a node's rules: the bucket policy on
// C0-Bucket, the bucket and kind rules, dot segments, and C0-Config under the operator's caps.
#include <gtest/gtest.h>

#include "node/fetch_request.h"

namespace shoal::node {
namespace {

namespace http = boost::beast::http;
using Headers = std::vector<std::pair<std::string, std::string>>;

http::request<http::empty_body> request(const std::string& target, const Headers& headers = {}) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::range, "bytes=0-100");
  for (const auto& [name, value] : headers) req.insert(name, value);
  return req;
}

class FetchRequestTest : public ::testing::Test {
 protected:
  FetchRules rules() const { return FetchRules{origin::RequestConfig{}, caps_, &policy_}; }

  FetchRequest ok(const std::string& target, const Headers& headers = {}) {
    auto parsed = parse_fetch_request(request(target, headers), rules());
    if (auto* err = std::get_if<RequestError>(&parsed)) {
      ADD_FAILURE() << target << ": " << err->status << " " << err->reason;
      return {};
    }
    return std::get<FetchRequest>(parsed);
  }

  RequestError error(const std::string& target, const Headers& headers = {}) {
    auto parsed = parse_fetch_request(request(target, headers), rules());
    auto* err = std::get_if<RequestError>(&parsed);
    if (err == nullptr) {
      ADD_FAILURE() << target << " was accepted";
      return {};
    }
    EXPECT_EQ(err->reason.find('\n'), std::string::npos);
    return *err;
  }

  BucketPolicy policy_;
  origin::ClientCaps caps_;
};

// The cache key is (kind, object, page): a client that could name any bucket filled what every
// later reader of the kind got. Without a policy a kind is its own bucket.
TEST_F(FetchRequestTest, C0BucketOutsideTheKindsBucketsIs403) {
  EXPECT_EQ(ok("/fetch/public/model.bin").options.buckets, std::vector<std::string>{"public"});
  RequestError e = error("/fetch/public/model.bin", {{"C0-Bucket", "attacker"}});
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.reason.rfind("C0-Bucket: bucket 'attacker' may not be read for kind 'public'", 0), 0u)
      << e.reason;
  EXPECT_EQ(ok("/fetch/public/model.bin", {{"C0-Bucket", "public"}}).options.buckets,
            std::vector<std::string>{"public"});
}

TEST_F(FetchRequestTest, RedundantBucketsOfAKindAreChosenByC0Bucket) {
  std::string err;
  policy_ = *BucketPolicy::parse(R"({"kinds": {"videos": ["videos-eu", "videos-us"]}})", &err);
  EXPECT_EQ(ok("/fetch/videos/a.mp4").options.buckets,
            (std::vector<std::string>{"videos-eu", "videos-us"}));
  EXPECT_EQ(ok("/fetch/videos/a.mp4", {{"C0-Bucket", "videos-us, videos-eu"}}).options.buckets,
            (std::vector<std::string>{"videos-us", "videos-eu"}));
  EXPECT_EQ(
      error("/fetch/videos/a.mp4", {{"C0-Bucket", "videos-us"}, {"C0-Bucket", "other"}}).status,
      403);
  EXPECT_EQ(error("/fetch/public/a.mp4").status, 403);  // not listed, default "refuse"
}

TEST_F(FetchRequestTest, TrustingClientsKeepsTheOldBehaviour) {
  policy_ = BucketPolicy::trust_client();
  EXPECT_EQ(ok("/fetch/public/model.bin", {{"C0-Bucket", "attacker"}}).options.buckets,
            std::vector<std::string>{"attacker"});
}

// One bucket rule on the client port: S3's names, nothing that could steer the request.
TEST_F(FetchRequestTest, C0BucketMustBeAnS3BucketName) {
  policy_ = BucketPolicy::trust_client();
  for (const char* bucket : {"127.0.0.1:28399/#", "Bucket", "my_bucket", "ab", "a..b", "10.0.0.1",
                             "xn--abc", "", "a b"}) {
    RequestError e = error("/fetch/kind/o", {{"C0-Bucket", bucket}});
    EXPECT_EQ(e.status, 400) << bucket;
    EXPECT_EQ(e.reason.rfind("C0-Bucket: bucket name", 0), 0u) << e.reason;
  }
  EXPECT_EQ(error("/fetch/k/o").status, 400);  // the kind would be the bucket: too short
}

TEST_F(FetchRequestTest, DotSegmentsAndBadKindsAre400) {
  for (const char* target : {"/fetch/public/../private/secret.txt", "/fetch/public/./model.bin",
                             "/fetch/public/a/%2e%2E/b", "/fetch/../o", "/fetch/a%3A1/o"}) {
    EXPECT_EQ(error(target).status, 400) << target;
  }
}

// C0-Config values above the operator's caps are lowered to them; the forwarded text carries
// what the client changed, and a shortened timeout is marked for bucket health.
TEST_F(FetchRequestTest, C0ConfigIsCappedAndForwardable) {
  FetchRequest fr =
      ok("/fetch/public/o", {{"C0-Config", "rt=1 oat=1 ct=1 ma=100"}, {"C0-Config", "ib=0 mb=0"}});
  EXPECT_EQ(fr.options.config.max_attempts, 5);
  EXPECT_EQ(fr.options.config.max_backoff.count(), 0);
  EXPECT_TRUE(fr.options.config.client_timeouts);
  EXPECT_EQ(fr.options.config_text, "ct=1 rt=1 oat=1 ma=5 ib=0 mb=0");
  fr = ok("/fetch/public/o", {{"C0-Config", "ot=3600000"}});
  EXPECT_EQ(fr.options.config.operation_timeout.count(), 60000);
  EXPECT_FALSE(fr.options.config.client_timeouts);
  EXPECT_EQ(ok("/fetch/public/o").options.config_text, "");
  EXPECT_EQ(error("/fetch/public/o", {{"C0-Config", "ma=0"}}).status, 400);
}

}  // namespace
}  // namespace shoal::node
