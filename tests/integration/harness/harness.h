// The integration-test harness: real processes, real sockets, real S3 (s3rver) on loopback.
//
// Every integration test builds its world from these parts:
//   - TempDir, free_port(), Process, wait_for_port(): scratch space, ports and child processes
//     that cannot outlive the test (PR_SET_PDEATHSIG).
//   - S3Server / S3Client: an s3rver (npm, Node.js) origin and a small SigV4 client (libcurl) to
//     fill it; s3rver checks the access key id only, not signatures (see
//     /work/shared/notes/environment.md for its quirks).
//   - FaultProxy: tests/tools/fault_proxy.py, a reverse proxy that counts every request and injects
//     delays, stalls, error statuses, resets, truncation and bad Content-Range on demand.
//   - http_request() / HttpConnection / raw_socket(): an HTTP/1.1 client (Boost.Beast) that keeps
//     trailers apart from headers and reports early closes, plus raw TCP for hand-made bytes.
//   - metrics() / stats_json() / metric_value(): read a node's /metrics and /stats.
//
// All addresses are 127.0.0.1. Errors are thrown as std::runtime_error with a message that
// names the operation and, where there is one, the status, body or child's log.
//
// Thread rules: free functions may be called from any thread. One object of each class must not
// be used by two threads at once. Process::spawn: the child gets SIGKILL when the *thread* that
// spawned it exits (PR_SET_PDEATHSIG follows the thread), so spawn from the test's own thread.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shoal::test {

using namespace std::chrono_literals;

// The source tree's root (compile definition SHOAL_SOURCE_DIR).
std::string source_dir();

// Where shoald and shoalctl are: $SHOAL_BIN_DIR when set and non-empty, else the compile
// definition SHOAL_BIN_DIR (the build tree's bin/).
std::string bin_dir();

// A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the port, closes.
// Never returns the same port twice within one process, nor one that another test process
// running at once has been given (a flock on $TMPDIR/shoal-test-ports/<port>, held until exit).
// The caller binds it soon (another process may take it meanwhile; Linux prefers odd ports for
// bind(0) and even ones for connect(), which keeps outgoing connections off it). Throws if no
// port can be had.
std::uint16_t free_port();

// True once a TCP connect to 127.0.0.1:port succeeds; false if none did within `timeout`
// (tries every 20 ms).
bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout);

// `n` pseudo-random bytes, the same for the same (n, seed) everywhere (std::mt19937_64, whose
// output the C++ standard fixes; each 64-bit draw gives 8 bytes, little-endian). A prefix of a
// longer result equals the shorter result.
std::string random_bytes(std::size_t n, std::uint64_t seed);

// Writes `contents` to `path` (created or truncated), sets its mode to exactly `mode` and
// returns `path`. For key, token and policy files (shoald refuses group/other-writable ones).
// Throws std::runtime_error when the file cannot be written.
std::string write_file(const std::string& path, const std::string& contents, mode_t mode = 0600);

// A fresh directory (mkdtemp "shoal-test-XXXXXX" under $TMPDIR, or /tmp), removed with all its
// contents when destroyed. Movable; a moved-from TempDir owns nothing. Throws if mkdtemp fails.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The absolute path, without a trailing '/'.
  const std::string& path() const { return path_; }

 private:
  void remove() noexcept;

  std::string path_;
};

// A child process. The child runs with the parent's environment plus `extra_env` (which
// overrides), stdin from /dev/null, stdout and stderr appended to one log file, default signal
// dispositions, and PR_SET_PDEATHSIG = SIGKILL, so it dies with the test. Movable, not copyable;
// a moved-from Process owns nothing (pid() == -1, running() == false).
class Process {
 public:
  // Starts argv[0] (searched in $PATH when it has no '/') with arguments argv. Output goes to
  // `log_path` (created or appended to) or, when empty, to /dev/null. Throws std::runtime_error
  // if argv is empty, the program is not found, the log cannot be opened, fork fails, or exec
  // fails (the child reports its errno back through a close-on-exec pipe).
  static Process spawn(std::vector<std::string> argv,
                       std::map<std::string, std::string> extra_env = {},
                       std::string log_path = "");

  Process() = default;
  ~Process();  // SIGKILLs and reaps the child if it is still running.
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  // True while the child has not exited. Reaps it (without blocking) once it has.
  bool running();

  // Sends `signo` to the child; no effect once it has been reaped.
  void signal(int signo);

  // Waits up to `timeout` for the child to exit and reaps it. Returns its exit code, or 128 + the
  // signal number if a signal ended it (the shell's convention); std::nullopt if it still runs.
  // Once reaped, returns the same status at once on every call.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  // SIGKILL, then reap (blocks until the kernel has torn the child down). No effect once reaped.
  void kill();

  // The log file's whole contents ("" without a log file or if it cannot be read).
  std::string log() const;

  const std::string& log_path() const { return log_path_; }

 private:
  bool reap(int options);
  void release() noexcept;

  pid_t pid_ = -1;
  std::optional<int> status_;  // set once reaped: exit code, or 128 + signal
  std::string log_path_;
};

