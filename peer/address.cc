#include "peer/address.h"

namespace shoal::peer {

std::optional<boost::asio::ip::udp::endpoint> parse_peer_endpoint(std::string_view text,
                                                                  bool allow_port_zero) {
  std::optional<base::HostPort> hp = base::split_host_port(text, allow_port_zero);
  if (!hp) return std::nullopt;
  boost::system::error_code ec;
  boost::asio::ip::address address = boost::asio::ip::make_address(hp->host, ec);
  if (ec) return std::nullopt;
  return boost::asio::ip::udp::endpoint(address, hp->port);
}

std::string format_endpoint(const boost::asio::ip::address& address, std::uint16_t port) {
  return base::join_host_port(address.to_string(), port);
}

}  // namespace shoal::peer
