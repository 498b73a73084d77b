// Socket options of an accepted client connection (both client ports: /fetch and the S3 port).
//
// The send buffer follows --client-send-buffer (NodeConfig::SendBufferMode). Under "auto" a client
// on this host gets a fixed buffer and every other client the kernel's autotuning: on loopback the
// reader copies out of the very memory the sender just wrote, and a sender kept at most a buffer
// ahead of it finds those bytes still in cache (hot hits 0.94-1.15x -> 1.00-1.46x of Varnish's,
// docs/benchmarks.md), while over a network a fixed buffer caps a connection at about size/RTT.
//
// Thread rules: none of their own; call on the thread that owns the socket, before it is used.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "node/config.h"

namespace shoal::node {

// Whether a connection from `remote` that arrived on `local` comes from this host: the remote
// address is a loopback one (127.0.0.0/8, ::1, or either mapped into IPv6), or it is the very
// address the connection arrived on (a client on this host that dialled one of its own addresses;
// the kernel routes that over loopback too). Pure; no errors.
bool is_same_host(const boost::asio::ip::address& local, const boost::asio::ip::address& remote);

// Sets `socket`'s SO_SNDBUF to cfg.client_send_buffer_for(client on this host), or leaves the
// kernel's autotuning on when that is 0. Best effort: a socket whose addresses cannot be read is
// treated as remote, and a refused option is logged (kWarn) and otherwise ignored; nothing throws.
void apply_client_socket_options(boost::asio::ip::tcp::socket& socket, const NodeConfig& cfg);

}  // namespace shoal::node
