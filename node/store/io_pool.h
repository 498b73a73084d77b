// IoPool: a small fixed set of threads that run blocking I/O jobs (pread/pwrite on a Device),
// so no disk access ever runs on an event-loop thread.
//
// Two lanes, each a bounded FIFO queue:
//   foreground  work a client is waiting for (page reads, the recovery scan);
//   background  work nobody waits for (page writes after memory eviction, header invalidations).
// A free thread takes the oldest foreground job, except that after kForegroundBurst foreground
// jobs in a row it takes a waiting background job, so writes progress under a steady read load
// (at most 1 in kForegroundBurst + 1 jobs). submit() never blocks: a full lane refuses the job,
// and the caller degrades (a write becomes memory-only, a read goes to the origin).
//
// Jobs run on a pool thread and must not throw; whatever a job calls back runs there too
// (callers post to their own executor if they need to). Jobs may submit further jobs.
//
// Thread-safe: every method may be called from any thread, including pool threads (except
// wait_idle() and the destructor, which must not run on a pool thread).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shoal::store {

class IoPool {
 public:
  enum class Lane { kForeground, kBackground };
  static constexpr int kForegroundBurst = 3;

  // Starts `threads` (>= 1) threads; each lane holds at most its max_* jobs waiting (>= 1).
  IoPool(int threads, std::size_t max_foreground, std::size_t max_background);
  // Runs every job already queued, then joins the threads.
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Queues `job` on `lane`. Returns false (and drops the job) when that lane is full or the pool
  // is shutting down.
  bool submit(Lane lane, std::function<void()> job);
  // Blocks until no job is waiting or running (jobs submitted by jobs included).
  void wait_idle();

  std::size_t queued(Lane lane) const;
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void run();
  std::function<void()> take_locked();

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> foreground_;
  std::deque<std::function<void()>> background_;
  const std::size_t max_foreground_;
  const std::size_t max_background_;
  int foreground_run_ = 0;  // foreground jobs taken in a row while background work waited
  int running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace shoal::store
