// The S3 port's answers (docs/s3-api.md): a request on the --s3-api-listen port is classified
// (node/s3api/request.h), authenticated (node/s3api/sigv4.h against --s3-api-credentials-file, or
// anonymous with --s3-api-anonymous), checked against the credential's buckets and the bucket
// policy (kind = bucket), and a GetObject or HeadObject is then served by the /fetch read path
// (FetchResponse::begin_fetch, node/fetch_response.h: memory, disk, owner, origin, coalesced,
// hedged) with S3's header: 200 without a Range (206 with Content-Range with one),
// x-amz-request-id, ETag, Last-Modified, Accept-Ranges, the response-* overrides of signed
// requests, and conditional requests (node/s3api/conditions.h: 304 Not Modified, 412
// PreconditionFailed). ListObjects and ListObjectsV2 are checked (node/s3api/listing.h) and
// passed to the origin, never cached (node/origin_listing.h: the kind's buckets in health
// order), the answer relayed with the bucket named as the client named it; ListBuckets is
// written from the configuration: the bucket policy's kinds and the credential's bucket names
// that the caller may read. Writes (PutObject, DeleteObject, multipart) by a credential with the
// write right go to S3Writes (node/s3_write_response.h). Every error is S3's XML
// (node/s3api/s3_error.h); every other operation is NotImplemented (501). The client's signature
// never goes upstream: the origin requests are the node's own.
//
// CRTP, over S3Writes over FetchResponse; it hides FetchResponse's hooks (fetch_failed,
// precondition_holds, decorate_header) with S3 versions while a request of the S3 port is served,
// and defers to them otherwise. Internal to node/http_session.cc, the only file that includes it.
//
// Thread rules: as HttpConnection's.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "node/fetch_response.h"
#include "node/origin_listing.h"
#include "node/s3_write_response.h"
#include "node/s3api/conditions.h"
#include "node/s3api/listing.h"
#include "node/s3api/request.h"
#include "node/s3api/s3_error.h"
#include "node/s3api/sigv4.h"
#include "ring/base/names.h"

namespace shoal::node {

template <class Derived>
class S3Response : public S3Writes<Derived> {
  using Base = S3Writes<Derived>;

 public:
  S3Response(SessionHost& host, bool s3_port) : Base(host, s3_port) {}

  // A request on the S3 port (HttpConnection::route).
  void start_s3() {
    s3_.emplace();
    s3_->request_id = new_request_id();
    auto cls = s3api::classify(this->req_.method_string(), this->req_.target(),
                               this->req_[http::field::host], this->cfg_.s3_api_domain);
    if (auto* e = std::get_if<s3api::ClassifyError>(&cls)) return s3_error(e->code, e->message);
    s3api::S3Request r = std::move(std::get<s3api::S3Request>(cls));
    s3_->resource = r.resource;
    this->s3_operation_ = std::string(s3api::operation_name(r.op));
    const bool write = s3api::is_write(r.op) || r.op == s3api::Operation::kListParts;
    const s3api::AuthResult auth = authenticate(write);
    if (auth.kind == s3api::AuthResult::Kind::kRefused) return s3_error(auth.code, auth.message);
    if (auth.kind == s3api::AuthResult::Kind::kAnonymous && !this->cfg_.s3_api_anonymous) {
      return s3_error(s3api::ErrorCode::kAccessDenied,
                      "Anonymous requests are not accepted on this port: sign them (SigV4)");
    }
    if (r.op == s3api::Operation::kListBuckets) return list_buckets(r, auth);
    if (r.op == s3api::Operation::kListObjects || r.op == s3api::Operation::kListObjectsV2) {
      return list_objects(r, auth);
    }
    if (r.op != s3api::Operation::kGetObject && r.op != s3api::Operation::kHeadObject && !write) {
      return s3_error(s3api::ErrorCode::kNotImplemented,
                      "This S3 port does not implement " + this->s3_operation_ +
                          " (supported: GetObject, HeadObject, ListObjects, ListObjectsV2, "
                          "ListBuckets, PutObject, DeleteObject, multipart uploads)");
    }
    if (s3api::is_write(r.op) && (!auth.credential || !auth.credential->write)) {
      return s3_error(s3api::ErrorCode::kAccessDenied,
                      auth.credential ? "Access Denied: the credential may only read"
                                      : "Access Denied: anonymous requests may only read");
    }
    FetchRequest fr;
    if (auto refusal = bucket_refusal(r.bucket, auth, &fr.options.buckets)) {
      return s3_error(s3api::ErrorCode::kAccessDenied, *refusal);
    }
    if (write) {
      if (!auth.credential) {
        return s3_error(s3api::ErrorCode::kAccessDenied, "Access Denied: sign the request");
      }
      return this->start_write(r, fr.options.buckets.front(), auth.streaming);
    }
    if (this->body_pending_) {
      return s3_error(s3api::ErrorCode::kInvalidRequest,
                      this->s3_operation_ + " carries no request body", true);
    }
    if (auth.kind == s3api::AuthResult::Kind::kSigned) s3_->overrides = response_overrides(r);
    s3_->conditions = conditions();
    fr.head = r.op == s3api::Operation::kHeadObject;
    fr.kind = r.bucket;
    fr.object = r.key;
    fr.options.config = this->cfg_.origin_request;
    fr.options.config_text =
        origin::c0_config_text(this->cfg_.origin_request, this->cfg_.origin_request);
    // S3 ignores a Range it cannot parse (and several ranges) and sends the whole object.
    const auto range = this->req_[http::field::range];
    if (range.empty() || this->req_.count(http::field::range) > 1 ||
        base::parse_byte_range(range, &fr.range) != base::RangeError::kOk) {
      fr.range = base::ByteRange{base::ByteRange::Kind::kOpen, 0, 0, 0};
      s3_->whole_object = true;
    }
    this->begin_fetch(std::move(fr));
  }

