// shoald's flags (node/config.h), its disk tier flags first: --disk-path, --disk-kind,
// --disk-capacity; then cluster flags without a cluster, the files read at start, and the S3
// port's flags.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "node/config.h"
#include "tests/unit/store_test_util.h"

namespace shoal::node {
namespace {

ParseResult parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"shoald", "--s3-endpoint", "http://127.0.0.1:9"});
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(DiskFlags, MemoryOnlyByDefault) {
  auto r = parse({});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_FALSE(r.config->disk_enabled());
}

TEST(DiskFlags, DirectoryWithDefaults) {
  store::test::ScratchDir dir;
  auto r = parse({"--disk-path", dir.path(), "--page-size", "64KiB"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_TRUE(r.config->disk_enabled());
  store::DiskConfig c = r.config->disk_config();
  EXPECT_EQ(c.path, dir.path());
  EXPECT_EQ(c.kind, store::DeviceKind::kFile);
  EXPECT_EQ(c.capacity_bytes, 0u);  // 80% of the free space, resolved at open
  EXPECT_EQ(c.page_size, 64u << 10);
}

TEST(DiskFlags, WriteQueueHoldsSixtyFourMebibytesOfPagesAndAtLeastSixteen) {
  store::test::ScratchDir dir;
  auto small = parse({"--disk-path", dir.path(), "--page-size", "64KiB"});
  ASSERT_TRUE(small.config) << small.output;
  EXPECT_EQ(small.config->disk_config().max_queued_writes, 1024u);  // 64 MiB / 64 KiB
  auto large = parse({"--disk-path", dir.path(), "--page-size", "16MiB"});
  ASSERT_TRUE(large.config) << large.output;
  EXPECT_EQ(large.config->disk_config().max_queued_writes, 16u);  // 4 pages, raised to 16
}

TEST(DiskFlags, CapacityAndKindAreParsed) {
  store::test::ScratchDir dir;
  auto r = parse(
      {"--disk-path", dir.path() + "/cache.img", "--disk-kind", "fs", "--disk-capacity", "1.5GiB"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->disk_capacity, 3ull << 29);
}

// --disk-header-cache: 16 MiB by default, any size up to 4 GiB, 0 turns the cache off.
TEST(DiskFlags, HeaderCacheIsASizeUpTo4GiB) {
  store::test::ScratchDir dir;
  auto r = parse({"--disk-path", dir.path()});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->disk_config().header_cache_bytes, 16u << 20);
  for (const auto& [text, bytes] : {std::pair<std::string, std::uint64_t>{"0", 0},
                                    {"64MiB", 64ull << 20},
                                    {"4GiB", 4ull << 30}}) {
    r = parse({"--disk-path", dir.path(), "--disk-header-cache", text});
    ASSERT_TRUE(r.config) << text << ": " << r.output;
    EXPECT_EQ(r.config->disk_config().header_cache_bytes, bytes) << text;
  }
}

TEST(DiskFlags, ErrorsNameTheFlag) {
  store::test::ScratchDir dir;
  auto expect_error = [](const ParseResult& r, const std::string& prefix) {
    EXPECT_FALSE(r.config);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.output.rfind("shoald: " + prefix, 0), 0u) << r.output;
  };
  expect_error(parse({"--disk-path", dir.path(), "--disk-kind", "ssd"}), "--disk-kind:");
  expect_error(parse({"--disk-path", dir.path(), "--disk-capacity", "lots"}), "--disk-capacity:");
  expect_error(parse({"--disk-path", dir.path(), "--disk-capacity", "0"}), "--disk-capacity:");
  expect_error(parse({"--disk-path", dir.path(), "--disk-capacity", "1MiB"}), "--disk-capacity:");
  expect_error(parse({"--disk-capacity", "1GiB"}), "--disk-capacity: needs --disk-path");
  expect_error(parse({"--disk-kind", "block"}), "--disk-kind: needs --disk-path");
  expect_error(parse({"--disk-header-cache", "0"}), "--disk-header-cache: needs --disk-path");
  expect_error(parse({"--disk-path", dir.path(), "--disk-header-cache", "lots"}),
               "--disk-header-cache:");
  expect_error(parse({"--disk-path", dir.path(), "--disk-header-cache", "-1"}),
               "--disk-header-cache:");
  expect_error(parse({"--disk-path", dir.path(), "--disk-header-cache", "5GiB"}),
               "--disk-header-cache: must be at most 4GiB");
  expect_error(parse({"--disk-path", dir.path(), "--disk-kind", "block"}),
               "--disk-kind: block, but " + dir.path() + " is not a block device");
  expect_error(parse({"--disk-path", dir.path() + "/no/such/dir/file"}), "--disk-path:");
  expect_error(parse({"--disk-path", "/dev/null"}), "--disk-path:");
}

TEST(DiskFlags, StoreMessagesGetTheFlagOfTheirField) {
  EXPECT_EQ(with_disk_flag("capacity_bytes: too small"), "--disk-capacity: too small");
  EXPECT_EQ(with_disk_flag("kind: file, but /dev/sda is a block device"),
            "--disk-kind: file, but /dev/sda is a block device");
  EXPECT_EQ(with_disk_flag("page_size: must be a power of two"),
            "--page-size: must be a power of two");
  EXPECT_EQ(with_disk_flag("path: /x: Permission denied"), "--disk-path: /x: Permission denied");
  EXPECT_EQ(with_disk_flag("pathname: odd"), "--disk-path: pathname: odd");
}

// Cluster flags without --peer-listen would be ignored: each is an error naming it, unless it
// keeps its default (so a --print-config file of a standalone node, which lists them all, loads).
TEST(ClusterFlags, WithoutPeerListenEachIsNamed) {
  for (const auto& [args, flag] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--weight", "-1"}, "--weight"},
           {{"--weight", "2"}, "--weight"},
           {{"--probe-interval-ms", "-5"}, "--probe-interval-ms"},
           {{"--probe-timeout-ms", "100"}, "--probe-timeout-ms"},
           {{"--gossip-interval-ms", "50"}, "--gossip-interval-ms"},
           {{"--push-pull-interval-ms", "500"}, "--push-pull-interval-ms"},
           {{"--seed", "127.0.0.1:7946"}, "--seed"},
           {{"--peer-advertise", "127.0.0.1:7946"}, "--peer-advertise"},
           {{"--client-advertise", "127.0.0.1:8080"}, "--client-advertise"},
           {{"--cluster-key-file", "/nonexistent"}, "--cluster-key-file"},
           {{"--insecure-peer"}, "--insecure-peer"},
           {{"--hot-copy-memory", "8MiB"}, "--hot-copy-memory"}}) {
    auto r = parse(args);
    EXPECT_FALSE(r.config) << flag;
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_EQ(r.output, "shoald: " + flag + ": needs --peer-listen\n");
  }
  auto defaults = parse({"--weight", "1", "--probe-interval-ms", "1000", "--insecure-peer=false"});
  EXPECT_TRUE(defaults.config) << defaults.output;
}

