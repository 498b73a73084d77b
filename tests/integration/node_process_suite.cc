// shoald as a process: flag validation at start-up, graceful drain on SIGTERM, TLS.
#include <gtest/gtest.h>
#include <signal.h>

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
