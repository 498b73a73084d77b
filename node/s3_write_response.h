// The S3 port's writes (docs/s3-api.md, "Writes"): PutObject, DeleteObject and the multipart
// operations (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload,
// ListParts), passed through to the origin with the node's own credentials (origin/s3_write.h).
//
// A write is authenticated and its credential's write right and bucket checked before a byte of
// its body is read (node/s3_api_response.h). Its body then streams from the client to the origin
// through a BodyPipe (origin/body_pipe.h): at most kPipeBytes + kChunkBytes of it in memory per
// request. The signed payload hash and Content-MD5 (node/s3api/payload_check.h) are computed as
// the bytes pass, and the last chunk goes to the origin only once they matched: a body that
// does not match its hash never completes at the origin. The origin's answer is then passed on
// (its status, ETag and the other headers origin::WriteResult keeps, its XML body). A
// PutObject, DeleteObject or CompleteMultipartUpload the origin accepted is confirmed to the
// client only after the object was dropped on every live member
// (SessionHost::invalidate_everywhere); a member that did not confirm within its timeout turns
// the answer into 503 ServiceUnavailable (the write reached the origin; a retry is safe).
//
// The write goes to the first bucket the bucket policy resolves for the kind (the bucket named
// in the request), never to the others: redundant buckets are the storage's to replicate.
//
// CRTP, over FetchResponse; S3Response (node/s3_api_response.h) derives from it and supplies
// s3_error() and s3_request_id(). Internal to node/http_session.cc.
//
// Thread rules: as HttpConnection's; the origin's and the pipe's callbacks are posted back to
// the connection's executor.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/fetch_response.h"
#include "node/s3api/aws_chunked.h"
#include "node/s3api/payload_check.h"
#include "node/s3api/request.h"
#include "node/s3api/s3_error.h"
#include "node/s3api/sigv4.h"
#include "node/s3api/text.h"
#include "origin/body_pipe.h"
#include "origin/s3_write.h"

namespace shoal::node {

template <class Derived>
class S3Writes : public FetchResponse<Derived> {
  using Base = FetchResponse<Derived>;

 public:
  S3Writes(SessionHost& host, bool s3_port) : Base(host, s3_port) {}

  static constexpr std::size_t kChunkBytes = 64 * 1024;  // one client read
  static constexpr std::size_t kPipeBytes = 1 << 20;     // body bytes waiting for the origin

 protected:
  // Starts write `r` to origin bucket `bucket` (authenticated, allowed); `streaming`: its body
  // is aws-chunked (node/s3api/aws_chunked.h), decoded before it goes to the origin.
  void start_write(const s3api::S3Request& r, const std::string& bucket,
                   const std::optional<s3api::AuthResult::Streaming>& streaming) {
    using s3api::ErrorCode;
    using s3api::Operation;
    w_.emplace();
    w_->op = r.op;
    w_->kind = r.bucket;
    w_->key = r.key;
    if (this->req_.find("x-amz-copy-source") != this->req_.end()) {
      return fail(ErrorCode::kNotImplemented, "This S3 port does not implement CopyObject");
    }
    origin::WriteRequest out;
    out.method = std::string(this->req_.method_string());
    out.bucket = bucket;
    out.key = r.key;
    out.query = origin_query(r);
    out.headers = forwarded_headers();
    const bool has_body = this->body_pending_;
    const bool takes_body = r.op == Operation::kPutObject || r.op == Operation::kUploadPart ||
                            r.op == Operation::kCompleteMultipartUpload;
    if (has_body && !takes_body) {
      return fail(ErrorCode::kInvalidRequest,
                  std::string(s3api::operation_name(r.op)) + " carries no request body");
    }
    if (takes_body) {
      auto len = this->parser_->content_length();
      // An aws-chunked body may come with Transfer-Encoding: chunked and no Content-Length (the
      // AWS SDK for JavaScript v3 sends its uploads so): x-amz-decoded-content-length gives the
      // length the origin gets.
      if (!len && has_body && !(streaming && this->parser_->chunked())) {
        return fail(ErrorCode::kMissingContentLength,
                    "You must provide the Content-Length HTTP header.");
      }
      out.body_length = len ? *len : 0;
      if (streaming) {
        if (auto refusal = start_decoder(*streaming)) return fail(refusal->code, refusal->message);
        out.body_length = w_->decoder->decoded_length;
      }
      auto check = s3api::PayloadCheck::make(streaming ? "" : header("x-amz-content-sha256"),
                                             header("content-md5"));
      if (auto* refusal = std::get_if<s3api::PayloadCheck::Refusal>(&check)) {
        return fail(refusal->code, refusal->message);
      }
      w_->check.emplace(std::move(std::get<s3api::PayloadCheck>(check)));
      w_->pipe = std::make_shared<origin::BodyPipe>(kPipeBytes);
      w_->length = *out.body_length;
    }
    // The callbacks hold the connection: while the origin works, no socket operation does.
    auto self = this->derived().shared_from_this();
    auto ex = this->derived().executor();
    const bool started = this->host_.origin_writer().start(
        std::move(out), w_->pipe, [self, ex](origin::WriteResult res) {
          net::post(
              ex, [self, res = std::move(res)]() mutable { self->on_origin_done(std::move(res)); });
        });
    if (!started) {
      w_->pipe.reset();
      return fail(ErrorCode::kSlowDown, "Please reduce your request rate.");
    }
    w_->origin_running = true;
    if (!w_->pipe) return;
    if (!has_body) return finish_write_body();
    body_parser_.emplace(std::move(*this->parser_));
    // An aws-chunked body is its decoded bytes (at most the limit, checked against
    // x-amz-decoded-content-length and by the decoder) plus chunk framing.
    body_parser_->body_limit(streaming ? this->cfg_.s3_api_max_write_bytes +
                                             this->cfg_.s3_api_max_write_bytes / 4 + (1 << 20)
                                       : this->cfg_.s3_api_max_write_bytes);
    if (!s3api::text::iequals(header("expect"), "100-continue")) return read_chunk();
    // The client waits for this before it sends the body (botocore does, for up to a second).
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                  this->req_.version());
    this->lowest().expires_after(std::chrono::milliseconds(this->cfg_.write_timeout_ms));
    http::async_write(
        this->derived().stream(), *res,
        [self = this->derived().shared_from_this(), res](beast::error_code ec, std::size_t) {
          if (ec) return self->on_chunk(ec);
          self->read_chunk();
        });
  }

