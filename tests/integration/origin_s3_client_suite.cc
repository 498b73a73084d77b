// origin::S3Client against a real s3rver (and the fault proxy in front of it), a TCP listener
// that never answers, and a closed port.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "origin/s3_client.h"
#include "tests/integration/harness/harness.h"

namespace shoal::origin {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kBucket[] = "origin-test";
constexpr char kDataKey[] = "data.bin";
constexpr std::uint64_t kPage = 256 * 1024;
constexpr std::uint64_t kDataSize = 4 * kPage + 1234;  // four full pages and a partial one
constexpr char kOddKey[] = "dir one/sub dir/caf\xC3\xA9 +x (1).bin";

// Opens a listening TCP socket on 127.0.0.1 with an ephemeral port; returns the fd.
int listen_loopback(std::uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("listen_loopback: cannot listen");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// A TCP listener on 127.0.0.1 that never accepts: the kernel completes handshakes into the
// backlog, so clients connect and send, and no answer ever comes.
class SilentListener {
 public:
  SilentListener() : fd_(listen_loopback(&port_)) {}
  ~SilentListener() { ::close(fd_); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::uint16_t port_ = 0;
  int fd_;
};

// Accepts one connection on its own thread, keeps the request head it reads and answers
// 503 with an empty body.
class RequestRecorder {
 public:
  RequestRecorder() : fd_(listen_loopback(&port_)), thread_([this] { serve(); }) {}
  ~RequestRecorder() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept() if no request came
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Waits for the request head (the thread ends after one exchange).
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  void serve() {
    const int conn = ::accept(fd_, nullptr, nullptr);
    if (conn < 0) return;
    char buf[4096];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::read(conn, buf, sizeof(buf));
      if (n <= 0) break;
      request_.append(buf, static_cast<std::size_t>(n));
    }
    const std::string answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (::write(conn, answer.data(), answer.size()) < 0) request_ += "(write failed)";
    ::close(conn);
  }

  std::uint16_t port_ = 0;
  int fd_;
  std::string request_;
  std::thread thread_;
};

S3Config s3_config(const std::string& endpoint) {
  S3Config cfg;
  cfg.endpoint = endpoint;
  cfg.region = "us-east-1";
  cfg.credentials = Credentials{"S3RVER", "S3RVER", ""};
  cfg.addressing = Addressing::kPath;
  cfg.endpoint_is_default = false;
  return cfg;
}

RequestConfig fast_config() {
  RequestConfig rc;
  rc.connect_timeout = 1000ms;
  rc.read_timeout = 3000ms;
  rc.attempt_timeout = 5000ms;
  rc.operation_timeout = 10000ms;
  rc.max_attempts = 3;
  rc.initial_backoff = 1ms;
  rc.max_backoff = 10ms;
  return rc;
}

std::string as_string(const base::Bytes& bytes) {
  return std::string(bytes.data.get(), bytes.size);
}

class OriginS3ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new test::S3Server();
    server_->create_bucket(kBucket);
    data_ = new std::string(test::random_bytes(kDataSize, 7));
    server_->put_object(kBucket, kDataKey, *data_);
    server_->put_object(kBucket, kOddKey, "odd key body");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete data_;
    server_ = nullptr;
    data_ = nullptr;
  }

  void TearDown() override { client_.reset(); }

  S3Client& client(const std::string& endpoint) {
    client_ = std::make_unique<S3Client>(io_, s3_config(endpoint));
    return *client_;
  }
  S3Client& s3rver_client() { return client(server_->endpoint()); }

