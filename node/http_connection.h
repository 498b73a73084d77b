// One client connection's HTTP exchange, common to plain and TLS sessions
// (node/http_session.h): reading requests (idle and header timeouts, header limits, the body
// of an /admin/ request), routing, /stats, /metrics and /admin/, simple responses, and each
// request's bookkeeping (in-flight count, request metrics). A /fetch request is handed to
// Derived::start_fetch() (FetchResponse, node/fetch_response.h); on the S3 port every request
// goes to Derived::start_s3() (node/s3_api_response.h).
//
// CRTP: Derived supplies stream(), has_buffered_input(), executor(), do_eof() (orderly close),
// start_fetch() and shared_from_this().
//
// Internal to node/http_session.cc, the only file that includes it (with node/fetch_response.h):
// it defines the Boost namespace aliases those files use.
//
// Thread rules: a connection lives on one worker io_context (one thread).
#pragma once

#include <array>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/fetch_request.h"
#include "node/server.h"
#include "ring/base/log.h"

namespace shoal::node {
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

template <class Derived>
class HttpConnection {
 public:
  // `s3_port`: the connection came in on the S3 port (--s3-api-listen).
  HttpConnection(SessionHost& host, bool s3_port)
      : host_(host), cfg_(host.config()), s3_port_(s3_port) {
    buffer_.reserve(16 * 1024);
  }

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }
  auto& lowest() { return beast::get_lowest_layer(derived().stream()); }

  void register_with_host() {
    host_.metrics().connections.fetch_add(1);
    std::weak_ptr<Derived> weak = derived().shared_from_this();
    auto ex = derived().executor();
    session_id_ = host_.register_session([weak, ex] {
      net::post(ex, [weak] {
        if (auto self = weak.lock()) self->close_if_idle();
      });
    });
  }
  void unregister_from_host() {
    if (session_id_ != 0) host_.unregister_session(session_id_);
    session_id_ = 0;
    host_.metrics().connections.fetch_sub(1);
  }

 public:
  // Drain (Server::start_drain): a connection waiting for its next request is closed; one that
  // has not yet carried a request keeps it (a load balancer's, about to send it).
  void close_if_idle() {
    if (idle_ && requests_ > 0) {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
      lowest().cancel();
    }
  }

  // ---- reading requests ----------------------------------------------------------------------
  // Waits (up to the idle timeout) for the next request to begin, then gives the whole header
  // --header-timeout-ms to arrive, so a client trickling its header (slowloris) is dropped
  // without shortening keep-alive for well-behaved clients. The wait is a read of whatever the
  // client sends first into buffer_ (the header parser starts from it), not a readiness wait: Asio
  // re-registers a socket with epoll (one epoll_ctl) for every readiness wait, but not for a read.
  void do_read() {
    if (host_.draining() && requests_ > 0) return derived().do_eof();
    idle_ = true;
    if (buffer_.size() > 0 || derived().has_buffered_input()) return do_read_header();
    lowest().expires_after(std::chrono::milliseconds(cfg_.idle_timeout_ms));
    derived().stream().async_read_some(
        buffer_.prepare(kFirstRead),
        [self = derived().shared_from_this()](beast::error_code ec, std::size_t n) {
          self->buffer_.commit(n);
          if (ec) return self->derived().do_eof();  // idle too long, closed, or drained
          self->do_read_header();
        });
  }

  void do_read_header() {
    if (host_.draining() && requests_ > 0 && buffer_.size() == 0) return derived().do_eof();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(cfg_.header_limit));
    // Only /admin/ requests and the S3 port's writes may carry a body.
    parser_->body_limit(s3_port_ ? cfg_.s3_api_max_write_bytes : kAdminBodyLimit);
    lowest().expires_after(std::chrono::milliseconds(cfg_.header_timeout_ms));
    http::async_read_header(derived().stream(), buffer_, *parser_,
                            [self = derived().shared_from_this()](
                                beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    idle_ = false;
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return derived().do_eof();
    }
    if (ec == http::error::header_limit) {
      return send_error(431, "request header fields too large", true);
    }
    if (ec == http::error::body_limit || ec == http::error::unexpected_body) {
      return refuse_body(ec);
    }
    if (ec) return send_error(400, "malformed HTTP request: " + ec.message(), true);
    body_pending_ = !parser_->is_done();
    if (body_pending_ && s3_port_) {
      // The S3 port reads a write's body itself, after authenticating it
      // (node/s3_write_response.h): the parser stays, the header is copied.
      req_ = http::request<http::empty_body>(parser_->get().base());
      ++gen_;
      return begin_request();
    }
    if (body_pending_) {
      if (!AdminApi::is_admin_target(parser_->get().target())) return refuse_body({});
      return read_admin_body();
    }
    req_ = parser_->release();
    ++gen_;  // results of an earlier request's pages must not land in this one
    begin_request();
  }

