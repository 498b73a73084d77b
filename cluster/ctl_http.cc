#include "cluster/ctl_http.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <sstream>

#include "ring/base/host_port.h"

namespace shoal::ctl {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// Splits "HOST:PORT" / "[v6]:PORT" (ring/base/host_port.h) into a host and a port for the
// resolver.
std::pair<std::string, std::string> split_node_address(const std::string& s) {
  auto hp = base::split_host_port(s);
  if (!hp) throw CtlError("bad node address '" + s + "' (want HOST:PORT)");
  return {hp->host, std::to_string(hp->port)};
}

// Runs the pending operation to completion. The stream's expiry (set before connecting) closes
// the socket at the deadline, so an operation never waits past it.
void run(net::io_context& io) {
  io.run();
  io.restart();
}

}  // namespace

namespace {

TlsOptions g_tls;  // set by set_tls() before any call

// Writes `req` and reads the answer over an established `stream` (plain or TLS).
template <class Stream>
HttpReply exchange(Stream& stream, const std::string& host_port,
                   http::request<http::string_body>& req, std::chrono::milliseconds timeout,
                   net::io_context& io) {
  beast::error_code ec;
  http::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
  run(io);
  if (ec) throw CtlError(host_port + ": cannot send the request: " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
  run(io);
  if (ec == beast::error::timeout) {
    throw CtlError(host_port + ": no answer within " + std::to_string(timeout.count()) + " ms");
  }
  if (ec) throw CtlError(host_port + ": cannot read the answer: " + ec.message());
  return HttpReply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

// The TLS client context for g_tls: peer verification against --cacert or the system's CAs,
// or none with --insecure.
void configure(ssl::context& ctx) {
  if (!g_tls.verify) {
    ctx.set_verify_mode(ssl::verify_none);
    return;
  }
  ctx.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (g_tls.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(g_tls.ca_file, ec);
  }
  if (ec) throw CtlError("--cacert: cannot load " + g_tls.ca_file + ": " + ec.message());
}

}  // namespace

void set_tls(TlsOptions options) {
  g_tls = std::move(options);
}

HttpReply http_call(const std::string& host_port, http::verb method, const std::string& target,
                    const std::string& token, const std::string& body,
                    std::chrono::milliseconds timeout) {
  auto [host, port] = split_node_address(host_port);
  net::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver::results_type endpoints;
  tcp::resolver resolver(io);
  resolver.async_resolve(host, port, [&](beast::error_code e, tcp::resolver::results_type r) {
    ec = e;
    endpoints = std::move(r);
  });
  run(io);
  if (ec) throw CtlError(host_port + ": cannot resolve: " + ec.message());
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  run(io);
  if (ec) throw CtlError(host_port + ": cannot connect: " + ec.message());

  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, host_port);
  req.set(http::field::user_agent, "shoalctl");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  if (!g_tls.enabled) return exchange(stream, host_port, req, timeout, io);

  ssl::context ctx(ssl::context::tls_client);
  configure(ctx);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), ctx);
  beast::error_code ip_ec;
  net::ip::make_address(host, ip_ec);
  if (ip_ec) SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());  // SNI for names only
  if (g_tls.verify) tls.set_verify_callback(ssl::host_name_verification(host));
  tls.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
  run(io);
  if (ec) throw CtlError(host_port + ": TLS handshake failed: " + ec.message());
  return exchange(tls, host_port, req, timeout, io);
}

nlohmann::json call_json(const std::string& host_port, http::verb method, const std::string& target,
                         const std::string& token, const nlohmann::json& body,
                         std::chrono::milliseconds timeout) {
  HttpReply r =
      http_call(host_port, method, target, token, body.is_null() ? "" : body.dump(), timeout);
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200) {
    std::string why = !j.is_discarded() && j.is_object() && j.contains("error")
                          ? j["error"].get<std::string>()
                          : r.body.substr(0, r.body.find('\n'));
    throw CtlError(host_port + ": HTTP " + std::to_string(r.status) + ": " + why);
  }
  if (j.is_discarded()) throw CtlError(host_port + ": the answer is not JSON");
  return j;
}

std::string query_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CtlError("--token-file: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw CtlError("--token-file: " + path + " is empty");
  return token;
}

}  // namespace shoal::ctl
