#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "origin/s3_config.h"

namespace shoal::origin {
namespace {

using Env = std::map<std::string, std::string>;

// A scratch directory removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "origin-cfg-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    std::ofstream(file) << text;
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

S3Config resolve_ok(const std::string& endpoint_flag, const std::string& region_flag,
                    const Env& env) {
  S3Config cfg;
  auto error = resolve_s3_config(endpoint_flag, region_flag, env, &cfg);
  EXPECT_EQ(error, std::nullopt) << *error;
  return cfg;
}

std::string resolve_error(const Env& env) {
  S3Config cfg;
  auto error = resolve_s3_config("", "", env, &cfg);
  return error.value_or("");
}

TEST(S3ConfigResolve, DefaultsToAwsInUsEast1) {
  S3Config cfg = resolve_ok("", "", {});
  EXPECT_EQ(cfg.region, "us-east-1");
  EXPECT_EQ(cfg.endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_TRUE(cfg.endpoint_is_default);
  EXPECT_TRUE(cfg.credentials.anonymous());
}

// --print-config writes the resolved endpoint; given back as --s3-endpoint it must still count
// as AWS's own (virtual-host addressing under kAuto), so the printed file gives the same node.
TEST(S3ConfigResolve, AwsOwnEndpointGivenExplicitlyIsStillAws) {
  S3Config cfg = resolve_ok("https://s3.eu-west-1.amazonaws.com/", "eu-west-1", {});
  EXPECT_EQ(cfg.endpoint, "https://s3.eu-west-1.amazonaws.com");
  EXPECT_TRUE(cfg.endpoint_is_default);
  std::string given, implied;
  ASSERT_FALSE(object_url(cfg, "my-bucket", "a/b", &given));
  ASSERT_FALSE(object_url(resolve_ok("", "eu-west-1", {}), "my-bucket", "a/b", &implied));
  EXPECT_EQ(given, implied);
  EXPECT_FALSE(
      resolve_ok("https://s3.eu-west-1.amazonaws.com", "us-east-1", {}).endpoint_is_default);
}

TEST(S3ConfigResolve, RegionPrecedence) {
  Env env = {{"AWS_REGION", "eu-west-1"}, {"AWS_DEFAULT_REGION", "eu-west-2"}};
  EXPECT_EQ(resolve_ok("", "ap-south-1", env).region, "ap-south-1");
  EXPECT_EQ(resolve_ok("", "", env).region, "eu-west-1");
  env.erase("AWS_REGION");
  EXPECT_EQ(resolve_ok("", "", env).region, "eu-west-2");
  EXPECT_EQ(resolve_ok("", "", env).endpoint, "https://s3.eu-west-2.amazonaws.com");
  env["AWS_REGION"] = "";  // empty counts as unset
  EXPECT_EQ(resolve_ok("", "", env).region, "eu-west-2");
}

TEST(S3ConfigResolve, EndpointPrecedence) {
  Env env = {{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9001"},
             {"AWS_ENDPOINT_URL", "http://127.0.0.1:9002/"}};
  S3Config cfg = resolve_ok("http://127.0.0.1:9000/", "", env);
  EXPECT_EQ(cfg.endpoint, "http://127.0.0.1:9000");
  EXPECT_FALSE(cfg.endpoint_is_default);
  EXPECT_EQ(resolve_ok("", "", env).endpoint, "http://127.0.0.1:9001");
  env.erase("AWS_ENDPOINT_URL_S3");
  EXPECT_EQ(resolve_ok("", "", env).endpoint, "http://127.0.0.1:9002");
}

TEST(S3ConfigResolve, RejectsBadEndpoints) {
  S3Config cfg;
  for (const char* bad :
       {"ftp://host", "host:9000", "http://host/path", "http://host?x=1", "http://", "not a url"}) {
    EXPECT_TRUE(resolve_s3_config(bad, "", {}, &cfg).has_value()) << bad;
  }
}

TEST(S3ConfigResolve, KeepsCallerSettings) {
  S3Config cfg;
  cfg.addressing = Addressing::kPath;
  cfg.max_connections_per_host = 7;
  cfg.verify_tls = false;
  ASSERT_EQ(resolve_s3_config("http://localhost:9000", "", {}, &cfg), std::nullopt);
  EXPECT_EQ(cfg.addressing, Addressing::kPath);
  EXPECT_EQ(cfg.max_connections_per_host, 7);
  EXPECT_FALSE(cfg.verify_tls);
}

TEST(S3ConfigCredentials, FromEnvironment) {
  S3Config cfg = resolve_ok("", "",
                            {{"AWS_ACCESS_KEY_ID", "AKID"},
                             {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                             {"AWS_SESSION_TOKEN", "TOKEN"}});
  EXPECT_EQ(cfg.credentials.access_key_id, "AKID");
  EXPECT_EQ(cfg.credentials.secret_access_key, "SECRET");
  EXPECT_EQ(cfg.credentials.session_token, "TOKEN");
  EXPECT_FALSE(cfg.credentials.anonymous());
}

TEST(S3ConfigCredentials, HalfAnEnvironmentPairIsAnError) {
  EXPECT_NE(resolve_error({{"AWS_ACCESS_KEY_ID", "AKID"}}).find("AWS_SECRET_ACCESS_KEY"),
            std::string::npos);
}

constexpr const char* kCredentialsFile =
    "# comment\n"
    "[default]\n"
    "aws_access_key_id = DEFAULTKEY\n"
    "aws_secret_access_key = DEFAULTSECRET\n"
    "\n"
    "[dev.team]\n"
    "aws_access_key_id=DEVKEY\n"
    "aws_secret_access_key=DEV/SECRET+x\n"
    "aws_session_token = DEVTOKEN\n"
    "[broken]\n"
    "aws_access_key_id = ONLYKEY\n";

TEST(S3ConfigCredentials, FromSharedFileDefaultProfile) {
  ScratchDir dir;
  const std::string file = dir.write("credentials", kCredentialsFile);
  S3Config cfg = resolve_ok("", "", {{"AWS_SHARED_CREDENTIALS_FILE", file}});
  EXPECT_EQ(cfg.credentials.access_key_id, "DEFAULTKEY");
  EXPECT_EQ(cfg.credentials.secret_access_key, "DEFAULTSECRET");
  EXPECT_EQ(cfg.credentials.session_token, "");
}

TEST(S3ConfigCredentials, FromSharedFileNamedProfile) {
  ScratchDir dir;
  const std::string file = dir.write("credentials", kCredentialsFile);
  S3Config cfg =
      resolve_ok("", "", {{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "dev.team"}});
  EXPECT_EQ(cfg.credentials.access_key_id, "DEVKEY");
  EXPECT_EQ(cfg.credentials.secret_access_key, "DEV/SECRET+x");
  EXPECT_EQ(cfg.credentials.session_token, "DEVTOKEN");
}

TEST(S3ConfigCredentials, FromHomeDirectory) {
  ScratchDir dir;
  dir.write(".aws/credentials", kCredentialsFile);
  S3Config cfg = resolve_ok("", "", {{"HOME", dir.path()}});
  EXPECT_EQ(cfg.credentials.access_key_id, "DEFAULTKEY");
}

TEST(S3ConfigCredentials, EnvironmentBeatsFile) {
  ScratchDir dir;
  const std::string file = dir.write("credentials", kCredentialsFile);
  S3Config cfg = resolve_ok("", "",
                            {{"AWS_SHARED_CREDENTIALS_FILE", file},
                             {"AWS_ACCESS_KEY_ID", "ENVKEY"},
                             {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"}});
  EXPECT_EQ(cfg.credentials.access_key_id, "ENVKEY");
}

TEST(S3ConfigCredentials, MissingDefaultFileMeansAnonymous) {
  ScratchDir dir;  // no .aws inside
  EXPECT_TRUE(resolve_ok("", "", {{"HOME", dir.path()}}).credentials.anonymous());
}

TEST(S3ConfigCredentials, MissingDefaultProfileMeansAnonymous) {
  ScratchDir dir;
  const std::string file = dir.write("credentials",
                                     "[other]\naws_access_key_id=A\n"
                                     "aws_secret_access_key=B\n");
  EXPECT_TRUE(resolve_ok("", "", {{"AWS_SHARED_CREDENTIALS_FILE", file}}).credentials.anonymous());
}

TEST(S3ConfigCredentials, ExplicitThingsThatAreMissingAreErrors) {
  ScratchDir dir;
  const std::string file = dir.write("credentials", kCredentialsFile);
  EXPECT_NE(resolve_error({{"AWS_SHARED_CREDENTIALS_FILE", dir.path() + "/nope"}}), "");
  EXPECT_NE(
      resolve_error({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "nope"}}).find("nope"),
      std::string::npos);
  EXPECT_NE(resolve_error({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "broken"}}), "");
  const std::string bad = dir.write("bad", "[default]\nkey=1\nkey=2\n");
  EXPECT_NE(resolve_error({{"AWS_SHARED_CREDENTIALS_FILE", bad}}), "");
}

TEST(S3ConfigEnvironment, ReadsTheProcessEnvironment) {
  ::setenv("SHOAL_ORIGIN_TEST_VAR", "a=b c", 1);
  Env env = environment_map();
  ::unsetenv("SHOAL_ORIGIN_TEST_VAR");
  EXPECT_EQ(env["SHOAL_ORIGIN_TEST_VAR"], "a=b c");
}

S3Config config(std::string endpoint, bool is_default, Addressing addressing) {
  S3Config cfg;
  cfg.endpoint = std::move(endpoint);
  cfg.region = "us-east-1";
  cfg.endpoint_is_default = is_default;
  cfg.addressing = addressing;
  return cfg;
}

// object_url's URL, or "refused: REASON".
std::string url_of(const S3Config& cfg, const std::string& bucket, const std::string& key) {
  std::string url = "unchanged";
  if (auto reason = object_url(cfg, bucket, key, &url)) {
    EXPECT_EQ(url, "unchanged");
    return "refused: " + *reason;
  }
  return url;
}

TEST(ObjectUrl, PathStyle) {
  S3Config cfg = config("http://127.0.0.1:9000", false, Addressing::kAuto);
  EXPECT_EQ(url_of(cfg, "bucket", "dir/file.bin"), "http://127.0.0.1:9000/bucket/dir/file.bin");
  cfg.addressing = Addressing::kPath;
  cfg.endpoint_is_default = true;
  EXPECT_EQ(url_of(cfg, "bucket", "k"), "http://127.0.0.1:9000/bucket/k");
}

TEST(ObjectUrl, VirtualHostStyle) {
  S3Config aws = config("https://s3.us-east-1.amazonaws.com", true, Addressing::kAuto);
  EXPECT_EQ(url_of(aws, "my-bucket", "a/b"), "https://my-bucket.s3.us-east-1.amazonaws.com/a/b");
  // Dots would break the wildcard certificate; upper case and short names are not DNS labels.
  EXPECT_EQ(url_of(aws, "my.bucket", "k"), "https://s3.us-east-1.amazonaws.com/my.bucket/k");
  EXPECT_EQ(url_of(aws, "MyBucket", "k"), "https://s3.us-east-1.amazonaws.com/MyBucket/k");
  EXPECT_EQ(url_of(aws, "ab", "k"), "https://s3.us-east-1.amazonaws.com/ab/k");
  S3Config forced = config("http://localhost:9000", false, Addressing::kVirtual);
  EXPECT_EQ(url_of(forced, "bucket", "k"), "http://bucket.localhost:9000/k");
}

// Forced virtual-host addressing pastes the bucket into the host: anything but one DNS label is
// refused, never turned into a URL (a peer once steered a signed request to 127.0.0.1:28399).
TEST(ObjectUrl, VirtualHostStyleRefusesBucketsThatAreNotOneDnsLabel) {
  S3Config forced = config("http://localhost:9000", false, Addressing::kVirtual);
  for (const char* bucket : {"127.0.0.1:28399/#", "evil.com:80/", "a.b", "My-Bucket", "ab", "-ab",
                             "a_b", "x@y", "b?x=", ""}) {
    EXPECT_EQ(url_of(forced, bucket, "k").rfind("refused: bucket name is not a DNS label", 0), 0u)
        << bucket;
  }
  // The same names in path style stay in the path, encoded.
  S3Config path = config("http://localhost:9000", false, Addressing::kPath);
  EXPECT_EQ(url_of(path, "127.0.0.1:28399/#", "k"),
            "http://localhost:9000/127.0.0.1%3A28399%2F%23/k");
}

TEST(ObjectUrl, EncodesKeysOnceKeepingSlashes) {
  S3Config cfg = config("http://h:1", false, Addressing::kPath);
  EXPECT_EQ(url_of(cfg, "b", "a b/c"), "http://h:1/b/a%20b/c");
  EXPECT_EQ(url_of(cfg, "b", "caf\xC3\xA9.txt"), "http://h:1/b/caf%C3%A9.txt");
  EXPECT_EQ(url_of(cfg, "b", "x+y"), "http://h:1/b/x%2By");
  EXPECT_EQ(url_of(cfg, "b", "100%"), "http://h:1/b/100%25");
  EXPECT_EQ(url_of(cfg, "b", "what?x=1#y"), "http://h:1/b/what%3Fx%3D1%23y");
  EXPECT_EQ(url_of(cfg, "b", "keep-._~AZaz09"), "http://h:1/b/keep-._~AZaz09");
  EXPECT_EQ(url_of(cfg, "b", "/lead//double/"), "http://h:1/b//lead//double/");
  EXPECT_EQ(url_of(cfg, "b", "%2F"), "http://h:1/b/%252F");
}

TEST(ObjectUrl, EncodesEveryByteButUnreservedOnesAndSlashesInKeysAsUpperCaseHex) {
  S3Config cfg = config("http://h:1", false, Addressing::kPath);
  auto expected = [](int c, bool keep_slash) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~' || (keep_slash && c == '/');
    if (unreserved) return std::string(1, static_cast<char>(c));
    static constexpr char kHex[] = "0123456789ABCDEF";
    return std::string{'%', kHex[c >> 4], kHex[c & 15]};
  };
  for (int c = 0; c < 256; ++c) {
    const std::string text = {'a', static_cast<char>(c), 'z'};
    EXPECT_EQ(url_of(cfg, "b", text), "http://h:1/b/a" + expected(c, true) + "z") << c;
    EXPECT_EQ(url_of(cfg, text, "k"), "http://h:1/a" + expected(c, false) + "z/k") << c;
  }
  EXPECT_EQ(url_of(cfg, "my bucket/x", "k"), "http://h:1/my%20bucket%2Fx/k");
  EXPECT_EQ(url_of(cfg, "b", ""), "http://h:1/b/");
}

// SigV4's canonical query: every byte but the unreserved ones encoded once, sorted by name.
TEST(CanonicalQuery, EncodesAndSortsAsSigV4Signs) {
  EXPECT_EQ(canonical_query({}), "");
  EXPECT_EQ(canonical_query({{"prefix", "a b/c=d&e"}, {"list-type", "2"}, {"fetch-owner", ""}}),
            "fetch-owner=&list-type=2&prefix=a%20b%2Fc%3Dd%26e");
  EXPECT_EQ(canonical_query({{"delimiter", "/"}, {"continuation-token", "x+y~z_-."}}),
            "continuation-token=x%2By~z_-.&delimiter=%2F");
  EXPECT_EQ(canonical_query({{"prefix", "\xc3\xa9"}}), "prefix=%C3%A9");
}

TEST(BucketUrl, PathAndVirtualHostWithQuery) {
  S3Config path = config("http://127.0.0.1:9000", false, Addressing::kAuto);
  std::string url;
  ASSERT_FALSE(bucket_url(path, "bucket-1", {}, &url));
  EXPECT_EQ(url, "http://127.0.0.1:9000/bucket-1");
  ASSERT_FALSE(bucket_url(path, "bucket-1", {{"prefix", "d/"}, {"list-type", "2"}}, &url));
  EXPECT_EQ(url, "http://127.0.0.1:9000/bucket-1?list-type=2&prefix=d%2F");
  S3Config aws = config("https://s3.us-east-1.amazonaws.com", true, Addressing::kAuto);
  ASSERT_FALSE(bucket_url(aws, "my-bucket", {{"max-keys", "5"}}, &url));
  EXPECT_EQ(url, "https://my-bucket.s3.us-east-1.amazonaws.com/?max-keys=5");
  aws.addressing = Addressing::kVirtual;
  url = "unchanged";
  EXPECT_TRUE(bucket_url(aws, "bad.name:1", {}, &url).has_value());
  EXPECT_EQ(url, "unchanged");
}

TEST(S3ConfigValidate, ChecksEveryField) {
  S3Config cfg = config("http://127.0.0.1:9000", false, Addressing::kPath);
  EXPECT_EQ(cfg.validate(), std::nullopt);
  S3Config bad = cfg;
  bad.region = "";
  EXPECT_TRUE(bad.validate().has_value());
  bad = cfg;
  bad.region = "us east";
  EXPECT_TRUE(bad.validate().has_value());
  bad = cfg;
  bad.credentials.secret_access_key = "only-secret";
  EXPECT_TRUE(bad.validate().has_value());
  bad = cfg;
  bad.max_connections_per_host = 0;
  EXPECT_TRUE(bad.validate().has_value());
  bad = cfg;
  bad.endpoint = "http://127.0.0.1:9000/";
  EXPECT_TRUE(bad.validate().has_value());
}

}  // namespace
}  // namespace shoal::origin
