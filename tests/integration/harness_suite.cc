// Tests of the integration-test harness itself, against real parts: child processes, s3rver,
// tests/tools/fault_proxy.py and small scripted TCP servers.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/harness/harness.h"

namespace shoal::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A one-connection server on a thread: accepts one connection, then for each scripted reply reads
// one request head and writes the reply's bytes verbatim. Afterwards it closes at once
// (close_after_replies) or waits until the client closes.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> replies, bool close_after_replies = false)
      : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
        replies_(std::move(replies)),
        close_after_replies_(close_after_replies),
        thread_([this] { serve(); }) {}

  ~ScriptedServer() {
    if (!accepted_) {
      try {
        raw_socket(port());  // unblocks accept(); closed at once
      } catch (const std::exception&) {
      }
    }
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int requests_read() const { return requests_read_; }

 private:
  void serve() {
    boost::system::error_code ec;
    tcp::socket socket = acceptor_.accept(ec);
    accepted_ = true;
    if (ec) return;
    asio::streambuf input;
    for (const auto& reply : replies_) {
      std::size_t n = asio::read_until(socket, input, "\r\n\r\n", ec);
      if (ec) return;
      input.consume(n);
      ++requests_read_;
      asio::write(socket, asio::buffer(reply), ec);
      if (ec) return;
    }
    if (close_after_replies_) return;
    char byte;
    socket.read_some(asio::buffer(&byte, 1), ec);  // until the client closes
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<std::string> replies_;
  bool close_after_replies_;
  std::atomic<bool> accepted_{false};
  std::atomic<int> requests_read_{0};
  std::thread thread_;
};

// ---- paths, TempDir, ports, bytes ----

TEST(Paths, SourceDirHoldsTheToolsAndBinDirFollowsEnvironment) {
  EXPECT_TRUE(std::filesystem::exists(source_dir() + "/tests/tools/fault_proxy.py"));
  const char* saved = std::getenv("SHOAL_BIN_DIR");
  std::string before = saved != nullptr ? saved : "";
  ::setenv("SHOAL_BIN_DIR", "/elsewhere/bin", 1);
  EXPECT_EQ(bin_dir(), "/elsewhere/bin");
  ::setenv("SHOAL_BIN_DIR", "", 1);
  EXPECT_EQ(bin_dir(), SHOAL_BIN_DIR);
  if (saved != nullptr) {
    ::setenv("SHOAL_BIN_DIR", before.c_str(), 1);
  } else {
    ::unsetenv("SHOAL_BIN_DIR");
  }
}

TEST(TempDir, IsRemovedWithItsContents) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    ASSERT_TRUE(std::filesystem::is_directory(path));
    std::filesystem::create_directories(path + "/a/b");
    std::ofstream(path + "/a/b/file") << "data";
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDir, MovedFromOwnsNothing) {
  TempDir first;
  std::string path = first.path();
  TempDir second(std::move(first));
  EXPECT_EQ(second.path(), path);
  EXPECT_TRUE(first.path().empty());
  EXPECT_TRUE(std::filesystem::is_directory(path));
}

TEST(FreePort, GivesDistinctBindablePorts) {
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 20; ++i) {
    std::uint16_t port = free_port();
    EXPECT_TRUE(seen.insert(port).second) << port;
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), port));
    EXPECT_EQ(acceptor.local_endpoint().port(), port);
  }
}

TEST(WaitForPort, TrueOnlyWhileSomethingListens) {
  std::uint16_t port = free_port();
  EXPECT_FALSE(wait_for_port(port, 50ms));
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), port));
  EXPECT_TRUE(wait_for_port(port, 1s));
}

TEST(RandomBytes, DeterministicPerSeedAndPrefixStable) {
  EXPECT_EQ(random_bytes(1000, 7), random_bytes(1000, 7));
  EXPECT_NE(random_bytes(1000, 7), random_bytes(1000, 8));
  EXPECT_EQ(random_bytes(13, 7), random_bytes(1000, 7).substr(0, 13));
  EXPECT_EQ(random_bytes(0, 7), "");
  // std::mt19937_64 seeded with 5489 (its default) first yields 14514284786278117030.
  std::string first = random_bytes(8, 5489);
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(first[i]);
  EXPECT_EQ(value, 14514284786278117030ULL);
}

// ---- Process ----

TEST(Process, ReportsExitCode) {
  Process p = Process::spawn({"sh", "-c", "exit 7"});
  EXPECT_EQ(p.wait(5s), 7);
  EXPECT_EQ(p.wait(0ms), 7);
  EXPECT_FALSE(p.running());
}

