#include "node/service_notifier.h"

#include <systemd/sd-daemon.h>

#include <boost/asio/post.hpp>

namespace shoal::node {

struct ServiceNotifier::Round {
  explicit Round(std::size_t loops) : pending(static_cast<int>(loops)) {}
  std::atomic<int> pending;  // watched loops that have not run this round's no-op yet
};

namespace {

std::chrono::microseconds watchdog_from_environment() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(usec / 2);
}

}  // namespace

ServiceNotifier::ServiceNotifier(boost::asio::io_context& loop,
                                 std::vector<boost::asio::io_context*> watched,
                                 std::function<std::string()> status, Options options, Sender send)
    : watched_(std::move(watched)),
      status_(std::move(status)),
      send_(send ? std::move(send)
                 : Sender([](const std::string& text) { sd_notify(0, text.c_str()); })),
      watchdog_(options.watchdog_interval ? *options.watchdog_interval
                                          : watchdog_from_environment()),
      status_interval_(options.status_interval),
      timer_(loop) {}

ServiceNotifier::~ServiceNotifier() = default;

void ServiceNotifier::start() {
  stopped_ = false;
  arm();
}

void ServiceNotifier::ready() {
  last_status_ = status_();
  send_("READY=1\nSTATUS=" + last_status_);
}

void ServiceNotifier::stopping() {
  last_status_ = status_();
  send_("STOPPING=1\nSTATUS=" + last_status_);
}

void ServiceNotifier::stop() {
  stopped_ = true;
  timer_.cancel();
}

void ServiceNotifier::arm() {
  auto period = watchdog_.count() > 0
                    ? std::min<std::chrono::microseconds>(watchdog_, status_interval_)
                    : std::chrono::microseconds(status_interval_);
  timer_.expires_after(period);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    tick();
    arm();
  });
}

void ServiceNotifier::tick() {
  if (watchdog_.count() > 0) {
    // Vouch for the loops only if each ran the previous round's no-op.
    if (!round_ || round_->pending.load() == 0) send_("WATCHDOG=1");
    if (!round_ || round_->pending.load() == 0) {
      round_ = std::make_shared<Round>(watched_.size());
      for (auto* io : watched_) {
        boost::asio::post(*io, [r = round_] { r->pending.fetch_sub(1); });
      }
    }
  }
  send_status_if_changed();
}

void ServiceNotifier::send_status_if_changed() {
  std::string now = status_();
  if (now == last_status_) return;
  last_status_ = std::move(now);
  send_("STATUS=" + last_status_);
}

}  // namespace shoal::node
