// The /fetch response of a connection (the contract is node/http_session.h's): the request's
// range resolved (HEAD and suffix ranges learn the object's size first), the header (once the
// first page's head is validated: in one gathered write with the first body bytes, or alone at
// once when the first page has no bytes yet, so it never waits on the origin), then the body
// streamed page by page from PageFetcher with a window of readahead_pages pages, each page's bytes
// sent as they land (Page::ready, PageFill::when_ready), If-Match on every page after the first,
// writes of at most kWriteSlice bytes with the write timeout re-armed, C0-Status for the first page
// and as trailers for the others, and the connection closed when a page cannot be sent correctly
// after the header went out.
//
// CRTP, over HttpConnection (node/http_connection.h), which routes /fetch requests to
// start_fetch(). Derived also supplies `static constexpr bool kGathersWrites`: true when its
// stream writes a header-and-body buffer sequence in one call (plain TCP: one sendmsg with two
// iovecs); false writes the header on its own first (TLS, whose stream writes a sequence's buffers
// one record at a time). Internal to node/http_session.cc, the only file that includes it.
//
// Thread rules: as HttpConnection's; PageFetcher posts page results to the connection's
// executor.
#pragma once

#include <algorithm>
#include <array>
#include <boost/beast/http/chunk_encode.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "node/client_status.h"
#include "node/fetch_request.h"
#include "node/http_connection.h"
#include "node/page_fetcher.h"
#include "ring/base/log.h"

namespace shoal::node {

inline constexpr std::size_t kWriteSlice = 1 << 20;  // bytes per write; the timeout re-arms each
// While a page fills, a response waits for this many more bytes (or the page's end) before it
// writes again: small enough that bytes go out about as they arrive from the origin (~1 ms at
// 60 MB/s), large enough not to wake per curl buffer.
inline constexpr std::size_t kStreamWake = 64 << 10;

// Why a read could not be answered with bytes (before any header went out), for
// Derived::fetch_failed(): the /fetch answer's status and reason, and what S3 needs to name it.
struct FetchFailure {
  int status = 500;                            // the /fetch status (node/client_status.h)
  std::string reason;                          // one line
  std::string content_range;                   // "bytes */SIZE" for a 416
  base::Outcome outcome = base::Outcome::kOk;  // the origin's outcome, when it failed
  bool shed = false;                           // refused for load: 503 + Retry-After
  const ObjectMeta* meta = nullptr;            // the object's metadata, when known (416)
};

template <class Derived>
class FetchResponse : public HttpConnection<Derived> {
 public:
  FetchResponse(SessionHost& host, bool s3_port) : HttpConnection<Derived>(host, s3_port) {}

  // ---- /fetch --------------------------------------------------------------------------------
  void start_fetch() {
    auto parsed = parse_fetch_request(this->req_, this->cfg_);
    if (auto* err = std::get_if<RequestError>(&parsed)) {
      return this->send_error(err->status, err->reason, false,
                              err->status == 405 ? "GET, HEAD" : "");
    }
    begin_fetch(std::move(std::get<FetchRequest>(parsed)));
  }

  // Serves a parsed request (from /fetch, or from the S3 port: node/s3_api_response.h). Three
  // hooks of Derived shape the answer: fetch_failed(FetchFailure) answers a failure before the
  // header, precondition_holds(etag, last_modified) may answer instead (false) once the
  // object's validators are known, and decorate_header(res) adjusts the header last.
  void begin_fetch(FetchRequest fr) {
    fr_ = std::move(fr);
    this->kind_label_ = fr_.kind;
    restarts_ = 0;
    aborted_ = false;
    waiting_ = false;
    window_.clear();
    if (fr_.head || fr_.range.kind == base::ByteRange::Kind::kSuffix) return lookup_meta();
    const std::uint64_t last =
        fr_.range.kind == base::ByteRange::Kind::kClosed ? fr_.range.last : ~0ull;
    request_first_page(fr_.range.first, last);
  }

  std::uint64_t page_size() const { return this->cfg_.page_size; }