TEST(Process, WaitTimesOutWhileChildRuns) {
  Process p = Process::spawn({"sleep", "30"});
  auto start = Clock::now();
  EXPECT_EQ(p.wait(100ms), std::nullopt);
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_TRUE(p.running());
}

TEST(Process, KillStopsAndReaps) {
  Process p = Process::spawn({"sleep", "30"});
  pid_t pid = p.pid();
  ASSERT_TRUE(p.running());
  p.kill();
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.wait(0ms), 128 + SIGKILL);
  EXPECT_EQ(::kill(pid, 0), -1);  // reaped: the pid no longer exists
}

TEST(Process, SignalReachesChild) {
  Process p = Process::spawn({"sleep", "30"});
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(5s), 128 + SIGTERM);
}

TEST(Process, DestructorKillsChild) {
  pid_t pid;
  {
    Process p = Process::spawn({"sleep", "30"});
    pid = p.pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);
}

TEST(SanitizerReport, FoundAtTheStartOfItsLineForEachSanitizer) {
  const std::string info = "2026-11-21T00:00:00Z info listening\n";
  EXPECT_EQ(find_sanitizer_report(info), std::string::npos);
  EXPECT_EQ(find_sanitizer_report(""), std::string::npos);
  EXPECT_EQ(find_sanitizer_report(info + "==12==ERROR: AddressSanitizer: heap-use-after-free\n"),
            info.size());
  EXPECT_EQ(find_sanitizer_report(info + "==12==ERROR: LeakSanitizer: detected memory leaks\n"),
            info.size());
  EXPECT_EQ(find_sanitizer_report("node/x.cc:3:9: runtime error: signed integer overflow\n"), 0u);
  EXPECT_EQ(find_sanitizer_report(info + "a runtime error occurred\n"), std::string::npos);
}

TEST(SanitizerReport, InAChildsLogFailsTheTest) {
  TempDir dir;
  Process clean = Process::spawn({"sh", "-c", "echo fine"}, {}, dir.path() + "/clean.log");
  ASSERT_EQ(clean.wait(5s), 0);
  check_child_log(clean, "clean child");  // no finding: no failure
  Process dirty = Process::spawn({"sh", "-c", "echo '==7==ERROR: AddressSanitizer: SEGV' >&2"}, {},
                                 dir.path() + "/dirty.log");
  ASSERT_EQ(dirty.wait(5s), 0);
  EXPECT_NONFATAL_FAILURE(check_child_log(dirty, "dirty child"),
                          "dirty child reported a sanitizer finding");
}

TEST(Process, MoveTransfersOwnership) {
  Process a = Process::spawn({"sleep", "30"});
  pid_t pid = a.pid();
  Process b = std::move(a);
  EXPECT_EQ(a.pid(), -1);
  EXPECT_FALSE(a.running());
  EXPECT_EQ(b.pid(), pid);
  EXPECT_TRUE(b.running());
}

TEST(Process, EnvironmentAndLogAreApplied) {
  TempDir dir;
  std::string log = dir.path() + "/child.log";
  Process p = Process::spawn({"sh", "-c", "echo \"out $SHOAL_TEST_VAR\"; echo err >&2"},
                             {{"SHOAL_TEST_VAR", "value"}}, log);
  ASSERT_EQ(p.wait(5s), 0);
  EXPECT_EQ(p.log(), "out value\nerr\n");
}

TEST(Process, MissingProgramThrows) {
  EXPECT_THROW(Process::spawn({"shoal-no-such-program"}), std::runtime_error);
  EXPECT_THROW(Process::spawn({"/nonexistent/program"}), std::runtime_error);
  EXPECT_THROW(Process::spawn({}), std::invalid_argument);
}

TEST(Process, ChildDiesWhenSpawningThreadExits) {
  Process child;
  std::thread([&child] { child = Process::spawn({"sleep", "30"}); }).join();
  EXPECT_EQ(child.wait(5s), 128 + SIGKILL);
}

TEST(Process, ListeningSocketsDoNotLeakIntoChild) {
  std::uint16_t port = free_port();
  Process child;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), port));
    child = Process::spawn({"sleep", "30"});
  }
  EXPECT_FALSE(wait_for_port(port, 0ms));  // the child holds no copy of the listener
}

// ---- HTTP client ----

