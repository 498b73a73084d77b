// Tests for node/service_notifier.h: READY/STOPPING/STATUS messages, and WATCHDOG=1 keep-alives
// that stop while a watched event loop is stuck.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/service_notifier.h"

namespace shoal::test {
namespace {

using namespace std::chrono_literals;
using node::ServiceNotifier;
namespace net = boost::asio;

// Collects what the notifier sends; thread-safe.
class Inbox {
 public:
  ServiceNotifier::Sender sender() {
    return [this](const std::string& text) {
      std::lock_guard lock(mu_);
      messages_.push_back(text);
    };
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  int count(const std::string& text) {
    auto m = messages();
    return static_cast<int>(std::count(m.begin(), m.end(), text));
  }

 private:
  std::mutex mu_;
  std::vector<std::string> messages_;
};

// Runs `loop` on this thread for `d`.
void run_for(net::io_context& loop, std::chrono::milliseconds d) {
  loop.restart();
  loop.run_for(d);
}

TEST(ServiceNotifier, ReadyAndStoppingCarryTheStatus) {
  net::io_context loop;
  Inbox inbox;
  std::string status = "serving on 127.0.0.1:1";
  ServiceNotifier n(
      loop, {}, [&] { return status; }, {.watchdog_interval = 0us}, inbox.sender());
  n.ready();
  status = "draining";
  n.stopping();
  EXPECT_EQ(inbox.messages(), (std::vector<std::string>{"READY=1\nSTATUS=serving on 127.0.0.1:1",
                                                        "STOPPING=1\nSTATUS=draining"}));
}

TEST(ServiceNotifier, SendsStatusOnlyWhenItChanges) {
  net::io_context loop;
  Inbox inbox;
  std::string status = "serving; members 1/1 alive, epoch 1";
  ServiceNotifier n(
      loop, {&loop}, [&] { return status; }, {.watchdog_interval = 0us, .status_interval = 10ms},
      inbox.sender());
  n.ready();
  n.start();
  run_for(loop, 100ms);
  status = "serving; members 2/2 alive, epoch 2";
  run_for(loop, 100ms);
  n.stop();
  EXPECT_EQ(inbox.messages(),
            (std::vector<std::string>{"READY=1\nSTATUS=serving; members 1/1 alive, epoch 1",
                                      "STATUS=serving; members 2/2 alive, epoch 2"}));
}

TEST(ServiceNotifier, WatchdogPingsWhileEveryLoopRuns) {
  net::io_context loop;
  net::io_context other;
  auto guard = net::make_work_guard(other);
  std::thread t([&] { other.run(); });
  Inbox inbox;
  ServiceNotifier n(
      loop, {&loop, &other}, [] { return std::string("ok"); }, {.watchdog_interval = 10ms},
      inbox.sender());
  n.start();
  run_for(loop, 200ms);
  const int before_block = inbox.count("WATCHDOG=1");
  EXPECT_GE(before_block, 5);

  // Block the other loop: pings stop (at most one more, for the round acknowledged before).
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  net::post(other, [&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  // A round acknowledged before the block may still arrive: wait until the count settles (a
  // loaded machine can take a while to run the loops), then it must stay put.
  int at_block = -1;
  for (int i = 0; i < 40 && at_block != inbox.count("WATCHDOG=1"); ++i) {
    at_block = inbox.count("WATCHDOG=1");
    run_for(loop, 50ms);
  }
  run_for(loop, 200ms);
  EXPECT_EQ(inbox.count("WATCHDOG=1"), at_block);

  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  run_for(loop, 200ms);
  EXPECT_GE(inbox.count("WATCHDOG=1"), at_block + 5);
  n.stop();
  guard.reset();
  t.join();
}

TEST(ServiceNotifier, NoWatchdogWithoutAnInterval) {
  net::io_context loop;
  Inbox inbox;
  ServiceNotifier n(
      loop, {&loop}, [] { return std::string("ok"); },
      {.watchdog_interval = 0us, .status_interval = 10ms}, inbox.sender());
  n.start();
  run_for(loop, 100ms);
  n.stop();
  EXPECT_EQ(inbox.count("WATCHDOG=1"), 0);
  EXPECT_EQ(n.watchdog_interval(), 0us);
}

TEST(ServiceNotifier, ReadsHalfOfWatchdogUsecForThisProcessOnly) {
  net::io_context loop;
  ::setenv("WATCHDOG_USEC", "300000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  ServiceNotifier mine(loop, {}, [] { return std::string(); }, {});
  EXPECT_EQ(mine.watchdog_interval(), 150000us);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  ServiceNotifier other(loop, {}, [] { return std::string(); }, {});
  EXPECT_EQ(other.watchdog_interval(), 0us);
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  ServiceNotifier none(loop, {}, [] { return std::string(); }, {});
  EXPECT_EQ(none.watchdog_interval(), 0us);
}

}  // namespace
}  // namespace shoal::test