  // The hooks' /fetch behaviour (Derived may hide them; node/s3_api_response.h does).
  void fetch_failed(const FetchFailure& f) {
    if (f.shed) {
      return this->send_text(503, f.reason + "\n", "text/plain; charset=utf-8", false, "", "", "1");
    }
    this->send_error(f.status, f.reason, false, "", f.content_range);
  }
  bool precondition_holds(const std::string& /*etag*/, const std::string& /*last_modified*/) {
    return true;
  }
  void decorate_header(http::response<http::empty_body>& /*res*/) {}

  // HEAD, and suffix ranges: the object's size first (memory, else HeadObject; no page GET).
  void lookup_meta() {
    this->host_.fetcher().head(
        fr_.kind, fr_.object, fr_.options, this->derived().executor(),
        [self = this->derived().shared_from_this()](HeadResult r) { self->on_meta(std::move(r)); });
  }

  void on_meta(HeadResult r) {
    if (r.outcome != base::Outcome::kOk) return fail_origin(r.outcome, r.message);
    base::ResolvedRange rr;
    if (base::resolve_byte_range(fr_.range, r.meta.size, &rr) != base::RangeError::kOk) {
      return unsatisfiable(r.meta);
    }
    if (fr_.head) {
      if (!this->derived().precondition_holds(r.meta.etag, r.meta.last_modified)) return;
      return send_head(rr, r.meta);
    }
    request_first_page(rr.first, rr.last);
  }

  // Asks for the page holding byte `first`; only bytes first..last of it are needed (a page
  // owned by another member is forwarded in part).
  void request_first_page(std::uint64_t first, std::uint64_t last) {
    const std::uint64_t page = first / page_size();
    first_page_ = page;
    FetchOptions opts = fr_.options;
    set_slice(&opts, page, first, last);
    this->host_.fetcher().get(base::PageKey{fr_.kind, fr_.object, page}, opts,
                              this->derived().executor(),
                              [self = this->derived().shared_from_this()](PageResult r) {
                                self->on_first_page(std::move(r));
                              });
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
      return this->host_.fetcher().head(fr_.kind, fr_.object, fr_.options,
                                        this->derived().executor(),
                                        [self = this->derived().shared_from_this()](HeadResult h) {
                                          if (h.outcome != base::Outcome::kOk) {
                                            return self->fail_origin(h.outcome, h.message);
                                          }
                                          self->unsatisfiable(h.meta);
                                        });
    }
    if (r.shed) {
      this->host_.metrics().pages.add({"shed"});
      FetchFailure f;
      f.status = 503;
      f.reason = r.message;
      f.outcome = base::Outcome::kThrottled;
      f.shed = true;
      return this->derived().fetch_failed(f);
    }
    if (r.outcome != base::Outcome::kOk) {
      this->host_.metrics().pages.add({"error"});
      return fail_origin(r.outcome, r.message);
    }
    const Page& p = *r.page;
    base::ResolvedRange rr;
    if (base::resolve_byte_range(fr_.range, p.object_size, &rr) != base::RangeError::kOk) {
      ObjectMeta meta;
      meta.size = p.object_size;
      meta.etag = p.etag;
      meta.last_modified = p.last_modified;
      return unsatisfiable(meta);
    }
    if (rr.first / page_size() != first_page_) {
      // A suffix range resolved against a stale size: the object changed; start over once.
      if (++restarts_ > 2) {
        FetchFailure f;
        f.status = 409;
        f.reason = "object changed while reading";
        f.outcome = base::Outcome::kPreconditionFailed;
        return this->derived().fetch_failed(f);
      }
      return request_first_page(rr.first, rr.last);
    }
    if (!this->derived().precondition_holds(p.etag, p.last_modified)) {
      window_.clear();
      return;
    }
    this->host_.metrics().pages.add({page_outcome(r.source)});
    this->host_.metrics().first_byte_seconds.observe(
        {page_outcome(r.source)},
        std::chrono::duration<double>(Clock::now() - this->started_).count());
    begin_body(rr, std::move(r));
  }

  void fail_origin(base::Outcome o, const std::string& message) {
    FetchFailure f;
    f.status = node::client_status(o);
    f.reason = "origin: " + std::string(base::outcome_name(o));
    if (!message.empty()) f.reason += ": " + message;
    f.outcome = o;
    this->derived().fetch_failed(f);
  }