  // Runs the loop on this thread until `done()` or `limit` passes.
  void run_until(const std::function<bool()>& done, Clock::duration limit = 30s) {
    const Clock::time_point deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
      io_.run_one_for(50ms);
    }
    ASSERT_TRUE(done()) << "timed out waiting for the origin loop";
  }

  GetResult get(std::uint64_t offset, std::uint64_t length, RequestConfig rc = fast_config(),
                const std::string& key = kDataKey, const std::string& bucket = kBucket) {
    std::optional<GetResult> out;
    GetRequest req{bucket, key, offset, length, "", rc};
    client_->get(std::move(req), [&](GetResult r) { out = std::move(r); });
    run_until([&] { return out.has_value(); });
    return out ? std::move(*out) : GetResult{};
  }

  HeadResult head(const std::string& key, const std::string& bucket = kBucket) {
    std::optional<HeadResult> out;
    client_->head(bucket, key, fast_config(), [&](HeadResult r) { out = std::move(r); });
    run_until([&] { return out.has_value(); });
    return out ? std::move(*out) : HeadResult{};
  }

  ListResult list(const std::string& bucket, QueryParams query) {
    std::optional<ListResult> out;
    client_->list(ListRequest{bucket, std::move(query), fast_config()},
                  [&](ListResult r) { out = std::move(r); });
    run_until([&] { return out.has_value(); });
    return out ? std::move(*out) : ListResult{};
  }

  void expect_bytes(const GetResult& r, std::uint64_t offset, std::uint64_t length) {
    ASSERT_EQ(r.outcome, base::Outcome::kOk) << r.message;
    EXPECT_EQ(r.http_status, 206);
    EXPECT_EQ(r.info.size, kDataSize);
    EXPECT_EQ(r.body.size, std::min(length, kDataSize - offset));
    EXPECT_TRUE(as_string(r.body) == data_->substr(offset, length)) << "bytes differ";
  }

  static test::S3Server* server_;
  static std::string* data_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::unique_ptr<S3Client> client_;
};

test::S3Server* OriginS3ClientTest::server_ = nullptr;
std::string* OriginS3ClientTest::data_ = nullptr;

TEST_F(OriginS3ClientTest, RangedGetsAreByteExact) {
  s3rver_client();
  GetResult first = get(0, kPage);
  expect_bytes(first, 0, kPage);
  EXPECT_EQ(first.attempts, 1);
  EXPECT_FALSE(first.info.etag.empty());
  EXPECT_FALSE(first.info.last_modified.empty());
  EXPECT_GT(first.first_byte_latency.count(), 0);
  EXPECT_GE(first.total_latency, first.first_byte_latency);
  expect_bytes(get(2 * kPage, kPage), 2 * kPage, kPage);
  expect_bytes(get(4 * kPage, kPage), 4 * kPage, kPage);  // the last page: 1234 bytes
  expect_bytes(get(kDataSize - 1, kPage), kDataSize - 1, kPage);
  expect_bytes(get(12345, 1), 12345, 1);
  const ClientStats stats = client_->stats();
  EXPECT_EQ(stats.requests, 5u);
  EXPECT_EQ(stats.errors, 0u);
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.bytes, 2 * kPage + 1234 + 1 + 1);
}

TEST_F(OriginS3ClientTest, KeyWithSpacesUtf8AndSlashes) {
  s3rver_client();
  GetResult r = get(0, 100, fast_config(), kOddKey);
  ASSERT_EQ(r.outcome, base::Outcome::kOk) << r.message;
  EXPECT_EQ(as_string(r.body), "odd key body");
  EXPECT_EQ(r.info.size, 12u);
  EXPECT_EQ(head(kOddKey).info.size, 12u);
}

TEST_F(OriginS3ClientTest, MissingKeyIsNotFoundWithoutRetry) {
  s3rver_client();
  GetResult r = get(0, kPage, fast_config(), "no/such key");
  EXPECT_EQ(r.outcome, base::Outcome::kNotFound) << r.message;
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(r.error_code, "NoSuchKey");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.body.data, nullptr);
}

TEST_F(OriginS3ClientTest, MissingBucketIsNotFound) {
  s3rver_client();
  GetResult r = get(0, kPage, fast_config(), kDataKey, "no-such-bucket");
  EXPECT_EQ(r.outcome, base::Outcome::kNotFound) << r.message;
  EXPECT_EQ(r.error_code, "NoSuchBucket");
  EXPECT_EQ(head(kDataKey, "no-such-bucket").outcome, base::Outcome::kNotFound);
}

TEST_F(OriginS3ClientTest, StartPastTheEndIsInvalidRange) {
  s3rver_client();
  GetResult r = get(kDataSize + 10, kPage);
  EXPECT_EQ(r.outcome, base::Outcome::kInvalidRange) << r.message;
  EXPECT_EQ(r.http_status, 416);
  EXPECT_EQ(r.attempts, 1);
}

