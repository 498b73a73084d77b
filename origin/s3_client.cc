// S3Client: operations, attempts, retries, timeouts and cancellation on top of CurlLoop and
// Transfer; see s3_client.h.
//
// Life of an operation (all on the origin loop):
//   stream()/head()/list() post start() -> start_attempt() -> Transfer::prepare + CurlLoop::add,
//   with an rt watchdog (first byte, then gaps between body bytes) -> on_body() per chunk (head
//   validated before the first) -> on_curl_done() (or the watchdog) -> judge() -> finish() or a
//   backoff timer -> start_attempt() resuming after the bytes delivered ...
// Backoff is "full jitter" from the AWS Architecture Blog, "Exponential Backoff And Jitter"
// (Marc Brooker, 2015): sleep = uniform(0, min(mb, ib * 2^(attempt-1))).
// Completion handlers are always posted to the loop (never run inside curl callbacks), except
// when the client is destroyed: then outstanding handlers run inside the destructor.
#include "origin/s3_client.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <unordered_map>

#include "origin/curl_loop.h"
#include "origin/s3_response.h"
#include "origin/s3_transfer.h"

namespace shoal::origin {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint64_t kMaxLength = std::uint64_t{1} << 30;  // bytes per GET, sanity bound

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::chrono::microseconds micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d);
}

// Rounds a remaining duration up to whole milliseconds (never 0 while time remains).
milliseconds ceil_ms(Clock::duration d) {
  return std::chrono::ceil<milliseconds>(d);
}

// Why a request cannot be sent at all, or nullopt.
std::optional<std::string> check_request(const GetRequest& req, bool head) {
  if (req.bucket.empty() || req.key.empty()) return std::string("empty bucket or key");
  if (auto reason = req.config.validate()) return reason;
  if (head) return std::nullopt;
  if (req.length == 0 || req.length > kMaxLength) {
    return "length must be in [1, " + std::to_string(kMaxLength) + "] bytes";
  }
  if (req.offset > std::numeric_limits<std::uint64_t>::max() - req.length) {
    return std::string("offset + length overflows");
  }
  return std::nullopt;
}

// Why a listing cannot be sent at all, or nullopt.
std::optional<std::string> check_list(const GetRequest& req) {
  if (req.bucket.empty()) return std::string("empty bucket");
  return req.config.validate();
}

}  // namespace

// What stream(), head() and list() hand to the origin loop.
struct OperationStart {
  bool head = false;
  bool list = false;
  GetRequest req;     // list(): bucket and config only
  QueryParams query;  // list()
  GetSink sink;
  S3Client::GetHandler get_done;
  S3Client::HeadHandler head_done;
  S3Client::ListHandler list_done;
};

// One stream(), head() or list() across its attempts.
struct Operation : OperationStart {
  Operation(boost::asio::io_context& loop, std::uint64_t op_id, OperationStart start)
      : OperationStart(std::move(start)), id(op_id), watchdog(loop), backoff_timer(loop) {}

  std::uint64_t id;
  std::string url;
  std::string list_body;  // list(): the 200 body so far
  Transfer transfer;
  // rt: the wait for an attempt's first byte, then the longest gap between body bytes.
  boost::asio::steady_timer watchdog;
  boost::asio::steady_timer backoff_timer;
  Clock::time_point started;
  Clock::time_point deadline;
  Clock::time_point attempt_started;
  milliseconds attempt_total{0};    // this attempt's time: oat, or what is left of ot if less
  std::string attempt_limit;        // which: "oat=N ms" or "ot=N ms"
  Clock::time_point last_progress;  // the attempt's last header line or body bytes
  int attempts = 0;
  bool in_multi = false;
  // Streaming state across attempts. The first validated head fixes the object's info and where
  // the body ends; later attempts resume at req.offset + delivered and must match it.
  std::uint64_t attempt_offset = 0;  // this attempt's Range
  std::uint64_t attempt_length = 0;
  bool head_checked = false;       // this attempt's head was validated
  std::uint64_t attempt_body = 0;  // body bytes this attempt's head announced
  bool have_info = false;
  std::uint64_t total = 0;      // body bytes of the whole operation (from the first head)
  std::uint64_t delivered = 0;  // body bytes handed to the sink
  bool final = false;           // the sink refused: no retry
  base::Outcome refusal = base::Outcome::kOk;  // why the body handler stopped the transfer
  std::string refusal_message;
  // The judgement of the last attempt.
  base::Outcome outcome = base::Outcome::kOk;
  std::string message;
  std::string error_code;
  int http_status = 0;
  ObjectInfo info;
  std::chrono::microseconds first_byte_latency{0};
};

