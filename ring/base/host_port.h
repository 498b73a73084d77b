// "HOST:PORT" as every flag, seed and member address spells it: "name:port", "a.b.c.d:port" or
// "[IPv6]:port" (brackets required around an IPv6 literal). Pure parsing: no name resolution.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::base {

// A host and a port split from "host:port" or "[v6]:port".
struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

// Splits "host:port" / "[IPv6]:port" at its last ':'. Returns nullopt when the text is empty,
// has no port, an empty host, an unbalanced bracket, an IPv6 literal without brackets, or a port
// that is not a decimal in 1..65535 (0..65535 with `allow_port_zero`, for listen addresses where
// 0 asks for any free port).
std::optional<HostPort> split_host_port(std::string_view text, bool allow_port_zero = false);

// The inverse: "host:port", with brackets around a host that contains ':' (an IPv6 literal).
std::string join_host_port(std::string_view host, std::uint16_t port);

}  // namespace shoal::base
