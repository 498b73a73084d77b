// The client port under hostile or heavy use: slowloris, oversized and malformed requests,
// many connections reading a long range slowly, and load shedding of misses.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <random>
#include <thread>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/shoald.h"

namespace shoal::test {
namespace {

namespace asio = boost::asio;
constexpr std::uint64_t kPage = 64 * 1024;

// Resident set size of a process in bytes, from /proc/PID/status.
std::uint64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Sends `bytes` on a connected socket; false if the peer closed it.
bool send(RawSocket& s, const std::string& bytes) {
  boost::system::error_code ec;
  asio::write(s.socket, asio::buffer(bytes), ec);
  return !ec;
}

// Reads one response head (up to the blank line) and returns its status code, 0 on close.
int read_status(RawSocket& s) {
  std::string head;
  char c;
  boost::system::error_code ec;
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
    if (asio::read(s.socket, asio::buffer(&c, 1), ec) != 1) return 0;
    head += c;
  }
  if (head.size() < 12) return 0;
  return std::stoi(head.substr(9, 3));
}

class Hardening : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    s3_->create_bucket("hard");
    data_ = new std::string(random_bytes(8 * kPage, 3));
    s3_->put_object("hard", "obj", *data_);
  }
  static void TearDownTestSuite() {
    delete s3_;
    delete data_;
  }
  static S3Server* s3_;
  static std::string* data_;
};
S3Server* Hardening::s3_ = nullptr;
std::string* Hardening::data_ = nullptr;

