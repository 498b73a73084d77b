// Tests for router/http_client.h against a real loopback server in the test process (plain and
// TLS with a freshly generated self-signed certificate): what is sent, what comes back, the
// total deadline in each step, the body cap, certificate checks, fan-out order, and the async
// core's rules (done never inline, nothing after cancel()).
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "node/tls.h"
#include "router/http_client.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using router::HttpRequest;
using router::HttpResult;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// What the server does with a connection.
enum class Mode {
  kAnswer,       // read the request, answer with the handler's response
  kNoAnswer,     // read the request, then say nothing until the client leaves
  kNoHandshake,  // accept, then say nothing (no TLS handshake, no HTTP)
};

// A loopback server on its own thread: one connection at a time, synchronous, over TLS when
// given a server context. Records every request it read.
class TestServer {
 public:
  using Handler = std::function<Response(const Request&)>;

  explicit TestServer(Handler handler, ssl::context* tls = nullptr, Mode mode = Mode::kAnswer,
                      const std::string& ip = "127.0.0.1")
      : handler_(std::move(handler)),
        tls_(tls),
        mode_(mode),
        ip_(ip),
        acceptor_(io_, tcp::endpoint(net::ip::make_address(ip), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~TestServer() {
    stopping_ = true;
    // Wake the blocking accept with a connection of our own.
    boost::system::error_code ec;
    tcp::socket s(io_);
    s.connect(tcp::endpoint(net::ip::make_address(ip_), port_), ec);
    thread_.join();
  }

  std::string addr() const { return ip_ + ":" + std::to_string(port_); }
  std::uint16_t port() const { return port_; }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket s(io_);
      acceptor_.accept(s, ec);
      if (ec || stopping_) return;
      if (tls_ == nullptr) {
        session(s);
        continue;
      }
      ssl::stream<tcp::socket&> stream(s, *tls_);
      if (mode_ == Mode::kNoHandshake) {
        drain(s);
        continue;
      }
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) session(stream);
    }
  }

  // Reads until the peer closes the connection.
  void drain(tcp::socket& s) {
    char buf[512];
    boost::system::error_code ec;
    while (!ec) s.read_some(net::buffer(buf), ec);
  }

  template <class Stream>
  void session(Stream& stream) {
    boost::beast::flat_buffer buffer;
    Request req;
    boost::system::error_code ec;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    if (mode_ == Mode::kNoAnswer) {
      char buf[512];
      while (!ec) stream.read_some(net::buffer(buf), ec);
      return;
    }
    Response res = handler_(req);
    res.version(11);
    res.keep_alive(false);
    res.prepare_payload();
    http::write(stream, res, ec);
  }

  Handler handler_;
  ssl::context* tls_;
  Mode mode_;
  std::string ip_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

Response answer(http::status status, std::string body) {
  Response res{status, 11};
  res.body() = std::move(body);
  return res;
}

TestServer::Handler echo_target() {
  return [](const Request& req) { return answer(http::status::ok, std::string(req.target())); };
}

// A port nothing listens on (bound, then closed).
std::string closed_addr() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return "127.0.0.1:" + std::to_string(a.local_endpoint().port());
}

HttpRequest get(const std::string& addr, const std::string& target = "/stats") {
  HttpRequest r;
  r.host_port = addr;
  r.target = target;
  return r;
}

// A TLS server context with a self-signed certificate for 127.0.0.1, and that certificate in a
// PEM file (the CA file a verifying client trusts).
struct SelfSigned {
  SelfSigned() {
    auto error = node::make_tls_context(true, "", "", "localhost", &context);
    EXPECT_FALSE(error) << *error;
    char path[] = "/tmp/shoal-http-client-ca-XXXXXX";
    const int fd = ::mkstemp(path);
    EXPECT_GE(fd, 0);
    ::close(fd);
    ca_file = path;
    FILE* f = std::fopen(path, "w");
    PEM_write_X509(f, SSL_CTX_get0_certificate(context->native_handle()));
    std::fclose(f);
  }
  ~SelfSigned() { std::remove(ca_file.c_str()); }

  std::optional<ssl::context> context;
  std::string ca_file;
};

router::HttpTls tls_or_fail(bool verify, const std::string& ca_file) {
  std::string error;
  auto tls = router::make_http_tls(verify, ca_file, &error);
  EXPECT_TRUE(tls.has_value()) << error;
  return tls ? *tls : router::HttpTls{};
}