  // A request on the S3 port whose body this node does not read: one over
  // --s3-api-max-write-size (EntityTooLarge), or one the parser refused; the connection closes
  // (HttpConnection::refuse_body).
  void s3_refuse_body(beast::error_code ec) {
    s3_.emplace();
    s3_->request_id = new_request_id();
    auto cls = s3api::classify(this->req_.method_string(), this->req_.target(),
                               this->req_[http::field::host], this->cfg_.s3_api_domain);
    if (auto* r = std::get_if<s3api::S3Request>(&cls)) {
      s3_->resource = r->resource;
      this->s3_operation_ = std::string(s3api::operation_name(r->op));
    }
    if (ec == http::error::body_limit) {
      return s3_error(s3api::ErrorCode::kEntityTooLarge,
                      "Your proposed upload exceeds the maximum allowed size", true);
    }
    s3_error(s3api::ErrorCode::kInvalidRequest, "The request body cannot be read: " + ec.message(),
             true);
  }

  const std::string& s3_request_id() const { return s3_->request_id; }

  void s3_error(s3api::ErrorCode code, const std::string& message, bool close = false,
                const std::string& content_range = "") {
    if (this->body_unread()) {  // refused before (or while) its body was read
      this->unread_body_ = true;
      close = true;
    }
    this->send_text(
        s3api::error_status(code), s3api::error_xml(code, message, s3_->resource, s3_->request_id),
        "application/xml", close, "", content_range, "", {{"x-amz-request-id", s3_->request_id}});
  }

  // ---- FetchResponse's hooks ------------------------------------------------------------------
  void fetch_failed(const FetchFailure& f) {
    if (!s3_) return Base::fetch_failed(f);
    using s3api::ErrorCode;
    if (f.status == 416 && s3_->whole_object && f.meta && f.meta->size == 0) {
      return send_empty_object(*f.meta);  // a GET without Range of an empty object
    }
    if (f.shed) return s3_error(ErrorCode::kSlowDown, "Please reduce your request rate.");
    if (f.status == 416) {
      return s3_error(ErrorCode::kInvalidRange, "The requested range is not satisfiable", false,
                      f.content_range);
    }
    origin_failed(f.outcome, f.reason.find("NoSuchBucket") != std::string::npos, f.reason);
  }