TEST_F(OriginS3ClientTest, HeadGivesSizeEtagAndDate) {
  s3rver_client();
  HeadResult h = head(kDataKey);
  ASSERT_EQ(h.outcome, base::Outcome::kOk) << h.message;
  EXPECT_EQ(h.http_status, 200);
  EXPECT_EQ(h.info.size, kDataSize);
  EXPECT_EQ(h.info.etag, get(0, 1000).info.etag);
  EXPECT_FALSE(h.info.last_modified.empty());
  HeadResult missing = head("missing");
  EXPECT_EQ(missing.outcome, base::Outcome::kNotFound);
  EXPECT_EQ(missing.attempts, 1);
}

// s3rver answers `bytes=0-0` with the whole object; that must never pass as one byte.
TEST_F(OriginS3ClientTest, FirstByteRangeBugIsCaughtAsMalformed) {
  s3rver_client();
  GetResult r = get(0, 1);
  EXPECT_EQ(r.outcome, base::Outcome::kMalformed) << r.message;
  EXPECT_EQ(r.attempts, 3);  // malformed answers are retried, then reported
  EXPECT_EQ(r.body.data, nullptr);
  EXPECT_EQ(client_->stats().retries, 2u);
}

TEST_F(OriginS3ClientTest, FiftyConcurrentGetsComplete) {
  s3rver_client();
  constexpr int kCount = 50;
  std::vector<std::optional<GetResult>> results(kCount);
  int done = 0;
  for (int i = 0; i < kCount; ++i) {
    const std::uint64_t offset = (static_cast<std::uint64_t>(i) * 7919) % (kDataSize - 1);
    GetRequest req{kBucket, kDataKey, offset + 1, 64 * 1024, "", fast_config()};
    client_->get(std::move(req), [&, i](GetResult r) {
      results[i] = std::move(r);
      ++done;
    });
  }
  EXPECT_EQ(client_->stats().in_flight, static_cast<std::uint64_t>(kCount));
  run_until([&] { return done == kCount; });
  for (int i = 0; i < kCount; ++i) {
    const std::uint64_t offset = (static_cast<std::uint64_t>(i) * 7919) % (kDataSize - 1) + 1;
    ASSERT_TRUE(results[i].has_value());
    expect_bytes(*results[i], offset, 64 * 1024);
  }
  EXPECT_EQ(client_->stats().in_flight, 0u);
}

TEST_F(OriginS3ClientTest, CancelGivesCancelledOnce) {
  SilentListener silent;
  client(silent.endpoint());
  int calls = 0;
  std::optional<GetResult> out;
  RequestConfig rc = fast_config();
  rc.read_timeout = 5000ms;
  const std::uint64_t id =
      client_->get(GetRequest{kBucket, kDataKey, 0, kPage, "", rc}, [&](GetResult r) {
        ++calls;
        out = std::move(r);
      });
  io_.run_for(100ms);
  EXPECT_FALSE(out.has_value());
  client_->cancel(id);
  client_->cancel(id);         // a second cancel of the same id is ignored
  client_->cancel(id + 1000);  // so is an unknown id
  run_until([&] { return out.has_value(); });
  io_.run_for(50ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out->outcome, base::Outcome::kCancelled);
  EXPECT_EQ(client_->stats().in_flight, 0u);
}

TEST_F(OriginS3ClientTest, DestructorCancelsOutstandingOperations) {
  SilentListener silent;
  client(silent.endpoint());
  std::optional<GetResult> get_out;
  std::optional<HeadResult> head_out;
  client_->get(GetRequest{kBucket, kDataKey, 0, kPage, "", fast_config()},
               [&](GetResult r) { get_out = std::move(r); });
  client_->head(kBucket, kDataKey, fast_config(), [&](HeadResult r) { head_out = std::move(r); });
  io_.run_for(100ms);
  client_.reset();
  ASSERT_TRUE(get_out.has_value());
  ASSERT_TRUE(head_out.has_value());
  EXPECT_EQ(get_out->outcome, base::Outcome::kCancelled);
  EXPECT_EQ(head_out->outcome, base::Outcome::kCancelled);
}

