// shoalctl's HTTP client: one request per connection to a node's client port (Boost.Beast over
// TCP, or TLS with OpenSSL), every step under one deadline, and the admin API's JSON
// conventions on top.
//
// Thread rules: free functions; each call owns its io_context, so calls may run on several
// threads at once.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace shoal::ctl {

// A command failed (exit code 1): a node could not be reached, or answered with an error.
class CtlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How shoalctl reaches nodes whose client port serves HTTPS (shoald --tls-cert / --tls-self).
struct TlsOptions {
  bool enabled = false;  // https instead of http
  bool verify = true;    // check the certificate chain and that it names the host
  std::string ca_file;   // trust these CAs (PEM); empty: the system's
};

// Sets the TLS options of every later call (process-wide; call before any request).
void set_tls(TlsOptions options);

struct HttpReply {
  int status = 0;
  std::string body;
};

// Sends one request to `host_port` ("HOST:PORT" or "[v6]:PORT"), over TLS when set_tls()
// enabled it, with "Authorization: Bearer <token>" when `token` is not empty and a JSON `body`
// when not empty; reads the whole answer within `timeout`. Throws CtlError naming the node when
// resolving, connecting, the TLS handshake (certificate not trusted, wrong host), writing or
// reading fails or the deadline passes, or when --cacert cannot be loaded.
HttpReply http_call(const std::string& host_port, boost::beast::http::verb method,
                    const std::string& target, const std::string& token, const std::string& body,
                    std::chrono::milliseconds timeout);

// The admin API as JSON: a request whose answer must be 200 with a JSON body. Any other status
// throws CtlError "NODE: HTTP STATUS: <the answer's "error" field, or its body>".
nlohmann::json call_json(const std::string& host_port, boost::beast::http::verb method,
                         const std::string& target, const std::string& token,
                         const nlohmann::json& body = nullptr,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// RFC 3986 percent-encoding of a query value (unreserved characters kept).
std::string query_encode(const std::string& s);

// Reads a token file: its contents without trailing whitespace. Throws CtlError when it cannot
// be read or is empty.
std::string read_token_file(const std::string& path);

}  // namespace shoal::ctl
