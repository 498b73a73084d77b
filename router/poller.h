// Keeps a router's membership view fresh: polls one node's GET /stats at a time, builds a View
// (router/view.h) from each good answer, and fails over across every node it knows. The GET is
// router/http_client.h's, over plain HTTP.
//
// Known nodes: the seeds given at start, plus the client address of every alive member of the
// latest view (their order: the latest view's alive members by id, then the seeds not among
// them). Polling sticks to one node while it answers (every `interval`). When a poll fails
// (resolve, connect, no answer within `timeout`, a status other than 200, a body over
// `max_body_bytes` or not a valid /stats document), the next known node is polled after a
// backoff that starts at `min_backoff` and doubles with every consecutive failure up to
// `max_backoff`; the last good view is kept meanwhile. poll_soon() asks for an early poll (the data
// path calls it when a node fails).
//
// Thread rules: start(), stop() and the view callback run on the executor given to the
// constructor (one thread, or a strand); view(), known(), poll_soon() and the counters may be
// called from any thread. Destroy the poller only after stop() was called and the executor's
// io_context no longer runs its handlers (e.g. after io_context::run() returned).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "router/view.h"

namespace shoal::router {

struct PollerOptions {
  std::vector<std::string> seeds;               // HOST:PORT client addresses, at least one
  std::chrono::milliseconds interval{1000};     // between polls while they succeed
  std::chrono::milliseconds timeout{1000};      // one poll, in all: resolve, connect, answer
  std::chrono::milliseconds min_backoff{50};    // wait after the first failure
  std::chrono::milliseconds max_backoff{5000};  // the doubling stops here
  std::uint64_t max_body_bytes = 8ull << 20;    // a larger /stats body is a failure

  // Returns a one-line reason for the first invalid setting ("seeds: none given", "interval:
  // must be >= 10 ms", "timeout: must be >= 10 ms", "min_backoff: must be >= 1 ms and <=
  // max_backoff", "seeds: 'X' is not HOST:PORT"), or nullopt.
  std::optional<std::string> validate() const;
};

class HttpCall;

class ViewPoller {
 public:
  // Does not start polling; call start().
  ViewPoller(boost::asio::any_io_executor executor, PollerOptions options);
  ~ViewPoller();
  ViewPoller(const ViewPoller&) = delete;
  ViewPoller& operator=(const ViewPoller&) = delete;

  // Called on the executor with every new view (also when only loads changed). Set before start().
  void on_view(std::function<void(std::shared_ptr<const View>)> callback);

  // Polls at once, then as described above. Executor thread.
  void start();
  // Cancels the timer and the poll in progress; no callback runs afterwards. Executor thread.
  void stop();

  // Asks for a poll now, unless one is in progress or started less than min_backoff ago. Any
  // thread.
  void poll_soon();

  // The latest view, or nullptr before the first successful poll. Any thread.
  std::shared_ptr<const View> view() const;
  // The known nodes in polling order. Any thread.
  std::vector<std::string> known() const;
  // Why the latest poll failed ("" after a success). Any thread.
  std::string last_error() const;

  std::uint64_t polls_ok() const { return polls_ok_.load(); }
  std::uint64_t polls_failed() const { return polls_failed_.load(); }

 private:
  void do_poll();
  void on_polled(const std::string& addr, std::string error, std::string body);
  void schedule(std::chrono::milliseconds delay);
  void update_known(const View& v);

  boost::asio::any_io_executor executor_;
  PollerOptions options_;
  boost::asio::steady_timer timer_;
  std::function<void(std::shared_ptr<const View>)> on_view_;
  std::shared_ptr<HttpCall> request_;  // the poll in progress
  std::size_t next_ = 0;               // index into known_ of the node to poll
  int failures_ = 0;                   // consecutive
  bool stopped_ = false;
  bool poll_now_ = false;
  std::chrono::steady_clock::time_point last_start_{};

  mutable std::mutex mu_;  // guards view_, known_, last_error_
  std::shared_ptr<const View> view_;
  std::vector<std::string> known_;
  std::string last_error_;
  std::atomic<std::uint64_t> polls_ok_{0};
  std::atomic<std::uint64_t> polls_failed_{0};
};

}  // namespace shoal::router
