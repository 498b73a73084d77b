#include "node/client_socket.h"

#include "ring/base/log.h"

namespace shoal::node {
namespace {

// `a` as IPv4 when it is IPv4 or an IPv4-mapped IPv6 address.
boost::asio::ip::address unmapped(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

}  // namespace

bool is_same_host(const boost::asio::ip::address& local, const boost::asio::ip::address& remote) {
  const auto r = unmapped(remote);
  return r.is_loopback() || r == unmapped(local);
}

void apply_client_socket_options(boost::asio::ip::tcp::socket& socket, const NodeConfig& cfg) {
  bool local = false;
  if (cfg.client_send_buffer_mode == NodeConfig::SendBufferMode::kAuto) {
    boost::system::error_code le, re;
    const auto here = socket.local_endpoint(le);
    const auto there = socket.remote_endpoint(re);
    local = !le && !re && is_same_host(here.address(), there.address());
  }
  const std::uint64_t bytes = cfg.client_send_buffer_for(local);
  if (bytes == 0) return;
  // The validated range always fits; a refusal leaves the kernel's own size.
  boost::system::error_code ec;
  socket.set_option(boost::asio::socket_base::send_buffer_size(static_cast<int>(bytes)), ec);
  if (ec) SHOAL_LOG(kWarn, "--client-send-buffer: " << ec.message());
}

}  // namespace shoal::node
