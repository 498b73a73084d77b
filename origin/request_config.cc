// C0-Config parsing and RequestConfig validation; see request_config.h for the key list.
#include "origin/request_config.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <tuple>

namespace shoal::origin {
namespace {

// Accepted ranges (ms, or a count for ma). Timeouts must be positive: 0 would mean "no
// timeout" to libcurl, which a client header must not be able to ask for.
constexpr std::int64_t kMaxTimeoutMs = 3'600'000;  // 1 hour
constexpr std::int64_t kMaxBackoffMs = 600'000;    // 10 minutes
constexpr std::int64_t kMaxAttempts = 100;

struct KeySpec {
  std::string_view key;
  std::int64_t min;
  std::int64_t max;
  const char* unit;  // " ms" or "" for counts
};

constexpr KeySpec kKeys[] = {
    {"ct", 1, kMaxTimeoutMs, " ms"}, {"rt", 1, kMaxTimeoutMs, " ms"},
    {"ot", 1, kMaxTimeoutMs, " ms"}, {"oat", 1, kMaxTimeoutMs, " ms"},
    {"ma", 1, kMaxAttempts, ""},     {"ib", 0, kMaxBackoffMs, " ms"},
    {"mb", 0, kMaxBackoffMs, " ms"},
};

const KeySpec* find_key(std::string_view key) {
  for (const KeySpec& spec : kKeys) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

std::string range_reason(const KeySpec& spec) {
  return std::string(spec.key) + " must be an integer in [" + std::to_string(spec.min) + ", " +
         std::to_string(spec.max) + "]" + spec.unit;
}

// Parses a plain decimal integer (digits only: no sign, no spaces, no exponent) in
// [spec.min, spec.max].
bool parse_value(std::string_view text, const KeySpec& spec, std::int64_t* value) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && *value >= spec.min && *value <= spec.max;
}

void store(std::string_view key, std::int64_t value, RequestConfig* cfg) {
  const std::chrono::milliseconds ms(value);
  if (key == "ct") cfg->connect_timeout = ms;
  if (key == "rt") cfg->read_timeout = ms;
  if (key == "ot") cfg->operation_timeout = ms;
  if (key == "oat") cfg->attempt_timeout = ms;
  if (key == "ma") cfg->max_attempts = static_cast<int>(value);
  if (key == "ib") cfg->initial_backoff = ms;
  if (key == "mb") cfg->max_backoff = ms;
}

std::optional<std::string> check_range(const KeySpec& spec, std::int64_t value) {
  if (value < spec.min || value > spec.max) return range_reason(spec);
  return std::nullopt;
}

// Applies one "key=value" token; unknown keys (with or without '=') are ignored.
std::optional<std::string> apply_token(std::string_view token, RequestConfig* cfg) {
  const std::size_t eq = token.find('=');
  const std::string_view key = token.substr(0, eq);
  const KeySpec* spec = find_key(key);
  if (spec == nullptr) return std::nullopt;
  std::int64_t value = 0;
  if (eq == std::string_view::npos || !parse_value(token.substr(eq + 1), *spec, &value)) {
    return range_reason(*spec);
  }
  store(key, value, cfg);
  return std::nullopt;
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// Lowers every value of *cfg above its cap to the cap (ib <= mb holds after: both are lowered
// to the same cap).
void clamp(const ClientCaps& caps, RequestConfig* cfg) {
  for (auto* timeout : {&cfg->connect_timeout, &cfg->read_timeout, &cfg->operation_timeout,
                        &cfg->attempt_timeout}) {
    *timeout = std::min(*timeout, caps.max_timeout);
  }
  cfg->max_attempts = std::min(cfg->max_attempts, caps.max_attempts);
  cfg->initial_backoff = std::min(cfg->initial_backoff, caps.max_backoff);
  cfg->max_backoff = std::min(cfg->max_backoff, caps.max_backoff);
}

}  // namespace

std::optional<std::string> RequestConfig::validate() const {
  const std::pair<const char*, std::int64_t> values[] = {
      {"ct", connect_timeout.count()},
      {"rt", read_timeout.count()},
      {"ot", operation_timeout.count()},
      {"oat", attempt_timeout.count()},
      {"ma", max_attempts},
      {"ib", initial_backoff.count()},
      {"mb", max_backoff.count()},
  };
  for (const auto& [key, value] : values) {
    if (auto reason = check_range(*find_key(key), value)) return reason;
  }
  if (max_backoff < initial_backoff) return "mb must be >= ib";
  return std::nullopt;
}

ClientCaps ClientCaps::unlimited() {
  return ClientCaps{std::chrono::milliseconds(kMaxTimeoutMs), static_cast<int>(kMaxAttempts),
                    std::chrono::milliseconds(kMaxBackoffMs)};
}

std::optional<std::string> ClientCaps::validate(const RequestConfig& defaults) const {
  const auto timeout_default = std::max({defaults.connect_timeout, defaults.read_timeout,
                                         defaults.attempt_timeout, defaults.operation_timeout});
  const auto backoff_default = std::max(defaults.initial_backoff, defaults.max_backoff);
  if (max_timeout < timeout_default || max_timeout.count() > kMaxTimeoutMs) {
    return "--max-client-timeout-ms: must be in [" + std::to_string(timeout_default.count()) +
           ", " + std::to_string(kMaxTimeoutMs) + "] (at least the default operation timeout)";
  }
  if (max_attempts < defaults.max_attempts || max_attempts > kMaxAttempts) {
    return "--max-client-attempts: must be in [" + std::to_string(defaults.max_attempts) + ", " +
           std::to_string(kMaxAttempts) + "] (at least the default attempts)";
  }
  if (max_backoff < backoff_default || max_backoff.count() > kMaxBackoffMs) {
    return "--max-client-backoff-ms: must be in [" + std::to_string(backoff_default.count()) +
           ", " + std::to_string(kMaxBackoffMs) + "] (at least the default maximum backoff)";
  }
  return std::nullopt;
}

std::string c0_config_text(const RequestConfig& cfg, const RequestConfig& base) {
  const std::tuple<const char*, std::int64_t, std::int64_t> values[] = {
      {"ct", cfg.connect_timeout.count(), base.connect_timeout.count()},
      {"rt", cfg.read_timeout.count(), base.read_timeout.count()},
      {"ot", cfg.operation_timeout.count(), base.operation_timeout.count()},
      {"oat", cfg.attempt_timeout.count(), base.attempt_timeout.count()},
      {"ma", cfg.max_attempts, base.max_attempts},
      {"ib", cfg.initial_backoff.count(), base.initial_backoff.count()},
      {"mb", cfg.max_backoff.count(), base.max_backoff.count()},
  };
  std::string text;
  for (const auto& [key, value, base_value] : values) {
    if (value == base_value) continue;
    if (!text.empty()) text += ' ';
    text += std::string(key) + "=" + std::to_string(value);
  }
  return text;
}

std::optional<std::string> apply_c0_config(std::string_view text, const RequestConfig& base,
                                           const ClientCaps& caps, RequestConfig* out) {
  RequestConfig cfg = base;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (is_space(text[pos])) {
      ++pos;
      continue;
    }
    std::size_t end = pos;
    while (end < text.size() && !is_space(text[end])) ++end;
    if (auto reason = apply_token(text.substr(pos, end - pos), &cfg)) {
      return "C0-Config: " + *reason;
    }
    pos = end;
  }
  if (auto reason = cfg.validate()) return "C0-Config: " + *reason;
  clamp(caps, &cfg);
  cfg.client_timeouts =
      cfg.connect_timeout < base.connect_timeout || cfg.read_timeout < base.read_timeout ||
      cfg.attempt_timeout < base.attempt_timeout || cfg.operation_timeout < base.operation_timeout;
  *out = cfg;
  return std::nullopt;
}

}  // namespace shoal::origin