  // 416: the range does not fit an object described by `meta`.
  void unsatisfiable(const ObjectMeta& meta) {
    FetchFailure f;
    f.status = 416;
    f.reason = "range not satisfiable for an object of " + std::to_string(meta.size) + " bytes";
    f.content_range = base::unsatisfied_content_range(meta.size);
    f.outcome = base::Outcome::kInvalidRange;
    f.meta = &meta;
    this->derived().fetch_failed(f);
  }

  // The header fields a GET and a HEAD of the same range share (RFC 9110 §9.3.2: a HEAD gets
  // the header a GET would), framing included: chunked with "Trailer: C0-Status" when the client
  // takes trailers (TE: trailers, HTTP/1.1) and the range spans pages, else Content-Length.
  // Returns true for chunked.
  bool set_common_headers(http::response<http::empty_body>& res, const base::ResolvedRange& rr,
                          std::uint64_t size, const std::string& etag,
                          const std::string& last_modified) {
    res.set(http::field::server, "shoald");
    res.set(http::field::content_type, "application/octet-stream");
    res.set(http::field::accept_ranges, "bytes");
    res.set(http::field::content_range, base::content_range(rr, size));
    if (!etag.empty()) res.set(http::field::etag, etag);
    if (!last_modified.empty()) res.set(http::field::last_modified, last_modified);
    res.keep_alive(this->req_.keep_alive() && !this->host_.draining());
    const bool chunked = fr_.want_trailers && rr.last / page_size() > rr.first / page_size() &&
                         this->req_.version() >= 11;
    if (chunked) {
      res.set(http::field::trailer, "C0-Status");
      res.chunked(true);
    } else {
      res.content_length(rr.length());
    }
    return chunked;
  }

  void send_head(const base::ResolvedRange& rr, const ObjectMeta& meta) {
    res_.emplace(http::status::partial_content, this->req_.version());
    set_common_headers(*res_, rr, meta.size, meta.etag, meta.last_modified);
    if (PageRef p = this->host_.fetcher().memory().peek(
            base::PageKey{fr_.kind, fr_.object, rr.first / page_size()})) {
      std::uint64_t page_last = (rr.first / page_size() + 1) * page_size() - 1;
      res_->set("C0-Status",
                c0_status(rr.first, std::min(rr.last, page_last), p->bucket, p->cached_at));
    }
    this->derived().decorate_header(*res_);
    this->finish_status_ = res_->result_int();
    write_header([self = this->derived().shared_from_this()](beast::error_code ec) {
      self->finish_body(ec);
    });
  }

  void begin_body(const base::ResolvedRange& rr, PageResult first) {
    range_ = rr;
    last_page_ = rr.last / page_size();
    const Page& p = *first.page;
    etag_ = p.etag;
    size_ = p.object_size;
    res_.emplace(http::status::partial_content, this->req_.version());
    chunked_ = set_common_headers(*res_, rr, p.object_size, p.etag, p.last_modified);
    res_->set("C0-Status", c0_status(rr.first, std::min(rr.last, page_end(first_page_)), p.bucket,
                                     cached_source(first.source) ? p.cached_at : 0));
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
    this->derived().decorate_header(*res_);
    this->finish_status_ = res_->result_int();
    // The header goes out with the first body bytes, in one gathered write (pump()), where the
    // stream takes a buffer sequence in one call (plain TCP); first and alone otherwise (TLS).
    head_ = serialize_head(*res_);
    if constexpr (!Derived::kGathersWrites) return write_head_alone();
    pump();
  }

  // The response's header as bytes: start line, fields and the empty line.
  static std::string serialize_head(http::response<http::empty_body>& res) {
    http::response_serializer<http::empty_body> sr(res);
    sr.split(true);
    std::string out;
    beast::error_code ec;
    while (!sr.is_header_done()) {
      sr.next(ec, [&](beast::error_code&, const auto& buffers) {
        const std::size_t before = out.size();
        out.resize(before + beast::buffer_bytes(buffers));
        net::buffer_copy(net::buffer(out.data() + before, out.size() - before), buffers);
        sr.consume(out.size() - before);
      });
      if (ec) break;  // an empty_body header cannot fail to serialize
    }
    return out;
  }