struct S3Client::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& l, S3Config c)
      : loop(l),
        config(std::move(c)),
        curl(l, [this](CURL* easy, CURLcode result) { on_curl_done(easy, result); }),
        rng(std::random_device{}()) {
    curl_multi_setopt(curl.multi(), CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(config.max_connections_per_host));
    curl_multi_setopt(curl.multi(), CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      static_cast<long>(config.max_connections_total));
    curl_multi_setopt(curl.multi(), CURLMOPT_MAXCONNECTS,
                      static_cast<long>(config.max_connections_total));
  }

  // --- operation start and end ---

  // Creates the operation on the loop and makes its first attempt.
  void start(std::uint64_t id, OperationStart spec) {
    auto owned = std::make_unique<Operation>(loop, id, std::move(spec));
    Operation& op = *owned;
    op.started = Clock::now();
    op.deadline = op.started + op.req.config.operation_timeout;
    ops.emplace(id, std::move(owned));
    if (auto reason = op.list ? check_list(op.req) : check_request(op.req, op.head)) {
      op.outcome = base::Outcome::kMalformed;
      op.message = "bad request: " + *reason;
      finish(op);
      return;
    }
    if (auto reason = op.list ? bucket_url(config, op.req.bucket, op.query, &op.url)
                              : object_url(config, op.req.bucket, op.req.key, &op.url)) {
      op.outcome = base::Outcome::kMalformed;
      op.message = "bad request: " + *reason;
      finish(op);
      return;
    }
    start_attempt(op);
  }

  // Called from any thread: posts start(), or a kCancelled completion when the client is gone
  // by the time the post runs.
  static void post_start(const std::shared_ptr<Impl>& impl, std::uint64_t id, OperationStart spec) {
    impl->stats.in_flight.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(
        impl->loop, [weak = std::weak_ptr<Impl>(impl), id, spec = std::move(spec)]() mutable {
          if (auto self = weak.lock(); self && !self->closing) {
            self->start(id, std::move(spec));
          } else if (spec.head) {
            spec.head_done(HeadResult{base::Outcome::kCancelled, {}, 0, "client destroyed", 0});
          } else if (spec.list) {
            ListResult result;
            result.outcome = base::Outcome::kCancelled;
            result.message = "client destroyed";
            spec.list_done(std::move(result));
          } else {
            GetResult result;
            result.outcome = base::Outcome::kCancelled;
            result.message = "client destroyed";
            spec.get_done(std::move(result));
          }
        });
  }

  // Removes the operation and posts its handler with the last attempt's judgement.
  void finish(Operation& op) {
    auto node = ops.extract(op.id);
    std::unique_ptr<Operation> owned = std::move(node.mapped());
    stats.in_flight.fetch_sub(1, std::memory_order_relaxed);
    const auto total = micros(Clock::now() - owned->started);
    if (owned->head) {
      HeadResult result{owned->outcome, owned->info, owned->http_status, owned->message,
                        owned->attempts};
      deliver(std::move(owned->head_done), std::move(result));
    } else if (owned->list) {
      ListResult result{owned->outcome,    std::string(),  owned->http_status,
                        owned->error_code, owned->message, owned->attempts};
      if (owned->outcome == base::Outcome::kOk) result.body = std::move(owned->list_body);
      deliver(std::move(owned->list_done), std::move(result));
    } else {
      GetResult result = get_result(*owned, total);
      deliver(std::move(owned->get_done), std::move(result));
    }
  }

  static GetResult get_result(Operation& op, std::chrono::microseconds total) {
    GetResult result;
    result.outcome = op.outcome;
    if (op.outcome == base::Outcome::kOk) {
      result.info = op.info;
      result.first_byte_latency = op.first_byte_latency;
    }
    result.delivered = op.delivered;
    result.http_status = op.http_status;
    result.error_code = op.error_code;
    result.message = op.message;
    result.attempts = op.attempts;
    result.total_latency = total;
    return result;
  }

  template <typename Handler, typename Result>
  void deliver(Handler handler, Result result) {
    if (closing) {
      handler(std::move(result));
      return;
    }
    boost::asio::post(loop, [handler = std::move(handler), result = std::move(result)]() mutable {
      handler(std::move(result));
    });
  }

  // --- attempts ---

  void start_attempt(Operation& op) {
    const Clock::time_point now = Clock::now();
    if (now >= op.deadline) {
      op.outcome = base::Outcome::kTimeout;
      op.message = "operation timeout (ot) reached";
      finish(op);
      return;
    }
    const RequestConfig& rc = op.req.config;
    const milliseconds total = std::min(rc.attempt_timeout, ceil_ms(op.deadline - now));
    op.attempt_total = total;
    op.attempt_limit = total < rc.attempt_timeout
                           ? "ot=" + std::to_string(rc.operation_timeout.count()) + " ms"
                           : "oat=" + std::to_string(rc.attempt_timeout.count()) + " ms";
    // A retry resumes after the bytes delivered, and only for the version already seen.
    op.attempt_offset = op.req.offset + op.delivered;
    op.attempt_length = (op.have_info ? op.total : op.req.length) - op.delivered;
    std::string if_match = op.req.if_match;
    if (if_match.empty() && op.have_info) if_match = op.info.etag;
    AttemptSpec spec{op.url,
                     op.head,
                     op.list,
                     op.attempt_offset,
                     op.attempt_length,
                     if_match,
                     std::min(rc.connect_timeout, total),
                     total};
    op.attempts++;
    op.attempt_started = now;
    op.last_progress = now;
    op.head_checked = false;
    op.attempt_body = 0;
    op.list_body.clear();
    op.refusal = base::Outcome::kOk;
    stats.requests.fetch_add(1, std::memory_order_relaxed);
    op.transfer.prepare(
        config, spec, &op, [&op] { op.last_progress = Clock::now(); },
        [this, &op](std::string_view bytes) { return on_body(op, bytes); });
    arm_watchdog(op, std::min(rc.read_timeout, total));
    const CURLMcode code = curl.add(op.transfer.easy());
    if (code != CURLM_OK) {
      op.watchdog.cancel();
      op.outcome = base::Outcome::kTransportError;
      op.message = std::string("curl_multi_add_handle: ") + curl_multi_strerror(code);
      after_attempt(op);
      return;
    }
    op.in_multi = true;
  }

  void arm_watchdog(Operation& op, Clock::duration after) {
    op.watchdog.expires_after(after);
    op.watchdog.async_wait(
        [weak = weak_from_this(), id = op.id, attempt = op.attempts](boost::system::error_code ec) {
          auto self = weak.lock();
          if (self && !ec) self->on_watchdog(id, attempt);
        });
  }

  // rt passed since the attempt started or since its last bytes: the attempt is stalled. The
  // timer is re-armed lazily (once per rt), not on every body write.
  void on_watchdog(std::uint64_t id, int attempt) {
    Operation* op = find(id, attempt);
    if (op == nullptr || !op->in_multi) return;
    const milliseconds rt = op->req.config.read_timeout;
    const Clock::time_point due = op->last_progress + rt;
    if (op->transfer.got_first_byte() && Clock::now() < due)
      return arm_watchdog(*op, due - Clock::now());
    end_attempt(*op);
    op->outcome = base::Outcome::kTimeout;
    op->http_status = 0;
    op->error_code.clear();
    // Armed for the first byte at the shorter of rt and the attempt's time: name the one that
    // fired.
    const bool attempt_time = !op->transfer.got_first_byte() && op->attempt_total < rt;
    op->message = op->transfer.got_first_byte()
                      ? "body stalled for rt=" + std::to_string(rt.count()) + " ms"
                  : attempt_time ? "no response within " + op->attempt_limit
                                 : "no response within rt=" + std::to_string(rt.count()) + " ms";
    after_attempt(*op);
  }

  // curl's write callback for a 2xx body: validates the head before the first byte goes on,
  // then hands the bytes to the sink. Returns false to abort the transfer (the reason is kept
  // in op.refusal for judge()).
  bool on_body(Operation& op, std::string_view bytes) {
    if (op.list) return on_list_body(op, bytes);
    if (!op.head_checked && !check_head(op)) return false;
    if (bytes.size() > op.attempt_body - op.transfer.received()) {
      return refuse(op, base::Outcome::kMalformed,
                    "body longer than the " + std::to_string(op.attempt_body) + " bytes announced");
    }
    if (!op.sink.on_data(op.attempt_offset + op.transfer.received(), bytes)) {
      op.final = true;
      return refuse(op, base::Outcome::kCancelled, "stopped by the caller");
    }
    op.delivered += bytes.size();
    op.last_progress = Clock::now();
    return true;
  }

  // A listing's body: kept whole, up to kMaxListBody bytes (a longer one is not retried).
  bool on_list_body(Operation& op, std::string_view bytes) {
    if (bytes.size() > S3Client::kMaxListBody - op.list_body.size()) {
      op.final = true;
      return refuse(op, base::Outcome::kMalformed,
                    "listing longer than " + std::to_string(S3Client::kMaxListBody) + " bytes");
    }
    op.list_body.append(bytes);
    op.last_progress = Clock::now();
    return true;
  }

  bool refuse(Operation& op, base::Outcome outcome, std::string message) {
    op.refusal = outcome;
    op.refusal_message = std::move(message);
    return false;
  }

  // Validates this attempt's head (status, Content-Range, Content-Length) and, for a resumed
  // attempt, that it describes the object the first head did.
  bool check_head(Operation& op) {
    const Transfer& t = op.transfer;
    const Verdict v = validate_get_head(static_cast<int>(t.status()), t.headers(),
                                        op.attempt_offset, op.attempt_length);
    if (v.outcome != base::Outcome::kOk) return refuse(op, v.outcome, v.message);
    ObjectInfo info{v.size, t.headers().etag, t.headers().last_modified};
    const std::string& wanted = op.have_info ? op.info.etag : op.req.if_match;
    if (!wanted.empty() && info.etag != wanted) {
      op.final = true;
      return refuse(op, base::Outcome::kPreconditionFailed,
                    "object changed: ETag " + info.etag + ", expected " + wanted);
    }
    if (op.have_info && info.size != op.info.size) {
      op.final = true;
      return refuse(op, base::Outcome::kPreconditionFailed,
                    "object changed: " + std::to_string(info.size) + " bytes, was " +
                        std::to_string(op.info.size));
    }
    const std::uint64_t last = op.attempt_offset + v.body_length - 1;
    if (!op.sink.on_head(info, op.attempt_offset, last)) {
      op.final = true;
      return refuse(op, base::Outcome::kPreconditionFailed, "refused by the caller");
    }
    if (!op.have_info) {
      op.have_info = true;
      op.info = std::move(info);
      op.total = v.body_length;
    }
    op.attempt_body = v.body_length;
    op.head_checked = true;
    op.first_byte_latency = micros(t.first_byte_at() - op.attempt_started);
    return true;
  }

  Operation* find(std::uint64_t id, int attempt) {
    auto it = ops.find(id);
    return it != ops.end() && it->second->attempts == attempt ? it->second.get() : nullptr;
  }

  void on_curl_done(CURL* easy, CURLcode result) {
    char* owner = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &owner);
    Operation& op = *reinterpret_cast<Operation*>(owner);
    end_attempt(op);
    judge(op, result);
    after_attempt(op);
  }

  void end_attempt(Operation& op) {
    curl.remove(op.transfer.easy());
    op.in_multi = false;
    op.watchdog.cancel();
    stats.bytes.fetch_add(op.transfer.received() + op.transfer.error_body().size(),
                          std::memory_order_relaxed);
  }

  // Sets op's outcome, message, status, S3 code and info from the finished transfer.
  void judge(Operation& op, CURLcode result) {
    const Transfer& t = op.transfer;
    op.http_status = static_cast<int>(t.status());
    const S3Error s3 = parse_s3_error(t.error_body());
    op.error_code = s3.code;
    const bool success_status = op.http_status >= 200 && op.http_status <= 299;
    if (t.refused_body()) {
      op.outcome = op.refusal;
      op.message = op.refusal_message;
    } else if (!success_status && op.http_status != 0) {
      op.outcome = classify_status(op.http_status, s3.code);
      op.message = "HTTP " + std::to_string(op.http_status) +
                   (s3.code.empty() ? std::string() : " " + s3.code) +
                   (s3.message.empty() ? std::string() : ": " + s3.message);
    } else if (result != CURLE_OK && !(op.head_checked && t.received() == op.attempt_body)) {
      op.outcome = classify_curl_code(result);
      op.message = std::string(curl_easy_strerror(result)) +
                   (t.error_detail().empty() ? std::string() : ": " + t.error_detail());
      // curl's CURLOPT_TIMEOUT_MS is the attempt's time (oat or ot): say which.
      if (result == CURLE_OPERATION_TIMEDOUT &&
          Clock::now() - op.attempt_started >= op.attempt_total) {
        op.message = op.attempt_limit + " reached: " + op.message;
      }
    } else {
      judge_success(op);
    }
  }

  void judge_success(Operation& op) {
    const Transfer& t = op.transfer;
    if (op.list) {
      op.outcome = base::Outcome::kOk;
      op.message.clear();
      return;
    }
    if (op.head) {
      const Verdict v = validate_head(op.http_status, t.headers());
      op.outcome = v.outcome;
      op.message = v.message;
      if (v.outcome == base::Outcome::kOk) {
        op.info = ObjectInfo{v.size, t.headers().etag, t.headers().last_modified};
      }
      return;
    }
    if (!op.head_checked && !check_head(op)) {  // a 2xx without a body byte
      op.outcome = op.refusal;
      op.message = op.refusal_message;
      return;
    }
    if (t.received() != op.attempt_body) {
      op.outcome = base::Outcome::kMalformed;
      op.message = "the head announced " + std::to_string(op.attempt_body) + " body bytes, " +
                   std::to_string(t.received()) + " arrived";
      return;
    }
    op.outcome = base::Outcome::kOk;
    op.message.clear();
  }

  // Finishes the operation or schedules the next attempt after a jittered backoff.
  void after_attempt(Operation& op) {
    if (op.outcome == base::Outcome::kOk) {
      finish(op);
      return;
    }
    stats.errors.fetch_add(1, std::memory_order_relaxed);
    if (op.final || !base::is_retryable(op.outcome) || op.attempts >= op.req.config.max_attempts) {
      finish(op);
      return;
    }
    const milliseconds delay = backoff(op.req.config, op.attempts);
    if (Clock::now() + delay >= op.deadline) {
      op.message += " (no time left in ot for another attempt)";
      finish(op);
      return;
    }
    stats.retries.fetch_add(1, std::memory_order_relaxed);
    op.backoff_timer.expires_after(delay);
    op.backoff_timer.async_wait(
        [weak = weak_from_this(), id = op.id, attempt = op.attempts](boost::system::error_code ec) {
          auto self = weak.lock();
          if (!self || ec) return;
          if (Operation* next = self->find(id, attempt); next && !next->in_multi) {
            self->start_attempt(*next);
          }
        });
  }

  // Full jitter: uniform in [0, min(mb, ib * 2^(attempts-1))] milliseconds.
  milliseconds backoff(const RequestConfig& rc, int attempts) {
    // ib <= 600000 ms < 2^20 (RequestConfig::validate), so the shift cannot overflow.
    const std::int64_t grown = rc.initial_backoff.count() << std::min(attempts - 1, 30);
    const std::int64_t cap = std::min<std::int64_t>(rc.max_backoff.count(), grown);
    std::uniform_int_distribution<std::int64_t> pick(0, cap);
    return milliseconds(pick(rng));
  }

  // --- cancellation and shutdown ---

  void cancel(std::uint64_t id) {
    auto it = ops.find(id);
    if (it == ops.end()) return;
    Operation& op = *it->second;
    if (op.in_multi) end_attempt(op);
    op.backoff_timer.cancel();
    op.outcome = base::Outcome::kCancelled;
    op.message = "cancelled";
    finish(op);
  }

  void shutdown() {
    closing = true;
    while (!ops.empty()) cancel(ops.begin()->first);
  }

  struct Stats {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> in_flight{0};
  };

  boost::asio::io_context& loop;
  const S3Config config;
  Stats stats;
  std::atomic<std::uint64_t> next_id{1};
  CurlLoop curl;  // declared before `ops`: transfers are cleaned up before the multi handle
  std::unordered_map<std::uint64_t, std::unique_ptr<Operation>> ops;
  std::mt19937_64 rng;
  bool closing = false;
};