  // Whether the request's body is still (partly) unread: an answer now must close the
  // connection (after a lingering close), or the rest would be taken for the next request.
  bool body_unread() const { return this->body_pending_ && !(w_ && w_->body_done); }

 private:
  // An aws-chunked body's decoder, and what it decoded of the last read.
  struct Decoding {
    std::optional<s3api::AwsChunkedDecoder> d;
    std::uint64_t decoded_length = 0;  // x-amz-decoded-content-length
    std::string out;                   // decoded bytes of the last read (pending points here)
    std::optional<char> held;          // the last decoded byte so far, held back until the end
  };

  // One write in progress.
  struct WriteState {
    s3api::Operation op = s3api::Operation::kOther;
    std::string kind, key;
    std::optional<s3api::PayloadCheck> check;  // Content-MD5 (and the signed hash) of the body
    std::optional<Decoding> decoder;           // aws-chunked bodies
    std::shared_ptr<origin::BodyPipe> pipe;
    std::uint64_t length = 0;    // Content-Length
    std::uint64_t received = 0;  // body bytes read
    std::string_view pending;    // bytes of chunk_ not yet in the pipe
    bool last = false;           // pending holds the body's end
    bool body_done = false;      // every byte is in the pipe (or there was none)
    bool origin_running = false;
    std::optional<origin::WriteResult> result;  // the origin answered
    bool answered = false;
  };

  std::optional<s3api::AwsChunkedDecoder::Refusal> start_decoder(
      const s3api::AuthResult::Streaming& st) {
    using s3api::ErrorCode;
    w_->decoder.emplace();
    const std::string len = header("x-amz-decoded-content-length");
    std::uint64_t n = 0;
    if (len.empty() || len.size() > 19 ||
        len.find_first_not_of("0123456789") != std::string::npos) {
      return s3api::AwsChunkedDecoder::Refusal{
          ErrorCode::kMissingContentLength, "aws-chunked bodies need x-amz-decoded-content-length"};
    }
    n = std::stoull(len);
    if (n > this->cfg_.s3_api_max_write_bytes) {
      return s3api::AwsChunkedDecoder::Refusal{
          ErrorCode::kEntityTooLarge, "Your proposed upload exceeds the maximum allowed size"};
    }
    s3api::AwsChunkedDecoder::Config c;
    c.mode = st.signed_chunks ? s3api::AwsChunkedDecoder::Mode::kSigned
                              : s3api::AwsChunkedDecoder::Mode::kUnsignedTrailer;
    c.decoded_length = n;
    c.signing_key = st.signing_key;
    c.amz_date = st.amz_date;
    c.scope = st.scope;
    c.seed_signature = st.seed_signature;
    c.trailer = header("x-amz-trailer");
    for (char& ch : c.trailer) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto made = s3api::AwsChunkedDecoder::make(std::move(c));
    if (auto* r = std::get_if<s3api::AwsChunkedDecoder::Refusal>(&made)) return *r;
    w_->decoder->d.emplace(std::move(std::get<s3api::AwsChunkedDecoder>(made)));
    w_->decoder->decoded_length = n;
    return std::nullopt;
  }

