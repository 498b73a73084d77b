#include "tests/integration/harness/stream_reader.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>

namespace shoal::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr ssize_t kTimedOut = -2;

// recv() with a deadline: bytes read, 0 at EOF, -1 on an error (a reset), kTimedOut.
ssize_t recv_until(int fd, char* buf, std::size_t n, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return kTimedOut;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return kTimedOut;
  return ::recv(fd, buf, n, 0);
}

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

StreamReader::StreamReader(std::uint16_t port, const std::string& target,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::chrono::milliseconds timeout)
    : sock_(raw_socket(port)) {
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  const int fd = sock_.socket.native_handle();
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    throw std::runtime_error("StreamReader: cannot send the request");
  }
  const auto deadline = Clock::now() + timeout;
  std::string head;
  char buf[4096];
  std::size_t end = std::string::npos;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = recv_until(fd, buf, sizeof buf, deadline);
    if (n <= 0) throw std::runtime_error("StreamReader: no complete header: '" + head + "'");
    head.append(buf, static_cast<std::size_t>(n));
  }
  body_ = head.substr(end + 4);
  head.resize(end);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  status_ = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(start, line_end - start);
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    headers_.emplace_back(line.substr(0, colon), value);
  }
}

std::string StreamReader::header(const std::string& name) const {
  for (const auto& [k, v] : headers_) {
    if (iequals(k, name)) return v;
  }
  return "";
}

std::uint64_t StreamReader::content_length() const {
  const std::string v = header("Content-Length");
  if (v.empty()) throw std::runtime_error("StreamReader: no Content-Length");
  return std::stoull(v);
}

const std::string& StreamReader::read_until(std::uint64_t n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[1 << 16];
  while (body_.size() < n && !closed_) {
    const ssize_t got = recv_until(sock_.socket.native_handle(), buf, sizeof buf, deadline);
    if (got == kTimedOut) break;  // return what there is
    if (got <= 0) {               // closed or reset by the peer
      closed_ = true;
      break;
    }
    body_.append(buf, static_cast<std::size_t>(got));
  }
  return body_;
}

const std::string& StreamReader::read_rest(std::chrono::milliseconds timeout) {
  read_until(content_length(), timeout);
  return body_;
}

}  // namespace shoal::test