S3Client::S3Client(boost::asio::io_context& loop, S3Config config) {
  init_curl_once();
  impl_ = std::make_shared<Impl>(loop, std::move(config));
}

S3Client::~S3Client() {
  impl_->shutdown();
}

std::uint64_t S3Client::get(GetRequest req, GetHandler done) {
  // Collects the stream into one buffer, sized by the first head (resumed heads fill it on).
  auto body = std::make_shared<base::Bytes>();
  const std::uint64_t offset = req.offset;
  GetSink sink;
  sink.on_head = [body](const ObjectInfo&, std::uint64_t first, std::uint64_t last) {
    if (!body->data) {
      body->size = last - first + 1;
      body->data = std::make_unique_for_overwrite<char[]>(body->size);
    }
    return true;
  };
  sink.on_data = [body, offset](std::uint64_t at, std::string_view bytes) {
    std::memcpy(body->data.get() + (at - offset), bytes.data(), bytes.size());
    return true;
  };
  return stream(std::move(req), std::move(sink), [body, done = std::move(done)](GetResult r) {
    if (r.outcome == base::Outcome::kOk) r.body = std::move(*body);
    done(std::move(r));
  });
}

std::uint64_t S3Client::stream(GetRequest req, GetSink sink, GetHandler done) {
  const std::uint64_t id = impl_->next_id.fetch_add(1, std::memory_order_relaxed);
  OperationStart spec;
  spec.req = std::move(req);
  spec.sink = std::move(sink);
  spec.get_done = std::move(done);
  Impl::post_start(impl_, id, std::move(spec));
  return id;
}