  // Replaces the pending raw bytes by what they decode to. The last decoded byte is held back
  // until the body ended and the decoder's checks passed: until then the origin cannot
  // complete the write.
  std::optional<s3api::AwsChunkedDecoder::Refusal> decode() {
    Decoding& dec = *w_->decoder;
    dec.out.clear();
    if (dec.held) dec.out.push_back(*dec.held);
    dec.held.reset();
    if (auto r = dec.d->feed(w_->pending, &dec.out)) return r;
    if (w_->last) {
      if (auto r = dec.d->finish()) return r;
    } else if (!dec.out.empty()) {
      dec.held = dec.out.back();
      dec.out.pop_back();
    }
    w_->pending = dec.out;
    return std::nullopt;
  }

  std::string header(std::string_view name) const {
    auto it = this->req_.find(name);
    return it == this->req_.end() ? std::string() : std::string(it->value());
  }

  // The sub-resources the origin needs, encoded once (UNSIGNED: curl signs what it sends).
  static std::string origin_query(const s3api::S3Request& r) {
    std::string q;
    for (const auto& [n, v] : r.query) {
      const bool keep = n == "uploads" || n == "uploadId" || n == "partNumber" ||
                        n == "max-parts" || n == "part-number-marker";
      if (!keep) continue;
      if (!q.empty()) q += '&';
      q += s3api::uri_encode(n, false) + "=" + s3api::uri_encode(v, false);
    }
    return q;
  }

