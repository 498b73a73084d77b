// A shoald process for integration tests: started on a free port with the given flags, ready
// (port accepting) when the constructor returns, checked and SIGKILLed by the destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness/harness.h"

namespace shoal::test {

class Shoald {
 public:
  // Starts bin_dir()/shoald --listen 127.0.0.1:PORT --s3-endpoint ENDPOINT --s3-region us-east-1
  // plus `flags`, with S3RVER credentials in the environment (plus `env`). `launcher`, when not
  // empty, is a command that execs its arguments (the shoald command line), e.g. to run it in a
  // namespace of its own; it must keep the process id (exec, not fork). Throws with the log if
  // the port does not open within 20 s.
  Shoald(const std::string& s3_endpoint, std::vector<std::string> flags = {},
         std::map<std::string, std::string> env = {}, std::vector<std::string> launcher = {});
  // Fails the current test if the process's log holds a sanitizer finding, and prints the log's
  // tail if the test failed (check_child_log), then SIGKILLs it.
  ~Shoald();
  Shoald(Shoald&&) = default;
  Shoald& operator=(Shoald&&) = default;

  std::uint16_t port() const { return port_; }
  Process& process() { return process_; }
  std::string log() const { return process_.log(); }

  // GET /fetch/{kind}/{object} with Range: bytes=first-last (object given already
  // percent-encoded) plus extra headers, on a fresh connection.
  HttpResponse fetch(const std::string& kind, const std::string& encoded_object,
                     const std::string& range,
                     std::vector<std::pair<std::string, std::string>> headers = {},
                     const std::string& method = "GET") const;

 private:
  TempDir log_dir_;
  std::uint16_t port_;
  Process process_;
};

// Background clients for "no request fails while ..." tests: `threads` threads, each reading
// random ranges of `data` (the object's bytes) up to `max_span` bytes long, one after another,
// through node(t) for thread t (`kind` / `encoded_object`), and counting an answer as a success
// only when it is a complete 206 with exactly the right bytes. Seeded by thread index, so runs
// are repeatable. stop() (or the destructor) ends and joins them.
class RangeLoad {
 public:
  using NodeOf = std::function<const Shoald&(int thread)>;
  RangeLoad(int threads, NodeOf node, std::string kind, std::string encoded_object,
            const std::string& data, std::uint64_t max_span);
  ~RangeLoad() { stop(); }
  RangeLoad(const RangeLoad&) = delete;
  RangeLoad& operator=(const RangeLoad&) = delete;

  void stop();
  int successes() const { return successes_; }
  int failures() const { return failures_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> successes_{0}, failures_{0};
  std::vector<std::thread> threads_;
};

// Runs bin_dir()/shoald with `args` (no --listen added), waits up to 10 s for it to exit and
// returns {exit code, output}. For flag-validation tests.
std::pair<int, std::string> run_shoald_to_exit(std::vector<std::string> args);

// The object key percent-encoded for a /fetch path (RFC 3986 unreserved and '/' kept).
std::string encode_path(const std::string& key);

}  // namespace shoal::test
