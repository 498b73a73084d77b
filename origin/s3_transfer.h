// Transfer: the libcurl easy handle of one S3 operation and what one attempt received.
//
// prepare() configures the handle for one attempt: GET with `Range: bytes=a-b` (and If-Match),
// a GET without them (`whole`: a listing) or HEAD (CURLOPT_NOBODY); SigV4 via CURLOPT_AWS_SIGV4
// "aws:amz:REGION:s3" with the access key and secret as user name and password,
// x-amz-security-token when a session token exists, and always `x-amz-content-sha256:
// UNSIGNED-PAYLOAD` (libcurl 7.88 does not add it; s3rver requires it even unsigned). Anonymous
// credentials send the request unsigned. Connection options: TCP_NODELAY, 256 KiB receive buffer,
// NOSIGNAL, HTTP/1.1, PATH_AS_IS (keys may hold
// "." and ".." segments that must not be normalised), TLS verification per S3Config.
//
// Received data: a 2xx body is handed to the caller's body handler as it arrives (from inside
// curl's write callback); the handler returning false aborts the transfer (CURLE_WRITE_ERROR,
// refused_body()). Other bodies (S3 XML errors) are kept up to kMaxErrorBody bytes; a longer one
// aborts the transfer (error_body_capped()).
//
// Thread rules: used on the origin loop's thread only. The handle must be removed from its
// multi handle before prepare() or destruction.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "origin/s3_config.h"
#include "origin/s3_response.h"

namespace shoal::origin {

// What one attempt asks for.
struct AttemptSpec {
  std::string url;                               // object_url(): already percent-encoded
  bool head = false;                             // HEAD instead of GET
  bool whole = false;                            // GET without Range (listings)
  std::uint64_t offset = 0;                      // GET only: first byte
  std::uint64_t length = 0;                      // GET only: bytes (> 0)
  std::string if_match;                          // GET only: ETag for If-Match, empty for none
  std::chrono::milliseconds connect_timeout{0};  // CURLOPT_CONNECTTIMEOUT_MS (> 0)
  std::chrono::milliseconds total_timeout{0};    // CURLOPT_TIMEOUT_MS for the attempt (> 0)
};

class Transfer {
 public:
  static constexpr std::size_t kMaxErrorBody = 64 * 1024;  // bytes
  static constexpr long kReceiveBuffer = 256 * 1024;       // bytes, CURLOPT_BUFFERSIZE

  // Creates the easy handle. Throws std::runtime_error if curl_easy_init fails.
  Transfer();
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  // Takes the bytes of a 2xx body as they arrive, in order; false aborts the transfer. Runs inside
  // curl's write callback: it must not call curl.
  using BodyHandler = std::function<bool(std::string_view bytes)>;

  // Resets the handle and all received state for a new attempt. `owner` is stored as
  // CURLOPT_PRIVATE. `on_first_byte` runs once, from inside curl's header callback, when the
  // first response header line arrives; `on_body` as above; neither may call curl.
  void prepare(const S3Config& config, const AttemptSpec& spec, void* owner,
               std::function<void()> on_first_byte, BodyHandler on_body);

  CURL* easy() const { return easy_; }
  long status() const;  // the last response's HTTP status, 0 if none
  bool got_first_byte() const { return got_first_byte_; }
  std::chrono::steady_clock::time_point first_byte_at() const { return first_byte_at_; }
  const ResponseHeaders& headers() const { return headers_; }
  std::uint64_t received() const { return received_; }  // 2xx body bytes taken by on_body
  bool refused_body() const { return refused_body_; }   // on_body returned false
  const std::string& error_body() const { return error_body_; }
  bool error_body_capped() const { return error_body_capped_; }
  std::string error_detail() const { return error_buffer_; }  // CURLOPT_ERRORBUFFER text

 private:
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user);
  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user);
  void set_options(const S3Config& config, const AttemptSpec& spec);
  void set_headers(const S3Config& config, const AttemptSpec& spec);
  std::size_t store_body(const char* data, std::size_t bytes);

  CURL* easy_ = nullptr;
  curl_slist* header_list_ = nullptr;
  std::function<void()> on_first_byte_;
  BodyHandler on_body_;
  bool got_first_byte_ = false;
  std::chrono::steady_clock::time_point first_byte_at_;
  ResponseHeaders headers_;
  std::uint64_t received_ = 0;
  bool refused_body_ = false;
  std::string error_body_;
  bool error_body_capped_ = false;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

}  // namespace shoal::origin
