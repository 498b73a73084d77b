// Peer addresses as text: "IPv4:port" or "[IPv6]:port" (IP literals only, port 1..65535), over
// base::split_host_port (ring/base/host_port.h). Pure parsing (Boost.Asio's make_address), no
// name resolution, safe from any thread.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ring/base/host_port.h"

namespace shoal::peer {

// Parses an address whose host is an IP literal. Returns nullopt when base::split_host_port fails
// or the host is not an IPv4/IPv6 literal.
std::optional<boost::asio::ip::udp::endpoint> parse_peer_endpoint(std::string_view text,
                                                                  bool allow_port_zero = false);

// Formats an endpoint as "a.b.c.d:port" or "[v6]:port" (the inverse of parse_peer_endpoint).
std::string format_endpoint(const boost::asio::ip::address& address, std::uint16_t port);

}  // namespace shoal::peer
