#include "router/poller.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "ring/base/host_port.h"

namespace shoal::router {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::optional<std::string> PollerOptions::validate() const {
  if (seeds.empty()) return "seeds: none given";
  for (const auto& s : seeds) {
    if (!base::split_host_port(s)) return "seeds: '" + s + "' is not HOST:PORT";
  }
  if (interval < std::chrono::milliseconds(10)) return "interval: must be >= 10 ms";
  if (timeout < std::chrono::milliseconds(10)) return "timeout: must be >= 10 ms";
  if (min_backoff < std::chrono::milliseconds(1) || min_backoff > max_backoff) {
    return "min_backoff: must be >= 1 ms and <= max_backoff";
  }
  return std::nullopt;
}

// One GET /stats: resolve, connect, write, read, each under the poll's deadline. `done` runs once
// on the executor with ("", body) or (reason, "").
class ViewPoller::Request : public std::enable_shared_from_this<Request> {
 public:
  using Done = std::function<void(std::string error, std::string body)>;

  Request(net::any_io_executor ex, std::string addr, const PollerOptions& o, Done done)
      : resolver_(ex),
        stream_(ex),
        addr_(std::move(addr)),
        timeout_(o.timeout),
        max_body_bytes_(o.max_body_bytes),
        done_(std::move(done)) {}

  void start() {
    auto hp = base::split_host_port(addr_);
    if (!hp) return finish("'" + addr_ + "' is not HOST:PORT");
    host_ = hp->host;
    stream_.expires_after(timeout_);
    resolver_.async_resolve(
        hp->host, std::to_string(hp->port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
          self->on_resolve(ec, std::move(r));
        });
  }

  // Cancels everything; `done` is not called afterwards.
  void cancel() {
    done_ = nullptr;
    resolver_.cancel();
    beast::error_code ec;
    stream_.socket().close(ec);
  }

 private:
  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return finish("resolve " + host_ + ": " + ec.message());
    stream_.async_connect(results,
                          [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                            self->on_connect(ec);
                          });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return finish("connect: " + ec.message());
    req_ = {http::verb::get, "/stats", 11};
    req_.set(http::field::host, addr_);
    req_.set(http::field::user_agent, "shoal-router");
    http::async_write(
        stream_, req_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    if (ec) return finish("send: " + ec.message());
    parser_.body_limit(max_body_bytes_);
    http::async_read(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return finish("read: " + ec.message());
    auto& res = parser_.get();
    if (res.result() != http::status::ok) {
      return finish("status " + std::to_string(res.result_int()));
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    finish("", std::move(res.body()));
  }

  void finish(std::string error, std::string body = {}) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(error.empty() ? "" : addr_ + ": " + error, std::move(body));
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::string addr_;
  std::string host_;
  std::chrono::milliseconds timeout_;
  std::uint64_t max_body_bytes_;
  Done done_;
  http::request<http::empty_body> req_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
};

ViewPoller::ViewPoller(net::any_io_executor executor, PollerOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      timer_(executor_),
      known_(options_.seeds) {}

ViewPoller::~ViewPoller() = default;

void ViewPoller::on_view(std::function<void(std::shared_ptr<const View>)> callback) {
  on_view_ = std::move(callback);
}

void ViewPoller::start() {
  stopped_ = false;
  do_poll();
}

void ViewPoller::stop() {
  stopped_ = true;
  timer_.cancel();
  if (request_) request_->cancel();
  request_.reset();
}

void ViewPoller::poll_soon() {
  net::post(executor_, [this] {
    if (stopped_ || request_) return;
    if (std::chrono::steady_clock::now() - last_start_ < options_.min_backoff) return;
    poll_now_ = true;
    timer_.cancel();
  });
}

std::shared_ptr<const View> ViewPoller::view() const {
  std::lock_guard lock(mu_);
  return view_;
}

std::vector<std::string> ViewPoller::known() const {
  std::lock_guard lock(mu_);
  return known_;
}

std::string ViewPoller::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void ViewPoller::do_poll() {
  if (stopped_) return;
  std::string addr;
  {
    std::lock_guard lock(mu_);
    next_ %= known_.size();
    addr = known_[next_];
  }
  last_start_ = std::chrono::steady_clock::now();
  request_ = std::make_shared<Request>(executor_, addr, options_,
                                       [this, addr](std::string error, std::string body) {
                                         on_polled(addr, std::move(error), std::move(body));
                                       });
  request_->start();
}

void ViewPoller::on_polled(const std::string& addr, std::string error, std::string body) {
  request_.reset();
  if (stopped_) return;
  std::shared_ptr<const View> view;
  if (error.empty()) {
    auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    std::string reason;
    if (auto v = View::from_stats(doc, addr, &reason)) {
      view = std::make_shared<const View>(std::move(*v));
    } else {
      error = addr + ": " + (doc.is_discarded() ? "/stats: not JSON" : reason);
    }
  }
  if (!view) {
    ++polls_failed_;
    ++failures_;
    {
      std::lock_guard lock(mu_);
      last_error_ = error;
      next_ = (next_ + 1) % known_.size();
    }
    const int doublings = std::min(failures_ - 1, 20);
    const std::chrono::milliseconds backoff = options_.min_backoff * (std::int64_t{1} << doublings);
    schedule(std::min(options_.max_backoff, backoff));
    return;
  }
  ++polls_ok_;
  failures_ = 0;
  update_known(*view);
  {
    std::lock_guard lock(mu_);
    view_ = view;
    last_error_.clear();
    auto it = std::find(known_.begin(), known_.end(), addr);
    next_ = it == known_.end() ? 0 : static_cast<std::size_t>(it - known_.begin());
  }
  if (on_view_) on_view_(view);
  schedule(options_.interval);
}

void ViewPoller::update_known(const View& v) {
  std::vector<std::string> known;
  for (const NodeInfo* n : v.alive()) {
    if (!n->client_addr.empty() &&
        std::find(known.begin(), known.end(), n->client_addr) == known.end()) {
      known.push_back(n->client_addr);
    }
  }
  for (const auto& s : options_.seeds) {
    if (std::find(known.begin(), known.end(), s) == known.end()) known.push_back(s);
  }
  std::lock_guard lock(mu_);
  known_ = std::move(known);
}

void ViewPoller::schedule(std::chrono::milliseconds delay) {
  timer_.expires_after(delay);
  timer_.async_wait([this](beast::error_code ec) {
    if (stopped_) return;
    if (ec && !poll_now_) return;
    poll_now_ = false;
    do_poll();
  });
}

}  // namespace shoal::router
