// S3 GetObject / HeadObject / ListObjects over libcurl's multi interface, driven by an Asio event
// loop.
//
// One S3Client owns one CURLM handle and runs on one io_context (the "origin loop"); the caller
// runs that io_context on exactly one thread. All connections are reused through the multi
// handle's connection cache and bounded per host (S3Config::max_connections_per_host).
// Requests are signed with libcurl's CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3") and carry
// `x-amz-content-sha256: UNSIGNED-PAYLOAD` (libcurl 7.88 does not add it).
// The socket/timer integration follows curl's docs/examples/multi-uv.c.
//
// Timeouts (RequestConfig): ct is CURLOPT_CONNECTTIMEOUT_MS; oat is CURLOPT_TIMEOUT_MS of one
// attempt; rt runs from an attempt's start (connection set-up and any wait behind the per-host
// connection limit included) to the first response header line, and then bounds every gap
// between body bytes (a body stalled for rt ends the attempt with kTimeout); ot bounds all
// attempts and backoff together, and each attempt's oat is clipped to the time left in ot. A
// retry is not started when its backoff would end after ot; the last attempt's outcome is
// reported then.
//
// Streaming GETs (stream()): the body goes to a GetSink as it arrives, never buffered here. An
// attempt's head is validated (validate_get_head) before its first body byte is handed on. A
// retry after an attempt that delivered body bytes resumes where they stopped, with If-Match on
// the ETag the first head carried (an answer with another ETag or size is kPreconditionFailed:
// the object changed; origins that ignore If-Match are caught by that comparison).
// Invalid requests (empty bucket or key, length 0 or > 1 GiB, offset + length overflowing,
// config.validate() failing) complete with kMalformed and attempts == 0, without any request.
//
// Thread rules: get(), stream(), head(), list() and cancel() may be called from any thread (they
// post to the origin loop, in call order). Completion callbacks are posted to the origin loop's
// thread (never run inside libcurl); they must not block and may call get/head/cancel or destroy
// the client. Each callback is invoked exactly once (with Outcome::kCancelled after cancel()). The
// destructor invokes the callbacks of all outstanding operations with kCancelled before it returns;
// an operation whose get()/head() post has not run yet gets kCancelled when it runs. Callbacks
// never run if the io_context is destroyed without running them.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "origin/request_config.h"
#include "origin/s3_config.h"
#include "ring/base/bytes.h"
#include "ring/base/outcome.h"

