#include "router/poller.h"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "ring/base/host_port.h"
#include "router/http_client.h"

namespace shoal::router {
namespace net = boost::asio;

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
  HttpRequest req;
  req.host_port = addr;
  req.target = "/stats";
  req.user_agent = "shoal-router";
  req.timeout = options_.timeout;
  req.max_body_bytes = options_.max_body_bytes;
  request_ = start_http_request(executor_, std::move(req), [this, addr](HttpResult r) {
    std::string error = !r.ok()           ? r.error
                        : r.status != 200 ? "status " + std::to_string(r.status)
                                          : "";
    on_polled(addr, error.empty() ? "" : addr + ": " + error, std::move(r.body));
  });
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
  timer_.async_wait([this](boost::system::error_code ec) {
    if (stopped_) return;
    if (ec && !poll_now_) return;
    poll_now_ = false;
    do_poll();
  });
}

}  // namespace shoal::router