  // Answers an origin failure `o` (a 404 is NoSuchBucket when `no_bucket`, else NoSuchKey);
  // `reason` is the message of 503s and 500s.
  void origin_failed(base::Outcome o, bool no_bucket, const std::string& reason) {
    using s3api::ErrorCode;
    switch (o) {
      case base::Outcome::kNotFound:
        if (no_bucket) {
          return s3_error(ErrorCode::kNoSuchBucket, "The specified bucket does not exist");
        }
        return s3_error(ErrorCode::kNoSuchKey, "The specified key does not exist.");
      case base::Outcome::kAccessDenied:
        return s3_error(ErrorCode::kAccessDenied, "Access Denied (by the origin)");
      case base::Outcome::kThrottled:
        return s3_error(ErrorCode::kSlowDown, "Please reduce your request rate.");
      case base::Outcome::kServerError:
      case base::Outcome::kTimeout:
      case base::Outcome::kTransportError:
      case base::Outcome::kPreconditionFailed:  // the object changed while being read: retry
        return s3_error(ErrorCode::kServiceUnavailable, reason);
      default:
        return s3_error(ErrorCode::kInternalError, reason);
    }
  }

  bool precondition_holds(const std::string& etag, const std::string& last_modified) {
    if (!s3_ || s3_->conditions.empty()) return true;
    switch (s3api::evaluate(s3_->conditions, etag, last_modified)) {
      case s3api::Precondition::kProceed:
        return true;
      case s3api::Precondition::kFailed:
        s3_error(s3api::ErrorCode::kPreconditionFailed,
                 "At least one of the pre-conditions you specified did not hold");
        return false;
      case s3api::Precondition::kNotModified:
        this->send_text(304, "", "application/octet-stream", false, "", "", "",
                        validators(etag, last_modified));
        return false;
    }
    return true;
  }

  void decorate_header(http::response<http::empty_body>& res) {
    if (!s3_) return Base::decorate_header(res);
    res.erase("C0-Status");
    res.set("x-amz-request-id", s3_->request_id);
    if (s3_->whole_object) {
      res.result(http::status::ok);
      res.erase(http::field::content_range);
    }
    for (const auto& [name, value] : s3_->overrides) res.set(name, value);
  }

 private:
  // What an S3 request carries past start_s3().
  struct S3State {
    std::string request_id;
    std::string resource;
    bool whole_object = false;  // no (usable) Range: 200 with the whole object
    s3api::Conditions conditions;
    std::vector<std::pair<std::string, std::string>> overrides;  // response-* as headers
  };

  // 16 upper-case hex digits, like S3's.
  static std::string new_request_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::uint64_t v = rng();
    std::string id(16, '0');
    for (auto& c : id) {
      c = kHex[v & 15];
      v >>= 4;
    }
    return id;
  }

  // Why the caller may not read `bucket` (the credential's list, then the bucket policy), or
  // nullopt with the origin buckets of that kind in *buckets.
  std::optional<std::string> bucket_refusal(const std::string& bucket,
                                            const s3api::AuthResult& auth,
                                            std::vector<std::string>* buckets) const {
    if (auth.credential && !auth.credential->allows(bucket)) {
      return "Access Denied: the credential may not read bucket " + bucket;
    }
    if (auto refusal = this->cfg_.bucket_policy.resolve(bucket, {}, buckets)) {
      return "Access Denied: " + refusal->reason;
    }
    return std::nullopt;
  }

  // ---- listings ---------------------------------------------------------------------------------
  // Written in ListBuckets' answers: Shoal does not know when a bucket was created.
  static constexpr const char* kBucketCreationDate = "1970-01-01T00:00:00.000Z";

  void list_objects(const s3api::S3Request& r, const s3api::AuthResult& auth) {
    std::vector<std::string> buckets;
    if (auto refusal = bucket_refusal(r.bucket, auth, &buckets)) {
      return s3_error(s3api::ErrorCode::kAccessDenied, *refusal);
    }
    auto query = s3api::list_objects_query(r.op, r.query);
    if (auto* e = std::get_if<s3api::ListError>(&query)) return s3_error(e->code, e->message);
    this->kind_label_ = r.bucket;
    this->host_.lister().list(std::move(buckets), std::move(std::get<s3api::QueryList>(query)),
                              this->cfg_.origin_request, this->derived().executor(),
                              [self = this->derived().shared_from_this(), bucket = r.bucket](
                                  OriginListing l) { self->on_listing(bucket, std::move(l)); });
  }

