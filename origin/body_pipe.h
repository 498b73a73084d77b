// BodyPipe: a bounded, thread-safe byte pipe from a client connection (the producer, on an event
// loop) to an origin upload (the consumer, a thread blocked in libcurl's read callback), so a
// request body streams to the origin with at most `capacity` bytes of it in memory.
//
// The producer write()s what fits, and when the pipe is full registers when_space() to be called
// (from the consumer's thread; post to your loop) once half of it has drained. finish() says
// no more bytes follow; abort() (either side) ends the transfer: the consumer's read() returns
// kAborted and later writes are dropped.
//
// Thread-safe: one producer, one consumer; abort() from anywhere.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace shoal::origin {

class BodyPipe {
 public:
  static constexpr long kAborted = -1;

  explicit BodyPipe(std::size_t capacity) : capacity_(capacity) {}

  // Producer: copies as many of `bytes` as fit and returns how many (0 once aborted or full).
  std::size_t write(std::string_view bytes);
  // Producer: `fn` runs once when at least half the capacity is free (at once, inline, if it is
  // now), or when the pipe is aborted. From the consumer's thread: it must not block.
  void when_space(std::function<void()> fn);
  // Producer: no more bytes.
  void finish();
  // Either side: the transfer is abandoned.
  void abort();
  bool aborted() const;

  // Consumer: blocks until bytes, the end or an abort; copies up to `n` bytes to `dest`.
  // Returns the bytes copied, 0 at the end, kAborted after abort().
  long read(char* dest, std::size_t n);

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string buf_;  // bytes [head_, buf_.size()) wait
  std::size_t head_ = 0;
  bool finished_ = false;
  bool aborted_ = false;
  std::function<void()> on_space_;
};

}  // namespace shoal::origin