  // The client's headers an object keeps (content headers, user metadata) and the checksum
  // headers the origin verifies (x-amz-checksum-*, as current SDKs send beside a hex
  // x-amz-content-sha256); never the client's signature, date or payload hash: the origin
  // request is the node's own.
  std::vector<std::string> forwarded_headers() const {
    std::vector<std::string> out;
    for (const auto& f : this->req_) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const bool keep = name == "content-type" || name == "content-md5" ||
                        name == "cache-control" || name == "content-disposition" ||
                        name == "content-language" || name == "expires" ||
                        name == "x-amz-storage-class" || name == "x-amz-tagging" ||
                        name.starts_with("x-amz-meta-") || name.starts_with("x-amz-checksum-") ||
                        name == "x-amz-sdk-checksum-algorithm";
      std::string value(f.value());
      if (name == "content-encoding" && value != "aws-chunked") {
        out.push_back("Content-Encoding: " + value);
      }
      if (keep) out.push_back(std::string(f.name_string()) + ": " + value);
    }
    return out;
  }

  void read_chunk() {
    auto& p = *body_parser_;
    p.get().body().data = chunk_.data();
    p.get().body().size = chunk_.size();
    p.get().body().more = true;
    this->lowest().expires_after(std::chrono::milliseconds(this->cfg_.idle_timeout_ms));
    http::async_read_some(this->derived().stream(), this->buffer_, p,
                          [self = this->derived().shared_from_this()](
                              beast::error_code ec, std::size_t) { self->on_chunk(ec); });
  }

  void on_chunk(beast::error_code ec) {
    using s3api::ErrorCode;
    if (ec == http::error::need_buffer) ec = {};
    if (w_->result) return body_abandoned();  // the origin answered already (an error)
    if (ec) {
      w_->pipe->abort();
      this->unread_body_ = true;
      const bool timeout = ec == beast::error::timeout;
      if (ec == http::error::body_limit) {
        return fail(ErrorCode::kEntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed size");
      }
      return fail(timeout ? ErrorCode::kRequestTimeout : ErrorCode::kIncompleteBody,
                  timeout ? "Your socket connection to the server was not read from or written to "
                            "within the timeout period."
                          : "You did not provide the number of bytes specified by the "
                            "Content-Length HTTP header.");
    }
    const std::size_t got = chunk_.size() - body_parser_->get().body().size;
    w_->received += got;
    w_->pending = std::string_view(chunk_.data(), got);
    w_->last = body_parser_->is_done();
    if (w_->decoder) {
      if (auto refusal = decode()) {
        w_->pipe->abort();
        return fail(refusal->code, refusal->message);
      }
    }
    w_->check->update(w_->pending);
    if (w_->last) {
      if (auto refusal = w_->check->finish()) {  // the last bytes never reach the origin
        w_->pipe->abort();
        return fail(refusal->code, refusal->message);
      }
    }
    push();
  }

  // Moves pending bytes into the pipe; waits for room when it is full.
  void push() {
    while (!w_->pending.empty()) {
      const std::size_t n = w_->pipe->write(w_->pending);
      if (n == 0) break;
      w_->pending.remove_prefix(n);
    }
    if (w_->pipe->aborted()) return body_abandoned();
    if (!w_->pending.empty()) {
      auto ex = this->derived().executor();
      w_->pipe->when_space([self = this->derived().shared_from_this(), ex] {
        net::post(ex, [self] { self->push(); });
      });
      return;
    }
    if (!w_->last) return read_chunk();
    finish_write_body();
  }

  void finish_write_body() {
    this->lowest().expires_never();  // the origin may take its time; send_text re-arms
    w_->body_done = true;
    body_parser_.reset();
    if (w_->pipe) w_->pipe->finish();
    if (w_->result) proceed(std::move(*w_->result));
  }

  // The pipe was aborted while the body was still coming: the origin ended the request.
  void body_abandoned() {
    this->unread_body_ = true;
    if (w_->result) return proceed(std::move(*w_->result));
    // on_origin_done() follows (the writer always answers) and proceeds.
  }

  void on_origin_done(origin::WriteResult res) {
    w_->origin_running = false;
    if (w_->answered) return;
    if (w_->pipe && !w_->body_done) {
      // The origin answered before the whole body went out (an error, or a refusal of the
      // body): answered once the body side stops.
      w_->result = std::move(res);
      if (this->unread_body_) proceed(std::move(*w_->result));
      return;
    }
    proceed(std::move(res));
  }

  void proceed(origin::WriteResult res) {
    using s3api::ErrorCode;
    if (w_->answered) return;
    if (res.status == 0) {
      return fail(ErrorCode::kServiceUnavailable,
                  "The origin did not answer the write: " + res.message);
    }
    const bool ok =
        res.status >= 200 && res.status <= 299 && res.body.find("<Error>") == std::string::npos;
    const bool changes = w_->op == s3api::Operation::kPutObject ||
                         w_->op == s3api::Operation::kDeleteObject ||
                         w_->op == s3api::Operation::kCompleteMultipartUpload;
    if (!ok || !changes) return answer(std::move(res));
    this->host_.invalidate_everywhere(
        w_->kind, w_->key, this->derived().executor(),
        [self = this->derived().shared_from_this(),
         res = std::move(res)](InvalidateReport report) mutable {
          if (!report.ok()) {
            std::string who;
            for (const auto& f : report.failed) who += (who.empty() ? "" : "; ") + f;
            return self->fail(s3api::ErrorCode::kServiceUnavailable,
                              "The write reached the origin, but not every cluster member "
                              "confirmed dropping the old version (" +
                                  who + "); retry it");
          }
          self->answer(std::move(res));
        });
  }

  // The origin's answer, passed on with this port's request id.
  void answer(origin::WriteResult res) {
    w_->answered = true;
    auto extra = std::move(res.headers);
    extra.emplace_back("x-amz-request-id", this->derived().s3_request_id());
    const bool close = body_unread();
    if (close) this->unread_body_ = true;
    const char* type = res.body.empty() ? "application/octet-stream" : "application/xml";
    this->send_text(res.status, std::move(res.body), type, close, "", "", "", extra);
  }

  void fail(s3api::ErrorCode code, const std::string& message) {
    if (w_) w_->answered = true;
    if (w_ && w_->pipe && !w_->body_done) {
      w_->pipe->abort();
      this->unread_body_ = true;
    }
    this->derived().s3_error(code, message, this->unread_body_);
  }

  std::optional<WriteState> w_;
  std::optional<http::request_parser<http::buffer_body>> body_parser_;
  std::array<char, kChunkBytes> chunk_;
};

}  // namespace shoal::node
