// A GET whose body the test reads a bit at a time, for tests of streaming: what arrives while
// the origin still holds the rest back, a response cut after its header, a client that joins a
// page half filled. Plain blocking socket I/O on 127.0.0.1 with deadlines; one request per
// reader (Connection: close), no chunked decoding (ask without TE: trailers).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/harness/harness.h"

namespace shoal::test {

class StreamReader {
 public:
  // Sends GET `target` with `headers` to 127.0.0.1:port and reads the response header (within
  // `timeout`). Throws std::runtime_error when the connection or the header fails.
  StreamReader(std::uint16_t port, const std::string& target,
               const std::vector<std::pair<std::string, std::string>>& headers,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

  int status() const { return status_; }
  // The first header named `name` (case-insensitive), "" if absent.
  std::string header(const std::string& name) const;
  // Content-Length of the response (throws when absent).
  std::uint64_t content_length() const;

  // Reads until `n` body bytes arrived in all, the peer closed, or `timeout` passed; returns the
  // body so far (body()). Never throws for network trouble.
  const std::string& read_until(std::uint64_t n, std::chrono::milliseconds timeout);
  // Reads the rest: until Content-Length bytes arrived or the peer closed (or `timeout`).
  const std::string& read_rest(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  const std::string& body() const { return body_; }
  // The peer closed the connection before Content-Length bytes arrived.
  bool cut() const { return closed_ && body_.size() < content_length(); }

 private:
  RawSocket sock_;
  int status_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
  bool closed_ = false;
};

}  // namespace shoal::test
