// Per-request origin settings: timeouts, attempts and backoff, and the C0-Config header that
// overrides them.
//
// C0-Config is a space-separated list of key=value pairs (values in milliseconds unless noted),
// as in the read-through cache Shoal is compatible with:
//   ct  connect timeout           rt  read timeout (time to first byte of an attempt)
//   ot  operation timeout (all attempts and backoff together)
//   oat operation attempt timeout (one attempt, connect to last byte)
//   ma  maximum attempts (count, >= 1)
//   ib  initial backoff           mb  maximum backoff
// Unknown keys are ignored (forward compatibility); a known key with a malformed value is an
// error (the HTTP layer answers 400 with the returned reason).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::origin {

struct RequestConfig {
  std::chrono::milliseconds connect_timeout{2000};     // ct
  std::chrono::milliseconds read_timeout{5000};        // rt: time to first byte, per attempt
  std::chrono::milliseconds operation_timeout{30000};  // ot: whole operation
  std::chrono::milliseconds attempt_timeout{15000};    // oat: one attempt
  int max_attempts = 3;                                // ma
  std::chrono::milliseconds initial_backoff{20};       // ib
  std::chrono::milliseconds max_backoff{1000};         // mb

  // Returns an error message naming the offending key, or nullopt when consistent.
  std::optional<std::string> validate() const;
};

// Applies the C0-Config header value `text` on top of `base`. On success returns nullopt and
// updates *out; on a malformed value returns a one-line reason such as
// "C0-Config: ma must be an integer in [1, 100]" and leaves *out unchanged.
std::optional<std::string> apply_c0_config(std::string_view text, const RequestConfig& base,
                                           RequestConfig* out);

}  // namespace shoal::origin
