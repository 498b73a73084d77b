// The hit path's send (issue 17): real shoald processes in front of s3rver (through the fault
// proxy, which counts origin GETs). The header goes out with the first body bytes in one write,
// and a response holds its page (PageRef) until its last write completed; so a page evicted or
// purged while responses still send it must not change a byte of them, clients that stop reading
// must be timed out without holding up anyone else, and hot 1 MiB and 16 MiB hits (one after
// another on a keep-alive connection, and pipelined) must be exact.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/proxied_origin.h"
#include "tests/integration/harness/shoald.h"
#include "tests/integration/harness/stream_reader.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t kPage = 16 << 20;
constexpr std::uint64_t kMiB = 1 << 20;
const std::string kBucket = "send";
const std::string kToken = "send-path-admin-token-0123456789";

std::string range(std::uint64_t first, std::uint64_t last) {
  return "bytes=" + std::to_string(first) + "-" + std::to_string(last);
}

// SO_SNDBUF of the one client connection process `pid` has accepted on `port` (as the kernel
// reports it), read through a copy of the process's socket (pidfd_getfd(2)); -1 when there is no
// such connection or the copy is not permitted.
int accepted_send_buffer(pid_t pid, std::uint16_t port) {
  // Raw syscalls: Debian 12's <sys/pidfd.h> (glibc 2.36) declares them without C linkage.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return -1;
  int found = -1;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec).string().rfind("socket:", 0) != 0) continue;
    const int fd = static_cast<int>(
        ::syscall(SYS_pidfd_getfd, pidfd, std::stoi(e.path().filename().string()), 0));
    if (fd < 0) continue;
    sockaddr_in local{}, peer{};
    socklen_t n = sizeof local, m = sizeof peer;
    int size = 0;
    socklen_t len = sizeof size;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &n) == 0 &&
        local.sin_family == AF_INET && ntohs(local.sin_port) == port &&
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &m) == 0 &&
        ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) == 0) {
      found = size;
    }
    ::close(fd);
  }
  ::close(pidfd);
  return found;
}