  // A request with a body this connection does not read (`ec`: why the parser stopped, if it
  // did; the connection closes after answering): an /admin/ body over kAdminBodyLimit is a JSON
  // 400 like every admin error; elsewhere a method other than GET/HEAD on /fetch, /stats or
  // /metrics is 405 as it is without a body, and any other body 400.
  void refuse_body(beast::error_code ec) {
    req_ = parser_->release();  // the header, for the answer's version and method
    unread_body_ = true;
    const std::string_view target = req_.target();
    if (s3_port_) {
      begin_request_bookkeeping();
      return derived().s3_refuse_body(ec);
    }
    if (AdminApi::is_admin_target(target)) return send_admin_body_error(ec);
    const std::string_view path = target.substr(0, target.find('?'));
    const bool get_or_head = req_.method() == http::verb::get || req_.method() == http::verb::head;
    if (!get_or_head && (is_fetch_target(target) || path == "/stats" || path == "/metrics")) {
      return send_error(405, "only GET and HEAD are allowed here", true, "GET, HEAD");
    }
    send_error(400, "requests to this server carry no body", true);
  }

  void send_admin_body_error(beast::error_code ec) {
    const std::string why =
        ec == http::error::body_limit
            ? "request body larger than " + std::to_string(kAdminBodyLimit) + " bytes"
            : "request body: " + ec.message();
    AdminResponse r = AdminApi::error_answer(400, why);
    send_text(r.status, std::move(r.body), "application/json", true);
  }

