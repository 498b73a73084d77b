#include "node/store/io_pool.h"

#include <algorithm>

namespace shoal::store {

IoPool::IoPool(int threads, std::size_t max_foreground, std::size_t max_background)
    : max_foreground_(std::max<std::size_t>(max_foreground, 1)),
      max_background_(std::max<std::size_t>(max_background, 1)) {
  const int n = std::max(threads, 1);
  threads_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
}

IoPool::~IoPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool IoPool::submit(Lane lane, std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    auto& q = lane == Lane::kForeground ? foreground_ : background_;
    const std::size_t limit = lane == Lane::kForeground ? max_foreground_ : max_background_;
    if (q.size() >= limit) return false;
    q.push_back(std::move(job));
  }
  work_cv_.notify_one();
  return true;
}

std::function<void()> IoPool::take_locked() {
  const bool prefer_background =
      !background_.empty() && (foreground_.empty() || foreground_run_ >= kForegroundBurst);
  auto& q = prefer_background ? background_ : foreground_;
  foreground_run_ = prefer_background || background_.empty() ? 0 : foreground_run_ + 1;
  std::function<void()> job = std::move(q.front());
  q.pop_front();
  return job;
}

void IoPool::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock,
                  [this] { return stopping_ || !foreground_.empty() || !background_.empty(); });
    if (foreground_.empty() && background_.empty()) return;  // stopping and drained
    std::function<void()> job = take_locked();
    ++running_;
    lock.unlock();
    job();
    job = nullptr;  // destroy captures outside the lock
    lock.lock();
    --running_;
    if (running_ == 0 && foreground_.empty() && background_.empty()) idle_cv_.notify_all();
  }
}

void IoPool::wait_idle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock,
                [this] { return running_ == 0 && foreground_.empty() && background_.empty(); });
}

std::size_t IoPool::queued(Lane lane) const {
  std::lock_guard lock(mu_);
  return lane == Lane::kForeground ? foreground_.size() : background_.size();
}

}  // namespace shoal::store
