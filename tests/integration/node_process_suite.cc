// shoald as a process: flag and file validation at start-up, graceful drain on SIGTERM (the port
// open for load balancers' checks until exit), TLS.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

TEST(ShoaldFlags, BadValuesFailAtStartNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  } cases[] = {
      {{"--page-size", "100000"}, "--page-size"},
      {{"--page-size", "32KiB"}, "--page-size"},
      {{"--memory", "lots"}, "--memory"},
      {{"--memory", "-1GiB"}, "--memory"},
      {{"--listen", "nowhere"}, "--listen"},
      {{"--listen", "127.0.0.1:99999"}, "--listen"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--tls-cert", "/nonexistent.pem"}, "--tls-"},
      {{"--tls-self", "--tls-cert", "a", "--tls-key", "b"}, "--tls-self"},
      {{"--s3-addressing", "sideways"}, "--s3-addressing"},
      {{"--no-such-flag"}, "--no-such-flag"},
  };
  for (const auto& c : cases) {
    auto [code, out] = run_shoald_to_exit(c.args);
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find(c.flag), std::string::npos) << "output does not name " << c.flag << ":\n"
                                                   << out;
  }
}

// Files the node needs (admin token, cluster key, TLS certificate) are read, and cluster flags
// without --peer-listen refused, before any port opens: exit 2 naming the flag, nothing bound.
TEST(ShoaldFlags, BadFilesAndStrayClusterFlagsFailBeforeAnyPortOpens) {
  TempDir dir;
  auto file = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  };
  const std::string short_token = file("short.token", "too-short\n");
  const std::string spaced_token = file("spaced.token", "a token with spaces inside\n");
  const std::string short_key = file("short.key", "123456789012");
  const std::string not_pem = file("cert.pem", "not a certificate\n");
  const std::uint16_t port = free_port();
  const std::uint16_t peer_port = free_port();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--admin-token-file", short_token}, "--admin-token-file: token in " + short_token},
      {{"--admin-token-file", spaced_token}, "--admin-token-file: token in " + spaced_token},
      {{"--peer-listen", "127.0.0.1:" + std::to_string(peer_port), "--cluster-key-file", short_key},
       "--cluster-key-file: "},
      {{"--tls-cert", not_pem, "--tls-key", not_pem}, "--tls-cert: "},
      {{"--weight", "-1"}, "--weight: needs --peer-listen"},
      {{"--probe-interval-ms", "-5"}, "--probe-interval-ms: needs --peer-listen"},
      {{"--seed", "127.0.0.1:7946"}, "--seed: needs --peer-listen"},
      {{"--cluster-key-file", short_key}, "--cluster-key-file: needs --peer-listen"},
      {{"--insecure-peer"}, "--insecure-peer: needs --peer-listen"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:" + std::to_string(port),
                                     "--s3-endpoint", "http://127.0.0.1:9"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto [code, out] = run_shoald_to_exit(args);
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find(c.message), std::string::npos) << "expected '" << c.message << "' in:\n"
                                                      << out;
    EXPECT_EQ(out.find("listening on"), std::string::npos) << out;
  }
}