TEST_F(OriginS3ClientTest, SilentServerTimesOutWithinReadTimeout) {
  SilentListener silent;
  client(silent.endpoint());
  RequestConfig rc = fast_config();
  rc.read_timeout = 200ms;
  rc.max_attempts = 1;
  const Clock::time_point start = Clock::now();
  GetResult r = get(0, kPage, rc);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(r.outcome, base::Outcome::kTimeout) << r.message;
  EXPECT_EQ(r.attempts, 1);
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(OriginS3ClientTest, OperationTimeoutBoundsRetries) {
  SilentListener silent;
  client(silent.endpoint());
  RequestConfig rc = fast_config();
  rc.read_timeout = 150ms;
  rc.max_attempts = 100;
  rc.operation_timeout = 600ms;
  const Clock::time_point start = Clock::now();
  GetResult r = get(0, kPage, rc);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(r.outcome, base::Outcome::kTimeout) << r.message;
  EXPECT_GE(r.attempts, 2);
  EXPECT_LE(r.attempts, 5);
  EXPECT_GE(elapsed, 550ms);
  EXPECT_LT(elapsed, 2000ms);
}

TEST_F(OriginS3ClientTest, RefusedConnectionIsTransportErrorAfterAllAttempts) {
  client("http://127.0.0.1:" + std::to_string(test::free_port()));
  GetResult r = get(0, kPage);
  EXPECT_EQ(r.outcome, base::Outcome::kTransportError) << r.message;
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.http_status, 0);
  const ClientStats stats = client_->stats();
  EXPECT_EQ(stats.requests, 3u);
  EXPECT_EQ(stats.errors, 3u);
  EXPECT_EQ(stats.retries, 2u);
}

TEST_F(OriginS3ClientTest, RejectsBadRequestsWithoutSending) {
  s3rver_client();
  GetResult r = get(0, 0);
  EXPECT_EQ(r.outcome, base::Outcome::kMalformed);
  EXPECT_EQ(r.attempts, 0);
  RequestConfig bad = fast_config();
  bad.max_attempts = 0;
  EXPECT_EQ(get(0, 10, bad).outcome, base::Outcome::kMalformed);
  EXPECT_EQ(client_->stats().requests, 0u);
}

TEST_F(OriginS3ClientTest, CallbacksMayChainGetsAndDestroyTheClient) {
  s3rver_client();
  std::optional<GetResult> second;
  bool destroyed = false;
  client_->get(GetRequest{kBucket, kDataKey, 0, 1000, "", fast_config()}, [&](GetResult first) {
    EXPECT_EQ(first.outcome, base::Outcome::kOk) << first.message;
    client_->get(GetRequest{kBucket, kDataKey, 1000, 1000, "", fast_config()}, [&](GetResult r) {
      second = std::move(r);
      client_.reset();
      destroyed = true;
    });
  });
  run_until([&] { return destroyed; });
  ASSERT_TRUE(second.has_value());
  expect_bytes(*second, 1000, 1000);
}

TEST_F(OriginS3ClientTest, SignsAndSendsTheRequestHeaders) {
  RequestRecorder recorder;
  S3Config cfg = s3_config(recorder.endpoint());
  cfg.credentials.session_token = "TOKEN123";
  client_ = std::make_unique<S3Client>(io_, cfg);
  RequestConfig rc = fast_config();
  rc.max_attempts = 1;
  std::optional<GetResult> out;
  client_->get(GetRequest{kBucket, "a b/caf\xC3\xA9", 100, 50, "\"etag1\"", rc},
               [&](GetResult r) { out = std::move(r); });
  run_until([&] { return out.has_value(); });
  EXPECT_EQ(out->outcome, base::Outcome::kThrottled);
  EXPECT_EQ(out->http_status, 503);
  const std::string request = recorder.request();
  EXPECT_EQ(request.rfind("GET /origin-test/a%20b/caf%C3%A9 HTTP/1.1\r\n", 0), 0u) << request;
  for (const char* expected :
       {"\r\nRange: bytes=100-149\r\n", "\r\nIf-Match: \"etag1\"\r\n",
        "\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n", "\r\nx-amz-security-token: TOKEN123\r\n",
        "\r\nAuthorization: AWS4-HMAC-SHA256 Credential=S3RVER/", "/us-east-1/s3/aws4_request",
        "x-amz-security-token, Signature=", "\r\nX-Amz-Date: "}) {
    EXPECT_NE(request.find(expected), std::string::npos) << expected << " missing in\n" << request;
  }
}

