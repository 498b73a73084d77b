#include "node/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/chunk_encode.hpp>

#include "node/client_status.h"
#include "ring/base/log.h"

namespace shoal::node {
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string status_label(int status) {
  return std::to_string(status);
}

// Completion condition for body writes: hand the kernel the whole slice per write call. Asio's
// default (transfer_all) caps each call at 64 KiB, which costs ~16 sendmsg and timer re-arms per
// MiB on a fast path.
std::size_t whole_slice(const boost::system::error_code& ec, std::size_t) {
  return ec ? 0 : kWriteSlice + 64;
}

std::string c0_status(std::uint64_t first, std::uint64_t last, const std::string& bucket,
                      std::int64_t cached_at) {
  return std::to_string(first) + "-" + std::to_string(last) + "; " + bucket + "; " +
         std::to_string(cached_at);
}

const char* page_outcome(PageSource s) {
  switch (s) {
    case PageSource::kMemory:
      return "hit_memory";
    case PageSource::kOrigin:
      return "miss";
    case PageSource::kCoalesced:
      return "coalesced";
    case PageSource::kPeer:
      return "forwarded";
    case PageSource::kDisk:
      return "hit_disk";
  }
  return "miss";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HttpSession: routing, simple responses and /fetch streaming. Derived supplies stream(),
// do_eof() (orderly close) and executor().

template <class Derived>
class HttpSession {
 public:
  explicit HttpSession(SessionHost& host) : host_(host), cfg_(host.config()) {
    buffer_.reserve(16 * 1024);
  }

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }
  auto& lowest() { return beast::get_lowest_layer(derived().stream()); }

  void register_with_host() {
    host_.metrics().connections.fetch_add(1);
    std::weak_ptr<Derived> weak = derived().shared_from_this();
    auto ex = derived().executor();
    session_id_ = host_.register_session([weak, ex] {
      net::post(ex, [weak] {
        if (auto self = weak.lock()) self->close_if_idle();
      });
    });
  }
  void unregister_from_host() {
    if (session_id_ != 0) host_.unregister_session(session_id_);
    session_id_ = 0;
    host_.metrics().connections.fetch_sub(1);
  }

 public:
  void close_if_idle() {
    if (idle_) {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
      lowest().cancel();
    }
  }

  // ---- reading requests ----------------------------------------------------------------------
  // Waits (up to the idle timeout) for the next request to begin, then gives the whole header
  // --header-timeout-ms to arrive, so a client trickling its header (slowloris) is dropped
  // without shortening keep-alive for well-behaved clients.
  void do_read() {
    if (host_.draining()) return derived().do_eof();
    idle_ = true;
    if (buffer_.size() > 0 || derived().has_buffered_input()) return do_read_header();
    if (!idle_timer_) idle_timer_.emplace(derived().executor());
    idle_timer_->expires_after(std::chrono::milliseconds(cfg_.idle_timeout_ms));
    idle_timer_->async_wait([self = derived().shared_from_this()](beast::error_code ec) {
      if (!ec) self->lowest().socket().cancel();  // idle too long: end the wait below
    });
    lowest().socket().async_wait(tcp::socket::wait_read,
                                 [self = derived().shared_from_this()](beast::error_code ec) {
                                   self->idle_timer_->cancel();
                                   if (ec) return self->derived().do_eof();
                                   self->do_read_header();
                                 });
  }

  void do_read_header() {
    if (host_.draining() && buffer_.size() == 0) return derived().do_eof();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(cfg_.header_limit));
    parser_->body_limit(kAdminBodyLimit);  // only /admin/ requests may carry a body
    lowest().expires_after(std::chrono::milliseconds(cfg_.header_timeout_ms));
    http::async_read_header(derived().stream(), buffer_, *parser_,
                            [self = derived().shared_from_this()](
                                beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    idle_ = false;
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return derived().do_eof();
    }
    if (ec == http::error::header_limit) {
      return send_error(431, "request header fields too large", true);
    }
    if (ec == http::error::body_limit || ec == http::error::unexpected_body) {
      return send_error(400, "requests to this server carry no body", true);
    }
    if (ec) return send_error(400, "malformed HTTP request: " + ec.message(), true);
    if (!parser_->is_done()) {
      if (!AdminApi::is_admin_target(parser_->get().target())) {
        return send_error(400, "requests to this server carry no body", true);
      }
      return read_admin_body();
    }
    req_ = parser_->release();
    ++gen_;  // results of an earlier request's pages must not land in this one
    begin_request();
  }

  // The body of an /admin/ request (at most kAdminBodyLimit bytes, within the header timeout).
  void read_admin_body() {
    admin_parser_.emplace(std::move(*parser_));
    http::async_read(derived().stream(), buffer_, *admin_parser_,
                     [self = derived().shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->send_error(400, "request body: " + ec.message(), true);
                       auto msg = self->admin_parser_->release();
                       self->admin_parser_.reset();
                       self->admin_body_ = std::move(msg.body());
                       self->req_ = http::request<http::empty_body>(std::move(msg.base()));
                       self->begin_request();
                     });
  }

  void begin_request() {
    lowest().expires_never();  // the idle timer must not fire while the origin answers
    if (std::distance(req_.begin(), req_.end()) > cfg_.max_header_fields) {
      return send_error(
          431,
          "too many request header fields (at most " + std::to_string(cfg_.max_header_fields) + ")",
          true);
    }
    started_ = Clock::now();
    host_.metrics().requests_in_flight.fetch_add(1);
    in_request_ = true;
    route();
  }

  void route() {
    std::string_view target = req_.target();
    if (is_fetch_target(target)) return start_fetch();
    std::string_view path = target.substr(0, target.find('?'));
    if (AdminApi::is_admin_target(target)) return start_admin();
    if (path == "/stats" || path == "/metrics") {
      if (req_.method() != http::verb::get && req_.method() != http::verb::head) {
        return send_error(405, "only GET and HEAD are allowed here", false, "GET, HEAD");
      }
      bool stats = path == "/stats";
      std::string body = stats ? host_.stats_json() : host_.metrics_text();
      return send_text(200, std::move(body),
                       stats ? "application/json" : "text/plain; version=0.0.4; charset=utf-8");
    }
    send_error(404, "no such route (try /fetch/{kind}/{object}, /stats, /metrics)", false);
  }

  // ---- /admin/ (node/admin.h) ----------------------------------------------------------------
  void start_admin() {
    AdminRequest r;
    r.method = req_.method();
    r.target = std::string(req_.target());
    if (auto it = req_.find(http::field::authorization); it != req_.end()) {
      r.authorization = std::string(it->value());
    }
    r.body = std::move(admin_body_);
    admin_body_.clear();
    host_.admin().handle(std::move(r), derived().executor(),
                         [self = derived().shared_from_this()](AdminResponse res) {
                           self->send_text(res.status, std::move(res.body), "application/json",
                                           false, "", "", "", res.headers);
                         });
  }

  // ---- simple responses ----------------------------------------------------------------------
  void send_text(int status, std::string body, const char* content_type, bool close = false,
                 const std::string& allow = "", const std::string& content_range = "",
                 const std::string& retry_after = "",
                 const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), req_.version());
    res->set(http::field::server, "shoald");
    res->set(http::field::content_type, content_type);
    if (!allow.empty()) res->set(http::field::allow, allow);
    if (!content_range.empty()) res->set(http::field::content_range, content_range);
    if (!retry_after.empty()) res->set(http::field::retry_after, retry_after);
    for (const auto& [name, value] : extra) res->set(name, value);
    const bool head = req_.method() == http::verb::head;
    res->body() = std::move(body);
    res->prepare_payload();
    if (head) res->body().clear();
    res->keep_alive(!close && req_.keep_alive() && !host_.draining());
    finish_status_ = status;
    lowest().expires_after(std::chrono::milliseconds(cfg_.write_timeout_ms));
    if (head) {
      auto sr = std::make_shared<http::response_serializer<http::string_body>>(*res);
      http::async_write_header(
          derived().stream(), *sr,
          [self = derived().shared_from_this(), res, sr](beast::error_code ec, std::size_t) {
            self->on_simple_written(ec, !res->keep_alive());
          });
      return;
    }
    http::async_write(
        derived().stream(), *res,
        [self = derived().shared_from_this(), res](beast::error_code ec, std::size_t n) {
          self->host_.metrics().egress.add(n);
          self->on_simple_written(ec, !res->keep_alive());
        });
  }

  void send_error(int status, const std::string& reason, bool close, const std::string& allow = "",
                  const std::string& content_range = "") {
    SHOAL_LOG(kDebug, "client error " << status << ": " << reason);
    send_text(status, reason + "\n", "text/plain; charset=utf-8", close, allow, content_range);
  }

  void on_simple_written(beast::error_code ec, bool close) {
    end_request();
    if (ec || close) return derived().do_eof();
    do_read();
  }

  void end_request() {
    if (!in_request_) return;
    in_request_ = false;
    auto& m = host_.metrics();
    m.requests_in_flight.fetch_sub(1);
    std::string method(req_.method_string());
    m.requests.add({kind_label_.empty() ? "-" : kind_label_, method, status_label(finish_status_)});
    m.request_seconds.observe({method},
                              std::chrono::duration<double>(Clock::now() - started_).count());
    kind_label_.clear();
  }

  // ---- /fetch --------------------------------------------------------------------------------
  void start_fetch() {
    auto parsed = parse_fetch_request(req_, cfg_.origin_request);
    if (auto* err = std::get_if<RequestError>(&parsed)) {
      return send_error(err->status, err->reason, false, err->status == 405 ? "GET, HEAD" : "");
    }
    fr_ = std::move(std::get<FetchRequest>(parsed));
    kind_label_ = fr_.kind;
    restarts_ = 0;
    if (fr_.head || fr_.range.kind == base::ByteRange::Kind::kSuffix) return lookup_meta();
    const std::uint64_t last =
        fr_.range.kind == base::ByteRange::Kind::kClosed ? fr_.range.last : ~0ull;
    request_first_page(fr_.range.first, last);
  }

  std::uint64_t page_size() const { return cfg_.page_size; }

  // HEAD, and suffix ranges: the object's size first (memory, else HeadObject; no page GET).
  void lookup_meta() {
    host_.fetcher().head(
        fr_.kind, fr_.object, fr_.options, derived().executor(),
        [self = derived().shared_from_this()](HeadResult r) { self->on_meta(std::move(r)); });
  }

  void on_meta(HeadResult r) {
    if (r.outcome != base::Outcome::kOk) return fail_origin(r.outcome, r.message);
    base::ResolvedRange rr;
    if (base::resolve_byte_range(fr_.range, r.meta.size, &rr) != base::RangeError::kOk) {
      return send_error(
          416, "range not satisfiable for an object of " + std::to_string(r.meta.size) + " bytes",
          false, "", base::unsatisfied_content_range(r.meta.size));
    }
    if (fr_.head) return send_head(rr, r.meta);
    request_first_page(rr.first, rr.last);
  }

  // Asks for the page holding byte `first`; only bytes first..last of it are needed (a page
  // owned by another member is forwarded in part).
  void request_first_page(std::uint64_t first, std::uint64_t last) {
    const std::uint64_t page = first / page_size();
    first_page_ = page;
    FetchOptions opts = fr_.options;
    set_slice(&opts, page, first, last);
    host_.fetcher().get(
        base::PageKey{fr_.kind, fr_.object, page}, opts, derived().executor(),
        [self = derived().shared_from_this()](PageResult r) { self->on_first_page(std::move(r)); });
    // When the range's end is known, the next pages are asked for at once, so a cold read
    // fetches them in parallel with the first; their ETags are checked when they are sent.
    window_.clear();
    window_.push_back(Slot{page, std::nullopt});
    next_request_ = page + 1;
    if (last != ~0ull) {
      last_page_ = last / page_size();
      fill_window(first, last, "");
    }
  }

  void on_first_page(PageResult r) {
    if (r.outcome == base::Outcome::kInvalidRange) {
      // The first byte is past the end: learn the size for "Content-Range: bytes */size".
      return host_.fetcher().head(fr_.kind, fr_.object, fr_.options, derived().executor(),
                                  [self = derived().shared_from_this()](HeadResult h) {
                                    if (h.outcome != base::Outcome::kOk) {
                                      return self->fail_origin(h.outcome, h.message);
                                    }
                                    self->send_error(416, "range starts past the object's end",
                                                     false, "",
                                                     base::unsatisfied_content_range(h.meta.size));
                                  });
    }
    if (r.shed) {
      host_.metrics().pages.add({"shed"});
      return send_text(503, r.message + "\n", "text/plain; charset=utf-8", false, "", "", "1");
    }
    if (r.outcome != base::Outcome::kOk) {
      host_.metrics().pages.add({"error"});
      return fail_origin(r.outcome, r.message);
    }
    const Page& p = *r.page;
    base::ResolvedRange rr;
    if (base::resolve_byte_range(fr_.range, p.object_size, &rr) != base::RangeError::kOk) {
      return send_error(
          416, "range not satisfiable for an object of " + std::to_string(p.object_size) + " bytes",
          false, "", base::unsatisfied_content_range(p.object_size));
    }
    if (rr.first / page_size() != first_page_) {
      // A suffix range resolved against a stale size: the object changed; start over once.
      if (++restarts_ > 2) return send_error(409, "object changed while reading", false);
      return request_first_page(rr.first, rr.last);
    }
    host_.metrics().pages.add({page_outcome(r.source)});
    host_.metrics().first_byte_seconds.observe(
        {page_outcome(r.source)}, std::chrono::duration<double>(Clock::now() - started_).count());
    begin_body(rr, std::move(r));
  }

  void fail_origin(base::Outcome o, const std::string& message) {
    int status = node::client_status(o);
    std::string reason = "origin: " + std::string(base::outcome_name(o));
    if (!message.empty()) reason += ": " + message;
    send_error(status, reason, false);
  }

  void set_common_headers(http::response<http::empty_body>& res, const base::ResolvedRange& rr,
                          std::uint64_t size, const std::string& etag,
                          const std::string& last_modified) {
    res.set(http::field::server, "shoald");
    res.set(http::field::content_type, "application/octet-stream");
    res.set(http::field::accept_ranges, "bytes");
    res.set(http::field::content_range, base::content_range(rr, size));
    if (!etag.empty()) res.set(http::field::etag, etag);
    if (!last_modified.empty()) res.set(http::field::last_modified, last_modified);
    res.keep_alive(req_.keep_alive() && !host_.draining());
  }

  void send_head(const base::ResolvedRange& rr, const ObjectMeta& meta) {
    res_.emplace(http::status::partial_content, req_.version());
    set_common_headers(*res_, rr, meta.size, meta.etag, meta.last_modified);
    res_->content_length(rr.length());
    if (PageRef p = host_.fetcher().memory().peek(
            base::PageKey{fr_.kind, fr_.object, rr.first / page_size()})) {
      std::uint64_t page_last = (rr.first / page_size() + 1) * page_size() - 1;
      res_->set("C0-Status",
                c0_status(rr.first, std::min(rr.last, page_last), p->bucket, p->cached_at));
    }
    finish_status_ = 206;
    write_header(
        [self = derived().shared_from_this()](beast::error_code ec) { self->finish_body(ec); });
  }

  void begin_body(const base::ResolvedRange& rr, PageResult first) {
    range_ = rr;
    last_page_ = rr.last / page_size();
    const Page& p = *first.page;
    etag_ = p.etag;
    size_ = p.object_size;
    chunked_ = fr_.want_trailers && last_page_ > first_page_ && req_.version() >= 11;
    res_.emplace(http::status::partial_content, req_.version());
    set_common_headers(*res_, rr, p.object_size, p.etag, p.last_modified);
    res_->set("C0-Status",
              c0_status(rr.first, std::min(rr.last, page_end(first_page_)), p.bucket,
                        first.source == PageSource::kMemory || first.source == PageSource::kPeer ||
                                first.source == PageSource::kDisk
                            ? p.cached_at
                            : 0));
    if (chunked_) {
      res_->set(http::field::trailer, "C0-Status");
      res_->chunked(true);
    } else {
      res_->content_length(rr.length());
    }
    trailers_.clear();
    next_send_ = first_page_;
    if (window_.empty() || window_.front().page != first_page_) {
      window_.clear();
      window_.push_back(Slot{first_page_, std::nullopt});
      next_request_ = first_page_ + 1;
    }
    window_.front().result = std::move(first);
    // Pages asked for before the size was known may lie past the resolved end: drop them.
    while (window_.size() > 1 && window_.back().page > last_page_) window_.pop_back();
    next_request_ = std::min(next_request_, last_page_ + 1);
    fill_window(range_.first, range_.last, etag_);
    finish_status_ = 206;
    write_header([self = derived().shared_from_this()](beast::error_code ec) {
      if (ec) return self->abort_body("header write: " + ec.message());
      self->pump();
    });
  }

  std::uint64_t page_start(std::uint64_t page) const { return page * page_size(); }

  // The part of `page` within bytes first..last, page-relative, as FetchOptions' slice.
  void set_slice(FetchOptions* opts, std::uint64_t page, std::uint64_t first,
                 std::uint64_t last) const {
    const std::uint64_t from = std::max(first, page_start(page));
    const std::uint64_t to = std::min(last, page_end(page));
    opts->slice_offset = from - page_start(page);
    opts->slice_length = to - from + 1;
  }
  std::uint64_t page_end(std::uint64_t page) const { return page_start(page) + page_size() - 1; }

  template <class Handler>
  void write_header(Handler h) {
    sr_.emplace(*res_);
    lowest().expires_after(std::chrono::milliseconds(cfg_.write_timeout_ms));
    http::async_write_header(
        derived().stream(), *sr_,
        [h = std::move(h)](beast::error_code ec, std::size_t) mutable { h(ec); });
  }

  // Requests pages ahead of the one being written, up to readahead_pages outstanding, each for
  // its part of bytes first..last and, once known, with If-Match: etag.
  void fill_window(std::uint64_t first, std::uint64_t last, const std::string& etag) {
    const std::size_t limit = static_cast<std::size_t>(cfg_.readahead_pages) + 1;
    while (next_request_ <= last_page_ && window_.size() < limit) {
      const std::uint64_t page = next_request_++;
      window_.push_back(Slot{page, std::nullopt});
      FetchOptions opts = fr_.options;
      opts.if_match = etag;
      opts.may_shed = false;  // the response is (about to be) under way: finish it
      set_slice(&opts, page, first, last);
      host_.fetcher().get(base::PageKey{fr_.kind, fr_.object, page}, opts, derived().executor(),
                          [self = derived().shared_from_this(), page, gen = gen_](PageResult r) {
                            if (gen == self->gen_) self->on_page(page, std::move(r));
                          });
    }
  }

  void on_page(std::uint64_t page, PageResult r) {
    for (auto& slot : window_) {
      if (slot.page == page) {
        slot.result = std::move(r);
        break;
      }
    }
    if (waiting_ && !window_.empty() && window_.front().page == page) {
      waiting_ = false;
      pump();
    }
  }

  // Writes the next slice of the front page, or waits for it to arrive.
  void pump() {
    if (aborted_) return;
    if (window_.empty()) return finish_stream();
    Slot& front = window_.front();
    if (!front.result) {
      waiting_ = true;
      lowest().expires_never();  // waiting on the origin, not on the client
      return;
    }
    PageResult& r = *front.result;
    if (slice_offset_ == 0 && front.page != first_page_) {
      if (r.outcome != base::Outcome::kOk) {
        host_.metrics().pages.add({"error"});
        return abort_body("page " + std::to_string(front.page) + ": " +
                          std::string(base::outcome_name(r.outcome)));
      }
      if (r.page->etag != etag_ || r.page->object_size != size_) {
        host_.metrics().pages.add({"error"});
        return abort_body("page " + std::to_string(front.page) + " has ETag " + r.page->etag +
                          ", response began with " + etag_);
      }
      host_.metrics().pages.add({page_outcome(r.source)});
      std::uint64_t first = std::max(range_.first, page_start(front.page));
      trailers_.push_back(
          c0_status(first, std::min(range_.last, page_end(front.page)), r.page->bucket,
                    r.source == PageSource::kMemory || r.source == PageSource::kPeer ||
                            r.source == PageSource::kDisk
                        ? r.page->cached_at
                        : 0));
    }
    const Page& p = *r.page;
    const std::uint64_t base = page_start(front.page) + p.body_offset;  // offset of body[0]
    const std::uint64_t from = std::max(range_.first, page_start(front.page));
    const std::uint64_t to = std::min(range_.last, base + p.body.size - 1);
    if (from < base || to < from) {
      return abort_body("page " + std::to_string(front.page) + " does not hold the range");
    }
    const std::uint64_t begin = from - base + slice_offset_;
    const std::uint64_t end = to - base + 1;
    if (end > p.body.size || (to < std::min(range_.last, page_end(front.page)) &&
                              base + p.body.size < std::min(size_, page_start(front.page + 1)))) {
      return abort_body("page " + std::to_string(front.page) + " is shorter than the range");
    }
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(end - begin, kWriteSlice));
    net::const_buffer data(p.body.data.get() + begin, n);
    const bool last_slice = begin + n == end;
    lowest().expires_after(std::chrono::milliseconds(cfg_.write_timeout_ms));
    auto on_write = [self = derived().shared_from_this(), n, last_slice](beast::error_code ec,
                                                                         std::size_t) {
      self->on_slice_written(ec, n, last_slice);
    };
    if (chunked_) {
      net::async_write(derived().stream(), http::make_chunk(data), whole_slice,
                       std::move(on_write));
    } else {
      net::async_write(derived().stream(), data, whole_slice, std::move(on_write));
    }
  }

  void on_slice_written(beast::error_code ec, std::size_t n, bool last_slice) {
    if (ec) {
      host_.metrics().client_errors.add(
          {ec == beast::error::timeout ? "write_timeout" : "disconnect"});
      return abort_body("write: " + ec.message());
    }
    host_.metrics().egress.add(n);
    host_.metrics().egress_bytes.add({}, n);
    if (last_slice) {
      slice_offset_ = 0;
      window_.pop_front();
      fill_window(range_.first, range_.last, etag_);
    } else {
      slice_offset_ += n;
    }
    pump();
  }

  void finish_stream() {
    if (!chunked_) return finish_body({});
    // The last chunk and its trailer section (RFC 9112 §7.1.2). Trailer values are generated
    // here from validated bucket names and numbers, so they hold no CR/LF.
    auto last = std::make_shared<std::string>("0\r\n");
    for (auto& t : trailers_) *last += "C0-Status: " + t + "\r\n";
    *last += "\r\n";
    lowest().expires_after(std::chrono::milliseconds(cfg_.write_timeout_ms));
    net::async_write(derived().stream(), net::buffer(*last),
                     [self = derived().shared_from_this(), last](
                         beast::error_code ec, std::size_t) { self->finish_body(ec); });
  }

  void finish_body(beast::error_code ec) {
    const bool close = ec || !res_->keep_alive();
    res_.reset();
    sr_.reset();
    window_.clear();
    end_request();
    if (close) return derived().do_eof();
    do_read();
  }

  // The header is out and the body cannot be completed correctly: close so the client sees a
  // short body (never a wrong or mixed one).
  void abort_body(const std::string& why) {
    if (aborted_) return;
    aborted_ = true;
    SHOAL_LOG(kWarn,
              "aborting response for /fetch/" << fr_.kind << "/" << fr_.object << ": " << why);
    window_.clear();
    finish_status_ = 206;
    end_request();
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  struct Slot {
    std::uint64_t page;
    std::optional<PageResult> result;
  };

  SessionHost& host_;
  const NodeConfig& cfg_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::request_parser<http::string_body>> admin_parser_;
  std::string admin_body_;
  std::optional<net::steady_timer> idle_timer_;
  http::request<http::empty_body> req_;
  Clock::time_point started_;
  bool idle_ = false;
  bool in_request_ = false;
  bool aborted_ = false;
  bool waiting_ = false;
  bool chunked_ = false;
  int finish_status_ = 0;
  int restarts_ = 0;
  std::string kind_label_;
  std::uint64_t session_id_ = 0;
  std::uint64_t gen_ = 0;  // request generation on this connection

  FetchRequest fr_;
  base::ResolvedRange range_;
  std::uint64_t first_page_ = 0, last_page_ = 0, next_send_ = 0, next_request_ = 0;
  std::uint64_t slice_offset_ = 0;
  std::uint64_t size_ = 0;
  std::string etag_;
  std::deque<Slot> window_;
  std::vector<std::string> trailers_;
  std::optional<http::response<http::empty_body>> res_;
  std::optional<http::response_serializer<http::empty_body>> sr_;
};

