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
// Unknown keys are ignored (forward compatibility); a known key with a malformed value, or one
// outside the syntax bounds below, is an error (the HTTP layer answers 400 with the returned
// reason). A well-formed value above the operator's cap (ClientCaps, --max-client-*) is lowered
// to the cap: one client must not be able to pin origin capacity.
//
// Bucket health (origin/bucket_health.h) does not count a timeout of a request whose C0-Config
// set a timeout shorter than the node's own (RequestConfig::client_timeouts): the client chose
// to give up early, which says nothing about the bucket.
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
  // A client's C0-Config set ct, rt, oat or ot below the node's default: a timeout of this
  // request is the client's choice, not the bucket's fault (set by apply_c0_config).
  bool client_timeouts = false;

  // Returns an error message naming the offending key, or nullopt when consistent.
  std::optional<std::string> validate() const;
};

// The operator's caps on what C0-Config may ask for (--max-client-timeout-ms,
// --max-client-attempts, --max-client-backoff-ms). Each is at least the node's default for the
// keys it caps, so requests without C0-Config are never lowered.
struct ClientCaps {
  std::chrono::milliseconds max_timeout{60000};  // ct, rt, oat, ot
  int max_attempts = 5;                          // ma
  std::chrono::milliseconds max_backoff{5000};   // ib, mb

  // Caps at C0-Config's syntax bounds: nothing is lowered (tests, fuzzing).
  static ClientCaps unlimited();

  // "--max-client-...: reason" when a cap is below the default of a key it caps (`defaults`)
  // or above the syntax bound of C0-Config, else nullopt.
  std::optional<std::string> validate(const RequestConfig& defaults) const;
};

// Applies the C0-Config header value `text` on top of `base`, then lowers every value above its
// cap in `caps` to the cap, and sets client_timeouts when a timeout ended up below base's. On
// success returns nullopt and updates *out; on a malformed value returns a one-line reason such
// as "C0-Config: ma must be an integer in [1, 100]" and leaves *out unchanged.
std::optional<std::string> apply_c0_config(std::string_view text, const RequestConfig& base,
                                           const ClientCaps& caps, RequestConfig* out);

// The C0-Config text of the keys whose value in `cfg` differs from `base` ("rt=100 ma=2"; ""
// when none), in key order: what a node forwards to a page's owner, which applies it to its own
// defaults under its own caps. Short (at most about 100 bytes) whatever the client sent.
std::string c0_config_text(const RequestConfig& cfg, const RequestConfig& base);

}  // namespace shoal::origin
