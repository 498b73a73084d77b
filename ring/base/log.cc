#include "ring/base/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace shoal::base {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::kError:
      return 3;
    case LogLevel::kWarn:
      return 4;
    case LogLevel::kInfo:
      return 6;
    case LogLevel::kDebug:
      return 7;
  }
  return 6;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view s) {
  if (s == "error") return LogLevel::kError;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "info") return LogLevel::kInfo;
  if (s == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

void set_log_level(LogLevel l) {
  g_level.store(static_cast<int>(l));
}

bool log_enabled(LogLevel l) {
  return static_cast<int>(l) <= g_level.load(std::memory_order_relaxed);
}

bool is_journal_stream(int fd, const char* journal_stream) {
  if (journal_stream == nullptr) return false;
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(journal_stream, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) &&
         ino == static_cast<unsigned long long>(st.st_ino);
}

std::string format_log_line(LogLevel l, std::string_view msg, bool journal,
                            std::chrono::system_clock::time_point now) {
  std::string line;
  line.reserve(msg.size() + 48);
  if (journal) {
    line += '<';
    line += static_cast<char>('0' + syslog_priority(l));
    line += '>';
  } else {
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count()));
    line += buf;
  }
  line += log_level_name(l);
  line += ' ';
  for (char c : msg) line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';
  return line;
}

void log_line(LogLevel l, std::string_view msg) {
  static const bool journal = is_journal_stream(STDERR_FILENO, std::getenv("JOURNAL_STREAM"));
  const std::string line = format_log_line(l, msg, journal, std::chrono::system_clock::now());
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace shoal::base