// ---------------------------------------------------------------------------------------------

class PlainSession : public HttpSession<PlainSession>,
                     public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(tcp::socket socket, SessionHost& host)
      : HttpSession<PlainSession>(host), stream_(std::move(socket)) {}
  ~PlainSession() { unregister_from_host(); }

  void run() {
    register_with_host();
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }
  beast::tcp_stream& stream() { return stream_; }
  bool has_buffered_input() const { return false; }
  net::any_io_executor executor() { return stream_.get_executor(); }
  void do_eof() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

 private:
  beast::tcp_stream stream_;
};

class TlsSession : public HttpSession<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(tcp::socket socket, net::ssl::context& tls, SessionHost& host)
      : HttpSession<TlsSession>(host), stream_(std::move(socket), tls) {}
  ~TlsSession() { unregister_from_host(); }

  void run() {
    register_with_host();
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::get_lowest_layer(self->stream_)
          .expires_after(std::chrono::milliseconds(self->cfg_.idle_timeout_ms));
      self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return self->close_now();
        self->do_read();
      });
    });
  }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  // Bytes already read from the socket that a socket wait would not see: decrypted or
  // buffered records in OpenSSL, and ciphertext Asio handed to its BIO pair (e.g. a request the
  // client sent right behind its handshake Finished, read together with it).
  bool has_buffered_input() {
    SSL* ssl = stream_.native_handle();
    return SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1 ||
           BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
  }
  net::any_io_executor executor() { return stream_.get_executor(); }
  void do_eof() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close_now(); });
  }
  void close_now() { beast::get_lowest_layer(stream_).close(); }

 private:
  beast::ssl_stream<beast::tcp_stream> stream_;
};

void start_plain_session(tcp::socket socket, SessionHost& host) {
  std::make_shared<PlainSession>(std::move(socket), host)->run();
}

void start_tls_session(tcp::socket socket, net::ssl::context& tls, SessionHost& host) {
  std::make_shared<TlsSession>(std::move(socket), tls, host)->run();
}

}  // namespace shoal::node
