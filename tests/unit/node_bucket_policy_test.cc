// The bucket policy (node/bucket_policy.h): its file format and what it allows.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "node/bucket_policy.h"

namespace shoal::node {
namespace {

using Buckets = std::vector<std::string>;

BucketPolicy parse_ok(const std::string& text) {
  std::string error;
  auto p = BucketPolicy::parse(text, &error);
  EXPECT_TRUE(p.has_value()) << text << ": " << error;
  return p.value_or(BucketPolicy());
}

std::string parse_error(const std::string& text) {
  std::string error;
  EXPECT_FALSE(BucketPolicy::parse(text, &error).has_value()) << text;
  EXPECT_EQ(error.find('\n'), std::string::npos);
  return error;
}

// The buckets `policy` resolves, or "STATUS: reason".
std::string resolve(const BucketPolicy& policy, const std::string& kind,
                    const Buckets& requested = {}) {
  Buckets out = {"unchanged"};
  if (auto refusal = policy.resolve(kind, requested, &out)) {
    EXPECT_EQ(out, Buckets{"unchanged"});
    return std::to_string(refusal->status) + ": " + refusal->reason;
  }
  std::string text;
  for (const auto& b : out) text += (text.empty() ? "" : ",") + b;
  return text;
}

// Without a policy file: a kind is its own bucket, and C0-Bucket may name only that bucket.
TEST(BucketPolicy, WithoutAFileAKindIsItsOwnBucketAndC0BucketCannotAddOne) {
  const BucketPolicy p;
  EXPECT_EQ(resolve(p, "public"), "public");
  EXPECT_EQ(resolve(p, "public", {"public"}), "public");
  EXPECT_EQ(resolve(p, "public", {"attacker"}),
            "403: bucket 'attacker' may not be read for kind 'public' (bucket policy allows "
            "'public')");
  EXPECT_EQ(resolve(p, "k").substr(0, 4), "400:");  // "k" is no bucket name
  EXPECT_EQ(p.summary(), "bucket policy: none, each kind is its own bucket");
}

TEST(BucketPolicy, TrustingClientsIsTheOldBehaviour) {
  const BucketPolicy p = BucketPolicy::trust_client();
  EXPECT_TRUE(p.trusts_client());
  EXPECT_EQ(resolve(p, "public"), "public");
  EXPECT_EQ(resolve(p, "public", {"attacker", "other"}), "attacker,other");
  EXPECT_EQ(resolve(p, "k", {"bucket"}), "bucket");
  EXPECT_NE(resolve(p, "k").find("400: kind is not a valid bucket name"), std::string::npos);
}

// The common cases are one line each.
TEST(BucketPolicy, OneLineForEachCommonCase) {
  // kind = bucket
  BucketPolicy p = parse_ok(R"({"kinds": {"models": "models-prod"}})");
  EXPECT_EQ(resolve(p, "models"), "models-prod");
  EXPECT_EQ(resolve(p, "models", {"models-prod"}), "models-prod");
  EXPECT_EQ(resolve(p, "models", {"models"}).substr(0, 4), "403:");
  EXPECT_EQ(resolve(p, "other"), "403: kind 'other' is not in the bucket policy");
  // kind -> [b1, b2]: the policy's order without C0-Bucket; the client may pick and reorder
  p = parse_ok(R"({"kinds": {"videos": ["videos-eu", "videos-us"]}})");
  EXPECT_EQ(resolve(p, "videos"), "videos-eu,videos-us");
  EXPECT_EQ(resolve(p, "videos", {"videos-us"}), "videos-us");
  EXPECT_EQ(resolve(p, "videos", {"videos-us", "videos-eu"}), "videos-us,videos-eu");
  EXPECT_EQ(resolve(p, "videos", {"videos-us", "attacker"}).substr(0, 4), "403:");
  // any kind may name any of these buckets
  p = parse_ok(R"({"default": ["shared-a", "shared-b"]})");
  EXPECT_EQ(resolve(p, "anything"), "shared-a,shared-b");
  EXPECT_EQ(resolve(p, "k", {"shared-b"}), "shared-b");
  EXPECT_EQ(resolve(p, "k", {"attacker"}).substr(0, 4), "403:");
  // every kind is its own bucket (as without a file)
  p = parse_ok(R"({"default": "kind"})");
  EXPECT_EQ(resolve(p, "public"), "public");
  EXPECT_EQ(resolve(p, "public", {"attacker"}).substr(0, 4), "403:");
}

TEST(BucketPolicy, ListedKindsWinOverTheDefault) {
  const BucketPolicy p = parse_ok(R"({"kinds": {"videos": ["videos-eu"]}, "default": "kind"})");
  EXPECT_EQ(resolve(p, "videos"), "videos-eu");
  EXPECT_EQ(resolve(p, "videos", {"videos"}).substr(0, 4), "403:");
  EXPECT_EQ(resolve(p, "public"), "public");
  EXPECT_EQ(p.summary(), "bucket policy: 1 kinds, other kinds are their own bucket");
  EXPECT_EQ(parse_ok("{}").summary(), "bucket policy: 0 kinds, other kinds refused");
}

TEST(BucketPolicy, FileErrorsNameThePlace) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "expected a JSON object"},
      {"[]", "expected a JSON object"},
      {R"({"kinds": []})", "kinds: expected an object"},
      {R"({"kinds": {"a/b": "bucket"}})", "kinds: kind may hold only"},
      {R"({"kinds": {"v": "127.0.0.1:28399/#"}})", "kinds.v: bucket name may hold only"},
      {R"({"kinds": {"v": "ab"}})", "kinds.v: bucket name must be 3-63 characters, got 2"},
      {R"({"kinds": {"v": []}})", "kinds.v: expected 1-8 buckets, got 0"},
      {R"({"kinds": {"v": ["a1a","a2a","a3a","a4a","a5a","a6a","a7a","a8a","a9a"]}})",
       "kinds.v: expected 1-8 buckets, got 9"},
      {R"({"kinds": {"v": ["abc", "abc"]}})", "kinds.v: bucket 'abc' is listed twice"},
      {R"({"kinds": {"v": 5}})", "kinds.v: expected a bucket name or a list"},
      {R"({"kinds": {"v": [5]}})", "kinds.v: every bucket must be a string"},
      {R"({"default": "bucket-x"})", "default: expected \"refuse\", \"kind\" or a list"},
      {R"({"default": ["Bad"]})", "default: bucket name may hold only"},
      {R"({"kind": {}})", "unknown key 'kind'"},
      {R"({"k\nds": "mo"})", "unknown key (not printable)"},  // found by fuzz_request
  };
  for (const auto& [text, want] : cases) {
    EXPECT_NE(parse_error(text).find(want), std::string::npos)
        << text << " -> " << parse_error(text);
  }
}

TEST(BucketPolicy, LoadsOnlyAFileOthersCannotWrite) {
  char dir[] = "/tmp/shoal-policy-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/policy.json";
  { std::ofstream(path) << R"({"kinds": {"models": "models-prod"}})"; }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  std::string error;
  auto p = BucketPolicy::load_file(path, &error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(resolve(*p, "models"), "models-prod");
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  EXPECT_FALSE(BucketPolicy::load_file(path, &error));
  EXPECT_NE(error.find("is writable by its group or others"), std::string::npos) << error;
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  { std::ofstream(path) << R"({"kinds": {"models": "MODELS"}})"; }
  EXPECT_FALSE(BucketPolicy::load_file(path, &error));
  EXPECT_EQ(error.rfind(path + ": kinds.models: bucket name", 0), 0u) << error;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shoal::node