// --client-send-buffer: auto by default (a fixed 256 KiB for clients on this host, the kernel's
// autotuning for others); kernel (or the old 0): autotuning for all; a size in [4KiB, 64MiB]:
// that for all; anything else is refused, naming the flag.
TEST(ClientFlags, ClientSendBufferIsAutoKernelOrABoundedSize) {
  using Mode = NodeConfig::SendBufferMode;
  auto r = parse({});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->client_send_buffer_mode, Mode::kAuto);
  EXPECT_EQ(r.config->client_send_buffer_for(true), 256u << 10);
  EXPECT_EQ(r.config->client_send_buffer_for(false), 0u);
  r = parse({"--client-send-buffer", "auto"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->client_send_buffer_mode, Mode::kAuto);
  for (const std::string kernel : {"kernel", "0"}) {
    r = parse({"--client-send-buffer", kernel});
    ASSERT_TRUE(r.config) << kernel << ": " << r.output;
    EXPECT_EQ(r.config->client_send_buffer_mode, Mode::kKernel) << kernel;
    EXPECT_EQ(r.config->client_send_buffer_for(true), 0u) << kernel;
    EXPECT_EQ(r.config->client_send_buffer_for(false), 0u) << kernel;
  }
  r = parse({"--client-send-buffer", "64KiB"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->client_send_buffer_mode, Mode::kFixed);
  EXPECT_EQ(r.config->client_send_buffer_for(true), 64u << 10);
  EXPECT_EQ(r.config->client_send_buffer_for(false), 64u << 10);
  for (const std::string bad : {"lots", "", "-1", "1KiB", "65MiB", "1TiB", "Kernel", "auto "}) {
    r = parse({"--client-send-buffer", bad});
    EXPECT_FALSE(r.config) << bad;
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_EQ(r.output.rfind("shoald: --client-send-buffer: ", 0), 0u) << bad << ": " << r.output;
  }
}

// --hot-copy-memory (node/hot_copies.h): auto is 1/8 of --memory (0 when that is under a page),
// taken out of the memory tier; only in a cluster; explicit values hold a page and leave one.
TEST(ClusterFlags, HotCopyMemoryIsAShareOfMemory) {
  auto with = [](std::vector<std::string> more, std::string memory = "1GiB") {
    std::vector<std::string> args = {"--peer-listen", "127.0.0.1:7946", "--insecure-peer",
                                     "--memory",      memory,           "--page-size",
                                     "1MiB"};
    args.insert(args.end(), more.begin(), more.end());
    return parse(args);
  };
  auto r = with({});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->hot_copy_bytes(), 128u << 20);
  r = with({"--hot-copy-memory", "300MiB"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->hot_copy_bytes(), 300u << 20);
  r = with({"--hot-copy-memory", "0"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->hot_copy_bytes(), 0u);
  r = with({"--hot-copy-memory", "auto"}, "4MiB");  // an eighth is under a page
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->hot_copy_bytes(), 0u);
  r = parse({"--memory", "1GiB"});  // standalone: no copies, the memory tier gets it all
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->hot_copy_bytes(), 0u);
  for (const std::string bad : {"lots", "", "1e9", "512KiB", "1GiB", "1023.5MiB", "2GiB"}) {
    r = with({"--hot-copy-memory", bad});
    EXPECT_FALSE(r.config) << bad;
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_EQ(r.output.rfind("shoald: --hot-copy-memory: ", 0), 0u) << bad << ": " << r.output;
  }
}

