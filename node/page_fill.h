// PageFill: how much of a page being fetched has arrived, and who waits for more. A page is
// published to its readers as soon as the origin's (or the owner's) response head is validated;
// its bytes then land part by part while readers stream what is there, in order, from the
// page's own buffer (no copy).
//
// A page of `length` bytes is filled as two parts, [0, split) and [split, length) (split may be
// 0 or length: one part), each written in order from its start by one writer: a request deep in
// a page fetches the part holding it first, in parallel with the part before it. ready(from) is
// how many bytes from `from` on are final: what the part holding `from` has written past it,
// continued into the next part once this one is full.
//
// The fill ends once: complete() when every byte is there, or fail() (the page must then not be
// served beyond what each reader already sent: a reader that cannot finish aborts its
// response). Waiters registered with when_ready() are posted to their executor when their bytes
// are there or the fill ended; end handlers (on_end) run once, inline, on the thread that ended
// the fill.
//
// Thread rules: advance(), complete() and fail() from the writer's thread (any thread, one
// writer per part); everything else from any thread. Bytes [start, start + written) of a part
// are published with release ordering: a reader that saw ready() >= n may read those n bytes.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "ring/base/outcome.h"

namespace shoal::node {

class PageFill {
 public:
  enum class State { kFilling, kComplete, kFailed };
  static constexpr std::size_t kParts = 2;

  // Parts [0, split) and [split, length); split is clamped to length.
  PageFill(std::uint64_t length, std::uint64_t split);
  PageFill(const PageFill&) = delete;
  PageFill& operator=(const PageFill&) = delete;

  std::uint64_t length() const { return length_; }
  // The part holding byte `offset` (0 or 1), and where part `i` starts and ends.
  std::size_t part_of(std::uint64_t offset) const { return offset < split_ ? 0 : 1; }
  std::uint64_t part_start(std::size_t i) const { return i == 0 ? 0 : split_; }
  std::uint64_t part_end(std::size_t i) const { return i == 0 ? split_ : length_; }

  // Bytes from `from` on that are final now (0 at or past the end).
  std::uint64_t ready(std::uint64_t from) const;
  State state() const { return state_.load(std::memory_order_acquire); }
  // The failure, once state() is kFailed.
  base::Outcome failure() const;
  std::string failure_message() const;

  // Posts `fn` to `ex` once ready(from) >= min(want, length - from), or the fill ended (check
  // state()); at once when that holds already.
  void when_ready(std::uint64_t from, std::uint64_t want, boost::asio::any_io_executor ex,
                  std::function<void()> fn);
  // Posts `fn` to `ex` once the fill ended (complete or failed; check state()); at once when it
  // has ended already.
  void when_ended(boost::asio::any_io_executor ex, std::function<void()> fn);
  // Runs `fn(state)` once when the fill ends (kComplete or kFailed), inline on the ending
  // thread; at once, inline, when it has ended already. `fn` must not block.
  void on_end(std::function<void(State)> fn);

  // Writer side. Bytes [part_start(i), part_start(i) + written) of part i are final.
  void advance(std::size_t part, std::uint64_t written);
  // Every part is full: the page is complete. Returns false (and changes nothing) when some
  // byte is missing or the fill ended already.
  bool complete();
  // The fill failed; readers still waiting are woken. No-op once ended.
  void fail(base::Outcome outcome, std::string message);

 private:
  struct Waiter {
    std::uint64_t from;
    std::uint64_t until;  // wake when ready(from) reaches until - from
    boost::asio::any_io_executor ex;
    std::function<void()> fn;
  };

  void wake_locked(std::vector<Waiter>* out);
  // Ends the fill in state `s` (with the failure, for kFailed); false when it had ended.
  bool end(State s, base::Outcome outcome = base::Outcome::kOk, std::string message = {});

  const std::uint64_t length_;
  const std::uint64_t split_;
  std::array<std::atomic<std::uint64_t>, kParts> written_{};
  std::atomic<State> state_{State::kFilling};
  mutable std::mutex mu_;  // guards waiters_, end handlers and the failure
  std::vector<Waiter> waiters_;
  std::vector<std::function<void(State)>> on_end_;
  base::Outcome failure_ = base::Outcome::kOk;
  std::string failure_message_;
};

}  // namespace shoal::node