TEST(HttpRequest, SeparatesTrailersFromHeaders) {
  ScriptedServer server({
      "HTTP/1.1 206 Partial Content\r\nContent-Type: application/octet-stream\r\n"
      "Transfer-Encoding: chunked\r\nTrailer: C0-Status\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\nC0-Status: 1-2; b; 0\r\nX-Extra: yes\r\n\r\n",
  });
  HttpResponse r = http_request(server.port(), "GET", "/x", {{"Range", "bytes=0-10"}}, 5s);
  EXPECT_TRUE(r.complete) << r.error;
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.header("content-type"), "application/octet-stream");
  EXPECT_EQ(r.header("c0-status"), "");
  EXPECT_EQ(r.trailer("C0-STATUS"), "1-2; b; 0");
  ASSERT_EQ(r.trailers.size(), 2u);
  EXPECT_EQ(r.trailers[1].first, "X-Extra");
}

TEST(HttpRequest, EarlyCloseGivesIncompleteBody) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"}, true);
  HttpResponse r = http_request(server.port(), "GET", "/x", {}, 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.body, "0123456789");
  EXPECT_FALSE(r.error.empty());
}

TEST(HttpRequest, TimeoutBeforeHeaderGivesStatusZero) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Len"});
  auto start = Clock::now();
  HttpResponse r = http_request(server.port(), "GET", "/x", {}, 300ms);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.complete);
  EXPECT_FALSE(r.error.empty());
}

TEST(HttpRequest, ConnectionRefusedThrows) {
  EXPECT_THROW(http_request(free_port(), "GET", "/"), std::runtime_error);
}

TEST(HttpConnection, KeepAliveCarriesSeveralRequests) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
                         "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\ntwo",
                         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"});
  HttpConnection connection(server.port());
  HttpResponse first = connection.request("GET", "/1", {}, 5s);
  HttpResponse second = connection.request("POST", "/2", {}, "body", 5s);
  EXPECT_TRUE(connection.is_open());
  HttpResponse third = connection.request("HEAD", "/3", {}, 5s);
  EXPECT_EQ(first.body, "one");
  EXPECT_EQ(second.status, 404);
  EXPECT_EQ(second.body, "two");
  EXPECT_TRUE(third.complete);
  EXPECT_FALSE(connection.is_open());
  EXPECT_EQ(server.requests_read(), 3);
  HttpResponse after = connection.request("GET", "/4", {}, 1s);
  EXPECT_EQ(after.status, 0);
  EXPECT_EQ(after.error, "connection closed");
}