class SendPath : public ProxiedOriginTest {
 protected:
  SendPath() : ProxiedOriginTest(kBucket) {}
  Shoald start(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {"--page-size", "16MiB"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return Shoald(proxy_->endpoint(), flags);
  }
  int gets(const std::string& key) { return proxy_->count("GET", "/" + kBucket + "/" + key); }
  // Readers of page 0 of `key` (the whole 16 MiB page each) that read its first 64 KiB and then
  // stop reading: their responses stay under way, the rest of the page not yet sent.
  std::vector<std::unique_ptr<StreamReader>> stalled_readers(const Shoald& node,
                                                             const std::string& key, int n) {
    std::vector<std::unique_ptr<StreamReader>> readers;
    for (int i = 0; i < n; ++i) {
      readers.push_back(std::make_unique<StreamReader>(
          node.port(), "/fetch/" + kBucket + "/" + key,
          std::vector<std::pair<std::string, std::string>>{{"Range", range(0, kPage - 1)}}));
      EXPECT_EQ(readers.back()->status(), 206);
      readers.back()->read_until(65536, 10s);
    }
    return readers;
  }
  // Whether the node holds page `page` of `key` (GET /admin/locate; not a read of the page).
  static bool cached_here(const Shoald& node, const std::string& key, int page) {
    auto r = http_request(node.port(), "GET", "/admin/locate?kind=" + kBucket + "&object=" + key,
                          {{"Authorization", "Bearer " + kToken}});
    EXPECT_EQ(r.status, 200) << r.body;
    return nlohmann::json::parse(r.body)["pages"][page]["cached_here"].get<bool>();
  }

  TempDir dir_;
};

// Hot 1 MiB ranges (aligned, unaligned, across a page boundary) and whole 16 MiB pages, one
// after another on one keep-alive connection: every byte right, nothing asked of the origin
// after the warm-up.
TEST_F(SendPath, HotOneAndSixteenMiBHitsAreExact) {
  const std::string data = put("hot.bin", 3 * kPage, 1);
  Shoald node = start({"--memory", "256MiB"});
  ASSERT_EQ(node.fetch(kBucket, "hot.bin", range(0, 3 * kPage - 1)).body.size(), 3 * kPage);
  const int origin = gets("hot.bin");
  HttpConnection conn(node.port());
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> cases = {
      {0, kMiB},          {5 * kMiB, kMiB},   {kPage - kMiB / 2, kMiB},
      {12345, kMiB},      {0, kPage},         {kPage, kPage},
      {kPage + 7, kPage}, {2 * kPage, kPage}, {3 * kPage - kMiB, kMiB}};
  for (auto [first, n] : cases) {
    auto r = conn.request("GET", "/fetch/" + kBucket + "/hot.bin",
                          {{"Range", range(first, first + n - 1)}});
    ASSERT_EQ(r.status, 206) << first;
    ASSERT_TRUE(r.complete) << r.error;
    EXPECT_TRUE(r.body == data.substr(first, n)) << "bytes differ at " << first << "+" << n;
  }
  EXPECT_EQ(gets("hot.bin"), origin);
}

// Two requests written back to back before either answer is read (pipelined): the second
// request's bytes arrive with, or right behind, the first, and both answers come out whole and in
// order.
TEST_F(SendPath, PipelinedHotRequestsAreAnsweredInOrderAndExact) {
  const std::string data = put("pipe.bin", kPage, 2);
  Shoald node = start({"--memory", "256MiB"});
  ASSERT_EQ(node.fetch(kBucket, "pipe.bin", range(0, kPage - 1)).status, 206);
  RawSocket s = raw_socket(node.port());
  std::string reqs;
  for (auto first : {std::uint64_t{0}, 3 * kMiB}) {
    reqs += "GET /fetch/" + kBucket +
            "/pipe.bin HTTP/1.1\r\nHost: x\r\nRange: " + range(first, first + kMiB - 1) +
            "\r\n\r\n";
  }
  boost::asio::write(s.socket, boost::asio::buffer(reqs));
  boost::asio::streambuf in;
  for (auto first : {std::uint64_t{0}, 3 * kMiB}) {
    const std::size_t head = boost::asio::read_until(s.socket, in, "\r\n\r\n");
    const std::string header(boost::asio::buffers_begin(in.data()),
                             boost::asio::buffers_begin(in.data()) + head);
    in.consume(head);
    EXPECT_EQ(header.rfind("HTTP/1.1 206", 0), 0u) << header;
    EXPECT_NE(header.find("Content-Length: 1048576"), std::string::npos) << header;
    if (in.size() < kMiB)
      boost::asio::read(s.socket, in, boost::asio::transfer_exactly(kMiB - in.size()));
    const std::string body(boost::asio::buffers_begin(in.data()),
                           boost::asio::buffers_begin(in.data()) + kMiB);
    in.consume(kMiB);
    EXPECT_TRUE(body == data.substr(first, kMiB)) << "bytes differ at " << first;
  }
}

// Responses still sending page 0 of a.bin (their clients stopped reading after 64 KiB) while a
// small memory tier (2 pages) evicts it for other pages: the page's bytes stay alive for them, and
// each gets exactly a.bin's bytes once it reads again. Afterwards the page really was gone (a read
// goes to the origin).
TEST_F(SendPath, APageEvictedWhileResponsesStillSendItGivesExactBytes) {
  const std::string a = put("a.bin", kPage, 3);
  const std::string b = put("b.bin", 4 * kPage, 4);
  const std::string token = write_file(dir_.path() + "/admin.token", kToken + "\n");
  Shoald node = start({"--memory", "32MiB", "--admin-token-file", token});
  ASSERT_TRUE(node.fetch(kBucket, "a.bin", range(0, kPage - 1)).body == a);
  auto readers = stalled_readers(node, "a.bin", 3);
  // Other pages, each read twice (so that they, too, count as used), until a.bin's page is out.
  for (int round = 0; round < 4 && cached_here(node, "a.bin", 0); ++round) {
    for (std::uint64_t p = 0; p < 4; ++p) {
      for (int twice = 0; twice < 2; ++twice) {
        auto r = node.fetch(kBucket, "b.bin", range(p * kPage, (p + 1) * kPage - 1));
        ASSERT_EQ(r.status, 206);
        ASSERT_TRUE(r.body == b.substr(p * kPage, kPage)) << "b.bin page " << p;
      }
    }
  }
  ASSERT_FALSE(cached_here(node, "a.bin", 0)) << "the memory tier kept a.bin's page";
  EXPECT_GE(stats_json(node.port())["memory"]["evictions"].get<int>(), 1);
  for (auto& r : readers) {
    EXPECT_TRUE(r->read_rest(30s) == a) << "a reader got " << r->body().size() << " bytes";
    EXPECT_FALSE(r->cut());
  }
  const int before = gets("a.bin");
  ASSERT_TRUE(node.fetch(kBucket, "a.bin", range(0, kPage - 1)).body == a);
  EXPECT_EQ(gets("a.bin"), before + 1);
}

// The same with POST /admin/purge: the page is dropped at once while three responses still send
// it; they finish with exact bytes, and the next read goes to the origin.
TEST_F(SendPath, APagePurgedWhileResponsesStillSendItGivesExactBytes) {
  const std::string a = put("a.bin", kPage, 5);
  const std::string token = write_file(dir_.path() + "/admin.token", kToken + "\n");
  Shoald node = start({"--memory", "256MiB", "--admin-token-file", token});
  ASSERT_TRUE(node.fetch(kBucket, "a.bin", range(0, kPage - 1)).body == a);
  auto readers = stalled_readers(node, "a.bin", 3);
  auto purged =
      http_request(node.port(), "POST", "/admin/purge", {{"Authorization", "Bearer " + kToken}},
                   R"({"kind": "send", "object": "a.bin"})");
  ASSERT_EQ(purged.status, 200) << purged.body;
  EXPECT_EQ(nlohmann::json::parse(purged.body)["pages_dropped"], 1) << purged.body;
  EXPECT_FALSE(cached_here(node, "a.bin", 0));
  // Hits on other connections go on meanwhile.
  const int before = gets("a.bin");
  ASSERT_TRUE(node.fetch(kBucket, "a.bin", range(0, kPage - 1)).body == a);
  EXPECT_EQ(gets("a.bin"), before + 1);
  for (auto& r : readers) {
    EXPECT_TRUE(r->read_rest(30s) == a) << "a reader got " << r->body().size() << " bytes";
    EXPECT_FALSE(r->cut());
  }
}

// Clients that stop reading a 16 MiB answer (--write-timeout-ms 1500): other clients' hits are
// served, exact and promptly, while they hang; the stalled answers are cut once the write timeout
// passes, counted as write timeouts, and the node serves on.
TEST_F(SendPath, ClientsThatStopReadingAreTimedOutAndHoldUpNobody) {
  const std::string a = put("a.bin", 2 * kPage, 6);
  Shoald node = start({"--memory", "256MiB", "--write-timeout-ms", "1500"});
  ASSERT_TRUE(node.fetch(kBucket, "a.bin", range(0, 2 * kPage - 1)).body == a);
  const auto started = std::chrono::steady_clock::now();
  auto readers = stalled_readers(node, "a.bin", 4);
  for (int i = 0; i < 8; ++i) {
    const std::uint64_t first = (i % 2) * kPage + i * kMiB;
    auto r = node.fetch(kBucket, "a.bin", range(first, first + kMiB - 1));
    ASSERT_EQ(r.status, 206);
    EXPECT_TRUE(r.body == a.substr(first, kMiB));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms)
      << "hits waited for the stalled clients";
  // Wait for the timeout, then read: what arrives is a prefix of the page, and short.
  std::this_thread::sleep_for(3s);
  for (auto& r : readers) {
    r->read_rest(10s);
    EXPECT_TRUE(r->cut()) << "a stalled answer was not cut (" << r->body().size() << " bytes)";
    EXPECT_TRUE(r->body() == a.substr(0, r->body().size()));
  }
  EXPECT_GE(metric_value(metrics(node.port()),
                         "shoal_client_disconnects_total{reason=\"write_timeout\"}"),
            4.0);
  auto after = node.fetch(kBucket, "a.bin", range(kPage, 2 * kPage - 1));
  EXPECT_TRUE(after.body == a.substr(kPage, kPage));
}

// --client-send-buffer sets SO_SNDBUF on each accepted connection (the kernel reports twice the
// size set): a size fixes it; auto, the default, fixes a client on this host (this loopback test
// client) at 256 KiB; kernel leaves the kernel's autotuning on, which grows the buffer past both
// while a 16 MiB page goes out. Bytes are exact every time.
TEST_F(SendPath, TheClientSendBufferFollowsTheFlagAndBytesStayExact) {
  const std::string a = put("buf.bin", kPage, 8);
  struct Case {
    const char* flag;  // nullptr: the default
    int reported;      // 0: autotuned, larger than 2 x 256 KiB
  };
  for (const Case c :
       {Case{"64KiB", 2 * 64 * 1024}, Case{nullptr, 2 * 256 * 1024}, Case{"kernel", 0}}) {
    const std::string name = c.flag ? c.flag : "(default)";
    std::vector<std::string> flags = {"--memory", "256MiB"};
    if (c.flag) flags.insert(flags.end(), {"--client-send-buffer", c.flag});
    Shoald node = start(flags);
    ASSERT_TRUE(node.fetch(kBucket, "buf.bin", range(0, kPage - 1)).body == a) << name;
    StreamReader reader(node.port(), "/fetch/" + kBucket + "/buf.bin",
                        {{"Range", range(0, kPage - 1)}});
    ASSERT_EQ(reader.status(), 206) << name;
    reader.read_until(4 * kMiB, 10s);  // the send is under way; an autotuned buffer has grown
    const int size = accepted_send_buffer(node.process().pid(), node.port());
    ASSERT_GT(size, 0) << "no accepted connection found (pidfd_getfd)";
    if (c.reported > 0) {
      EXPECT_EQ(size, c.reported) << name;
    } else {
      EXPECT_GT(size, 2 * 256 * 1024) << "the kernel's autotuning did not grow the buffer";
    }
    reader.read_rest(30s);
    EXPECT_TRUE(reader.body() == a) << name;
  }
}

}  // namespace
}  // namespace shoal::test