  // The body of an /admin/ request (at most kAdminBodyLimit bytes, within the header timeout).
  void read_admin_body() {
    admin_parser_.emplace(std::move(*parser_));
    http::async_read(derived().stream(), buffer_, *admin_parser_,
                     [self = derived().shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) {
                         self->req_ = http::request<http::empty_body>(
                             std::move(self->admin_parser_->get().base()));
                         self->unread_body_ = true;
                         return self->send_admin_body_error(ec);
                       }
                       auto msg = self->admin_parser_->release();
                       self->admin_parser_.reset();
                       self->admin_body_ = std::move(msg.body());
                       self->req_ = http::request<http::empty_body>(std::move(msg.base()));
                       self->begin_request();
                     });
  }

  void begin_request() {
    lowest().expires_never();  // the idle timer must not fire while the origin answers
    if (std::distance(req_.begin(), req_.end()) > cfg_.max_header_fields) {
      return send_error(
          431,
          "too many request header fields (at most " + std::to_string(cfg_.max_header_fields) + ")",
          true);
    }
    begin_request_bookkeeping();
    route();
  }

  void begin_request_bookkeeping() {
    started_ = Clock::now();
    ++requests_;
    host_.metrics().requests_in_flight.fetch_add(1);
    in_request_ = true;
  }

  void route() {
    if (s3_port_) return derived().start_s3();
    std::string_view target = req_.target();
    if (is_fetch_target(target)) return derived().start_fetch();
    std::string_view path = target.substr(0, target.find('?'));
    if (AdminApi::is_admin_target(target)) return start_admin();
    if (path == "/stats" || path == "/metrics") {
      if (req_.method() != http::verb::get && req_.method() != http::verb::head) {
        return send_error(405, "only GET and HEAD are allowed here", false, "GET, HEAD");
      }
      bool stats = path == "/stats";
      std::string body = stats ? host_.stats_json() : host_.metrics_text();
      return send_text(200, std::move(body),
                       stats ? "application/json" : "text/plain; version=0.0.4; charset=utf-8");
    }
    send_error(404, "no such route (try /fetch/{kind}/{object}, /stats, /metrics)", false);
  }

  // ---- /admin/ (node/admin.h) ----------------------------------------------------------------
  void start_admin() {
    AdminRequest r;
    r.method = req_.method();
    r.target = std::string(req_.target());
    if (auto it = req_.find(http::field::authorization); it != req_.end()) {
      r.authorization = std::string(it->value());
    }
    r.body = std::move(admin_body_);
    admin_body_.clear();
    host_.admin().handle(std::move(r), derived().executor(),
                         [self = derived().shared_from_this()](AdminResponse res) {
                           self->send_text(res.status, std::move(res.body), "application/json",
                                           false, "", "", "", res.headers);
                         });
  }

  // ---- simple responses ----------------------------------------------------------------------
  void send_text(int status, std::string body, const char* content_type, bool close = false,
                 const std::string& allow = "", const std::string& content_range = "",
                 const std::string& retry_after = "",
                 const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), req_.version());
    res->set(http::field::server, "shoald");
    res->set(http::field::content_type, content_type);
    if (!allow.empty()) res->set(http::field::allow, allow);
    if (!content_range.empty()) res->set(http::field::content_range, content_range);
    if (!retry_after.empty()) res->set(http::field::retry_after, retry_after);
    for (const auto& [name, value] : extra) res->set(name, value);
    const bool head = req_.method() == http::verb::head;
    res->body() = std::move(body);
    res->prepare_payload();
    if (head) res->body().clear();
    res->keep_alive(!close && req_.keep_alive() && !host_.draining());
    finish_status_ = status;
    lowest().expires_after(std::chrono::milliseconds(cfg_.write_timeout_ms));
    if (head) {
      auto sr = std::make_shared<http::response_serializer<http::string_body>>(*res);
      http::async_write_header(
          derived().stream(), *sr,
          [self = derived().shared_from_this(), res, sr](beast::error_code ec, std::size_t) {
            self->on_simple_written(ec, !res->keep_alive());
          });
      return;
    }
    http::async_write(
        derived().stream(), *res,
        [self = derived().shared_from_this(), res](beast::error_code ec, std::size_t n) {
          self->host_.metrics().egress.add(n);
          self->on_simple_written(ec, !res->keep_alive());
        });
  }

  void send_error(int status, const std::string& reason, bool close, const std::string& allow = "",
                  const std::string& content_range = "") {
    SHOAL_LOG(kDebug, "client error " << status << ": " << reason);
    send_text(status, reason + "\n", "text/plain; charset=utf-8", close, allow, content_range);
  }

  void on_simple_written(beast::error_code ec, bool close) {
    end_request();
    if (!ec && unread_body_) return linger_close();
    if (ec || close) return derived().do_eof();
    do_read();
  }

  // After answering a request whose body was left unread: half-close, then read and drop what
  // the client still sends (up to kLingerBytes, for at most kLingerTime) before closing, so the
  // unread bytes do not turn the close into a reset that destroys the answer on its way to the
  // client (RFC 9112 §9.6, "lingering close"). On the TCP layer, also under TLS.
  void linger_close() {
    static constexpr std::size_t kLingerBytes = 1 << 20;
    static constexpr std::chrono::seconds kLingerTime{2};
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().expires_after(kLingerTime);
    linger_read(std::make_shared<std::array<char, 16 * 1024>>(), kLingerBytes);
  }

  void linger_read(std::shared_ptr<std::array<char, 16 * 1024>> buf, std::size_t left) {
    auto& stream = lowest();
    stream.async_read_some(net::buffer(*buf), [self = derived().shared_from_this(), buf, left](
                                                  beast::error_code ec, std::size_t n) {
      if (ec || n >= left) return self->lowest().close();
      self->linger_read(buf, left - n);
    });
  }

  void end_request() {
    if (!in_request_) return;
    in_request_ = false;
    auto& m = host_.metrics();
    m.requests_in_flight.fetch_sub(1);
    std::string method(req_.method_string());
    m.requests.add({kind_label_.empty() ? "-" : kind_label_, method, status_label(finish_status_)});
    m.request_seconds.observe({method},
                              std::chrono::duration<double>(Clock::now() - started_).count());
    if (s3_port_) {
      m.s3_requests.add(
          {s3_operation_.empty() ? "Other" : s3_operation_, status_label(finish_status_)});
    }
    kind_label_.clear();
    s3_operation_.clear();
  }

 protected:
  static std::string status_label(int status) { return std::to_string(status); }
  static constexpr std::size_t kFirstRead = 16 * 1024;  // bytes asked for by the idle read

  SessionHost& host_;
  const NodeConfig& cfg_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::request_parser<http::string_body>> admin_parser_;
  std::string admin_body_;
  http::request<http::empty_body> req_;
  Clock::time_point started_;
  bool idle_ = false;
  bool in_request_ = false;
  int finish_status_ = 0;
  std::string kind_label_;
  const bool s3_port_;
  std::string s3_operation_;  // the S3 port's operation, for its metrics ("GetObject")
  std::uint64_t session_id_ = 0;
  std::uint64_t gen_ = 0;       // request generation on this connection
  std::uint64_t requests_ = 0;  // requests begun on this connection
  bool unread_body_ = false;    // the request's body was refused unread: linger_close()
  bool body_pending_ = false;   // the request's body follows its header (not read yet)
};

}  // namespace shoal::node
