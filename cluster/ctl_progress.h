// Progress of a long shoalctl command (warm): on a terminal a bar redrawn in place, otherwise
// one plain line per update, so logs and pipes get readable text without control characters.
//
// Both show pages and bytes done of the total, the rate (bytes done / time since start) and the
// ETA (bytes left / rate; "?" until the rate is known).
//
// Thread rules: one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace shoal::ctl {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  // Writes to `out`; `tty` picks the bar (true) or plain lines. Totals in bytes and pages.
  Progress(std::FILE* out, bool tty, std::uint64_t total_bytes, std::uint64_t total_pages);

  // Reports `bytes` and `pages` done so far, while working on `label`.
  void update(std::uint64_t bytes, std::uint64_t pages, const std::string& label);
  // Ends the bar's line (terminal only); call once at the end.
  void finish();

 private:
  std::string figures(std::uint64_t bytes, std::uint64_t pages) const;

  std::FILE* out_;
  bool tty_;
  std::uint64_t total_bytes_, total_pages_;
  Clock::time_point start_ = Clock::now();
  bool drawn_ = false;
};

}  // namespace shoal::ctl
