#include "cluster/ctl_progress.h"

#include <algorithm>

#include "cluster/ctl_format.h"

namespace shoal::ctl {

namespace {
constexpr int kBarWidth = 24;  // characters
}  // namespace

Progress::Progress(std::FILE* out, bool tty, std::uint64_t total_bytes, std::uint64_t total_pages)
    : out_(out), tty_(tty), total_bytes_(total_bytes), total_pages_(total_pages) {}

std::string Progress::figures(std::uint64_t bytes, std::uint64_t pages) const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(bytes) / elapsed : 0;
  const double left = static_cast<double>(total_bytes_ - std::min(bytes, total_bytes_));
  const std::string eta = left == 0 ? "0s" : rate > 0 ? human_duration(left / rate) : "?";
  return std::to_string(pages) + "/" + std::to_string(total_pages_) + " pages, " +
         human_bytes(static_cast<double>(bytes)) + "/" +
         human_bytes(static_cast<double>(total_bytes_)) + ", " + human_rate(rate) + ", ETA " + eta;
}

void Progress::update(std::uint64_t bytes, std::uint64_t pages, const std::string& label) {
  const double done = total_bytes_ ? static_cast<double>(std::min(bytes, total_bytes_)) /
                                         static_cast<double>(total_bytes_)
                                   : 1.0;
  if (!tty_) {
    std::fprintf(out_, "warm: %s (%s), %s\n", figures(bytes, pages).c_str(), percent(done).c_str(),
                 label.c_str());
    std::fflush(out_);
    return;
  }
  const int filled = static_cast<int>(done * kBarWidth);
  std::string bar(kBarWidth + 2, '-');
  bar.front() = '[';
  bar.back() = ']';
  std::fill_n(bar.begin() + 1, filled, '#');
  // "\r" returns to the line's start, "\033[K" erases what a longer earlier line left behind.
  std::fprintf(out_, "\r%s %6s  %s  %s\033[K", bar.c_str(), percent(done).c_str(),
               figures(bytes, pages).c_str(), label.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void Progress::finish() {
  if (tty_ && drawn_) std::fputs("\n", out_);
  std::fflush(out_);
}

}  // namespace shoal::ctl
