// The one bucket, kind and object-key rule every input path applies (ring/base/names.h).
#include <gtest/gtest.h>

#include <string>

#include "ring/base/names.h"

namespace shoal::base {
namespace {

TEST(BucketName, AcceptsS3Names) {
  for (const char* name : {"abc", "my-bucket", "my.bucket.eu", "0bucket9", "a-b.c-d",
                           "bucket-s3alias-not", "xn-bucket", "192.168.5", "1.2.3.4.5"}) {
    EXPECT_EQ(check_bucket(name), std::nullopt) << name;
  }
  EXPECT_EQ(check_bucket(std::string(63, 'b')), std::nullopt);
}

TEST(BucketName, RefusesWhatS3Refuses) {
  const std::pair<std::string, std::string> cases[] = {
      {"ab", "3-63 characters, got 2"},
      {std::string(64, 'b'), "3-63 characters, got 64"},
      {"", "3-63 characters, got 0"},
      {"MyBucket", "only a-z, 0-9"},
      {"my_bucket", "only a-z, 0-9"},
      {"my bucket", "only a-z, 0-9"},
      {"127.0.0.1:28399/#", "only a-z, 0-9"},
      {"host:80", "only a-z, 0-9"},
      {"a/b", "only a-z, 0-9"},
      {"a%2Fb", "only a-z, 0-9"},
      {"caf\xC3\xA9", "only a-z, 0-9"},
      {"-bucket", "start and end"},
      {"bucket-", "start and end"},
      {".bucket", "start and end"},
      {"bucket.", "start and end"},
      {"...", "start and end"},
      {"my..bucket", "'..'"},
      {"192.168.5.4", "IP address"},
      {"1.1.1.1", "IP address"},
      {"xn--bucket", "'xn--'"},
      {"sthree-bucket", "'sthree-'"},
      {"bucket-s3alias", "'-s3alias'"},
      {"bucket--ol-s3", "'--ol-s3'"},
  };
  for (const auto& [name, why] : cases) {
    auto reason = check_bucket(name);
    ASSERT_TRUE(reason.has_value()) << name;
    EXPECT_NE(reason->find(why), std::string::npos) << name << ": " << *reason;
    EXPECT_EQ(reason->find(name.empty() ? "\x01" : name), std::string::npos)
        << "the reason must not echo the name: " << *reason;
  }
}

TEST(DnsLabel, OnlyLabelsWithoutDots) {
  EXPECT_TRUE(is_dns_label_bucket("my-bucket"));
  EXPECT_FALSE(is_dns_label_bucket("my.bucket"));
  EXPECT_FALSE(is_dns_label_bucket("127.0.0.1:28399/#"));
  EXPECT_FALSE(is_dns_label_bucket("ab"));
  EXPECT_FALSE(is_dns_label_bucket("-ab"));
  EXPECT_FALSE(is_dns_label_bucket("Bucket"));
}

TEST(KindName, EveryBucketNameIsAKind) {
  for (const char* name : {"abc", "my-bucket", "my.bucket.eu", "192.168.5.4", "xn--b"}) {
    EXPECT_EQ(check_kind(name), std::nullopt) << name;
  }
  EXPECT_EQ(check_kind("k"), std::nullopt);
  EXPECT_EQ(check_kind("Models_v2"), std::nullopt);
  EXPECT_EQ(check_kind(std::string(64, 'k')), std::nullopt);
}

TEST(KindName, RefusesEverythingElse) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "1-64 bytes, got 0"},        {std::string(65, 'k'), "1-64 bytes, got 65"},
      {"a/b", "only letters"},          {"a b", "only letters"},
      {"a:80", "only letters"},         {"a\x01", "only letters"},
      {"\xE6\x97\xA5", "only letters"}, {".", "start and end"},
      {"..", "start and end"},          {"_k", "start and end"},
      {"k-", "start and end"},
  };
  for (const auto& [kind, why] : cases) {
    auto reason = check_kind(kind);
    ASSERT_TRUE(reason.has_value()) << kind;
    EXPECT_NE(reason->find(why), std::string::npos) << kind << ": " << *reason;
  }
}

TEST(ObjectKey, AcceptsKeysWithSlashesSpacesAndUtf8) {
  for (const char* key : {"o", "dir/file name.bin", "caf\xC3\xA9", "/lead", "trail/", "a//b", "...",
                          "a..b/.c/d.", ".hidden", "x/.../y"}) {
    EXPECT_EQ(check_object(key), std::nullopt) << key;
  }
  EXPECT_EQ(check_object(std::string(1024, 'o')), std::nullopt);
}

TEST(ObjectKey, RefusesDotSegmentsLengthsBadUtf8AndControls) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "1-1024 bytes, got 0"},
      {std::string(1025, 'o'), "1-1024 bytes, got 1025"},
      {"\xff", "not valid UTF-8"},
      {"a\x7f", "control character"},
      {std::string("a\0b", 3), "control character"},
      {"..", "'..' segment"},
      {".", "'.' segment"},
      {"../private/secret.txt", "'..' segment"},
      {"public/../private", "'..' segment"},
      {"./model.bin", "'.' segment"},
      {"a/.", "'.' segment"},
      {"a//..", "'..' segment"},
  };
  for (const auto& [key, why] : cases) {
    auto reason = check_object(key);
    ASSERT_TRUE(reason.has_value()) << key;
    EXPECT_NE(reason->find(why), std::string::npos) << key << ": " << *reason;
  }
}

}  // namespace
}  // namespace shoal::base