namespace shoal::origin {

struct GetRequest {
  std::string bucket;
  std::string key;           // raw object key (any UTF-8, may contain '/')
  std::uint64_t offset = 0;  // first byte wanted
  std::uint64_t length = 0;  // bytes wanted (> 0); the answer may be shorter at the object's end
  std::string if_match;      // ETag to send as If-Match; empty for none
  RequestConfig config;
};

// Metadata of the object as the origin reported it.
struct ObjectInfo {
  std::uint64_t size = 0;     // whole object size in bytes
  std::string etag;           // as sent, quotes included
  std::string last_modified;  // HTTP-date as sent
};

// Where a streaming GET (S3Client::stream) delivers its body. Both run on the origin loop thread,
// inside curl's callbacks: they must not block or call the S3Client.
struct GetSink {
  // An attempt's head passed validation: bytes [first, last] of the object `info` describes
  // follow. `first` is the request's offset, or where a retry resumes. Return false to refuse the
  // answer: the operation ends at once with kPreconditionFailed (no retry).
  std::function<bool(const ObjectInfo& info, std::uint64_t first, std::uint64_t last)> on_head;
  // `bytes` of the body, which belong at object offset `at`: in order, each call continuing the
  // previous one, or at a retry's resume point (the end of what was delivered before). Return
  // false to stop the operation at once: it ends with kCancelled.
  std::function<bool(std::uint64_t at, std::string_view bytes)> on_data;
};

struct GetResult {
  base::Outcome outcome = base::Outcome::kOk;
  base::Bytes body;             // exactly the validated bytes [offset, offset + body.size)
  ObjectInfo info;              // valid when outcome == kOk
  int http_status = 0;          // last attempt's status (0 if none)
  std::string error_code;       // S3 <Code> of the last error response, if any
  std::string message;          // one-line human reason for a failure
  int attempts = 0;             // attempts made (retries + 1)
  std::uint64_t delivered = 0;  // stream(): body bytes handed to the sink
  std::chrono::microseconds first_byte_latency{0};  // of the successful attempt
  std::chrono::microseconds total_latency{0};       // whole operation
};

// A listing of a bucket (ListObjects, or ListObjectsV2 with list-type=2 in the query): the
// parameters are the caller's to choose and check; they are sent as canonical_query() builds
// them.
struct ListRequest {
  std::string bucket;
  QueryParams query;
  RequestConfig config;
};

struct ListResult {
  base::Outcome outcome = base::Outcome::kOk;
  std::string body;        // the 200 answer's body (S3's ListBucketResult XML), when kOk
  int http_status = 0;     // last attempt's status (0 if none)
  std::string error_code;  // S3 <Code> of the last error response, if any
  std::string message;     // one-line human reason for a failure
  int attempts = 0;
};

struct HeadResult {
  base::Outcome outcome = base::Outcome::kOk;
  ObjectInfo info;
  int http_status = 0;
  std::string message;
  int attempts = 0;
};

// Counters, read with stats() from any thread.
struct ClientStats {
  std::uint64_t requests = 0;  // attempts sent (GET + HEAD)
  std::uint64_t bytes = 0;     // body bytes received (pages and error bodies)
  std::uint64_t errors = 0;    // failed attempts (anything but kOk; cancels excluded)
  std::uint64_t retries = 0;
  std::uint64_t in_flight = 0;  // operations not yet completed
};

class S3Client {
 public:
  using GetHandler = std::function<void(GetResult)>;
  using HeadHandler = std::function<void(HeadResult)>;
  using ListHandler = std::function<void(ListResult)>;

  // Largest listing body kept: S3 sends at most 1000 keys of at most 1024 bytes each (tripled by
  // encoding-type=url) per page; a longer body ends the attempt with kMalformed.
  static constexpr std::size_t kMaxListBody = 16 << 20;  // bytes

  S3Client(boost::asio::io_context& loop, S3Config config);
  ~S3Client();  // cancels everything outstanding; must run on the loop thread or after it stopped
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Starts a ranged GetObject of [offset, offset+length). Validates strictly: status 206 (or 200
  // when the answer is the whole object starting at 0), Content-Range starts at `offset` and
  // ends at offset+length-1 or at the object's last byte, the body has exactly that many bytes.
  // Anything else is kMalformed and retried. Retries follow config (ma, jittered exponential
  // backoff between ib and mb, all within ot). Returns an operation id for cancel().
  std::uint64_t get(GetRequest req, GetHandler done);

  // Starts a streaming ranged GetObject of [offset, offset+length): the same validation, retries
  // and timeouts as get(), the body handed to `sink` as it arrives (see GetSink) and retries
  // resuming after the bytes already delivered. `done` gets the outcome and metadata (its body
  // is empty; `delivered` counts the bytes given to the sink). Returns an id for cancel().
  std::uint64_t stream(GetRequest req, GetSink sink, GetHandler done);

  // HeadObject: size, ETag, Last-Modified. Same retries and timeouts.
  std::uint64_t head(std::string bucket, std::string key, RequestConfig config, HeadHandler done);

  // A GET of the bucket with `req.query` (no Range): status 200 and a body of at most
  // kMaxListBody bytes is kOk with the body; other statuses are judged as for get() (404
  // kNotFound with error_code NoSuchBucket, 403 kAccessDenied, 400 kMalformed, ...). Same
  // retries and timeouts. An empty bucket name, or one the addressing refuses, is kMalformed
  // with attempts == 0.
  std::uint64_t list(ListRequest req, ListHandler done);

  // Cancels an operation: its transfer is removed at once (connection released) and its
  // handler gets kCancelled. Unknown or finished ids are ignored.
  void cancel(std::uint64_t id);

  ClientStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace shoal::origin