// The offset of the first sanitizer finding in a child's log (AddressSanitizer's or
// LeakSanitizer's "ERROR:" line, UndefinedBehaviorSanitizer's "runtime error:"), or npos.
std::size_t find_sanitizer_report(const std::string& log);

// For a child the test is done with (call before killing it): a sanitizer finding in its log
// fails the current test with the report, whether or not the test noticed the child's trouble;
// if the test failed otherwise, the log's last `tail_lines` lines go to stderr to explain it.
// `name` labels both ("shoald :PORT").
void check_child_log(const Process& child, const std::string& name, int tail_lines = 60);
// The same for a log already read (children started another way).
void check_child_log_text(const std::string& log, const std::string& name, int tail_lines = 60);

// A minimal S3 client for filling and changing an origin in tests: path-style URLs, SigV4 via
// libcurl (CURLOPT_AWS_SIGV4 "aws:amz:us-east-1:s3", access key and secret "S3RVER", header
// x-amz-content-sha256: UNSIGNED-PAYLOAD). Keys are percent-encoded once (RFC 3986 unreserved
// characters and '/' kept), so spaces and UTF-8 work. Every call is one blocking request with a
// 120 s limit; a transport error or a status >= 300 throws std::runtime_error with the method,
// URL, status and response body.
class S3Client {
 public:
  // `endpoint` like "http://127.0.0.1:9000" (no trailing '/').
  explicit S3Client(std::string endpoint);

  void create_bucket(const std::string& bucket) const;
  // One PUT with the whole body (no multipart); fine for s3rver up to its 5 GiB limit.
  void put_object(const std::string& bucket, const std::string& key, const std::string& data) const;
  std::string get_object(const std::string& bucket, const std::string& key) const;
  void delete_object(const std::string& bucket, const std::string& key) const;

  const std::string& endpoint() const { return endpoint_; }

 private:
  std::string endpoint_;
};

// An s3rver on 127.0.0.1 with its own data directory (TempDir) and a free port, started by the
// constructor and ready (port accepting) when it returns. Logs go to a file kept in a second
// TempDir; failures include them. The destructor stops it.
class S3Server {
 public:
  // Throws if node or s3rver (source_dir()/.deps/s3rver; run cluster/deps.sh) is missing or the
  // port does not open within 20 s.
  S3Server();

  std::uint16_t port() const { return port_; }
  std::string endpoint() const;  // "http://127.0.0.1:PORT"
  // A client for endpoint().
  S3Client client() const { return S3Client(endpoint()); }

  void create_bucket(const std::string& bucket) const { client().create_bucket(bucket); }
  void put_object(const std::string& bucket, const std::string& key,
                  const std::string& data) const {
    client().put_object(bucket, key, data);
  }
  std::string get_object(const std::string& bucket, const std::string& key) const {
    return client().get_object(bucket, key);
  }
  void delete_object(const std::string& bucket, const std::string& key) const {
    client().delete_object(bucket, key);
  }

  // Kills the server (SIGKILL, like a crash; data already acknowledged is on disk) and waits
  // until it is gone; connections to port() are refused until start(). No effect if stopped.
  void stop();
  // Starts it again on the same port and data directory and waits for the port (20 s). No effect
  // if running. Throws like the constructor.
  void start();
  bool running() { return process_.running(); }

  std::string log() const { return process_.log(); }

 private:
  TempDir data_dir_;
  TempDir log_dir_;
  std::uint16_t port_;
  Process process_;
};

// An HTTP response as it arrived.
struct HttpResponse {
  int status = 0;  // 0 when no complete status line and header arrived
  std::vector<std::pair<std::string, std::string>> headers;   // in arrival order
  std::string body;                                           // decoded (de-chunked)
  std::vector<std::pair<std::string, std::string>> trailers;  // chunked trailer fields
  bool complete = false;  // the whole message arrived (false: closed early or timed out)
  std::string error;      // why it is incomplete ("" when complete)

  // The first header named `name` (ASCII case-insensitive), "" if absent. Trailers not included.
  std::string header(std::string_view name) const;
  // Same over the trailers.
  std::string trailer(std::string_view name) const;
};

// A keep-alive HTTP/1.1 client connection to 127.0.0.1:port (Boost.Beast over a blocking-style
// wrapper of async operations, so every exchange has a deadline). Each request() sends one
// request and reads one response. It adds "Host: 127.0.0.1:PORT" and "User-Agent: shoal-test"
// unless `headers` has them, and Content-Length for a body. Responses to HEAD are read without a
// body. Bodies are unlimited in size; a 1 MiB read buffer is reserved.
class HttpConnection {
 public:
  // Connects; throws std::runtime_error if that fails within `timeout`.
  explicit HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout = 10s);
  ~HttpConnection();
  HttpConnection(HttpConnection&&) noexcept;
  HttpConnection& operator=(HttpConnection&&) noexcept;

  // Sends one request and reads the response within `timeout` (write + read). Never throws for
  // network trouble after connecting: a failed write, a close or a timeout before the header
  // ends gives status 0; a close or timeout during the body gives complete == false with the
  // body received so far; `error` says what happened. After any incomplete exchange, or a
  // response that does not keep the connection alive, the connection is closed and further
  // requests return status 0 with error "connection closed". Throws only on misuse (an empty
  // method or target).
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::chrono::milliseconds timeout = 30s);
  // The same with a request body.
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::string& body, std::chrono::milliseconds timeout = 30s);

  bool is_open() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection (see HttpConnection; connecting counts against `timeout`).