TEST_F(Hardening, SlowlorisDoesNotStopOthersBeingServed) {
  Shoald node(s3_->endpoint(), {"--page-size", "64KiB", "--header-timeout-ms", "1500"});
  std::vector<RawSocket> slow;
  for (int i = 0; i < 300; ++i) slow.push_back(raw_socket(node.port()));
  const std::string head = "GET /fetch/hard/obj HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n";
  std::atomic<bool> stop{false};
  std::atomic<int> closed_by_server{0};
  std::thread trickler([&] {
    for (std::size_t i = 0; i < head.size() && !stop; ++i) {
      for (auto& s : slow) {
        if (s.socket.is_open() && !send(s, std::string(1, head[i]))) {
          ++closed_by_server;
          s.socket.close();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  // A normal client keeps being served meanwhile.
  for (int i = 0; i < 50; ++i) {
    auto r = node.fetch("hard", "obj", "bytes=0-" + std::to_string(kPage - 1));
    ASSERT_EQ(r.status, 206);
    ASSERT_TRUE(r.body == data_->substr(0, kPage));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  stop = true;
  trickler.join();
  // The trickling connections were cut at the header timeout, not left open.
  int still_open = 0;
  for (auto& s : slow) {
    if (!s.socket.is_open()) continue;
    char c;
    boost::system::error_code ec;
    s.socket.non_blocking(true);
    s.socket.read_some(asio::buffer(&c, 1), ec);
    if (ec == asio::error::would_block) ++still_open;
  }
  EXPECT_EQ(still_open, 0);
  EXPECT_EQ(node.fetch("hard", "obj", "bytes=0-9").status, 206);
}

TEST_F(Hardening, OversizedHeadersAre431) {
  Shoald node(s3_->endpoint(),
              {"--page-size", "64KiB", "--max-header-bytes", "4096", "--max-header-fields", "20"});
  auto big = node.fetch("hard", "obj", "bytes=0-9", {{"X-Big", std::string(8000, 'a')}});
  EXPECT_EQ(big.status, 431);
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 30; ++i) many.emplace_back("X-F" + std::to_string(i), "v");
  EXPECT_EQ(node.fetch("hard", "obj", "bytes=0-9", many).status, 431);
  EXPECT_EQ(node.fetch("hard", "obj", "bytes=0-9").status, 206);
}

// A generated set of malformed requests: each must get a 4xx (or a clean close for bytes that
// are not HTTP at all), and the node must serve normally afterwards.
TEST_F(Hardening, TenThousandMalformedRequestsAllGet4xx) {
  Shoald node(s3_->endpoint(), {"--page-size", "64KiB"});
  std::mt19937_64 rng(99);
  const std::vector<std::string> targets = {"/fetch/hard/obj",
                                            "/fetch/",
                                            "/fetch/hard",
                                            "/fetch//obj",
                                            "/fetch/hard/%",
                                            "/fetch/hard/%zz",
                                            "/fetch/hard/a%00b",
                                            "/fetch/hard/\x7f",
                                            "/fetch/" + std::string(70, 'k') + "/o",
                                            "/fetch/hard/" + std::string(1100, 'o'),
                                            "/fetch/hard/%C3%28",
                                            "/stats/x",
                                            "/",
                                            "*"};
  const std::vector<std::string> ranges = {"",
                                           "bytes=",
                                           "bytes=a-b",
                                           "bytes=5-1",
                                           "bytes=0-1,2-3",
                                           "bytes=-",
                                           "bytes=--1",
                                           "bytes=99999999999999999999-",
                                           "items=0-1",
                                           "bytes 0-1",
                                           "bytes=0-1 x",
                                           "bytes=+1-2"};
  const std::vector<std::string> methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
  const std::vector<std::pair<std::string, std::string>> extras = {
      {"C0-Bucket", "a b"},   {"C0-Bucket", "x/y"},    {"C0-Bucket", ""}, {"C0-Config", "ma=0"},
      {"C0-Config", "ct=-1"}, {"C0-Config", "rt=abc"}, {"X-Ok", "1"}};
  int answered = 0;
  HttpConnection conn(node.port());
  for (int i = 0; i < 10000; ++i) {
    const std::string& target = targets[rng() % targets.size()];
    const std::string& range = ranges[rng() % ranges.size()];
    const std::string& method = methods[rng() % methods.size()];
    std::vector<std::pair<std::string, std::string>> headers;
    if (!range.empty()) headers.emplace_back("Range", range);
    const bool valid_request = target == "/fetch/hard/obj" && range.empty() == false &&
                               (method == "GET" || method == "HEAD");
    if (valid_request) headers.push_back(extras[rng() % (extras.size() - 1)]);  // a bad extra
    if (!conn.is_open()) conn = HttpConnection(node.port());
    auto r = conn.request(method, target, headers, std::chrono::seconds(10));
    ASSERT_GE(r.status, 400) << method << " " << target << " Range: " << range;
    ASSERT_LT(r.status, 500) << method << " " << target << " Range: " << range << ": " << r.body;
    ++answered;
  }
  EXPECT_EQ(answered, 10000);
  // Raw garbage that is not HTTP: a 400 and a close, never a crash.
  for (const std::string& garbage :
       {std::string("\x16\x03\x01\x02\x00", 5), std::string("GET\r\n\r\n"),
        std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("GET /fetch/hard/obj HTTP/1.1\r\nRange: bytes=0-1\r\nContent-Length: "
                    "5\r\n\r\nhello")}) {
    RawSocket s = raw_socket(node.port());
    send(s, garbage);
    int status = read_status(s);
    EXPECT_TRUE(status == 0 || (status >= 400 && status < 500)) << status;
  }
  auto ok = node.fetch("hard", "obj", "bytes=10-20");
  EXPECT_EQ(ok.status, 206);
  EXPECT_TRUE(ok.body == data_->substr(10, 11));
}

TEST_F(Hardening, ManySlowReadersOfALongRangeStayWithinMemoryBound) {
  // A hot object of 32 MiB in 64 KiB pages; 1000 connections ask for all of it and read nothing.
  const std::string big = random_bytes(32u << 20, 4);
  s3_->put_object("hard", "big", big);
  Shoald node(s3_->endpoint(), {"--page-size", "64KiB", "--memory", "64MiB"});
  auto warm = node.fetch("hard", "big", "bytes=0-" + std::to_string(big.size() - 1));
  ASSERT_EQ(warm.status, 206);
  ASSERT_TRUE(warm.body == big);
  const std::uint64_t rss_before = rss_bytes(node.process().pid());
  std::vector<RawSocket> readers;
  for (int i = 0; i < 1000; ++i) {
    readers.push_back(raw_socket(node.port()));
    send(readers.back(), "GET /fetch/hard/big HTTP/1.1\r\nHost: x\r\nRange: bytes=0-" +
                             std::to_string(big.size() - 1) + "\r\n\r\n");
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::uint64_t rss_during = rss_bytes(node.process().pid());
  // Pages are shared with the cache; each connection holds at most its read-ahead window of
  // references and one 1 MiB write slice in flight, never a copy of its range.
  EXPECT_LT(rss_during, rss_before + 64u * 1024 * 1024)
      << "before " << rss_before << " during " << rss_during;
  // The node copies the first megabytes of 1000 responses into socket buffers; on a loaded
  // machine that takes seconds, so ask patiently.
  nlohmann::json s;
  for (int attempt = 0; attempt < 6 && s.is_null(); ++attempt) {
    try {
      s = stats_json(node.port());
    } catch (const std::exception&) {
    }
  }
  ASSERT_FALSE(s.is_null()) << "/stats never answered";
  EXPECT_GE(s["requests"]["connections"].get<int>(), 1000);
  // One reader drains its whole range correctly despite the others.
  std::string got;
  {
    auto& r = readers.front();
    std::string all;
    char buf[1 << 16];
    boost::system::error_code ec;
    // Until the header and the whole body are in (the header's bytes do not count as body).
    while (true) {
      const auto hdr = all.find("\r\n\r\n");
      if (hdr != std::string::npos && all.size() - hdr - 4 >= big.size()) break;
      std::size_t n = r.socket.read_some(asio::buffer(buf), ec);
      if (ec) break;
      all.append(buf, n);
    }
    got = all.substr(all.find("\r\n\r\n") + 4);
  }
  EXPECT_TRUE(got == big);
  readers.clear();
  EXPECT_EQ(node.fetch("hard", "big", "bytes=0-99").status, 206);
}

TEST_F(Hardening, MissesOverTheFetchLimitAreShedWith503WhileHitsAreServed) {
  FaultProxy proxy(s3_->port());
  for (int i = 0; i < 6; ++i) s3_->put_object("hard", "shed" + std::to_string(i), *data_);
  Shoald node(proxy.endpoint(), {"--page-size", "64KiB", "--max-origin-fetches", "2"});
  ASSERT_EQ(node.fetch("hard", "obj", "bytes=0-9").status, 206);  // page 0 of obj is hot
  proxy.add_rule(
      {{"match", {{"path_contains", "shed"}}}, {"action", "delay_first_byte"}, {"ms", 1500}});
  std::vector<HttpResponse> results(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          node.fetch("hard", "shed" + std::to_string(i), "bytes=0-9");
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto hit = node.fetch("hard", "obj", "bytes=0-9");  // hits are not shed
  EXPECT_EQ(hit.status, 206);
  for (auto& t : threads) t.join();
  int ok = 0, shed = 0;
  for (auto& r : results) {
    if (r.status == 206) ++ok;
    if (r.status == 503) {
      ++shed;
      EXPECT_EQ(r.header("Retry-After"), "1");
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(shed, 4);
  EXPECT_EQ(metric_value(metrics(node.port()), "shoal_pages_shed_total"), 4);
}

TEST_F(Hardening, ConnectionsOverTheLimitAreRefusedCleanly) {
  Shoald node(s3_->endpoint(), {"--page-size", "64KiB", "--max-connections", "10"});
  std::vector<RawSocket> held;
  for (int i = 0; i < 10; ++i) held.push_back(raw_socket(node.port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawSocket extra = raw_socket(node.port());
  EXPECT_EQ(read_status(extra), 503);
  held.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(node.fetch("hard", "obj", "bytes=0-9").status, 206);
}

}  // namespace
}  // namespace shoal::test
