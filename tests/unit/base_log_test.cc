// Tests for node/log.h: one line per event, journald priority prefixes when stderr is the
// journal, UTC timestamps otherwise, and the JOURNAL_STREAM test of systemd.exec(5).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "ring/base/log.h"

namespace shoal::test {
namespace {

using base::format_log_line;
using base::LogLevel;

// 2024-02-29T23:59:58.123Z
std::chrono::system_clock::time_point sample_time() {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(1709251198123));
}

TEST(LogFormat, JournalLinesStartWithTheSyslogPriority) {
  const auto t = sample_time();
  EXPECT_EQ(format_log_line(LogLevel::kError, "disk gone", true, t), "<3>error disk gone\n");
  EXPECT_EQ(format_log_line(LogLevel::kWarn, "slow", true, t), "<4>warn slow\n");
  EXPECT_EQ(format_log_line(LogLevel::kInfo, "ready", true, t), "<6>info ready\n");
  EXPECT_EQ(format_log_line(LogLevel::kDebug, "x", true, t), "<7>debug x\n");
}

TEST(LogFormat, TerminalLinesStartWithAUtcTimestamp) {
  EXPECT_EQ(format_log_line(LogLevel::kInfo, "listening on 127.0.0.1:8080", false, sample_time()),
            "2024-02-29T23:59:58.123Z info listening on 127.0.0.1:8080\n");
}

TEST(LogFormat, OneEventIsOneLine) {
  EXPECT_EQ(format_log_line(LogLevel::kWarn, "a\nb\r\nc", true, sample_time()), "<4>warn a b  c\n");
}

TEST(JournalStream, MatchesOnlyTheDeviceAndInodeOfTheDescriptor) {
  char path[] = "/tmp/shoal-log-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  EXPECT_TRUE(base::is_journal_stream(fd, mine.c_str()));
  EXPECT_FALSE(base::is_journal_stream(fd, other.c_str()));
  EXPECT_FALSE(base::is_journal_stream(fd, nullptr));
  EXPECT_FALSE(base::is_journal_stream(fd, "garbage"));
  EXPECT_FALSE(base::is_journal_stream(-1, mine.c_str()));
  close(fd);
  unlink(path);
}

}  // namespace
}  // namespace shoal::test
