#include "node/page_fill.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace shoal::node {

PageFill::PageFill(std::uint64_t length, std::uint64_t split)
    : length_(length), split_(std::min(split, length)) {}

std::uint64_t PageFill::ready(std::uint64_t from) const {
  if (from >= length_) return 0;
  if (state_.load(std::memory_order_acquire) == State::kComplete) return length_ - from;
  std::uint64_t at = from;
  for (std::size_t i = part_of(from); i < kParts; ++i) {
    const std::uint64_t start = part_start(i), end = part_end(i);
    const std::uint64_t done = start + written_[i].load(std::memory_order_acquire);
    if (done <= at) break;
    at = done;
    if (done < end) break;  // this part is not full: nothing beyond it is contiguous yet
  }
  return at - from;
}

base::Outcome PageFill::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

std::string PageFill::failure_message() const {
  std::lock_guard lock(mu_);
  return failure_message_;
}

void PageFill::when_ready(std::uint64_t from, std::uint64_t want, boost::asio::any_io_executor ex,
                          std::function<void()> fn) {
  const std::uint64_t until = from + std::min(want, from < length_ ? length_ - from : 0);
  {
    std::lock_guard lock(mu_);
    if (state() == State::kFilling && from + ready(from) < until) {
      waiters_.push_back(Waiter{from, until, std::move(ex), std::move(fn)});
      return;
    }
  }
  boost::asio::post(ex, std::move(fn));
}

void PageFill::when_ended(boost::asio::any_io_executor ex, std::function<void()> fn) {
  on_end([ex = std::move(ex), fn = std::move(fn)](State) mutable {
    boost::asio::post(ex, std::move(fn));
  });
}

void PageFill::on_end(std::function<void(State)> fn) {
  {
    std::lock_guard lock(mu_);
    if (state() == State::kFilling) {
      on_end_.push_back(std::move(fn));
      return;
    }
  }
  fn(state());
}

void PageFill::advance(std::size_t part, std::uint64_t written) {
  written_[part].store(std::min(written, part_end(part) - part_start(part)),
                       std::memory_order_release);
  std::vector<Waiter> due;
  {
    std::lock_guard lock(mu_);
    if (waiters_.empty()) return;
    wake_locked(&due);
  }
  for (Waiter& w : due) boost::asio::post(w.ex, std::move(w.fn));
}

// Moves the waiters whose bytes are all there into *out.
void PageFill::wake_locked(std::vector<Waiter>* out) {
  auto keep = std::partition(waiters_.begin(), waiters_.end(),
                             [this](const Waiter& w) { return w.from + ready(w.from) < w.until; });
  std::move(keep, waiters_.end(), std::back_inserter(*out));
  waiters_.erase(keep, waiters_.end());
}

bool PageFill::complete() {
  for (std::size_t i = 0; i < kParts; ++i) {
    if (written_[i].load(std::memory_order_acquire) != part_end(i) - part_start(i)) return false;
  }
  return end(State::kComplete);
}

void PageFill::fail(base::Outcome outcome, std::string message) {
  end(State::kFailed, outcome, std::move(message));
}

bool PageFill::end(State s, base::Outcome outcome, std::string message) {
  std::vector<Waiter> waiters;
  std::vector<std::function<void(State)>> handlers;
  {
    std::lock_guard lock(mu_);
    if (state() != State::kFilling) return false;
    failure_ = outcome;
    failure_message_ = std::move(message);
    state_.store(s, std::memory_order_release);
    waiters.swap(waiters_);
    handlers.swap(on_end_);
  }
  for (Waiter& w : waiters) boost::asio::post(w.ex, std::move(w.fn));
  for (auto& h : handlers) h(s);
  return true;
}

}  // namespace shoal::node