TEST_F(OriginS3ClientTest, AnonymousRequestsAreUnsigned) {
  RequestRecorder recorder;
  S3Config cfg = s3_config(recorder.endpoint());
  cfg.credentials = Credentials{};
  client_ = std::make_unique<S3Client>(io_, cfg);
  std::optional<HeadResult> out;
  RequestConfig rc = fast_config();
  rc.max_attempts = 1;
  client_->head(kBucket, "k", rc, [&](HeadResult r) { out = std::move(r); });
  run_until([&] { return out.has_value(); });
  EXPECT_EQ(out->outcome, base::Outcome::kThrottled);
  const std::string request = recorder.request();
  EXPECT_EQ(request.rfind("HEAD /origin-test/k HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"), std::string::npos);
  EXPECT_EQ(request.find("Authorization"), std::string::npos) << request;
  EXPECT_EQ(request.find("Range"), std::string::npos) << request;
}

TEST_F(OriginS3ClientTest, ListsABucketWithItsQuery) {
  s3rver_client();
  ListResult r = list(kBucket, {{"list-type", "2"}, {"prefix", "dir "}});
  ASSERT_EQ(r.outcome, base::Outcome::kOk) << r.message;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_NE(r.body.find(std::string("<Name>") + kBucket + "</Name>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<Key>dir one/sub dir/"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(std::string("<Key>") + kDataKey), std::string::npos) << "not the prefix's";
  r = list("no-such-bucket-1", {{"list-type", "2"}});
  EXPECT_EQ(r.outcome, base::Outcome::kNotFound) << r.message;
  EXPECT_EQ(r.error_code, "NoSuchBucket");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_TRUE(r.body.empty());
  r = list("", {});
  EXPECT_EQ(r.outcome, base::Outcome::kMalformed);
  EXPECT_EQ(r.attempts, 0);
}

TEST_F(OriginS3ClientTest, SignsTheListingsCanonicalQueryWithoutRange) {
  RequestRecorder recorder;
  client_ = std::make_unique<S3Client>(io_, s3_config(recorder.endpoint()));
  std::optional<ListResult> out;
  RequestConfig rc = fast_config();
  rc.max_attempts = 1;
  client_->list(ListRequest{kBucket, {{"prefix", "a b/"}, {"list-type", "2"}}, rc},
                [&](ListResult r) { out = std::move(r); });
  run_until([&] { return out.has_value(); });
  EXPECT_EQ(out->outcome, base::Outcome::kThrottled);
  const std::string request = recorder.request();
  EXPECT_EQ(request.rfind("GET /origin-test?list-type=2&prefix=a%20b%2F HTTP/1.1\r\n", 0), 0u)
      << request;
  EXPECT_NE(request.find("\r\nAuthorization: AWS4-HMAC-SHA256 Credential=S3RVER/"),
            std::string::npos)
      << request;
  EXPECT_EQ(request.find("Range"), std::string::npos) << request;
  EXPECT_EQ(request.find("If-Match"), std::string::npos) << request;
}

// --- through the fault proxy ---

class OriginFaultTest : public OriginS3ClientTest {
 protected:
  void SetUp() override {
    proxy_ = std::make_unique<test::FaultProxy>(server_->port());
    client(proxy_->endpoint());
  }
  void TearDown() override {
    client_.reset();
    proxy_.reset();
  }
  void add_rule(nlohmann::json rule) { proxy_->add_rule(rule); }

  std::unique_ptr<test::FaultProxy> proxy_;
};

TEST_F(OriginFaultTest, ThrottlingIsRetriedThenSucceeds) {
  add_rule({{"action", "status"}, {"status", 503}, {"code", "SlowDown"}, {"times", 2}});
  GetResult r = get(kPage, kPage);
  expect_bytes(r, kPage, kPage);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(proxy_->count("GET"), 3);
}

TEST_F(OriginFaultTest, ListingsAreRetriedLikeGets) {
  add_rule({{"action", "status"}, {"status", 503}, {"code", "SlowDown"}, {"times", 2}});
  ListResult r = list(kBucket, {});
  ASSERT_EQ(r.outcome, base::Outcome::kOk) << r.message;
  EXPECT_EQ(r.attempts, 3);
  EXPECT_NE(r.body.find("<ListBucketResult"), std::string::npos) << r.body;
  EXPECT_EQ(proxy_->count("GET", std::string("/") + kBucket), 3);
}

TEST_F(OriginFaultTest, PersistentThrottlingIsReportedAfterMaxAttempts) {
  add_rule({{"action", "status"}, {"status", 503}, {"code", "SlowDown"}});
  GetResult r = get(0, kPage);
  EXPECT_EQ(r.outcome, base::Outcome::kThrottled) << r.message;
  EXPECT_EQ(r.error_code, "SlowDown");
  EXPECT_EQ(r.attempts, 3);
}

TEST_F(OriginFaultTest, ServerErrorsAreRetried) {
  add_rule({{"action", "status"}, {"status", 500}});
  GetResult r = get(0, kPage);
  EXPECT_EQ(r.outcome, base::Outcome::kServerError) << r.message;
  EXPECT_EQ(r.error_code, "InternalError");
  EXPECT_EQ(r.attempts, 3);
}

TEST_F(OriginFaultTest, FinalErrorsAreNeverRetried) {
  const std::map<int, base::Outcome> cases = {{412, base::Outcome::kPreconditionFailed},
                                              {403, base::Outcome::kAccessDenied},
                                              {404, base::Outcome::kNotFound},
                                              {416, base::Outcome::kInvalidRange}};
  for (const auto& [status, outcome] : cases) {
    proxy_->clear_rules();
    proxy_->reset();
    add_rule({{"action", "status"}, {"status", status}});
    GetRequest req{kBucket, kDataKey, 0, kPage, "\"some-etag\"", fast_config()};
    std::optional<GetResult> out;
    client_->get(std::move(req), [&](GetResult r) { out = std::move(r); });
    run_until([&] { return out.has_value(); });
    EXPECT_EQ(out->outcome, outcome) << status << ": " << out->message;
    EXPECT_EQ(out->http_status, status);
    EXPECT_EQ(out->attempts, 1) << status;
    EXPECT_EQ(proxy_->count("GET"), 1) << status;
  }
}

TEST_F(OriginFaultTest, WrongContentRangeIsMalformed) {
  add_rule({{"action", "wrong_content_range"}});
  GetResult r = get(kPage, kPage);
  EXPECT_EQ(r.outcome, base::Outcome::kMalformed) << r.message;
  EXPECT_EQ(r.attempts, 3);
}

TEST_F(OriginFaultTest, SlowFirstByteIsRetriedWithinReadTimeout) {
  add_rule({{"action", "delay_first_byte"}, {"ms", 1500}, {"times", 1}});
  RequestConfig rc = fast_config();
  rc.read_timeout = 300ms;
  const Clock::time_point start = Clock::now();
  GetResult r = get(kPage, kPage, rc);
  expect_bytes(r, kPage, kPage);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_LT(Clock::now() - start, 1400ms);
}

TEST_F(OriginFaultTest, StallMidBodyHitsTheAttemptTimeout) {
  add_rule({{"action", "stall_mid_body"}, {"after_bytes", 1000}, {"ms", 3000}});
  RequestConfig rc = fast_config();
  rc.attempt_timeout = 300ms;
  rc.max_attempts = 2;
  GetResult r = get(0, kPage, rc);
  EXPECT_EQ(r.outcome, base::Outcome::kTimeout) << r.message;
  EXPECT_EQ(r.attempts, 2);
}

TEST_F(OriginFaultTest, ResetAndTruncationAreTransportErrors) {
  add_rule({{"action", "reset"}, {"after_bytes", 5000}, {"times", 1}});
  add_rule({{"action", "truncate"}, {"after_bytes", 5000}, {"times", 1}});
  RequestConfig rc = fast_config();
  rc.max_attempts = 1;
  EXPECT_EQ(get(0, kPage, rc).outcome, base::Outcome::kTransportError);
  EXPECT_EQ(get(0, kPage, rc).outcome, base::Outcome::kTransportError);
  expect_bytes(get(0, kPage, rc), 0, kPage);
}

}  // namespace
}  // namespace shoal::origin