// ---- plain HTTP ---------------------------------------------------------------------------

TEST(RouterHttpClient, GetReadsStatusAndBody) {
  TestServer server(echo_target());
  HttpRequest req = get(server.addr(), "/stats?x=1");
  req.user_agent = "tester";
  const HttpResult r = router::http_request(req);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "/stats?x=1");
  ASSERT_EQ(server.requests().size(), 1u);
  const Request sent = server.requests()[0];
  EXPECT_EQ(sent.method(), http::verb::get);
  EXPECT_EQ(sent[http::field::host], server.addr());
  EXPECT_EQ(sent[http::field::user_agent], "tester");
  EXPECT_EQ(sent[http::field::connection], "close");
  EXPECT_EQ(sent.count(http::field::authorization), 0u);
  EXPECT_TRUE(sent.body().empty());
}

TEST(RouterHttpClient, PostSendsJsonBodyAndAuthorization) {
  TestServer server(echo_target());
  HttpRequest req = get(server.addr(), "/admin/weight");
  req.method = http::verb::post;
  req.authorization = "Bearer secret-token";
  req.body = R"({"weight": 2})";
  ASSERT_TRUE(router::http_request(req).ok());
  const Request sent = server.requests().at(0);
  EXPECT_EQ(sent.method(), http::verb::post);
  EXPECT_EQ(sent[http::field::authorization], "Bearer secret-token");
  EXPECT_EQ(sent[http::field::content_type], "application/json");
  EXPECT_EQ(sent.body(), R"({"weight": 2})");
}

TEST(RouterHttpClient, AStatusOtherThan200IsAnAnswerNotAnError) {
  TestServer server([](const Request&) { return answer(http::status::conflict, "busy"); });
  const HttpResult r = router::http_request(get(server.addr()));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "busy");
}

TEST(RouterHttpClient, ABodyOverTheCapFailsTheRequest) {
  TestServer server(
      [](const Request&) { return answer(http::status::ok, std::string(2000, 'x')); });
  HttpRequest req = get(server.addr());
  req.max_body_bytes = 1000;
  HttpResult r = router::http_request(req);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "cannot read the answer: body limit exceeded");
  EXPECT_TRUE(r.body.empty());
  req.max_body_bytes = 2000;  // exactly the cap is fine
  r = router::http_request(req);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.body.size(), 2000u);
}

TEST(RouterHttpClient, TheDeadlineEndsAWaitForTheAnswer) {
  TestServer server(echo_target(), nullptr, Mode::kNoAnswer);
  HttpRequest req = get(server.addr());
  req.timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  const HttpResult r = router::http_request(req);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, "no answer within 200 ms");
  EXPECT_GE(waited, 190ms);
  EXPECT_LT(waited, 2s);
}

TEST(RouterHttpClient, ARefusedConnectionIsReported) {
  const HttpResult r = router::http_request(get(closed_addr()));
  EXPECT_EQ(r.error, "cannot connect: Connection refused");
  EXPECT_EQ(r.status, 0);
}

TEST(RouterHttpClient, ABadAddressIsReportedWithoutAConnection) {
  for (const char* addr : {"", "no-port", "host:", "host:99999", "[::1"}) {
    EXPECT_EQ(router::http_request(get(addr)).error, "bad address (want HOST:PORT)") << addr;
  }
}

// ---- TLS ------------------------------------------------------------------------------------

TEST(RouterHttpClient, TlsVerifiedAgainstTheCaFile) {
  SelfSigned cert;
  TestServer server(echo_target(), &*cert.context);
  HttpRequest req = get(server.addr());
  req.tls = tls_or_fail(true, cert.ca_file);
  const HttpResult r = router::http_request(req);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.body, "/stats");
}

TEST(RouterHttpClient, TlsWithAnUntrustedCertificateFailsTheHandshake) {
  SelfSigned cert;
  TestServer server(echo_target(), &*cert.context);
  HttpRequest req = get(server.addr());
  req.tls = tls_or_fail(true, "");  // the system's CAs do not know this certificate
  const HttpResult r = router::http_request(req);
  EXPECT_EQ(r.error.rfind("TLS handshake failed: ", 0), 0u) << r.error;
  EXPECT_TRUE(server.requests().empty());
}

