// IoPool (node/store/io_pool.h): threads, bounded lanes, lane priority, shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "node/store/io_pool.h"

namespace shoal::store {
namespace {

using Lane = IoPool::Lane;

// Holds every pool thread in a job until released.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void wait_for_waiters(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return waiting_ >= n; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

TEST(IoPool, RunsJobsOnPoolThreads) {
  IoPool pool(3, 16, 16);
  std::mutex mu;
  std::set<std::thread::id> ids;
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(pool.submit(Lane::kForeground, [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::lock_guard lock(mu);
      ids.insert(std::this_thread::get_id());
    }));
  }
  pool.wait_idle();
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
  EXPECT_GE(ids.size(), 2u);
  EXPECT_LE(ids.size(), 3u);
}

TEST(IoPool, FullLaneRefusesWithoutBlocking) {
  IoPool pool(1, 2, 1);
  Gate gate;
  ASSERT_TRUE(pool.submit(Lane::kForeground, [&] { gate.wait(); }));
  gate.wait_for_waiters(1);
  EXPECT_TRUE(pool.submit(Lane::kForeground, [] {}));
  EXPECT_TRUE(pool.submit(Lane::kForeground, [] {}));
  EXPECT_FALSE(pool.submit(Lane::kForeground, [] {}));
  EXPECT_TRUE(pool.submit(Lane::kBackground, [] {}));
  EXPECT_FALSE(pool.submit(Lane::kBackground, [] {}));
  EXPECT_EQ(pool.queued(Lane::kForeground), 2u);
  EXPECT_EQ(pool.queued(Lane::kBackground), 1u);
  gate.open();
  pool.wait_idle();
  EXPECT_EQ(pool.queued(Lane::kForeground), 0u);
}

TEST(IoPool, ForegroundFirstButBackgroundNotStarved) {
  IoPool pool(1, 64, 64);
  Gate gate;
  ASSERT_TRUE(pool.submit(Lane::kForeground, [&] { gate.wait(); }));
  gate.wait_for_waiters(1);
  std::mutex mu;
  std::string order;
  auto record = [&](char c) {
    return [&, c] {
      std::lock_guard lock(mu);
      order.push_back(c);
    };
  };
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(pool.submit(Lane::kBackground, record('b')));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(pool.submit(Lane::kForeground, record('f')));
  gate.open();
  pool.wait_idle();
  EXPECT_EQ(order, "fffbfffbff");
}

TEST(IoPool, WaitIdleIncludesJobsSubmittedByJobs) {
  IoPool pool(2, 8, 8);
  std::atomic<int> done{0};
  ASSERT_TRUE(pool.submit(Lane::kForeground, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pool.submit(Lane::kBackground, [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ++done;
    });
    ++done;
  }));
  pool.wait_idle();
  EXPECT_EQ(done.load(), 2);
}

TEST(IoPool, DestructorRunsQueuedJobs) {
  std::atomic<int> ran{0};
  {
    IoPool pool(1, 32, 32);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(pool.submit(i % 2 ? Lane::kBackground : Lane::kForeground, [&] { ++ran; }));
    }
  }
  EXPECT_EQ(ran.load(), 20);
}

}  // namespace
}  // namespace shoal::store
