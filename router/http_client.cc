#include "router/http_client.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "ring/base/host_port.h"

namespace shoal::router {
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// One request on its own connection. Every handler runs on the executor; the deadline timer
// closes the connection (or cancels the resolver), so no step waits past it.
class Exchange final : public HttpCall, public std::enable_shared_from_this<Exchange> {
 public:
  using Done = std::function<void(HttpResult)>;

  Exchange(net::any_io_executor ex, HttpRequest req, Done done)
      : ex_(ex),
        req_(std::move(req)),
        done_(std::move(done)),
        resolver_(ex),
        timer_(ex),
        tcp_(ex) {}

  void start() {
    auto hp = base::split_host_port(req_.host_port);
    if (!hp) {
      return net::post(
          ex_, [self = shared_from_this()] { self->finish("bad address (want HOST:PORT)"); });
    }
    host_ = hp->host;
    timer_.expires_after(req_.timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->on_deadline();
    });
    resolver_.async_resolve(
        host_, std::to_string(hp->port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
          self->on_resolve(self->timed(ec), std::move(r));
        });
  }

  void cancel() override {
    done_ = nullptr;
    stop();
  }

 private:
  // The error a step ended with; beast::error::timeout once the deadline has passed.
  beast::error_code timed(beast::error_code ec) const {
    return ec && timed_out_ ? beast::error_code(beast::error::timeout) : ec;
  }

  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : tcp_; }

  void on_deadline() {
    if (finished_) return;
    timed_out_ = true;
    resolver_.cancel();
    lowest().close();
  }

  void stop() {
    timer_.cancel();
    resolver_.cancel();
    lowest().close();
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return finish("cannot resolve: " + ec.message());
    tcp_.async_connect(results,
                       [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                         self->on_connect(self->timed(ec));
                       });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return finish("cannot connect: " + ec.message());
    prepare_request();
    if (!req_.tls) return write();
    tls_.emplace(std::move(tcp_), *req_.tls->context);
    beast::error_code not_ip;
    net::ip::make_address(host_, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(tls_->native_handle(), host_.c_str());  // SNI: names
    if (req_.tls->verify) tls_->set_verify_callback(ssl::host_name_verification(host_));
    tls_->async_handshake(ssl::stream_base::client,
                          [self = shared_from_this()](beast::error_code ec) {
                            ec = self->timed(ec);
                            if (ec) return self->finish("TLS handshake failed: " + ec.message());
                            self->write();
                          });
  }

  void prepare_request() {
    out_ = {req_.method, req_.target, 11};
    out_.set(http::field::host, req_.host_port);
    out_.set(http::field::user_agent, req_.user_agent);
    if (!req_.authorization.empty()) out_.set(http::field::authorization, req_.authorization);
    if (!req_.body.empty()) {
      out_.set(http::field::content_type, "application/json");
      out_.body() = std::move(req_.body);
    }
    out_.keep_alive(false);
    out_.prepare_payload();
    parser_.body_limit(req_.max_body_bytes);
  }

  // Runs f(stream) on the stream in use: the TLS stream after a handshake, else the TCP one.
  template <class F>
  void with_stream(F&& f) {
    if (tls_) return f(*tls_);
    f(tcp_);
  }

  void write() {
    with_stream([this](auto& stream) {
      http::async_write(stream, out_,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          ec = self->timed(ec);
                          if (ec) return self->finish("cannot send the request: " + ec.message());
                          self->read();
                        });
    });
  }

  void read() {
    with_stream([this](auto& stream) {
      http::async_read(stream, buffer_, parser_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->on_read(self->timed(ec));
                       });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      return finish("no answer within " + std::to_string(req_.timeout.count()) + " ms");
    }
    if (ec) return finish("cannot read the answer: " + ec.message());
    auto& res = parser_.get();
    finish("", static_cast<int>(res.result_int()), std::move(res.body()));
  }

  void finish(std::string error, int status = 0, std::string body = {}) {
    if (finished_) return;
    finished_ = true;
    stop();
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(HttpResult{std::move(error), status, std::move(body)});
  }

  net::any_io_executor ex_;
  HttpRequest req_;
  Done done_;
  std::string host_;
  tcp::resolver resolver_;
  net::steady_timer timer_;
  beast::tcp_stream tcp_;                                    // until a TLS handshake starts
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;  // then this, holding the socket
  http::request<http::string_body> out_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  bool timed_out_ = false;
  bool finished_ = false;
};

}  // namespace

std::optional<HttpTls> make_http_tls(bool verify, const std::string& ca_file, std::string* error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                   ssl::context::no_tlsv1_1);
  if (!verify) {
    ctx->set_verify_mode(ssl::verify_none);
    return HttpTls{std::move(ctx), false};
  }
  ctx->set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(ca_file, ec);
  }
  if (ec) {
    *error = "cannot load CA file " + ca_file + ": " + ec.message();
    return std::nullopt;
  }
  return HttpTls{std::move(ctx), true};
}

std::shared_ptr<HttpCall> start_http_request(net::any_io_executor executor, HttpRequest request,
                                             std::function<void(HttpResult)> done) {
  auto call = std::make_shared<Exchange>(std::move(executor), std::move(request), std::move(done));
  call->start();
  return call;
}

HttpResult http_request(HttpRequest request) {
  std::vector<HttpRequest> one;
  one.push_back(std::move(request));
  return std::move(http_requests(std::move(one), 1).front());
}

std::vector<HttpResult> http_requests(std::vector<HttpRequest> requests, std::size_t parallel) {
  net::io_context io;
  std::vector<HttpResult> results(requests.size());
  std::size_t next = 0;
  std::function<void()> launch = [&] {
    const std::size_t i = next++;
    start_http_request(io.get_executor(), std::move(requests[i]), [&, i](HttpResult r) {
      results[i] = std::move(r);
      if (next < requests.size()) launch();
    });
  };
  for (std::size_t k = 0; k < std::min(std::max<std::size_t>(parallel, 1), requests.size()); ++k) {
    launch();
  }
  io.run();
  return results;
}

}  // namespace shoal::router