TEST(RouterHttpClient, TlsChecksTheHostNameToo) {
  SelfSigned cert;  // names localhost and 127.0.0.1
  {
    TestServer server(echo_target(), &*cert.context);
    HttpRequest req = get("localhost:" + std::to_string(server.port()));
    req.tls = tls_or_fail(true, cert.ca_file);
    const HttpResult r = router::http_request(req);
    EXPECT_TRUE(r.ok()) << r.error;
  }
  // The same trusted certificate, served on an address it does not name.
  TestServer server(echo_target(), &*cert.context, Mode::kAnswer, "127.0.0.2");
  HttpRequest req = get(server.addr());
  req.tls = tls_or_fail(true, cert.ca_file);
  const HttpResult r = router::http_request(req);
  EXPECT_EQ(r.error.rfind("TLS handshake failed: ", 0), 0u) << r.error;
  req.tls = tls_or_fail(false, "");
  EXPECT_TRUE(router::http_request(req).ok());
}

TEST(RouterHttpClient, InsecureTlsSkipsEveryCheck) {
  SelfSigned cert;
  TestServer server(echo_target(), &*cert.context);
  HttpRequest req = get(server.addr());
  req.tls = tls_or_fail(false, "");
  const HttpResult r = router::http_request(req);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
}

TEST(RouterHttpClient, TheDeadlineCoversTheHandshake) {
  SelfSigned cert;
  TestServer server(echo_target(), &*cert.context, Mode::kNoHandshake);
  HttpRequest req = get(server.addr());
  req.tls = tls_or_fail(false, "");
  req.timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  const HttpResult r = router::http_request(req);
  EXPECT_EQ(r.error, "TLS handshake failed: The socket was closed due to a timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(RouterHttpClient, AMissingCaFileIsReported) {
  std::string error;
  EXPECT_FALSE(router::make_http_tls(true, "/nonexistent/ca.pem", &error));
  EXPECT_EQ(error.rfind("cannot load CA file /nonexistent/ca.pem: ", 0), 0u) << error;
}

TEST(RouterHttpClient, PlainHttpToATlsPortFails) {
  SelfSigned cert;
  TestServer server(echo_target(), &*cert.context);
  HttpRequest req = get(server.addr());
  req.timeout = 1s;
  EXPECT_FALSE(router::http_request(req).ok());
}

// ---- several requests, the async core -------------------------------------------------------

TEST(RouterHttpClient, RequestsKeepTheirOrderAndFailAlone) {
  TestServer server(echo_target());
  std::vector<HttpRequest> reqs;
  for (int i = 0; i < 5; ++i) reqs.push_back(get(server.addr(), "/r" + std::to_string(i)));
  reqs[2].host_port = closed_addr();
  const std::vector<HttpResult> out = router::http_requests(reqs, 2);
  ASSERT_EQ(out.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    if (i == 2) {
      EXPECT_EQ(out[i].error, "cannot connect: Connection refused");
      continue;
    }
    ASSERT_TRUE(out[i].ok()) << i << ": " << out[i].error;
    EXPECT_EQ(out[i].body, "/r" + std::to_string(i));
  }
  EXPECT_EQ(server.requests().size(), 4u);
  EXPECT_TRUE(router::http_requests({}, 4).empty());
}

TEST(RouterHttpClient, DoneRunsOnTheExecutorNeverInline) {
  net::io_context io;
  bool called = false;
  router::start_http_request(io.get_executor(), get("bad address"), [&](HttpResult r) {
    called = true;
    EXPECT_FALSE(r.ok());
  });
  EXPECT_FALSE(called);
  io.run();
  EXPECT_TRUE(called);
}

TEST(RouterHttpClient, CancelStopsTheRequestAndItsCallback) {
  TestServer server(echo_target(), nullptr, Mode::kNoAnswer);
  net::io_context io;
  bool called = false;
  HttpRequest req = get(server.addr());
  req.timeout = 10s;
  auto call =
      router::start_http_request(io.get_executor(), req, [&](HttpResult) { called = true; });
  net::steady_timer t(io, 100ms);
  t.async_wait([&](boost::system::error_code) { call->cancel(); });
  const auto start = std::chrono::steady_clock::now();
  io.run();  // returns once the cancelled request's handlers have run
  EXPECT_FALSE(called);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace shoal::test
