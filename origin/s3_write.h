// Writes passed through to the origin (the S3 port's PutObject, DeleteObject and multipart
// operations, docs/s3-api.md): one S3 request with the node's own credentials (SigV4 by
// libcurl's CURLOPT_AWS_SIGV4, `x-amz-content-sha256: UNSIGNED-PAYLOAD`: the node checks the
// client's payload hash itself before the last byte leaves), its body streamed from a BodyPipe
// (at most the pipe's capacity in memory), its answer returned whole (status, the headers S3
// clients read, and a body of at most kMaxResponseBody bytes: the XML of multipart answers and
// errors).
//
// Each write runs on a thread of its own, blocked in curl_easy_perform (a write is long and
// rare next to page reads, and keeps the origin loop's multi handle free of uploads); at most
// `max_writes` run at once. Writes are not retried: a body streamed once cannot be sent again.
//
// Thread rules: start() from any thread; `done` runs on the write's thread (post it to your
// loop). The destructor aborts every write still running and joins their threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "origin/body_pipe.h"
#include "origin/s3_config.h"

namespace shoal::origin {

struct WriteRequest {
  std::string method;  // "PUT", "POST", "DELETE" or "GET"
  std::string bucket;
  std::string key;    // raw (encoded once by object_url)
  std::string query;  // already encoded ("uploadId=..&partNumber=3", "uploads"), may be empty
  // Header lines sent as given ("Content-Type: text/plain"); the caller chooses which.
  std::vector<std::string> headers;
  std::optional<std::uint64_t> body_length;  // Content-Length; nullopt: no body
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{300000};  // the whole request
};

struct WriteResult {
  int status = 0;       // the origin's HTTP status; 0 when no answer came
  std::string message;  // why there was no answer (transport error, aborted body)
  // The response headers a client of a write reads: ETag, x-amz-version-id, Last-Modified,
  // x-amz-checksum-*, x-amz-server-side-encryption* (names as the origin sent them).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // at most kMaxResponseBody bytes
  bool body_capped = false;
};

class OriginWriter {
 public:
  static constexpr std::size_t kMaxResponseBody = 1 << 20;

  OriginWriter(S3Config config, std::size_t max_writes);
  ~OriginWriter();
  OriginWriter(const OriginWriter&) = delete;
  OriginWriter& operator=(const OriginWriter&) = delete;

  // Starts `req` with its body from `body` (null without one). Returns false (nothing started)
  // when max_writes are running already, or the URL cannot be built (then `done` is not called).
  bool start(WriteRequest req, std::shared_ptr<BodyPipe> body,
             std::function<void(WriteResult)> done);

  std::size_t running() const { return running_.load(); }

 private:
  struct Job;
  static WriteResult perform(const S3Config& config, const WriteRequest& req,
                             const std::string& url, BodyPipe* body);
  void reap_locked();

  const S3Config config_;
  const std::size_t max_writes_;
  std::atomic<std::size_t> running_{0};
  std::mutex mu_;
  std::list<std::shared_ptr<Job>> jobs_;
};

}  // namespace shoal::origin