// Throws std::runtime_error only if the connection cannot be made.
HttpResponse http_request(std::uint16_t port, std::string method, std::string target,
                          std::vector<std::pair<std::string, std::string>> headers = {},
                          std::chrono::milliseconds timeout = 30s);
// The same with a request body.
HttpResponse http_request(std::uint16_t port, std::string method, std::string target,
                          std::vector<std::pair<std::string, std::string>> headers,
                          const std::string& body, std::chrono::milliseconds timeout = 30s);

// A connected TCP socket with the io_context it belongs to (kept on the heap so moving the struct
// keeps the socket valid). For tests that write hand-made bytes, read slowly or disconnect.
struct RawSocket {
  std::unique_ptr<boost::asio::io_context> io;
  boost::asio::ip::tcp::socket socket;
};

// Connects to 127.0.0.1:port. Throws std::runtime_error if that fails.
RawSocket raw_socket(std::uint16_t port);

// tests/tools/fault_proxy.py (run with /usr/bin/python3) in front of 127.0.0.1:upstream_port, on
// a free port. It forwards everything (Host untouched) and records each request; rules inject
// faults. A rule is JSON:
//   {"match": {"method": "GET", "path_contains": "/bkt/a%20b"},  both optional; raw target
//    "action": ..., its parameters (below),
//    "probability": 0.5,  optional, default 1; drawn from a seeded generator, so runs repeat
//    "times": 2}          optional: the rule expires after firing this many times
// Actions and their parameters (counts in bytes, times in ms):
//   "delay_first_byte", "ms"            sleep, then forward
//   "stall_mid_body", "after_bytes", "ms"  send after_bytes body bytes, pause, send the rest
//   "status", "status" [, "code"]       answer status with an S3 XML error <Code>code</Code>
//                                       (default by status: 404 NoSuchKey, 500 InternalError,
//                                       503 SlowDown); the upstream is not asked
//   "reset" [, "after_bytes"]           RST (SO_LINGER 0) at once, or after after_bytes body bytes
//   "truncate", "after_bytes"           full Content-Length, after_bytes body bytes, then FIN
//   "wrong_content_range"               Content-Range "bytes a-b/n" sent as "bytes a+1-b/n"
// Rules are tried in order; the first that matches and whose probability draw succeeds fires.
// While the upstream is down the proxy resets client connections (as a dead origin would).
class FaultProxy {
 public:
  // Throws if the proxy does not print "ready" within 10 s (message includes its log).
  explicit FaultProxy(std::uint16_t upstream_port, std::uint64_t seed = 1);

  std::uint16_t port() const { return port_; }
  std::string endpoint() const;  // "http://127.0.0.1:PORT"

  // GET /__proxy/stats: {"requests": [{"method", "path" (with query), "range" (or null),
  // "status" (or null: none sent), "aborted" (client went away mid-response), "action" (rule
  // that fired, or null), "error" (why the upstream failed, or null)}...],
  // "counts": {"GET": n, ...}}. Control requests are not recorded.
  nlohmann::json stats() const;
  // Appends a rule. Throws with the proxy's message if it rejects the rule (unknown action or key,
  // wrong type).
  void add_rule(const nlohmann::json& rule) const;
  void clear_rules() const;  // removes all rules
  void reset() const;        // forgets the recorded requests and counts (rules stay)
  // Requests seen with this method whose path starts with `path_prefix`.
  int count(const std::string& method, const std::string& path_prefix = "") const;

  std::string log() const { return process_.log(); }

 private:
  nlohmann::json control(const std::string& method, const std::string& path,
                         const std::string& body = "") const;

  TempDir log_dir_;
  std::uint16_t port_;
  Process process_;
};

// GET /metrics on 127.0.0.1:port; the body. Throws unless the status is 200.
std::string metrics(std::uint16_t port);
// GET /stats on 127.0.0.1:port, parsed. Throws unless the status is 200 and the body is JSON.
nlohmann::json stats_json(std::uint16_t port);
// Polls /stats on 127.0.0.1:port until no origin fetch is in flight (origin.fetches_in_flight
// is 0): a response can end before its page's fetch does. True when that happened within
// `limit`.
bool wait_for_origin_fetches_to_end(std::uint16_t port,
                                    std::chrono::milliseconds limit = std::chrono::seconds(5));
// The value of the sample whose series (name plus labels, written exactly as in the exposition,
// e.g. `shoal_pages_total{outcome="miss"}`) is `series`, from Prometheus text format; NaN if no
// such line. Comment lines are skipped; a trailing timestamp is ignored.
double metric_value(const std::string& metrics_text, const std::string& series);

}  // namespace shoal::test