  // Sends the header alone (the first page has no bytes yet, so the client learns the answer's
  // header now; or the stream does not gather writes), then goes on with pump().
  void write_head_alone() {
    this->lowest().expires_after(std::chrono::milliseconds(this->cfg_.write_timeout_ms));
    net::async_write(
        this->derived().stream(), net::buffer(head_),
        [self = this->derived().shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->abort_body("header write: " + ec.message());
          self->head_.clear();
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
    this->lowest().expires_after(std::chrono::milliseconds(this->cfg_.write_timeout_ms));
    http::async_write_header(
        this->derived().stream(), *sr_,
        [h = std::move(h)](beast::error_code ec, std::size_t) mutable { h(ec); });
  }

  // Requests pages ahead of the one being written, up to readahead_pages outstanding, each for
  // its part of bytes first..last and, once known, with If-Match: etag.
  void fill_window(std::uint64_t first, std::uint64_t last, const std::string& etag) {
    const std::size_t limit = static_cast<std::size_t>(this->cfg_.readahead_pages) + 1;
    while (next_request_ <= last_page_ && window_.size() < limit) {
      const std::uint64_t page = next_request_++;
      window_.push_back(Slot{page, std::nullopt});
      FetchOptions opts = fr_.options;
      opts.if_match = etag;
      opts.may_shed = false;  // the response is (about to be) under way: finish it
      set_slice(&opts, page, first, last);
      this->host_.fetcher().get(
          base::PageKey{fr_.kind, fr_.object, page}, opts, this->derived().executor(),
          [self = this->derived().shared_from_this(), page, gen = this->gen_](PageResult r) {
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
      this->lowest().expires_never();  // waiting on the origin, not on the client
      return;
    }
    PageResult& r = *front.result;
    if (!front.checked && front.page != first_page_) {
      if (r.outcome != base::Outcome::kOk) {
        this->host_.metrics().pages.add({"error"});
        return abort_body("page " + std::to_string(front.page) + ": " +
                          std::string(base::outcome_name(r.outcome)));
      }
      if (r.page->etag != etag_ || r.page->object_size != size_) {
        this->host_.metrics().pages.add({"error"});
        return abort_body("page " + std::to_string(front.page) + " has ETag " + r.page->etag +
                          ", response began with " + etag_);
      }
      this->host_.metrics().pages.add({page_outcome(r.source)});
      front.checked = true;
      std::uint64_t first = std::max(range_.first, page_start(front.page));
      trailers_.push_back(c0_status(first, std::min(range_.last, page_end(front.page)),
                                    r.page->bucket,
                                    cached_source(r.source) ? r.page->cached_at : 0));
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
    // A page being filled: send what is there; wait (on the origin, not the client) for more.
    const std::uint64_t ready = p.ready(begin);
    if (ready == 0) {
      if (!head_.empty()) return write_head_alone();
      if (p.failed()) {
        this->host_.metrics().pages.add({"error"});
        return abort_body("page " + std::to_string(front.page) +
                          " failed after the header: " + p.fill->failure_message());
      }
      this->lowest().expires_never();
      p.fill->when_ready(begin, std::min<std::uint64_t>(end - begin, kStreamWake),
                         this->derived().executor(),
                         [self = this->derived().shared_from_this(), gen = this->gen_] {
                           if (gen == self->gen_) self->pump();
                         });
      return;
    }
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>({end - begin, kWriteSlice, ready}));
    net::const_buffer data(p.body.data.get() + begin, n);
    const bool last_slice = begin + n == end;
    this->lowest().expires_after(std::chrono::milliseconds(this->cfg_.write_timeout_ms));
    auto on_write = [self = this->derived().shared_from_this(), n, last_slice](beast::error_code ec,
                                                                               std::size_t) {
      self->on_slice_written(ec, n, last_slice);
    };
    // The header, if it has not gone out yet, and the slice in one write (one sendmsg).
    // `r.page` (a PageRef in the window's front slot) keeps the bytes alive until the write
    // completes: the slot is only dropped in on_slice_written or by abort_body, which closes the
    // socket first, and the handler holds the connection.
    // Never an empty buffer first: an SSL stream writes only a sequence's first buffer per call,
    // and a call that writes 0 bytes ends async_write early.
    auto& stream = this->derived().stream();
    const net::const_buffer head(head_.data(), head_.size());
    if (chunked_ && head_.empty()) {
      net::async_write(stream, http::make_chunk(data), whole_write, std::move(on_write));
    } else if (chunked_) {
      net::async_write(stream, beast::buffers_cat(head, http::make_chunk(data)), whole_write,
                       std::move(on_write));
    } else if (head_.empty()) {
      net::async_write(stream, data, whole_write, std::move(on_write));
    } else {
      net::async_write(stream, std::array<net::const_buffer, 2>{head, data}, whole_write,
                       std::move(on_write));
    }
  }

  void on_slice_written(beast::error_code ec, std::size_t n, bool last_slice) {
    if (ec) {
      this->host_.metrics().client_errors.add(
          {ec == beast::error::timeout ? "write_timeout" : "disconnect"});
      return abort_body("write: " + ec.message());
    }
    head_.clear();  // went out with this slice
    this->host_.metrics().egress.add(n);
    this->host_.metrics().egress_bytes.add({}, n);
    if (last_slice) {
      slice_offset_ = 0;
      // This response got what it needed of the page: its fetch should finish (and cache it).
      if (auto& r = window_.front().result; r && r->demand) r->demand->satisfy();
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
    this->lowest().expires_after(std::chrono::milliseconds(this->cfg_.write_timeout_ms));
    net::async_write(this->derived().stream(), net::buffer(*last),
                     [self = this->derived().shared_from_this(), last](
                         beast::error_code ec, std::size_t) { self->finish_body(ec); });
  }

  void finish_body(beast::error_code ec) {
    const bool close = ec || !res_->keep_alive();
    res_.reset();
    sr_.reset();
    window_.clear();
    this->end_request();
    if (close) return this->derived().do_eof();
    this->do_read();
  }

  // The header is out and the body cannot be completed correctly: close so the client sees a
  // short body (never a wrong or mixed one).
  void abort_body(const std::string& why) {
    if (aborted_) return;
    aborted_ = true;
    SHOAL_LOG(kWarn,
              "aborting response for /fetch/" << fr_.kind << "/" << fr_.object << ": " << why);
    window_.clear();
    this->finish_status_ = res_ ? res_->result_int() : 206;
    this->end_request();
    beast::error_code ignored;
    this->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    this->lowest().close();
  }

 private:
  // Completion condition for body writes: hand the kernel the whole write (header, chunk framing
  // and slice) per call. Asio's default (transfer_all) caps each call at 64 KiB, which costs ~16
  // sendmsg and timer re-arms per MiB on a fast path.
  static std::size_t whole_write(const boost::system::error_code& ec, std::size_t) {
    return ec ? 0 : kWriteSlice + kHeadRoom;
  }
  static constexpr std::size_t kHeadRoom = 64 << 10;  // header and chunk framing beside a slice

  static std::string c0_status(std::uint64_t first, std::uint64_t last, const std::string& bucket,
                               std::int64_t cached_at) {
    return std::to_string(first) + "-" + std::to_string(last) + "; " + bucket + "; " +
           std::to_string(cached_at);
  }

  static const char* page_outcome(PageSource s) {
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
      case PageSource::kCopy:
        return "hit_copy";
    }
    return "miss";
  }

  // A page of the window: requested, and its result once it arrived.
  struct Slot {
    std::uint64_t page;
    std::optional<PageResult> result;
    bool checked = false;  // its ETag was checked and its C0-Status trailer recorded
  };

  bool aborted_ = false;
  bool waiting_ = false;
  bool chunked_ = false;
  int restarts_ = 0;
  FetchRequest fr_;
  base::ResolvedRange range_;
  std::uint64_t first_page_ = 0, last_page_ = 0, next_send_ = 0, next_request_ = 0;
  std::uint64_t slice_offset_ = 0;
  std::uint64_t size_ = 0;
  std::string etag_;
  std::deque<Slot> window_;
  std::vector<std::string> trailers_;
  std::string head_;  // the serialized header while it has not been written yet
  std::optional<http::response<http::empty_body>> res_;
  std::optional<http::response_serializer<http::empty_body>> sr_;
};

}  // namespace shoal::node