TEST(ShoaldFlags, HelpAndVersion) {
  auto [hcode, help] = run_shoald_to_exit({"--help"});
  EXPECT_EQ(hcode, 0);
  for (const char* flag : {"--listen", "--memory", "--page-size", "--s3-endpoint", "--s3-region",
                           "--tls-self", "--tls-cert", "--tls-key", "--log-level"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  auto [vcode, version] = run_shoald_to_exit({"--version"});
  EXPECT_EQ(vcode, 0);
  EXPECT_NE(version.find("shoald"), std::string::npos);
  TempDir dir;
  Process ctl = Process::spawn({bin_dir() + "/shoalctl", "--version"}, {}, dir.path() + "/o");
  EXPECT_EQ(ctl.wait(std::chrono::seconds(10)), 0);
  EXPECT_NE(ctl.log().find("shoalctl"), std::string::npos);
}

TEST(ShoaldLifecycle, SigtermDrainsInFlightRequestsThenExitsZero) {
  S3Server s3;
  s3.create_bucket("drain");
  const std::string data = random_bytes(256 * 1024, 5);
  s3.put_object("drain", "obj", data);
  FaultProxy proxy(s3.port());
  proxy.add_rule({{"match", {{"method", "GET"}}}, {"action", "delay_first_byte"}, {"ms", 1000}});
  Shoald node(proxy.endpoint(), {"--page-size", "64KiB"});
  HttpResponse r;
  std::thread client([&] { r = node.fetch("drain", "obj", "bytes=0-262143"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  node.process().signal(SIGTERM);
  client.join();
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.body == data);
  auto code = node.process().wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value()) << "shoald did not exit after SIGTERM";
  EXPECT_EQ(*code, 0) << node.log();
}

// From SIGTERM until it exits, a node keeps its client port open for load balancers' checks:
// /stats says "draining": true on a new connection, a request that still arrives is served (and
// its connection closed), and after --drain-notice-ms with nothing in flight the port closes
// and the process exits 0.
TEST(ShoaldLifecycle, AfterSigtermStatsSaysDrainingAndRequestsAreStillServed) {
  S3Server s3;
  s3.create_bucket("notice");
  const std::string data = random_bytes(100000, 8);
  s3.put_object("notice", "obj", data);
  Shoald node(s3.endpoint(), {"--page-size", "64KiB", "--drain-notice-ms", "1500"});
  EXPECT_EQ(stats_json(node.port())["draining"], false);
  HttpConnection idle(node.port());  // a keep-alive connection that already served a request
  ASSERT_EQ(idle.request("GET", "/stats").status, 200);
  const auto signalled = std::chrono::steady_clock::now();
  node.process().signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  auto stats = http_request(node.port(), "GET", "/stats");
  ASSERT_EQ(stats.status, 200) << "the client port closed at SIGTERM";
  EXPECT_EQ(nlohmann::json::parse(stats.body)["draining"], true) << stats.body;
  EXPECT_EQ(stats.header("Connection"), "close");
  auto r = node.fetch("notice", "obj", "bytes=10-99999");
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.complete && r.body == data.substr(10)) << r.error;
  EXPECT_EQ(r.header("Connection"), "close");
  // The idle keep-alive connection was closed at SIGTERM.
  EXPECT_EQ(idle.request("GET", "/stats").status, 0);
  auto code = node.process().wait(10s);
  ASSERT_TRUE(code.has_value()) << "shoald did not exit after SIGTERM";
  EXPECT_EQ(*code, 0) << node.log();
  EXPECT_GE(std::chrono::steady_clock::now() - signalled, 1500ms);
  EXPECT_FALSE(wait_for_port(node.port(), 200ms));
}

TEST(ShoaldTls, SelfSignedCertificateServesHttps) {
  S3Server s3;
  s3.create_bucket("tls");
  const std::string data = random_bytes(100000, 6);
  s3.put_object("tls", "obj", data);
  Shoald node(s3.endpoint(), {"--page-size", "64KiB", "--tls-self"});
  TempDir dir;
  Process curl =
      Process::spawn({"curl", "-sS", "-k", "-o", dir.path() + "/body", "-w", "%{http_code}", "-H",
                      "Range: bytes=10-70009",
                      "https://127.0.0.1:" + std::to_string(node.port()) + "/fetch/tls/obj"},
                     {}, dir.path() + "/curl.log");
  ASSERT_EQ(curl.wait(std::chrono::seconds(20)), 0) << curl.log();
  EXPECT_EQ(curl.log(), "206");
  std::FILE* f = std::fopen((dir.path() + "/body").c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::string body(70000, '\0');
  EXPECT_EQ(std::fread(body.data(), 1, body.size(), f), 70000u);
  std::fclose(f);
  EXPECT_TRUE(body == data.substr(10, 70000));
}

}  // namespace
}  // namespace shoal::test
