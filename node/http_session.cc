// The two kinds of client connection: plain TCP and TLS. Each is an S3Response
// (node/s3_api_response.h) over a FetchResponse (node/fetch_response.h) over an HttpConnection
// (node/http_connection.h) on its own stream, for the client port or the S3 port.
#include "node/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "node/s3_api_response.h"

namespace shoal::node {

// ---------------------------------------------------------------------------------------------

class PlainSession : public S3Response<PlainSession>,
                     public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(tcp::socket socket, SessionHost& host, bool s3_port)
      : S3Response<PlainSession>(host, s3_port), stream_(std::move(socket)) {}
  ~PlainSession() { unregister_from_host(); }

  void run() {
    register_with_host();
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }
  static constexpr bool kGathersWrites = true;  // header and first bytes in one sendmsg
  beast::tcp_stream& stream() { return stream_; }
  bool has_buffered_input() const { return false; }
  net::any_io_executor executor() { return stream_.get_executor(); }
  void do_eof() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

 private:
  beast::tcp_stream stream_;
};

class TlsSession : public S3Response<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(tcp::socket socket, net::ssl::context& tls, SessionHost& host, bool s3_port)
      : S3Response<TlsSession>(host, s3_port), stream_(std::move(socket), tls) {}
  ~TlsSession() { unregister_from_host(); }

  void run() {
    register_with_host();
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::get_lowest_layer(self->stream_)
          .expires_after(std::chrono::milliseconds(self->cfg_.idle_timeout_ms));
      self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return self->close_now();
        self->do_read();
      });
    });
  }
  static constexpr bool kGathersWrites = false;  // the header in a record of its own, first
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  // Bytes already read from the socket that a socket wait would not see: decrypted or
  // buffered records in OpenSSL, and ciphertext Asio handed to its BIO pair (e.g. a request the
  // client sent right behind its handshake Finished, read together with it).
  bool has_buffered_input() {
    SSL* ssl = stream_.native_handle();
    return SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1 ||
           BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
  }
  net::any_io_executor executor() { return stream_.get_executor(); }
  void do_eof() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close_now(); });
  }
  void close_now() { beast::get_lowest_layer(stream_).close(); }

 private:
  beast::ssl_stream<beast::tcp_stream> stream_;
};

void start_plain_session(tcp::socket socket, SessionHost& host, bool s3_port) {
  std::make_shared<PlainSession>(std::move(socket), host, s3_port)->run();
}

void start_tls_session(tcp::socket socket, net::ssl::context& tls, SessionHost& host,
                       bool s3_port) {
  std::make_shared<TlsSession>(std::move(socket), tls, host, s3_port)->run();
}

}  // namespace shoal::node
