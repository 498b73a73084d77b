// read_private_file(); see private_file.h.
#include "ring/base/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shoal::base {
namespace {

// Closes a descriptor when it goes out of scope.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Why the open file `st` describes may not be trusted, or nullopt.
std::optional<std::string> check_stat(const std::string& path, const struct stat& st,
                                      std::size_t max_bytes) {
  if (!S_ISREG(st.st_mode)) return path + " is not a regular file";
  const uid_t me = ::geteuid();
  if (st.st_uid != me && st.st_uid != 0) {
    return path + " is owned by uid " + std::to_string(st.st_uid) +
           ", not by the user shoald runs as (uid " + std::to_string(me) + ") or root";
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return path + " is writable by its group or others (mode " + octal_mode(st.st_mode) +
           "): chmod go-w " + path;
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return path + " is larger than " + std::to_string(max_bytes) + " bytes";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> read_private_file(const std::string& path, std::size_t max_bytes,
                                             std::string* contents) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (f.fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return "cannot stat " + path + ": " + std::strerror(errno);
  if (auto reason = check_stat(path, st, max_bytes)) return reason;
  std::string text;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "cannot read " + path + ": " + std::strerror(errno);
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      return path + " is larger than " + std::to_string(max_bytes) + " bytes";
    }
  }
  *contents = std::move(text);
  return std::nullopt;
}

}  // namespace shoal::base
