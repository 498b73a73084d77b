// shoald --config and --print-config as a real process: the printed configuration is a config
// file that gives the same node, flags win over the file, and a running node takes its settings
// from the file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(PrintConfigProcess, OutputRoundTripsThroughAnotherRun) {
  TempDir dir;
  const std::string first_file = write_file(dir, "first.json", R"({
    "memory": "96MiB", "page-size": "64KiB", "threads": 2, "node-id": "cfg-node",
    "peer-listen": "127.0.0.1:7947", "insecure-peer": true,
    "seed": ["127.0.0.1:7948", "127.0.0.1:7949"],
    "s3-endpoint": "http://127.0.0.1:9000", "s3-region": "us-east-1"})");
  auto [code, printed] =
      run_shoald_to_exit({"--config", first_file, "--weight", "2", "--print-config"});
  ASSERT_EQ(code, 0) << printed;
  auto j = nlohmann::json::parse(printed);
  EXPECT_EQ(j["memory"], "96MiB");
  EXPECT_EQ(j["weight"], 2);  // the flag wins and shows up
  EXPECT_EQ(j["seed"].size(), 2u);
  EXPECT_EQ(j["insecure-peer"], true);

  const std::string second_file = write_file(dir, "second.json", printed);
  auto [code2, printed2] = run_shoald_to_exit({"--config", second_file, "--print-config"});
  ASSERT_EQ(code2, 0) << printed2;
  EXPECT_EQ(printed2, printed);
}

// The endpoint is printed as resolved, also AWS's own one derived from the region, and the
// printed file still gives the same node.
TEST(PrintConfigProcess, ShowsTheEndpointAsResolved) {
  TempDir dir;
  auto [code, printed] = run_shoald_to_exit({"--s3-region", "eu-west-1", "--print-config"});
  ASSERT_EQ(code, 0) << printed;
  auto j = nlohmann::json::parse(printed);
  const char* env = std::getenv("AWS_ENDPOINT_URL_S3");
  if (env == nullptr || *env == '\0') env = std::getenv("AWS_ENDPOINT_URL");
  const std::string expected =
      env != nullptr && *env != '\0' ? env : "https://s3.eu-west-1.amazonaws.com";
  EXPECT_EQ(j["s3-endpoint"], expected) << printed;
  const std::string file = write_file(dir, "printed.json", printed);
  auto [code2, printed2] = run_shoald_to_exit({"--config", file, "--print-config"});
  ASSERT_EQ(code2, 0) << printed2;
  EXPECT_EQ(printed2, printed);
}

TEST(PrintConfigProcess, UnknownKeyStopsTheDaemon) {
  TempDir dir;
  const std::string file = write_file(dir, "bad.json", R"({"memory": "1GiB", "listne": "x"})");
  auto [code, out] = run_shoald_to_exit({"--config", file});
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("--config: unknown key 'listne'"), std::string::npos) << out;
}

TEST(ConfigFileProcess, ARunningNodeTakesItsSettingsFromTheFile) {
  TempDir dir;
  const std::string file = write_file(dir, "node.json", R"({
    "memory": "80MiB", "page-size": "128KiB", "node-id": "from-file", "listen": "127.0.0.1:1"})");
  // Shoald passes --listen on the command line: it wins over the file's unusable port 1.
  Shoald node("http://127.0.0.1:9", {"--config", file});
  auto s = stats_json(node.port());
  EXPECT_EQ(s["node_id"], "from-file");
  EXPECT_EQ(s["page_size_bytes"], 128 * 1024);
  EXPECT_EQ(s["memory"]["capacity_bytes"], 80ull << 20);
}

}  // namespace
}  // namespace shoal::test