// The files a node needs are read at parse time, as the server reads them.
TEST(SecretFiles, AreReadBeforeTheNodeStarts) {
  store::test::ScratchDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  };
  const std::string good_token = write("good.token", "0123456789abcdef-token\n");
  const std::string short_token = write("short.token", "short\n");
  const std::string good_key = write("good.key", "0123456789abcdef0123456789abcdef\n");
  const std::string short_key = write("short.key", "123456789012");
  EXPECT_TRUE(parse({"--admin-token-file", good_token}).config);
  auto r = parse({"--admin-token-file", short_token});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output.rfind("shoald: --admin-token-file: token in " + short_token, 0), 0u)
      << r.output;
  EXPECT_TRUE(parse({"--peer-listen", "127.0.0.1:7946", "--cluster-key-file", good_key}).config);
  r = parse({"--peer-listen", "127.0.0.1:7946", "--cluster-key-file", short_key});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output.rfind("shoald: --cluster-key-file: ", 0), 0u) << r.output;
  r = parse({"--tls-cert", good_key, "--tls-key", good_key});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output.rfind("shoald: --tls-cert: ", 0), 0u) << r.output;
}

// ---- the S3 port: --s3-api-listen needs a way to authenticate callers, the other S3 port
// flags need the port, and the credentials file is read (its mode checked) before start.