std::uint64_t S3Client::head(std::string bucket, std::string key, RequestConfig config,
                             HeadHandler done) {
  const std::uint64_t id = impl_->next_id.fetch_add(1, std::memory_order_relaxed);
  OperationStart spec;
  spec.head = true;
  spec.req.bucket = std::move(bucket);
  spec.req.key = std::move(key);
  spec.req.config = config;
  spec.head_done = std::move(done);
  Impl::post_start(impl_, id, std::move(spec));
  return id;
}

std::uint64_t S3Client::list(ListRequest req, ListHandler done) {
  const std::uint64_t id = impl_->next_id.fetch_add(1, std::memory_order_relaxed);
  OperationStart spec;
  spec.list = true;
  spec.req.bucket = std::move(req.bucket);
  spec.req.config = req.config;
  spec.query = std::move(req.query);
  spec.list_done = std::move(done);
  Impl::post_start(impl_, id, std::move(spec));
  return id;
}

void S3Client::cancel(std::uint64_t id) {
  boost::asio::post(impl_->loop, [weak = std::weak_ptr<Impl>(impl_), id] {
    if (auto self = weak.lock()) self->cancel(id);
  });
}

ClientStats S3Client::stats() const {
  const Impl::Stats& s = impl_->stats;
  return ClientStats{
      s.requests.load(std::memory_order_relaxed), s.bytes.load(std::memory_order_relaxed),
      s.errors.load(std::memory_order_relaxed), s.retries.load(std::memory_order_relaxed),
      s.in_flight.load(std::memory_order_relaxed)};
}

}  // namespace shoal::origin