  void on_listing(const std::string& client_bucket, OriginListing l) {
    origin::ListResult& res = l.result;
    if (res.outcome == base::Outcome::kOk) {
      s3api::rename_listed_bucket(&res.body, l.bucket, client_bucket);
      return this->send_text(200, std::move(res.body), "application/xml", false, "", "", "",
                             {{"x-amz-request-id", s3_->request_id}});
    }
    if (res.http_status == 400) {  // the origin refused the parameters (a stale token...)
      return s3_error(s3api::ErrorCode::kInvalidArgument,
                      "The origin refused the listing: " + res.message);
    }
    origin_failed(res.outcome, true, res.message);
  }

  // The buckets the caller may read that the configuration names: the bucket policy's kinds and
  // the credential's entries without '*', as valid bucket names.
  void list_buckets(const s3api::S3Request& r, const s3api::AuthResult& auth) {
    auto query = s3api::list_buckets_query(r.query);
    if (auto* e = std::get_if<s3api::ListError>(&query)) return s3_error(e->code, e->message);
    std::vector<std::string> names = this->cfg_.bucket_policy.listed_kinds();
    if (auth.credential) {
      for (const std::string& b : auth.credential->buckets) {
        if (b.find('*') == std::string::npos) names.push_back(b);
      }
    }
    std::erase_if(names, [&](const std::string& name) {
      std::vector<std::string> unused;
      return base::check_bucket(name).has_value() || bucket_refusal(name, auth, &unused);
    });
    const std::string owner = auth.credential ? auth.credential->access_key_id : "anonymous";
    this->send_text(
        200,
        s3api::list_buckets_xml(std::move(names), std::get<s3api::ListBucketsQuery>(query), owner,
                                kBucketCreationDate),
        "application/xml", false, "", "", "", {{"x-amz-request-id", s3_->request_id}});
  }

  // `write`: a write's payload hash is checked as its body streams (node/s3_write_response.h),
  // so the signature is verified against the hash the client declared.
  s3api::AuthResult authenticate(bool write) {
    s3api::SignedRequest sr;
    sr.method = std::string(this->req_.method_string());
    sr.target = std::string(this->req_.target());
    for (const auto& f : this->req_) sr.headers.emplace_back(f.name_string(), f.value());
    std::string declared(s3api::kEmptySha256);
    if (auto it = this->req_.find("x-amz-content-sha256"); write && it != this->req_.end()) {
      declared = std::string(it->value());
    }
    return s3api::authenticate(sr, this->host_.s3_credentials(), std::time(nullptr), declared,
                               write);
  }

  s3api::Conditions conditions() const {
    s3api::Conditions c;
    auto get = [this](http::field f) -> std::optional<std::string> {
      auto it = this->req_.find(f);
      if (it == this->req_.end()) return std::nullopt;
      return std::string(it->value());
    };
    c.if_match = get(http::field::if_match);
    c.if_none_match = get(http::field::if_none_match);
    c.if_modified_since = get(http::field::if_modified_since);
    c.if_unmodified_since = get(http::field::if_unmodified_since);
    return c;
  }

  // The response-* query parameters as the header fields they set (values without CR/LF).
  static std::vector<std::pair<std::string, std::string>> response_overrides(
      const s3api::S3Request& r) {
    static constexpr std::pair<std::string_view, std::string_view> kOverrides[] = {
        {"response-content-type", "Content-Type"},
        {"response-content-language", "Content-Language"},
        {"response-expires", "Expires"},
        {"response-cache-control", "Cache-Control"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"}};
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [param, header] : kOverrides) {
      const std::string* v = r.param(param);
      if (v && v->find_first_of("\r\n") == std::string::npos) {
        out.emplace_back(std::string(header), *v);
      }
    }
    return out;
  }

  std::vector<std::pair<std::string, std::string>> validators(const std::string& etag,
                                                              const std::string& last_modified) {
    std::vector<std::pair<std::string, std::string>> h{{"x-amz-request-id", s3_->request_id}};
    if (!etag.empty()) h.emplace_back("ETag", etag);
    if (!last_modified.empty()) h.emplace_back("Last-Modified", last_modified);
    return h;
  }

  void send_empty_object(const ObjectMeta& meta) {
    if (!precondition_holds(meta.etag, meta.last_modified)) return;
    auto h = validators(meta.etag, meta.last_modified);
    h.emplace_back("Accept-Ranges", "bytes");
    for (const auto& o : s3_->overrides) h.push_back(o);
    this->send_text(200, "", "application/octet-stream", false, "", "", "", h);
  }

  std::optional<S3State> s3_;
};

}  // namespace shoal::node