void expect_s3_error(const ParseResult& r, const std::string& prefix) {
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output.rfind("shoald: " + prefix, 0), 0u) << r.output;
}

std::string write(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

constexpr const char* kCreds =
    R"({"credentials": [{"access_key_id": "K1", "secret_access_key": "s1", "buckets": ["*"]}]})";

TEST(S3ApiFlags, OffByDefault) {
  auto r = parse({});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_FALSE(r.config->s3_api_enabled());
}

TEST(S3ApiFlags, ListenWithCredentialsOrAnonymous) {
  store::test::ScratchDir dir;
  const std::string creds = write(dir.path() + "/creds.json", kCreds, 0600);
  auto r = parse({"--s3-api-listen", "127.0.0.1:9100", "--s3-api-credentials-file", creds,
                  "--s3-api-domain", "s3.example.com"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_TRUE(r.config->s3_api_enabled());
  EXPECT_EQ(r.config->s3_api_host, "127.0.0.1");
  EXPECT_EQ(r.config->s3_api_port, 9100);
  EXPECT_EQ(r.config->s3_api_domain, "s3.example.com");
  auto a = parse({"--s3-api-listen", "127.0.0.1:9100", "--s3-api-anonymous"});
  ASSERT_TRUE(a.config) << a.output;
  EXPECT_TRUE(a.config->s3_api_anonymous);
}

TEST(S3ApiFlags, ErrorsNameTheFlags) {
  store::test::ScratchDir dir;
  const std::string creds = write(dir.path() + "/creds.json", kCreds, 0600);
  // Nobody could call the port: refused, naming both ways to allow callers.
  auto r = parse({"--s3-api-listen", "127.0.0.1:9100"});
  expect_s3_error(r, "--s3-api-listen: needs --s3-api-credentials-file");
  EXPECT_NE(r.output.find("--s3-api-anonymous"), std::string::npos) << r.output;
  expect_s3_error(parse({"--s3-api-listen", "nohost", "--s3-api-anonymous"}), "--s3-api-listen:");
  expect_s3_error(parse({"--s3-api-listen", "127.0.0.1:8080", "--listen", "127.0.0.1:8080",
                         "--s3-api-anonymous"}),
                  "--s3-api-listen: must differ from --listen");
  expect_s3_error(parse({"--s3-api-anonymous"}), "--s3-api-anonymous: needs --s3-api-listen");
  expect_s3_error(parse({"--s3-api-credentials-file", creds}),
                  "--s3-api-credentials-file: needs --s3-api-listen");
  expect_s3_error(parse({"--s3-api-domain", "s3.example.com"}),
                  "--s3-api-domain: needs --s3-api-listen");
  expect_s3_error(parse({"--s3-api-listen", "127.0.0.1:9100", "--s3-api-anonymous",
                         "--s3-api-domain", "Bad_Domain"}),
                  "--s3-api-domain:");
  // The file is read at start: missing, malformed, writable by others.
  expect_s3_error(parse({"--s3-api-listen", "127.0.0.1:9100", "--s3-api-credentials-file",
                         dir.path() + "/missing.json"}),
                  "--s3-api-credentials-file:");
  expect_s3_error(parse({"--s3-api-listen", "127.0.0.1:9100", "--s3-api-credentials-file",
                         write(dir.path() + "/bad.json", "{\"credentials\": 1}", 0600)}),
                  "--s3-api-credentials-file:");
  expect_s3_error(parse({"--s3-api-listen", "127.0.0.1:9100", "--s3-api-credentials-file",
                         write(dir.path() + "/open.json", kCreds, 0666)}),
                  "--s3-api-credentials-file:");
}

}  // namespace
}  // namespace shoal::node
