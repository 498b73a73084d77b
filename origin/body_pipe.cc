#include "origin/body_pipe.h"

#include <algorithm>
#include <cstring>

namespace shoal::origin {

std::size_t BodyPipe::write(std::string_view bytes) {
  std::lock_guard lock(mu_);
  if (aborted_ || finished_) return 0;
  const std::size_t held = buf_.size() - head_;
  const std::size_t n = std::min(bytes.size(), capacity_ - std::min(capacity_, held));
  if (n == 0) return 0;
  if (head_ > 0) {  // compact before growing
    buf_.erase(0, head_);
    head_ = 0;
  }
  buf_.append(bytes.data(), n);
  cv_.notify_all();
  return n;
}

void BodyPipe::when_space(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (!aborted_ && buf_.size() - head_ > capacity_ / 2) {
      on_space_ = std::move(fn);
      return;
    }
  }
  fn();
}

void BodyPipe::finish() {
  std::lock_guard lock(mu_);
  finished_ = true;
  cv_.notify_all();
}

void BodyPipe::abort() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    aborted_ = true;
    fn = std::move(on_space_);
    on_space_ = nullptr;
    cv_.notify_all();
  }
  if (fn) fn();
}

bool BodyPipe::aborted() const {
  std::lock_guard lock(mu_);
  return aborted_;
}

long BodyPipe::read(char* dest, std::size_t n) {
  std::function<void()> fn;
  long got = 0;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return aborted_ || finished_ || buf_.size() > head_; });
    if (aborted_) return kAborted;
    const std::size_t k = std::min(n, buf_.size() - head_);
    std::memcpy(dest, buf_.data() + head_, k);
    head_ += k;
    got = static_cast<long>(k);
    if (on_space_ && buf_.size() - head_ <= capacity_ / 2)
      fn = std::move(on_space_), on_space_ = nullptr;
  }
  if (fn) fn();
  return got;
}

}  // namespace shoal::origin
