// Leveled logging: one line per event on stderr, with a journald priority prefix ("<3>") when
// stderr is connected to the journal (JOURNAL_STREAM names stderr's device:inode, see
// systemd.exec(5)), and a UTC timestamp otherwise.
//
// Thread-safe: each line is formatted in full, then written with one write(2).
#pragma once

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace shoal::base {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Parses "error", "warn", "info", "debug" (case-sensitive); nullopt otherwise.
std::optional<LogLevel> parse_log_level(std::string_view s);
std::string_view log_level_name(LogLevel l);

// The bytes log_line() writes for `msg` at level `l`. With `journal`: "<P>level msg\n", where P
// is the syslog priority the journal files the line under (error 3, warn 4, info 6, debug 7; the
// "<N>" prefixes of sd-daemon(3)). Otherwise "YYYY-MM-DDTHH:MM:SS.mmmZ level msg\n", `now` in
// UTC. CR and LF inside `msg` become spaces, so one event is always one line.
std::string format_log_line(LogLevel l, std::string_view msg, bool journal,
                            std::chrono::system_clock::time_point now);

// True when `journal_stream` (the value of $JOURNAL_STREAM, "DEVICE:INODE"; nullptr when unset)
// names the file open on `fd`: systemd.exec(5)'s test for "this stream is the journal".
bool is_journal_stream(int fd, const char* journal_stream);

void set_log_level(LogLevel l);
bool log_enabled(LogLevel l);
// Writes one line (a newline is appended; embedded newlines are replaced by spaces).
void log_line(LogLevel l, std::string_view msg);

}  // namespace shoal::base

// Usage: SHOAL_LOG(kInfo, "listening on " << addr);  The stream expression is only evaluated when
// the level is enabled.
#define SHOAL_LOG(level, expr)                                                      \
  do {                                                                              \
    if (::shoal::base::log_enabled(::shoal::base::LogLevel::level)) {               \
      std::ostringstream shoal_log_os_;                                             \
      shoal_log_os_ << expr;                                                        \
      ::shoal::base::log_line(::shoal::base::LogLevel::level, shoal_log_os_.str()); \
    }                                                                               \
  } while (0)
