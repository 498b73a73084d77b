// Peer addresses as text: "IPv4:port" or "[IPv6]:port" (IP literals only, port 1..65535), and
// "host:port" seeds whose host may be a name. Pure parsing (Boost.Asio's make_address), no
// name resolution, safe from any thread.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::peer {

// A host and a port split from "host:port" or "[v6]:port".
struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

// Splits "host:port" / "[IPv6]:port". Returns nullopt when the text is empty, has no port, an
// empty host, an unbalanced bracket, or a port that is not a decimal in 1..65535 (0..65535 with
// `allow_port_zero`, for listen addresses).
std::optional<HostPort> split_host_port(std::string_view text, bool allow_port_zero = false);

// Parses an address whose host is an IP literal. Returns nullopt when split_host_port fails or
// the host is not an IPv4/IPv6 literal.
std::optional<boost::asio::ip::udp::endpoint> parse_peer_endpoint(std::string_view text,
                                                                  bool allow_port_zero = false);

// Formats an endpoint as "a.b.c.d:port" or "[v6]:port" (the inverse of parse_peer_endpoint).
std::string format_endpoint(const boost::asio::ip::address& address, std::uint16_t port);

}  // namespace shoal::peer