TEST(RawSocket, SendsHandMadeBytes) {
  ScriptedServer server({"HTTP/1.1 204 No Content\r\n\r\n"}, true);
  RawSocket raw = raw_socket(server.port());
  std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(raw.socket, asio::buffer(request));
  std::string reply;
  boost::system::error_code ec;
  asio::read(raw.socket, asio::dynamic_buffer(reply), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(reply, "HTTP/1.1 204 No Content\r\n\r\n");
}

// ---- metrics ----

TEST(MetricValue, FindsExactSeriesOnly) {
  std::string text =
      "# HELP shoal_pages_total Pages.\n# TYPE shoal_pages_total counter\n"
      "shoal_pages_total{outcome=\"miss_x\"} 9\n"
      "shoal_pages_total{outcome=\"miss\"} 42\n"
      "shoal_up 1 1700000000000\n"
      "shoal_ratio NaN\n";
  EXPECT_EQ(metric_value(text, "shoal_pages_total{outcome=\"miss\"}"), 42);
  EXPECT_EQ(metric_value(text, "shoal_up"), 1);
  EXPECT_TRUE(std::isnan(metric_value(text, "shoal_pages_total")));
  EXPECT_TRUE(std::isnan(metric_value(text, "shoal_pages_total{outcome=\"hit\"}")));
  EXPECT_TRUE(std::isnan(metric_value(text, "shoal_ratio")));
}

TEST(NodeObservability, MetricsAndStatsReturnBodies) {
  const std::string text = "# TYPE shoal_up gauge\nshoal_up 1\n";
  ScriptedServer metrics_server(
      {"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(text.size()) + "\r\n\r\n" + text});
  EXPECT_EQ(metric_value(metrics(metrics_server.port()), "shoal_up"), 1);
  ScriptedServer stats_server({"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"pages\": 42}"});
  EXPECT_EQ(stats_json(stats_server.port())["pages"], 42);
  ScriptedServer failing({"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"});
  EXPECT_THROW(stats_json(failing.port()), std::runtime_error);
}

// ---- S3Server ----

TEST(S3Server, RoundTripsKeysWithSpacesAndUtf8) {
  S3Server s3;
  s3.create_bucket("bkt");
  const std::string key = "dir/a b+c/\xc3\xbc\xc3\xb1\xc3\xae.bin";
  s3.put_object("bkt", key, "payload");
  EXPECT_EQ(s3.get_object("bkt", key), "payload");
  s3.delete_object("bkt", key);
  EXPECT_THROW(s3.get_object("bkt", key), std::runtime_error);
}

TEST(S3Server, ErrorCarriesStatusAndBody) {
  S3Server s3;
  try {
    s3.get_object("no-such-bucket", "k");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("404"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NoSuchBucket"), std::string::npos) << e.what();
  }
}

TEST(S3Server, UploadsLargeObject) {
  S3Server s3;
  s3.create_bucket("big");
  const std::string data = random_bytes(64 << 20, 3);
  s3.put_object("big", "large.bin", data);
  EXPECT_TRUE(s3.get_object("big", "large.bin") == data);
}

TEST(S3Server, RestartKeepsPortAndData) {
  S3Server s3;
  s3.create_bucket("bkt");
  s3.put_object("bkt", "k", "kept");
  std::uint16_t port = s3.port();
  s3.stop();
  EXPECT_FALSE(s3.running());
  EXPECT_FALSE(wait_for_port(port, 0ms));
  EXPECT_THROW(s3.get_object("bkt", "k"), std::runtime_error);
  s3.start();
  EXPECT_EQ(s3.port(), port);
  EXPECT_EQ(s3.get_object("bkt", "k"), "kept");
}

// ---- FaultProxy ----

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_.create_bucket("bkt");
    s3_.put_object("bkt", "obj one", object_);
  }

  HttpResponse get(std::string range = "", std::chrono::milliseconds timeout = 10s) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!range.empty()) headers.emplace_back("Range", range);
    return http_request(proxy_.port(), "GET", "/bkt/obj%20one", headers, timeout);
  }

  const std::string object_ = random_bytes(1 << 20, 11);
  S3Server s3_;
  FaultProxy proxy_{s3_.port()};
};

TEST_F(FaultProxyTest, ForwardsAndCountsRequests) {
  EXPECT_EQ(S3Client(proxy_.endpoint()).get_object("bkt", "obj one"), object_);
  HttpResponse r = get("bytes=10-19");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, object_.substr(10, 10));
  EXPECT_EQ(r.header("Content-Range"), "bytes 10-19/1048576");
  EXPECT_EQ(proxy_.count("GET"), 2);
  EXPECT_EQ(proxy_.count("GET", "/bkt/obj%20one"), 2);
  EXPECT_EQ(proxy_.count("GET", "/other"), 0);
  EXPECT_EQ(proxy_.count("HEAD"), 0);
  auto stats = proxy_.stats();
  EXPECT_EQ(stats["counts"]["GET"], 2);
  EXPECT_EQ(stats["requests"][1]["range"], "bytes=10-19");
  EXPECT_EQ(stats["requests"][1]["status"], 206);
  EXPECT_EQ(stats["requests"][1]["aborted"], false);
  proxy_.reset();
  EXPECT_EQ(proxy_.count("GET"), 0);
}

TEST_F(FaultProxyTest, KeepAliveConnectionCarriesSeveralRequests) {
  HttpConnection connection(proxy_.port());
  EXPECT_EQ(connection.request("GET", "/bkt/obj%20one", {{"Range", "bytes=0-0"}}).status, 206);
  EXPECT_EQ(connection.request("HEAD", "/bkt/obj%20one").header("Content-Length"), "1048576");
  EXPECT_EQ(connection.request("GET", "/bkt/missing").status, 404);
  EXPECT_TRUE(connection.is_open());
  EXPECT_EQ(proxy_.count("HEAD"), 1);
}

TEST_F(FaultProxyTest, StatusRuleAnswersWithS3Error) {
  proxy_.add_rule({{"match", {{"method", "GET"}, {"path_contains", "obj%20one"}}},
                   {"action", "status"},
                   {"status", 503},
                   {"code", "SlowDown"},
                   {"times", 1}});
  HttpResponse first = get();
  EXPECT_EQ(first.status, 503);
  EXPECT_NE(first.body.find("<Code>SlowDown</Code>"), std::string::npos) << first.body;
  EXPECT_EQ(get().status, 200);  // expired after one firing
  EXPECT_EQ(proxy_.stats()["requests"][0]["action"], "status");
}

