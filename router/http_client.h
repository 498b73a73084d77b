// The one HTTP client for the small requests Shoal's programs send a node's client port:
// reading a member's GET /stats (shoal-router's view poller, the admin API's ownership and
// drain, shoalctl) and shoalctl's admin API calls. Boost.Beast, HTTP/1.1, one request per
// connection ("Connection: close"), plain TCP or TLS; every step (resolve, connect, TLS
// handshake, write, read) runs under one total deadline, and the answer's body is capped.
//
// The core is asynchronous (start_http_request() on any executor); http_request() and
// http_requests() are that core run on a private io_context in the calling thread.
//
// Errors are one line without the address (callers prefix it): "bad address (want
// HOST:PORT)", "cannot resolve: R", "cannot connect: R", "TLS handshake failed: R" (certificate
// not trusted, wrong host), "cannot send the request: R", "no answer within N ms" (the deadline
// passed while waiting for the answer), "cannot read the answer: R" (also a body over the cap),
// where R is the system's or Beast's reason ("The socket was closed due to a timeout" when the
// deadline passed in an earlier step). A status other than 200 is not an error: the caller judges
// it.
//
// Thread rules: start_http_request() may be called from any thread; its `done` and cancel() run
// on the executor given (one thread or a strand). The sync functions may run on several threads
// at once. An HttpTls may be shared by any number of requests on any threads.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shoal::router {

// TLS for requests to HTTPS ports: a client context (TLS 1.2 or later) and whether the peer is
// authenticated.
struct HttpTls {
  std::shared_ptr<boost::asio::ssl::context> context;
  // True: the certificate chain must lead to a trusted CA and the certificate must name the
  // host of the request (its DNS name or IP address). False: nothing is checked (encrypted but
  // not authenticated).
  bool verify = true;
};

// Builds an HttpTls. With `verify`, the trusted CAs are those of `ca_file` (PEM), or the
// system's default ones when `ca_file` is empty. Returns nullopt and sets *error ("cannot load
// CA file F: reason") when `ca_file` cannot be loaded.
std::optional<HttpTls> make_http_tls(bool verify, const std::string& ca_file, std::string* error);

struct HttpRequest {
  std::string host_port;  // "HOST:PORT" or "[v6]:PORT" (base::split_host_port)
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target = "/";                   // origin-form, with the query
  std::string authorization;                  // the Authorization field's value; "" sends none
  std::string body;                           // sent as application/json when not empty
  std::string user_agent = "shoal";           // the User-Agent field's value
  std::chrono::milliseconds timeout{2000};    // total: resolve, connect, handshake, write, read
  std::uint64_t max_body_bytes = 8ull << 20;  // a longer answer body fails the request
  std::optional<HttpTls> tls;                 // nullopt: plain HTTP
};

struct HttpResult {
  std::string error;  // "" when an answer was read (whatever its status), else the reason
  int status = 0;     // the answer's status code; 0 on error
  std::string body;   // the answer's body; "" on error

  bool ok() const { return error.empty(); }
};

// A request in progress, for cancelling it.
class HttpCall {
 public:
  virtual ~HttpCall() = default;
  // Stops the request at once (closes its connection); `done` is not called afterwards. Call on
  // the request's executor.
  virtual void cancel() = 0;
};

// Starts `request` on `executor`. `done` runs on the executor exactly once (never inside this
// call) with the result, unless cancel() came first. The request keeps itself alive until then;
// the returned handle is needed only for cancel().
std::shared_ptr<HttpCall> start_http_request(boost::asio::any_io_executor executor,
                                             HttpRequest request,
                                             std::function<void(HttpResult)> done);

// Runs `request` to completion in the calling thread; blocks for at most about its timeout.
HttpResult http_request(HttpRequest request);

// Runs `requests` in the calling thread, at most `parallel` (at least 1) at a time, and returns
// their results in the same order. Each request has its own deadline, counted from its start.
std::vector<HttpResult> http_requests(std::vector<HttpRequest> requests, std::size_t parallel);

}  // namespace shoal::router
