// node/client_socket.h: which clients count as on this host (they get the fixed send buffer under
// --client-send-buffer auto), and the option set on a real accepted socket.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "node/client_socket.h"

namespace shoal::node {
namespace {

using boost::asio::ip::make_address;

bool same(const char* local, const char* remote) {
  return is_same_host(make_address(local), make_address(remote));
}

TEST(ClientSocket, LoopbackClientsAreOnThisHost) {
  EXPECT_TRUE(same("127.0.0.1", "127.0.0.1"));
  EXPECT_TRUE(same("127.0.0.1", "127.0.0.53"));  // all of 127.0.0.0/8
  EXPECT_TRUE(same("::1", "::1"));
  EXPECT_TRUE(same("::", "::ffff:127.0.0.1"));  // a dual-stack listener's view of 127.0.0.1
  EXPECT_TRUE(same("10.0.0.5", "127.0.0.1"));
}

TEST(ClientSocket, AClientThatDialledThisHostsOwnAddressIsOnThisHost) {
  EXPECT_TRUE(same("10.0.0.5", "10.0.0.5"));
  EXPECT_TRUE(same("::ffff:10.0.0.5", "10.0.0.5"));
  EXPECT_TRUE(same("10.0.0.5", "::ffff:10.0.0.5"));
  EXPECT_TRUE(same("2001:db8::7", "2001:db8::7"));
}

TEST(ClientSocket, OtherClientsAreRemote) {
  EXPECT_FALSE(same("10.0.0.5", "10.0.0.6"));
  EXPECT_FALSE(same("127.0.0.1", "10.0.0.6"));  // a listener on loopback reached through NAT
  EXPECT_FALSE(same("::ffff:10.0.0.5", "::ffff:10.0.0.6"));
  EXPECT_FALSE(same("2001:db8::7", "2001:db8::8"));
  EXPECT_FALSE(same("0.0.0.0", "10.0.0.6"));
}

// The send buffer of an accepted loopback connection as it was set (Asio halves what Linux
// reports), after apply_client_socket_options(cfg), or with no option applied when `cfg` is null.
int accepted_send_buffer(const NodeConfig* cfg) {
  namespace net = boost::asio;
  net::io_context io;
  net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
  net::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  net::ip::tcp::socket accepted = acceptor.accept();
  if (cfg != nullptr) apply_client_socket_options(accepted, *cfg);
  net::socket_base::send_buffer_size size;
  accepted.get_option(size);
  return size.value();
}

TEST(ClientSocket, AutoFixesTheSendBufferOfALoopbackClientAndASizeFixesEveryOne) {
  NodeConfig cfg;
  EXPECT_EQ(accepted_send_buffer(&cfg), 256 * 1024);
  cfg.client_send_buffer_mode = NodeConfig::SendBufferMode::kFixed;
  cfg.client_send_buffer = 64 << 10;
  EXPECT_EQ(accepted_send_buffer(&cfg), 64 * 1024);
}

TEST(ClientSocket, KernelLeavesTheSocketAsAccepted) {
  NodeConfig cfg;
  cfg.client_send_buffer_mode = NodeConfig::SendBufferMode::kKernel;
  const int as_accepted = accepted_send_buffer(nullptr);
  ASSERT_NE(as_accepted, 256 * 1024) << "this host's default hides the difference";
  EXPECT_EQ(accepted_send_buffer(&cfg), as_accepted);
}

}  // namespace
}  // namespace shoal::node