TEST_F(FaultProxyTest, MatchLimitsRuleToMethodAndPath) {
  proxy_.add_rule({{"match", {{"method", "HEAD"}}}, {"action", "status"}, {"status", 500}});
  proxy_.add_rule(
      {{"match", {{"path_contains", "/other"}}}, {"action", "status"}, {"status", 404}});
  EXPECT_EQ(get().status, 200);
  EXPECT_EQ(http_request(proxy_.port(), "HEAD", "/bkt/obj%20one").status, 500);
  proxy_.clear_rules();
  EXPECT_EQ(http_request(proxy_.port(), "HEAD", "/bkt/obj%20one").status, 200);
}

TEST_F(FaultProxyTest, ProbabilityIsSeededAndPartial) {
  proxy_.add_rule({{"action", "status"}, {"status", 500}, {"probability", 0.5}});
  int failures = 0;
  for (int i = 0; i < 20; ++i) failures += get("bytes=0-0").status == 500 ? 1 : 0;
  EXPECT_GT(failures, 0);
  EXPECT_LT(failures, 20);
}

TEST_F(FaultProxyTest, DelayFirstByteDelays) {
  proxy_.add_rule({{"action", "delay_first_byte"}, {"ms", 300}});
  auto start = Clock::now();
  HttpResponse r = get("bytes=0-99");
  EXPECT_GE(Clock::now() - start, 300ms);
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.complete);
}

TEST_F(FaultProxyTest, StallMidBodyPausesThenCompletes) {
  proxy_.add_rule({{"action", "stall_mid_body"}, {"after_bytes", 1000}, {"ms", 300}});
  auto start = Clock::now();
  HttpResponse r = get();
  EXPECT_GE(Clock::now() - start, 300ms);
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.body == object_);
}

TEST_F(FaultProxyTest, TruncateSendsFewerBytesThanPromised) {
  proxy_.add_rule({{"action", "truncate"}, {"after_bytes", 1000}});
  HttpResponse r = get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Length"), "1048576");
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.body, object_.substr(0, 1000));
}

TEST_F(FaultProxyTest, ResetAbortsConnection) {
  proxy_.add_rule({{"action", "reset"}, {"times", 1}});
  HttpResponse r = get();
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.complete);
  proxy_.add_rule({{"action", "reset"}, {"after_bytes", 500}});
  r = get();
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.body.size(), 500u);
}

TEST_F(FaultProxyTest, WrongContentRangeShiftsStart) {
  proxy_.add_rule({{"action", "wrong_content_range"}});
  HttpResponse r = get("bytes=100-199");
  EXPECT_EQ(r.header("Content-Range"), "bytes 101-199/1048576");
  EXPECT_EQ(r.body, object_.substr(100, 100));
}

TEST_F(FaultProxyTest, ClientAbortIsRecorded) {
  proxy_.add_rule({{"action", "stall_mid_body"}, {"after_bytes", 1000}, {"ms", 2000}});
  HttpResponse r = get("", 200ms);
  EXPECT_FALSE(r.complete);
  bool aborted = false;
  for (auto deadline = Clock::now() + 5s; !aborted && Clock::now() < deadline;) {
    aborted = proxy_.stats()["requests"][0]["aborted"].get<bool>();
    if (!aborted) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(aborted);
  EXPECT_EQ(get("bytes=0-9").status, 206);  // the proxy lives on
}

TEST_F(FaultProxyTest, InvalidRuleIsRejected) {
  EXPECT_THROW(proxy_.add_rule({{"action", "explode"}}), std::runtime_error);
  EXPECT_THROW(proxy_.add_rule({{"action", "truncate"}}), std::runtime_error);
  EXPECT_THROW(proxy_.add_rule({{"action", "status"}, {"status", 503}, {"delay", 1}}),
               std::runtime_error);
  EXPECT_THROW(proxy_.add_rule({{"action", "reset"}, {"probability", 2}}), std::runtime_error);
}

TEST_F(FaultProxyTest, UpstreamOutageResetsClientsUntilRestart) {
  s3_.stop();
  HttpResponse r = get("bytes=0-9");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(proxy_.stats()["requests"][0]["error"].is_null());
  s3_.start();
  EXPECT_EQ(get("bytes=0-9").body, object_.substr(0, 10));
}

}  // namespace
}  // namespace shoal::test
