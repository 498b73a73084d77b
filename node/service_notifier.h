// shoald's conversation with its service manager (systemd's sd_notify(3) protocol): READY=1 once
// it serves, STATUS= lines while it runs, WATCHDOG=1 keep-alives, STOPPING=1 when it drains.
//
// Watchdog (sd_watchdog_enabled(3), systemd.service(5) WatchdogSec=): when the manager set
// WATCHDOG_USEC (and WATCHDOG_PID is unset or names this process), a timer on the event loop
// ticks every min(WATCHDOG_USEC / 2, status_interval). A tick sends WATCHDOG=1 only when every
// watched io_context has run the no-op the previous round posted to it, and then posts a new
// round. So while a loop is stuck (a deadlock, a handler that never returns) no keep-alive goes
// out, and once that lasts WatchdogSec systemd restarts the process. Without WATCHDOG_USEC the
// timer only refreshes the status line, every `status_interval`.
//
// STATUS= is sent when the text the status callback returns changes (checked on every tick), so
// `systemctl status shoald` shows e.g. "serving on 0.0.0.0:8080; members 3/3 alive, epoch 7".
//
// Messages go through a Sender (sd_notify(0, text) by default; tests pass their own). Without
// NOTIFY_SOCKET, sd_notify does nothing, so the notifier is harmless outside systemd.
//
// Thread rules: construct, start(), ready(), stopping() and stop() on the thread that runs
// `loop`; the watched io_contexts may be run by any threads. Call stop() before `loop` or a
// watched io_context is destroyed.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shoal::node {

class ServiceNotifier {
 public:
  // Sends one notification ("READY=1\nSTATUS=..."), like sd_notify(0, text).
  using Sender = std::function<void(const std::string& text)>;

  struct Options {
    // WATCHDOG=1 period; nullopt: read it from the environment (WATCHDOG_USEC / 2 via
    // sd_watchdog_enabled), zero: no watchdog.
    std::optional<std::chrono::microseconds> watchdog_interval;
    std::chrono::milliseconds status_interval{1000};  // status refresh without a watchdog
  };

  // `status` returns the current status text (one line, no newline). `watched` are the loops
  // whose progress the watchdog vouches for (usually including `loop`). `send` defaults to
  // sd_notify.
  ServiceNotifier(boost::asio::io_context& loop, std::vector<boost::asio::io_context*> watched,
                  std::function<std::string()> status, Options options, Sender send = {});
  ~ServiceNotifier();

  // Arms the tick timer.
  void start();
  // READY=1 with the current status.
  void ready();
  // STOPPING=1 with the current status (the status callback should now say "draining").
  void stopping();
  // Cancels the timer; no notification is sent afterwards.
  void stop();

  // The WATCHDOG=1 period in use (zero when the watchdog is off).
  std::chrono::microseconds watchdog_interval() const { return watchdog_; }

 private:
  struct Round;  // one tick's acknowledgements, shared with the posted no-ops

  void tick();
  void arm();
  void send_status_if_changed();

  std::vector<boost::asio::io_context*> watched_;
  std::function<std::string()> status_;
  Sender send_;
  std::chrono::microseconds watchdog_{0};
  std::chrono::milliseconds status_interval_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Round> round_;
  std::string last_status_;
  bool stopped_ = false;
};

}  // namespace shoal::node
