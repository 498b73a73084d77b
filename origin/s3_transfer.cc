// One S3 request's easy handle; see s3_transfer.h.
#include "origin/s3_transfer.h"

#include <stdexcept>

namespace shoal::origin {

Transfer::Transfer() : easy_(curl_easy_init()) {
  if (easy_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

Transfer::~Transfer() {
  curl_easy_cleanup(easy_);
  curl_slist_free_all(header_list_);
}

void Transfer::prepare(const S3Config& config, const AttemptSpec& spec, void* owner,
                       std::function<void()> on_first_byte, BodyHandler on_body) {
  on_first_byte_ = std::move(on_first_byte);
  on_body_ = std::move(on_body);
  got_first_byte_ = false;
  headers_ = ResponseHeaders{};
  received_ = 0;
  refused_body_ = false;
  error_body_.clear();
  error_body_capped_ = false;
  error_buffer_[0] = '\0';
  curl_easy_reset(easy_);
  set_options(config, spec);
  set_headers(config, spec);
  curl_easy_setopt(easy_, CURLOPT_PRIVATE, owner);
}

long Transfer::status() const {
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

void Transfer::set_options(const S3Config& config, const AttemptSpec& spec) {
  curl_easy_setopt(easy_, CURLOPT_URL, spec.url.c_str());
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy_, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy_, CURLOPT_BUFFERSIZE, kReceiveBuffer);
  curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(easy_, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(spec.connect_timeout.count()));
  curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.total_timeout.count()));
  curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, config.verify_tls ? 1L : 0L);
  curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, config.verify_tls ? 2L : 0L);
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  if (spec.head) curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
  const Credentials& creds = config.credentials;
  if (!creds.anonymous()) {
    const std::string sigv4 = "aws:amz:" + config.region + ":s3";
    curl_easy_setopt(easy_, CURLOPT_AWS_SIGV4, sigv4.c_str());  // curl copies option strings
    curl_easy_setopt(easy_, CURLOPT_USERNAME, creds.access_key_id.c_str());
    curl_easy_setopt(easy_, CURLOPT_PASSWORD, creds.secret_access_key.c_str());
  }
}

void Transfer::set_headers(const S3Config& config, const AttemptSpec& spec) {
  curl_slist_free_all(header_list_);
  header_list_ = nullptr;
  std::string lines[] = {
      "x-amz-content-sha256: UNSIGNED-PAYLOAD",
      config.credentials.session_token.empty()
          ? std::string()
          : "x-amz-security-token: " + config.credentials.session_token,
      spec.head || spec.whole ? std::string()
                              : "Range: bytes=" + std::to_string(spec.offset) + "-" +
                                    std::to_string(spec.offset + spec.length - 1),
      spec.head || spec.whole || spec.if_match.empty() ? std::string()
                                                       : "If-Match: " + spec.if_match,
  };
  for (const std::string& line : lines) {
    if (!line.empty()) header_list_ = curl_slist_append(header_list_, line.c_str());
  }
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, header_list_);
}

std::size_t Transfer::on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* self = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (!self->got_first_byte_) {
    self->got_first_byte_ = true;
    self->first_byte_at_ = std::chrono::steady_clock::now();
    if (self->on_first_byte_) self->on_first_byte_();
  }
  capture_header(std::string_view(data, bytes), &self->headers_);
  return bytes;
}

std::size_t Transfer::on_body(char* data, std::size_t size, std::size_t count, void* user) {
  return static_cast<Transfer*>(user)->store_body(data, size * count);
}

// Returns `bytes` to continue or 0 to abort the transfer (CURLE_WRITE_ERROR).
std::size_t Transfer::store_body(const char* data, std::size_t bytes) {
  const long code = status();
  if (code >= 200 && code <= 299) {
    if (!on_body_(std::string_view(data, bytes))) {
      refused_body_ = true;
      return 0;
    }
    received_ += bytes;
    return bytes;
  }
  if (bytes > kMaxErrorBody - error_body_.size()) {
    error_body_capped_ = true;
    return 0;
  }
  error_body_.append(data, bytes);
  return bytes;
}

}  // namespace shoal::origin
