// shoald's flags (node/config.h), its disk tier flags first: --disk-path, --disk-kind,
// --disk-capacity; then cluster flags without a cluster, and the files read at start.
#include <gtest/gtest.h>

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
           {{"--insecure-peer"}, "--insecure-peer"}}) {
    auto r = parse(args);
    EXPECT_FALSE(r.config) << flag;
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_EQ(r.output, "shoald: " + flag + ": needs --peer-listen\n");
  }
  auto defaults = parse({"--weight", "1", "--probe-interval-ms", "1000", "--insecure-peer=false"});
  EXPECT_TRUE(defaults.config) << defaults.output;
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

}  // namespace
}  // namespace shoal::node
